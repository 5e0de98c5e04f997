/* harness.h: what the codegen tests that drive a generated model share
 * (harness.c, compiled into each with the same cnn_real). */
#ifndef CNN_CODEGEN_HARNESS_H
#define CNN_CODEGEN_HARNESS_H

#include <stdint.h>

#include "cnn_model.h"

/* Every tensor of m from (seed, tensor, element): uniform within the
 * Glorot bounds for kernels, within 0.1 of the initializer's value (1 for
 * ones, else 0) for the rest, so that biases and batchnorm parameters are
 * not at their trivial values. */
void harness_init_params(const cnn_model *m, cnn_real *params, uint64_t seed);

/* One training forward (dropout drawn from seed), the model's loss and
 * backward of n images in the batch part `part` (NULL: one chunk), from
 * params, into grad[m->n_params] (zeroed first). 0, or 1 out of memory. */
int harness_gradient(const cnn_model *m, const cnn_real *params, const cnn_real *x, const int *labels, int n,
                     const cnn_batch_part *part, uint64_t seed, cnn_real *grad);

#endif
