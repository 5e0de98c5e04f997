/* emit_activation.h: activation expressions and rows (emit_activation.c),
 * fused into conv2d and dense or standalone layers. */
#ifndef CNNC_EMIT_ACTIVATION_H
#define CNNC_EMIT_ACTIVATION_H

#include <stddef.h>

#include "emitter.h"
#include "ir.h"

/* C expression of f(z) for an element-wise activation (not softmax); `z` is a
 * plain variable (it may be evaluated twice). Linear gives `z` itself. The
 * generated file defines REAL_EXP / REAL_TANH, which follow cnn_real. */
const char *emit_act_expr(char *buf, size_t size, cnn_act act, float alpha, const char *z);

/* Whether a loop computing f(z) may carry `omp simd`: not when f calls libm
 * (exp, tanh), which clang then refuses to vectorize, with a warning. */
int emit_act_simd_ok(cnn_act act);

/* C expression of dL/dz from the output `y` and `dy` = dL/dy (not softmax). */
const char *emit_act_grad_expr(char *buf, size_t size, cnn_act act, float alpha, const char *y,
                               const char *dy);

/* Statements: softmax of `len` contiguous values at `src` into `dst` (which
 * may be `src`): max subtracted first, so it never overflows. */
void emit_softmax_row(cnnc_emitter *em, const char *src, const char *dst, const char *len);

/* Statements: dz = y * (dy - sum(dy * y)) over `len` values; dz may be dy. */
void emit_softmax_grad_row(cnnc_emitter *em, const char *y, const char *dy, const char *dz,
                           const char *len);

/* In a layer's per-image backward: dz_i[e] = dL/dz from y_i and dy_i, in
 * place over `size` values (`channels` per softmax row). Nothing for linear. */
void emit_act_grad_image(cnnc_emitter *em, cnn_act act, float alpha, const char *y,
                         const char *dz, size_t size, size_t channels);

#endif
