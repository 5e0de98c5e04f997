/* cnn_plot.h: curves.svg, the training curves of a run as a standalone SVG
 * that any browser shows: a loss panel and (when the history has accuracy)
 * an accuracy panel, training solid and validation dashed, one point per
 * epoch, with axes, ticks and a legend. */
#ifndef CNN_PLOT_H
#define CNN_PLOT_H

#include <stddef.h>

#include "cnn_history.h"

/* The SVG text (malloc'ed), or NULL when out of memory. */
char *cnn_plot_svg(const cnn_history *h, const char *title);
/* Writes it atomically to path. Returns 0, or -1 with err set. */
int cnn_plot_write(const cnn_history *h, const char *title, const char *path, char *err, size_t errlen);

#endif
