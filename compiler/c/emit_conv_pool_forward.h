/* emit_conv_pool_forward.h: the fused conv2d + activation + maxpool forward
 * (emit_conv_pool_forward.c). */
#ifndef CNNC_EMIT_CONV_POOL_FORWARD_H
#define CNNC_EMIT_CONV_POOL_FORWARD_H

#include "conv_blocks.h"

/* Per-image scratch of a fused conv + pool forward alone (the folded
 * inference pass): its padded input, and the row band when the windows do
 * not pool in registers. */
size_t conv_pool_forward_floats(const cnn_layer *l, const cnn_layer *pool);

/* enum { POH, POW, PKH, PKW, POOL_SIZE, PAD_SIZE, PW, SCRATCH } of the pair */
void conv_pool_emit_enums(cnnc_emitter *em, const cnnc_plan_layer *conv, const cnnc_plan_layer *pool);

/* The image loop of the fused forward, in a function with the parameters
 * in, out (with argmax), pooled, pad, n and the locals wgt, bias, scale,
 * shift that the variant reads. */
void conv_pool_emit_images(cnnc_emitter *em, const cnnc_plan_layer *conv, const cnnc_plan_layer *pool,
                           const conv_pool_variant *v);

/* The head of CONV_pool_forward(p, in, out, pooled, pad, [wino,] n, training),
 * its block left open (the fast path and the oracle share it). */
void conv_pool_emit_forward_head(cnnc_emitter *em, const cnnc_plan_layer *conv);

/* CONV_pool_forward, the fast path: by Winograd when the plan says so (with
 * the direct kernel as the CNN_NO_WINOGRAD twin), else direct; the argmax
 * codes in training only. */
void conv_pool_emit_forward(cnnc_emitter *em, const cnnc_plan_layer *conv, const cnnc_plan_layer *pool);

#endif
