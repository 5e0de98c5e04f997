/* emit_conv_bn_fold.h: a batchnorm folded into the conv2d before it, in
 * inference (emit_conv_bn_fold.c). */
#ifndef CNNC_EMIT_CONV_BN_FOLD_H
#define CNNC_EMIT_CONV_BN_FOLD_H

#include "plan.h"

/* The plan decides the fold (fold_bn, fold_pool, fold_affine, fold_wino);
 * these size and write it. */
/* Floats of the fixed work area it needs (the folded weights and bias, then
 * Winograd's U when the pass runs by Winograd), and of the per-image scratch
 * of its pass. */
size_t emit_conv_bn_fold_fixed_floats(const cnnc_plan_layer *conv);
size_t emit_conv_bn_fold_pad_floats(const cnnc_plan *pl, const cnnc_plan_layer *conv);
/* CONV_folded_forward, and its call from the forward driver. The folded
 * weights and U are computed at each call into the fixed work area, or,
 * `stored` (cnnc export), read from a constant block: the call passes it as
 * the C expression `stored` (NULL: the work area). */
void emit_conv_bn_fold_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv, int stored);
void emit_conv_bn_fold_call(cnnc_emitter *em, const cnnc_plan_layer *conv, const char *in, const char *pooled,
                            const char *stored);
/* Floats of the stored block (0: the pass reads the parameters alone), and
 * its values from the parameter block p (its memory layout), computed as the
 * emitted code computes them. */
size_t emit_conv_bn_fold_stored_floats(const cnnc_plan_layer *conv);
void emit_conv_bn_fold_values(const cnnc_plan *pl, const cnnc_plan_layer *conv, const float *p, float *fold);

#endif
