/* cnn_init.h: parameter initialisation as Keras does it, and the map from a
 * tensor's on-disk (PyTorch) element order to its place in memory.
 *
 * cnn_init_params fills every tensor of the parameter block according to its
 * cnn_tensor_info.init:
 *   CNN_INIT_GLOROT_UNIFORM  U(-l, l), l = sqrt(6 / (fan_in + fan_out))
 *                            (Keras glorot_uniform; for conv2d the checker
 *                            sets fan_in = kh*kw*ci, fan_out = kh*kw*co)
 *   CNN_INIT_ZEROS           biases, batchnorm beta and running_mean
 *   CNN_INIT_ONES            batchnorm gamma and running_var
 * Draw j of tensor t is cnn_rng_uniform(seed, CNN_RNG_INIT, t, j), where j
 * is the element's index in the tensor's PyTorch (on-disk) order, so the
 * initial weights do not depend on the memory layout the generator picked:
 * a network initialised from one seed has the same checkpoint whatever the
 * layout, and the PyTorch twin can reproduce it. */
#ifndef CNN_INIT_H
#define CNN_INIT_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_model.h"

void cnn_init_params(const cnn_model *m, cnn_real *params, uint64_t seed);

/* Index in memory, relative to t->offset, of element j of the tensor in its
 * PyTorch order (OIHW for conv kernels, [out][in] for dense kernels). */
size_t cnn_tensor_memory_index(const cnn_tensor_info *t, size_t j);

#endif
