/* cnn_preview.h: `NAME preview`: a PNG grid of training images exactly as
 * the network receives them in a given epoch (preprocessing and
 * augmentation by the loader itself), each beside its original and under
 * its file name and class. */
#ifndef CNN_PREVIEW_H
#define CNN_PREVIEW_H

#include "cnn_train.h"

/* Where things are in the grid (pixels). Entry k (0-based) is in column
 * k % cols and row k / cols of tiles tile_w x tile_h; in its tile the
 * original is at (pad, pad), what the network sees at (2 * pad + cell_w,
 * pad), each cell_w x cell_h (the model's input scaled up `scale` times,
 * nearest neighbour), and the two label lines below them. */
typedef struct cnn_preview_layout {
    int scale, cell_w, cell_h, pad, tile_w, tile_h, cols, rows, width, height;
} cnn_preview_layout;

void cnn_preview_layout_of(const cnn_model *m, int count, cnn_preview_layout *L);

/* The byte a network input value v shows as: [lo, hi] (cnn_input_range)
 * mapped linearly onto 0..255, rounded, clipped. */
unsigned char cnn_preview_byte(float v, double lo, double hi);

/* The command; o->cfg (data, split, seed), o->output, o->count, o->view_epoch. */
int cnn_cmd_preview(const cnn_model *m, const cnn_run_options *o);

#endif
