/* bn_blocks.h: pieces of batchnorm's functions (bn_blocks.c). */
#ifndef CNNC_BN_BLOCKS_H
#define CNNC_BN_BLOCKS_H

#include "plan.h"

/* Pieces of the batchnorm functions (emit_batchnorm.c) that the fused pass
 * shares: its enum constants, and the block that computes scale[C] and
 * shift[C] (training: the batch statistics, kept in the work area for
 * backward, and the running statistics' update; inference: the running
 * statistics). The statistics of the fast kernels take one memory pass,
 * the plain ones two; BOTH emits both under #ifndef CNN_REFERENCE_KERNELS. */
enum { EMIT_BN_STATS_PLAIN, EMIT_BN_STATS_FAST, EMIT_BN_STATS_BOTH };
void emit_bn_enums(cnnc_emitter *em, const cnnc_plan_layer *L);
void emit_bn_scale_shift(cnnc_emitter *em, const cnnc_plan_layer *L, int kernels);

/* In backward, after the image loop filled each image's slot with its
 * [sum dy | sum dy * xhat] per channel: the batch's sums in the chunk tree,
 * added to db and dgamma in g; with needs_dx, the whole batch's (over the
 * processes) into sum_dy and sum_dy_xh, which dx reads. */
void emit_bn_batch_sums(cnnc_emitter *em, const cnnc_plan_layer *L);

#endif
