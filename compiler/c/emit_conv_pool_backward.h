/* emit_conv_pool_backward.h: the fused conv2d + activation + maxpool
 * backward (emit_conv_pool_backward.c). */
#ifndef CNNC_EMIT_CONV_POOL_BACKWARD_H
#define CNNC_EMIT_CONV_POOL_BACKWARD_H

#include "conv_blocks.h"

/* Per-image scratch of a conv fused with `pool` beyond its padded input copy:
 * the forward row band, the backward band or the whole padded dz, and the
 * transposed dW of the windows' walk. */
size_t conv_pool_scratch_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool);

/* What the backward's kernels can do, for the plan (plan.c) to choose: the
 * dW walk over the windows that pass a gradient (its transposed dW fits the
 * register segments), and dx from those windows too (stride 1, the kernel's
 * taps in registers). */
int conv_pool_dw_windows_apply(const cnn_layer *l);
int conv_pool_dx_windows_apply(const cnn_layer *l);

/* CONV_pool_backward, the fast path, with the kernels the plan chose
 * (pool_dw_windows, pool_dx_windows, pool_dx_patch, pool_dw_permute). */
void conv_pool_emit_backward(cnnc_emitter *em, const cnnc_plan_layer *conv, const cnnc_plan_layer *pool);

#endif
