/* emit_conv_winograd4.h: cnnc export's one-image Winograd F(4x4, 3x3)
 * (emit_conv_winograd4.c). */
#ifndef CNNC_EMIT_CONV_WINOGRAD4_H
#define CNNC_EMIT_CONV_WINOGRAD4_H

#include "plan.h"

/* Whether conv L's inference pass can run by F(4x4, 3x3): a pass that runs
 * by F(2x2, 3x3) today (L->wino, or the batchnorm fold's fold_wino) with
 * whole vectors of channels and at least one whole 4x4 output tile. The
 * plan decides (plan_export); this says what the kernel can do. */
int conv_winograd4_applies(const cnnc_plan *pl, const cnnc_plan_layer *L);
/* Floats of the pass's per-image scratch (the padded copy, V, M and an edge
 * tile), and of its stored constants: U [36][IC][OC], then the bias [OC]
 * where the pass adds one, then scale [OC] and shift [OC] where a batchnorm
 * after the activation is applied to the pooled values. */
size_t conv_winograd4_scratch_floats(const cnnc_plan *pl, const cnnc_plan_layer *L);
size_t conv_winograd4_stored_floats(const cnnc_plan *pl, const cnnc_plan_layer *L);
/* Those constants from the parameter block p (its memory layout). Returns
 * 0, or prints "cnnc: error: ..." and returns 1. */
int conv_winograd4_values(const cnnc_plan *pl, const cnnc_plan_layer *L, const float *p, float *stored);
/* The index of the last layer the pass computes (L itself, its fused
 * maxpool, or the fold's maxpool). */
int conv_winograd4_last(const cnnc_plan *pl, const cnnc_plan_layer *L);
/* LAYER_winograd4_forward, and its call from the inference driver: from
 * `in` into `out` (the conv's or the maxpool's output), with the scratch
 * at the C expression `scratch` and the constants at `stored`. */
void conv_winograd4_emit_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L);
void conv_winograd4_emit_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *in, const char *out,
                              const char *scratch, const char *stored);

#endif
