/* emit_activation.c: activations, fused (helpers used by conv2d and dense)
 * and standalone (relu, sigmoid, tanh, softmax, leaky_relu as layers).
 *
 * Gradients are taken from the layer's output y, so nothing but the output
 * is kept: relu' = y > 0, leaky' = y > 0 ? 1 : alpha (alpha >= 0, checked in
 * emit_c), sigmoid' = y (1 - y), tanh' = 1 - y^2, softmax: y (dy - <dy, y>).
 * relu is written `z < 0 ? 0 : z` so that a NaN goes through and the trainer
 * sees it in the loss instead of a silently dead network. At z == 0 the
 * derivative is taken as 0 for relu and alpha for leaky_relu, as PyTorch. */
#include <stdio.h>

#include "emit_activation.h"
#include "emit_layers.h"
#include "emit_util.h"


int emit_act_simd_ok(cnn_act act)
{
    return act == CNN_ACT_LINEAR || act == CNN_ACT_RELU || act == CNN_ACT_LEAKY_RELU;
}

const char *emit_act_expr(char *buf, size_t size, cnn_act act, float alpha, const char *z)
{
    char a[64];
    switch (act) {
    case CNN_ACT_RELU:
        snprintf(buf, size, "(%s < 0 ? (cnn_real)0 : %s)", z, z);
        break;
    case CNN_ACT_LEAKY_RELU:
        snprintf(buf, size, "(%s < 0 ? %s * %s : %s)", z, emit_real(a, sizeof a, alpha), z, z);
        break;
    case CNN_ACT_SIGMOID:
        snprintf(buf, size, "((cnn_real)1 / ((cnn_real)1 + REAL_EXP(-%s)))", z);
        break;
    case CNN_ACT_TANH:
        snprintf(buf, size, "REAL_TANH(%s)", z);
        break;
    case CNN_ACT_LINEAR:
    case CNN_ACT_SOFTMAX: /* not element-wise; callers use emit_softmax_row */
    default:
        snprintf(buf, size, "%s", z);
        break;
    }
    return buf;
}

const char *emit_act_grad_expr(char *buf, size_t size, cnn_act act, float alpha, const char *y,
                               const char *dy)
{
    char a[64];
    switch (act) {
    case CNN_ACT_RELU:
        snprintf(buf, size, "(%s > 0 ? %s : (cnn_real)0)", y, dy);
        break;
    case CNN_ACT_LEAKY_RELU:
        snprintf(buf, size, "(%s > 0 ? %s : %s * %s)", y, dy, emit_real(a, sizeof a, alpha), dy);
        break;
    case CNN_ACT_SIGMOID:
        snprintf(buf, size, "(%s * %s * ((cnn_real)1 - %s))", dy, y, y);
        break;
    case CNN_ACT_TANH:
        snprintf(buf, size, "(%s * ((cnn_real)1 - %s * %s))", dy, y, y);
        break;
    case CNN_ACT_LINEAR:
    case CNN_ACT_SOFTMAX:
    default:
        snprintf(buf, size, "%s", dy);
        break;
    }
    return buf;
}

void emit_softmax_row(cnnc_emitter *em, const char *src, const char *dst, const char *len)
{
    em_open_block(em, "{");
    em_line(em, "cnn_real m = %s[0];", src);
    em_line(em, "for (int k = 1; k < %s; k++)", len);
    em_line(em, "    m = %s[k] > m ? %s[k] : m;", src, src);
    em_line(em, "cnn_real s = 0;");
    em_open_block(em, "for (int k = 0; k < %s; k++) {", len);
    em_line(em, "%s[k] = REAL_EXP(%s[k] - m);", dst, src);
    em_line(em, "s += %s[k];", dst);
    em_close_block(em, "}");
    em_line(em, "const cnn_real inv = (cnn_real)1 / s;");
    em_line(em, "for (int k = 0; k < %s; k++)", len);
    em_line(em, "    %s[k] *= inv;", dst);
    em_close_block(em, "}");
}

void emit_softmax_grad_row(cnnc_emitter *em, const char *y, const char *dy, const char *dz,
                           const char *len)
{
    em_open_block(em, "{");
    em_line(em, "cnn_real s = 0;");
    em_line(em, "for (int k = 0; k < %s; k++)", len);
    em_line(em, "    s += %s[k] * %s[k];", dy, y);
    em_line(em, "for (int k = 0; k < %s; k++)", len);
    em_line(em, "    %s[k] = %s[k] * (%s[k] - s);", dz, y, dy);
    em_close_block(em, "}");
}

void emit_act_grad_image(cnnc_emitter *em, cnn_act act, float alpha, const char *y,
                         const char *dz, size_t size, size_t channels)
{
    char e[256], yk[64], dk[64];
    if (act == CNN_ACT_LINEAR)
        return;
    if (act == CNN_ACT_SOFTMAX) {
        char row_y[80], row_d[80], len[32];
        em_open_block(em, "for (int px = 0; px < %zu; px++) { /* softmax over each pixel's channels */",
                      size / channels);
        snprintf(row_y, sizeof row_y, "(%s + (size_t)px * %zu)", y, channels);
        snprintf(row_d, sizeof row_d, "(%s + (size_t)px * %zu)", dz, channels);
        snprintf(len, sizeof len, "%zu", channels);
        emit_softmax_grad_row(em, row_y, row_d, row_d, len);
        em_close_block(em, "}");
        return;
    }
    snprintf(yk, sizeof yk, "%s[e]", y);
    snprintf(dk, sizeof dk, "%s[e]", dz);
    emit_simd_for(em, "e", "%zu", size);
    em_line(em, "    %s = %s;", dk, emit_act_grad_expr(e, sizeof e, act, alpha, yk, dk));
}

/* ---- the standalone activation layer ------------------------------------ */

static void act_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    char e[256];
    emit_layer_comment(em, pl, L, "forward");
    em_function(em, "static void %s_forward(const cnn_real *restrict in, cnn_real *restrict out, int n)",
                  L->fn);
    em_line(em, "enum { SIZE = %zu, C = %d };", L->out_size, L->l->out.c);
    /* exp-based activations cost about ten simple operations per element */
    emit_image_loop_work(em, L->out_size * (emit_act_simd_ok(L->act) ? 1 : 8));
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * SIZE;");
    if (L->act == CNN_ACT_SOFTMAX) {
        em_open_block(em, "for (int px = 0; px < SIZE / C; px++) { /* over each pixel's channels */");
        emit_softmax_row(em, "(xi + (size_t)px * C)", "(yi + (size_t)px * C)", "C");
        em_close_block(em, "}");
    } else {
        emit_simd_block_if(em, emit_act_simd_ok(L->act), "e", "SIZE");
        em_line(em, "const cnn_real z = xi[e];");
        em_line(em, "yi[e] = %s;", emit_act_expr(e, sizeof e, L->act, L->l->alpha, "z"));
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_blank(em);
}

static void act_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                             const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_forward(%s, %s, n);", L->fn, a->in, a->out);
}

static void act_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    char e[256];
    emit_layer_comment(em, pl, L, "backward");
    em_function(em,
                  "static void %s_backward(const cnn_real *restrict out, const cnn_real *restrict dy, "
                  "cnn_real *restrict dx, int n)",
                  L->fn);
    em_line(em, "enum { SIZE = %zu, C = %d };", L->out_size, L->l->out.c);
    emit_image_loop_work(em, L->out_size * (L->act == CNN_ACT_SOFTMAX ? 4 : 1));
    em_line(em, "const cnn_real *restrict yi = out + (size_t)i * SIZE;");
    em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * SIZE;");
    if (L->act == CNN_ACT_SOFTMAX) {
        em_open_block(em, "for (int px = 0; px < SIZE / C; px++) {");
        emit_softmax_grad_row(em, "(yi + (size_t)px * C)", "(dyi + (size_t)px * C)",
                              "(dxi + (size_t)px * C)", "C");
        em_close_block(em, "}");
    } else {
        emit_simd_for(em, "e", "SIZE");
        em_line(em, "    dxi[e] = %s;", emit_act_grad_expr(e, sizeof e, L->act, L->l->alpha, "yi[e]", "dyi[e]"));
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_blank(em);
}

static void act_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                              const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_backward(%s, %s, %s, n);", L->fn, a->out, a->dy, a->dx);
}

const cnnc_layer_emitter emit_activation_layer = {
    act_forward, act_forward_call, act_backward, act_backward_call,
};
