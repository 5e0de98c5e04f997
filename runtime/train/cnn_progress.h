/* cnn_progress.h: Keras-3-style progress output for training epochs.
 *
 * On a terminal (isatty and TERM not "dumb") each epoch gets
 *   Epoch 3/10
 *   12/23 ━━━━━━━━━━━━━━━━━━━━ 2s 95ms/step 336 img/s - accuracy: 0.8125 - loss: 0.4211
 * redrawn in place at most every 0.1 s (the time is the ETA while the epoch
 * runs and the elapsed time at its end, as Keras). Otherwise (a pipe, a log
 * file) only the finished line is printed, once per epoch, without escape
 * codes. Metrics are printed in alphabetical order, validation ones after,
 * as Keras 3 does.
 */
#ifndef CNN_PROGRESS_H
#define CNN_PROGRESS_H

#include <stdio.h>

typedef struct cnn_progress {
    FILE *f;
    int tty;
    int steps;
    double t0, last;
    int drawn;
} cnn_progress;

/* Wall-clock seconds from a monotonic clock. */
double cnn_now(void);

/* tty: -1 = decide from f, 0 = plain, 1 = dynamic. */
void cnn_progress_init(cnn_progress *p, FILE *f, int tty);
void cnn_progress_begin(cnn_progress *p, int epoch, int epochs, int steps);
/* After step `step` (1-based) with `images` images so far this epoch. */
void cnn_progress_update(cnn_progress *p, int step, long images, const char *const *names,
                         const double *values, int n);
/* The epoch's final line, validation metrics included in names/values. */
void cnn_progress_end(cnn_progress *p, int steps, long images, const char *const *names,
                      const double *values, int n);

/* Formats a duration Keras's way: "5s", "1:02", "1:02:03". */
void cnn_format_time(double seconds, char *buf, size_t n);

#endif
