/* emit_conv_pool.h: conv2d + activation + maxpool as one pass (emit_conv_pool.c). */
#ifndef CNNC_EMIT_CONV_POOL_H
#define CNNC_EMIT_CONV_POOL_H

#include "plan.h"

/* The fused pair. Fast path: CONV_pool_forward and CONV_pool_backward
 * compute conv + activation + maxpool and the chain back; the conv's
 * activation slot keeps only each window's argmax.
 * Under CNN_REFERENCE_KERNELS the same two functions run the plain conv and
 * pool functions one after the other (the oracle), emitted with the pool. */
void emit_conv_pool_fast(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                         const cnnc_plan_layer *pool, int backward);
void emit_conv_pool_oracle(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                           const cnnc_plan_layer *pool);

#endif
