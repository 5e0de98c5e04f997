/* emit_conv2d.c: conv2d forward and backward, NHWC activations, HWIO kernels.
 *
 * Forward: per output pixel, a vector of OC accumulators starts at the bias;
 * for each tap (ky, kx) inside the image and each input channel, one
 * broadcast input times one row of OC weights (the innermost loop runs over
 * output channels, contiguous in both the kernel and the output: what the
 * vectorizer wants). The fused activation is applied before the store.
 * `same` padding is TensorFlow's (pad_top/pad_left from the IR; the extra
 * pixel at the bottom/right); taps falling in the padding are skipped.
 *
 * Backward, per image: dz = dy * act'(y) in place; the weight and bias
 * gradients of that image go to its own slot; dx (when a lower layer needs
 * it) is the transposed convolution. The slots are then summed in image
 * order and added to grads, so the result does not depend on the threads. */
#include <stdio.h>

#include "emit_layers.h"

typedef struct conv_dims {
    int ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl;
    int padded; /* some taps can fall outside the input */
} conv_dims;

static conv_dims dims(const cnn_layer *l)
{
    conv_dims d = {l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->out.c, l->kh, l->kw,
                   l->sh, l->sw, l->pad_top, l->pad_left, 0};
    d.padded = l->pad_top || l->pad_left || l->pad_bottom || l->pad_right;
    return d;
}

static void emit_enums(cnnc_emitter *em, const cnnc_plan_layer *L, const conv_dims *d)
{
    em_line(em, "enum { IH = %d, IW = %d, IC = %d, OH = %d, OW = %d, OC = %d };", d->ih, d->iw, d->ic,
            d->oh, d->ow, d->oc);
    em_line(em, "enum { KH = %d, KW = %d, SH = %d, SW = %d, PT = %d, PL = %d };", d->kh, d->kw, d->sh,
            d->sw, d->pt, d->pl);
    em_line(em, "enum { IN_SIZE = %zu, OUT_SIZE = %zu, W_OFF = %zu, W_COUNT = %zu };", L->in_size,
            L->out_size, L->t_off[0], L->t_count[0]);
    if (L->l->bias)
        em_line(em, "enum { B_OFF = %zu };", L->t_off[1]);
}

/* The tap loops: for (ky) { iy; [skip]; for (kx) { ix; [skip]; */
static void open_taps(cnnc_emitter *em, const conv_dims *d)
{
    em_open_block(em, "for (int ky = 0; ky < KH; ky++) {");
    em_line(em, "const int iy = oy * SH - PT + ky;");
    if (d->padded) {
        em_line(em, "if (iy < 0 || iy >= IH)");
        em_line(em, "    continue;");
    }
    em_open_block(em, "for (int kx = 0; kx < KW; kx++) {");
    em_line(em, "const int ix = ox * SW - PL + kx;");
    if (d->padded) {
        em_line(em, "if (ix < 0 || ix >= IW)");
        em_line(em, "    continue;");
    }
}

static void close_taps(cnnc_emitter *em)
{
    em_close_block(em, "} /* kx */");
    em_close_block(em, "} /* ky */");
}

static void conv_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = dims(l);
    char e[256];
    emit_layer_comment(em, pl, L, "forward");
    em_function(em,
                  "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "
                  "cnn_real *restrict out, int n)",
                  L->fn);
    emit_enums(em, L, &d);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [KH][KW][IC][OC] */");
    if (l->bias)
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    em_open_block(em, "for (int oy = 0; oy < OH; oy++) {");
    em_open_block(em, "for (int ox = 0; ox < OW; ox++) {");
    em_line(em, "cnn_real acc[OC];");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int co = 0; co < OC; co++)");
    em_line(em, "    acc[co] = %s;", l->bias ? "bias[co]" : "0");
    open_taps(em, &d);
    em_line(em, "const cnn_real *restrict xp = xi + ((size_t)iy * IW + ix) * IC;");
    em_line(em, "const cnn_real *restrict wp = wgt + (size_t)(ky * KW + kx) * IC * OC;");
    em_open_block(em, "for (int ci = 0; ci < IC; ci++) {");
    em_line(em, "const cnn_real v = xp[ci];");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int co = 0; co < OC; co++)");
    em_line(em, "    acc[co] += v * wp[ci * OC + co];");
    em_close_block(em, "}");
    close_taps(em);
    em_line(em, "cnn_real *restrict yp = yi + ((size_t)oy * OW + ox) * OC;");
    if (L->act == CNN_ACT_SOFTMAX) {
        emit_softmax_row(em, "acc", "yp", "OC");
    } else {
        if (emit_act_simd_ok(L->act))
            em_line(em, "OMP(simd)");
        em_open_block(em, "for (int co = 0; co < OC; co++) {");
        em_line(em, "const cnn_real z = acc[co];");
        em_line(em, "yp[co] = %s;", emit_act_expr(e, sizeof e, L->act, l->alpha, "z"));
        em_close_block(em, "}");
    }
    em_close_block(em, "} /* ox */");
    em_close_block(em, "} /* oy */");
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
    em_blank(em);
}

static void conv_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                              const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_forward(p, %s, %s, n);", L->fn, a->in, a->out);
}

static void conv_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = dims(l);
    emit_layer_comment(em, pl, L, "backward");
    em_function(em,
                  "static void %s_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                  "const cnn_real *restrict in, const cnn_real *restrict out, cnn_real *restrict dy, "
                  "%scnn_real *restrict slot, int n)",
                  L->fn, L->needs_dx ? "cnn_real *restrict dx, " : "");
    emit_enums(em, L, &d);
    em_line(em, "enum { SLOT = %zu }; /* per image: dW [KH][KW][IC][OC]%s */", L->slot_floats,
            l->bias ? ", then db [OC]" : "");
    if (L->needs_dx)
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
    else
        em_line(em, "(void)p;");
    (void)pl;
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict dzi = dy + (size_t)i * OUT_SIZE;");
    em_line(em, "cnn_real *restrict dwi = slot + (size_t)i * SLOT;");
    if (L->act != CNN_ACT_LINEAR) {
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
        em_line(em, "/* dz = dy * act'(y), in place */");
        emit_act_grad_image(em, L->act, l->alpha, "yi", "dzi", L->out_size, (size_t)d.oc);
    } else {
        em_line(em, "(void)out;");
    }
    em_line(em, "memset(dwi, 0, sizeof(cnn_real) * SLOT);");
    em_open_block(em, "for (int oy = 0; oy < OH; oy++) {");
    em_open_block(em, "for (int ox = 0; ox < OW; ox++) {");
    em_line(em, "const cnn_real *restrict dzp = dzi + ((size_t)oy * OW + ox) * OC;");
    if (l->bias) {
        em_line(em, "OMP(simd)");
        em_line(em, "for (int co = 0; co < OC; co++)");
        em_line(em, "    dwi[W_COUNT + co] += dzp[co];");
    }
    open_taps(em, &d);
    em_line(em, "const cnn_real *restrict xp = xi + ((size_t)iy * IW + ix) * IC;");
    em_line(em, "cnn_real *restrict dwp = dwi + (size_t)(ky * KW + kx) * IC * OC;");
    em_open_block(em, "for (int ci = 0; ci < IC; ci++) {");
    em_line(em, "const cnn_real v = xp[ci];");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int co = 0; co < OC; co++)");
    em_line(em, "    dwp[ci * OC + co] += v * dzp[co];");
    em_close_block(em, "}");
    close_taps(em);
    em_close_block(em, "} /* ox */");
    em_close_block(em, "} /* oy */");
    if (L->needs_dx) {
        em_line(em, "/* dx: every output pixel sends its dz back through the taps */");
        em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN_SIZE;");
        em_line(em, "memset(dxi, 0, sizeof(cnn_real) * IN_SIZE);");
        em_open_block(em, "for (int oy = 0; oy < OH; oy++) {");
        em_open_block(em, "for (int ox = 0; ox < OW; ox++) {");
        em_line(em, "const cnn_real *restrict dzp = dzi + ((size_t)oy * OW + ox) * OC;");
        open_taps(em, &d);
        em_line(em, "cnn_real *restrict dxp = dxi + ((size_t)iy * IW + ix) * IC;");
        em_line(em, "const cnn_real *restrict wp = wgt + (size_t)(ky * KW + kx) * IC * OC;");
        em_open_block(em, "for (int ci = 0; ci < IC; ci++) {");
        em_line(em, "cnn_real s = 0;");
        em_line(em, "OMP(simd reduction(+:s))");
        em_line(em, "for (int co = 0; co < OC; co++)");
        em_line(em, "    s += wp[ci * OC + co] * dzp[co];");
        em_line(em, "dxp[ci] += s;");
        em_close_block(em, "}");
        close_taps(em);
        em_close_block(em, "} /* ox */");
        em_close_block(em, "} /* oy */");
    }
    em_close_block(em, "} /* i */");
    em_line(em, "/* sum the slots in image order */");
    em_line(em, "OMP(parallel for schedule(static))");
    em_open_block(em, "for (int k = 0; k < SLOT; k++) {");
    em_line(em, "cnn_real s = 0;");
    em_line(em, "for (int i = 0; i < n; i++)");
    em_line(em, "    s += slot[(size_t)i * SLOT + k];");
    if (l->bias) {
        em_line(em, "if (k < W_COUNT)");
        em_line(em, "    g[W_OFF + k] += s;");
        em_line(em, "else");
        em_line(em, "    g[B_OFF + k - W_COUNT] += s;");
    } else {
        em_line(em, "g[W_OFF + k] += s;");
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_blank(em);
}

static void conv_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                               const cnnc_args *a)
{
    (void)pl;
    if (a->dx)
        em_line(em, "%s_backward(p, g, %s, %s, %s, %s, slot, n);", L->fn, a->in, a->out, a->dy, a->dx);
    else
        em_line(em, "%s_backward(p, g, %s, %s, %s, slot, n);", L->fn, a->in, a->out, a->dy);
}

const cnnc_layer_emitter emit_conv2d_layer = {
    conv_forward, conv_forward_call, conv_backward, conv_backward_call,
};
