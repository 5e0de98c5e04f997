/* cnn_finite.h: finding NaN and infinity in float arrays and in a model's
 * parameter block. A diverged run must never be saved or loaded as if it
 * were a model, so the trainer checks its weights after every step and
 * every weights reader and writer checks them too. */
#ifndef CNN_FINITE_H
#define CNN_FINITE_H

#include <stddef.h>

#include "cnn_model.h"

/* Index of the first element of x[0..n) that is NaN or infinite, or n. */
size_t cnn_first_nonfinite(const float *x, size_t n);

/* Index of the first tensor of m (in table order, trainable and running
 * statistics alike) whose values in params are not all finite, or -1. */
int cnn_nonfinite_tensor(const cnn_model *m, const float *params);

#endif
