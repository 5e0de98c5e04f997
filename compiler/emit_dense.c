/* emit_dense.c: fully connected layers, kernel [in][out] in memory.
 *
 * Forward, per image: y = b + x W, one broadcast input times one contiguous
 * row of OUT weights at a time (vectorized over the output units), then the
 * fused activation.
 * Backward: dz = dy * act'(y) per image; dW[k][o] += sum_i x[i][k] dz[i][o]
 * split over the rows k (each thread owns whole rows and walks the images
 * in order, so the sum never depends on the thread count, and no thread
 * keeps a private copy of a large W); db likewise over o; dx = dz W^T per
 * image. */
#include <stdio.h>

#include "emit_layers.h"

static void emit_enums(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_line(em, "enum { IN = %zu, OUT = %zu, W_OFF = %zu };", L->in_size, L->out_size, L->t_off[0]);
    if (L->l->bias)
        em_line(em, "enum { B_OFF = %zu };", L->t_off[1]);
}

static void dense_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    char e[256];
    emit_layer_comment(em, pl, L, "forward");
    em_function(em,
                  "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "
                  "cnn_real *restrict out, int n)",
                  L->fn);
    emit_enums(em, L);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [IN][OUT] */");
    if (l->bias)
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT;");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int o = 0; o < OUT; o++)");
    em_line(em, "    yi[o] = %s;", l->bias ? "bias[o]" : "0");
    em_open_block(em, "for (int k = 0; k < IN; k++) {");
    em_line(em, "const cnn_real v = xi[k];");
    em_line(em, "const cnn_real *restrict wk = wgt + (size_t)k * OUT;");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int o = 0; o < OUT; o++)");
    em_line(em, "    yi[o] += v * wk[o];");
    em_close_block(em, "}");
    if (L->act == CNN_ACT_SOFTMAX) {
        emit_softmax_row(em, "yi", "yi", "OUT");
    } else if (L->act != CNN_ACT_LINEAR) {
        if (emit_act_simd_ok(L->act))
            em_line(em, "OMP(simd)");
        em_open_block(em, "for (int o = 0; o < OUT; o++) {");
        em_line(em, "const cnn_real z = yi[o];");
        em_line(em, "yi[o] = %s;", emit_act_expr(e, sizeof e, L->act, l->alpha, "z"));
        em_close_block(em, "}");
    }
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
    em_blank(em);
}

static void dense_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                               const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_forward(p, %s, %s, n);", L->fn, a->in, a->out);
}

static void dense_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    emit_layer_comment(em, pl, L, "backward");
    em_function(em,
                  "static void %s_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                  "const cnn_real *restrict in, const cnn_real *restrict out, cnn_real *restrict dy, "
                  "%sint n)",
                  L->fn, L->needs_dx ? "cnn_real *restrict dx, " : "");
    emit_enums(em, L);
    if (L->act != CNN_ACT_LINEAR) {
        em_line(em, "/* dz = dy * act'(y), in place */");
        emit_image_loop(em);
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * OUT;");
        em_line(em, "cnn_real *restrict dzi = dy + (size_t)i * OUT;");
        emit_act_grad_image(em, L->act, l->alpha, "yi", "dzi", L->out_size, L->out_size);
        em_close_block(em, "}");
    } else {
        em_line(em, "(void)out;");
    }
    em_line(em, "const cnn_real *restrict dz = dy;");
    em_line(em, "/* dW: rows split over threads, images summed in order */");
    em_line(em, "cnn_real *restrict gw = g + W_OFF;");
    em_line(em, "OMP(parallel for schedule(static))");
    em_open_block(em, "for (int k = 0; k < IN; k++) {");
    em_line(em, "cnn_real *restrict gk = gw + (size_t)k * OUT;");
    em_open_block(em, "for (int i = 0; i < n; i++) {");
    em_line(em, "const cnn_real v = in[(size_t)i * IN + k];");
    em_line(em, "const cnn_real *restrict dzi = dz + (size_t)i * OUT;");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int o = 0; o < OUT; o++)");
    em_line(em, "    gk[o] += v * dzi[o];");
    em_close_block(em, "}");
    em_close_block(em, "}");
    if (l->bias) {
        em_line(em, "cnn_real *restrict gb = g + B_OFF;");
        em_line(em, "for (int i = 0; i < n; i++)");
        em_line(em, "    for (int o = 0; o < OUT; o++)");
        em_line(em, "        gb[o] += dz[(size_t)i * OUT + o];");
    }
    if (L->needs_dx) {
        em_line(em, "/* dx = dz W^T */");
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
        emit_image_loop(em);
        em_line(em, "const cnn_real *restrict dzi = dz + (size_t)i * OUT;");
        em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN;");
        em_open_block(em, "for (int k = 0; k < IN; k++) {");
        em_line(em, "const cnn_real *restrict wk = wgt + (size_t)k * OUT;");
        em_line(em, "cnn_real s = 0;");
        em_line(em, "OMP(simd reduction(+:s))");
        em_line(em, "for (int o = 0; o < OUT; o++)");
        em_line(em, "    s += wk[o] * dzi[o];");
        em_line(em, "dxi[k] = s;");
        em_close_block(em, "}");
        em_close_block(em, "} /* i */");
    } else {
        em_line(em, "(void)p;");
    }
    em_close_block(em, "}");
    em_blank(em);
}

static void dense_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                                const cnnc_args *a)
{
    (void)pl;
    if (a->dx)
        em_line(em, "%s_backward(p, g, %s, %s, %s, %s, n);", L->fn, a->in, a->out, a->dy, a->dx);
    else
        em_line(em, "%s_backward(p, g, %s, %s, %s, n);", L->fn, a->in, a->out, a->dy);
}

const cnnc_layer_emitter emit_dense_layer = {
    dense_forward, dense_forward_call, dense_backward, dense_backward_call,
};
