/* emit_bn_pool.h: batchnorm (+ its fused relu) + maxpool as one pass (emit_bn_pool.c). */
#ifndef CNNC_EMIT_BN_POOL_H
#define CNNC_EMIT_BN_POOL_H

#include "plan.h"

/* The fused batchnorm + maxpool (emit_bn_pool.c): BN_pool_forward and
 * BN_pool_backward; the batchnorm's activation slot keeps, per pooled value,
 * the normalized input at the window's maximum and the argmax byte. Under
 * CNN_REFERENCE_KERNELS the same entry points run the plain batchnorm and
 * pool functions one after the other (the oracle), emitted with the pool. */
void emit_bn_pool_fast(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *bn,
                       const cnnc_plan_layer *pool, int backward);
void emit_bn_pool_oracle(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *bn,
                         const cnnc_plan_layer *pool);

#endif
