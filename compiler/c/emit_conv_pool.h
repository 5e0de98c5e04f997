/* emit_conv_pool.h: conv2d + activation + maxpool as one pass (emit_conv_pool.c). */
#ifndef CNNC_EMIT_CONV_POOL_H
#define CNNC_EMIT_CONV_POOL_H

#include "conv_blocks.h"

/* Per-image scratch of a conv fused with `pool` beyond its padded input copy:
 * the forward row band, the backward band or the whole padded dz. */
size_t conv_pool_scratch_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool);

/* Per-image scratch of a fused conv + pool forward alone (the folded
 * inference pass): its padded input, and the row band when the windows do
 * not pool in registers. */
size_t conv_pool_forward_floats(const cnn_layer *l, const cnn_layer *pool);

/* What the backward's kernels can do, for the plan (plan.c) to choose: the
 * dW walk over the windows that pass a gradient (its transposed dW fits the
 * register segments), and dx from those windows too (stride 1, the kernel's
 * taps in registers). */
int conv_pool_dw_windows_apply(const cnn_layer *l);
int conv_pool_dx_windows_apply(const cnn_layer *l);

/* enum { POH, POW, PKH, PKW, POOL_SIZE, PAD_SIZE, PW, SCRATCH } of the pair */
void conv_pool_emit_enums(cnnc_emitter *em, const cnnc_plan_layer *conv, const cnnc_plan_layer *pool);

/* The image loop of the fused forward, in a function with the parameters
 * in, out (with argmax), pooled, pad, n and the locals wgt, bias, scale,
 * shift that the variant reads. */
void conv_pool_emit_images(cnnc_emitter *em, const cnnc_plan_layer *conv, const cnnc_plan_layer *pool,
                           const conv_pool_variant *v);

/* The fused pair (emit_conv_pool.c). Fast path: CONV_pool_forward and
 * CONV_pool_backward compute conv + activation + maxpool and the chain
 * back; the conv's activation slot keeps only each window's argmax.
 * Under CNN_REFERENCE_KERNELS the same two functions run the plain conv and
 * pool functions one after the other (the oracle), emitted with the pool. */
void emit_conv_pool_fast(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                         const cnnc_plan_layer *pool, int backward);
void emit_conv_pool_oracle(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                           const cnnc_plan_layer *pool);

#endif
