/* emit_conv_few.h: cnnc export's fused conv2d + activation + 2x2 maxpool for
 * a conv with few input channels, by Winograd F(2x2, 3x3) (emit_conv_few.c). */
#ifndef CNNC_EMIT_CONV_FEW_H
#define CNNC_EMIT_CONV_FEW_H

#include "plan.h"

/* Whether the kernel computes conv2d L (fuse_pool, not folded) with the
 * maxpool P after it; the floats of its per-image scratch (the `pad` it is
 * given); the floats of its U, which cnnc export stores as constants
 * (conv_winograd_weights computes them); the function
 * LAYER_pool_forward(p, wu, in, pooled, pad) and its call, with U at the C
 * expression `wu`. */
int emit_conv_few_applies(const cnnc_plan_layer *L, const cnnc_plan_layer *P);
size_t emit_conv_few_pad_floats(const cnnc_plan_layer *L, const cnnc_plan_layer *P);
size_t emit_conv_few_u_floats(const cnnc_plan_layer *L);
void emit_conv_few_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L);
void emit_conv_few_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *wu, const char *in,
                        const char *pooled);

#endif
