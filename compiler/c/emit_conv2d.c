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

#include "emit_conv2d.h"

conv_dims conv_dims_of(const cnn_layer *l)
{
    conv_dims d = {l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->out.c, l->kh, l->kw,
                   l->sh, l->sw, l->pad_top, l->pad_left, 0};
    d.padded = l->pad_top || l->pad_left || l->pad_bottom || l->pad_right;
    return d;
}

void conv_emit_enums(cnnc_emitter *em, const cnnc_plan_layer *L, const conv_dims *d)
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

#define FWD_SIG                                                                               \
    "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "        \
    "cnn_real *restrict out, cnn_real *restrict pad, %sint n)"

/* The forward's extra parameter: Winograd's U, for a conv whose forward
 * without a pool runs by Winograd (emit_conv_winograd.c). */
static const char *fwd_wino_param(const cnnc_plan_layer *L)
{
    return L->wino && !L->fuse_pool ? "cnn_real *restrict wino, " : "";
}

static void emit_backward_sig(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_function(em,
                "static void %s_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, cnn_real *restrict dy, "
                "%scnn_real *restrict slot, cnn_real *restrict pad, cnn_real *restrict flip, int n)",
                L->fn, L->needs_dx ? "cnn_real *restrict dx, " : "");
}

void conv_emit_slot_sum(cnnc_emitter *em, const cnn_layer *l)
{
    /* A block of 256 sums at a time, the images' slots read in order and
     * contiguously: one sum per element over the images, with a stride of
     * SLOT floats, cost deep's conv2d_4 backward 1.0 of its 2.6 ms (36,864
     * floats per slot). The additions are the same, in the same order. */
    em_line(em, "/* sum the slots in image order */");
    em_line(em, "OMP(parallel for schedule(static))");
    em_open_block(em, "for (int k0 = 0; k0 < SLOT; k0 += 256) {");
    em_line(em, "const int kn = SLOT - k0 < 256 ? SLOT - k0 : 256;");
    em_line(em, "cnn_real s[256];");
    em_line(em, "for (int kk = 0; kk < kn; kk++)");
    em_line(em, "    s[kk] = 0;");
    em_open_block(em, "for (int i = 0; i < n; i++) {");
    em_line(em, "const cnn_real *restrict si = slot + (size_t)i * SLOT + k0;");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int kk = 0; kk < kn; kk++)");
    em_line(em, "    s[kk] += si[kk];");
    em_close_block(em, "}");
    em_open_block(em, "for (int kk = 0; kk < kn; kk++) {");
    if (l->bias) {
        em_line(em, "const int k = k0 + kk;");
        em_line(em, "if (k < W_COUNT)");
        em_line(em, "    g[W_OFF + k] += s[kk];");
        em_line(em, "else");
        em_line(em, "    g[B_OFF + k - W_COUNT] += s[kk];");
    } else {
        em_line(em, "g[W_OFF + k0 + kk] += s[kk];");
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
}

static void conv_forward_ref(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    char e[256];
    (void)pl;
    em_function(em, FWD_SIG, L->fn, fwd_wino_param(L));
    conv_emit_enums(em, L, &d);
    em_line(em, "(void)pad;");
    if (*fwd_wino_param(L))
        em_line(em, "(void)wino; /* Winograd's U: the fast path's */");
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
}


static void conv_backward_ref(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    emit_backward_sig(em, L);
    conv_emit_enums(em, L, &d);
    em_line(em, "(void)pad;");
    em_line(em, "(void)flip;");
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
    conv_emit_slot_sum(em, l);
    em_close_block(em, "}");
}

/* ---- the fast path ------------------------------------------------------
 *
 * Register blocking, sized for 16-float vectors (AVX-512) and about 20
 * vector accumulators; correct, only slower, elsewhere:
 *  - forward (and dx, which is the same kernel run on the zero-padded dz with
 *    the kernel rotated 180 degrees and its in/out channels swapped): P
 *    output pixels of a row at once, each with OC accumulators. For each
 *    kernel row ky, the (kx, ci) pairs are contiguous in the input window and
 *    in the HWIO kernel, so one flat loop over them broadcasts P inputs
 *    against one vector row of weights.
 *  - weight gradient: CB rows (ky, kx, ci) of dW at once, each OC wide,
 *    streamed over all output pixels: one dz load feeds CB broadcasts.
 * 'same' padding reads a zero-padded copy of the input (per-image scratch
 * `pad`), so the kernels have no bounds checks. Results are summed in a fixed
 * order per image, so they do not depend on the number of threads. */

int conv_vectors(int channels)
{
    return (channels + VEC - 1) / VEC;
}

int conv_chunk_width(int channels, int c)
{
    int w = channels - c * VEC;
    return w < VEC ? w : VEC;
}

/* Output-channel vectors a tile takes: all of them, or half when there are
 * 4 or more and the weights are larger than L1 (tiles of pixels x all
 * channels stream every weight once per tile; half the channels over twice
 * the pixels stream them half as often, and the tile fits the one-broadcast
 * form). One thread: deep conv2d_4 (8x8x64 -> 64, 147 KB of weights)
 * forward 0.93-0.98 -> 0.67-0.72 ms, its backward (whose dx is such a
 * tile; dW is not) 1.98-2.00 -> 1.69-1.74 ms,
 * conv2d_3's training forward 1.98 -> 1.56 ms. Softmax needs all of a
 * pixel's channels. The size test counts floats whatever cnn_real is, so
 * the gradient checks (double) run the same tiles as the trainer. */
static int block_group_vectors(const conv_block *b)
{
    int nv = conv_vectors(b->cout);
    if (nv < 4 || nv % 2 || b->cout % (VEC * nv / 2) || b->act == CNN_ACT_SOFTMAX ||
        (size_t)b->kh * b->kw * b->cin * b->cout * sizeof(float) <= 32 * 1024)
        return nv;
    return nv / 2;
}

/* The taps of one tile, one input broadcast per FMA: for each kernel row
 * and (kx, ci), one weight row against the np pixels' inputs. Any stride. */
static void emit_taps_per_tap(cnnc_emitter *em, const conv_block *b, int np, int nv, const char *go)
{
    em_open_block(em, "for (int t = 0; t < B_KW * B_CIN; t++) { /* (kx, ci) */");
    em_line(em, "const cnn_real *restrict w = wr + (size_t)t * B_COUT;");
    for (int q = 0; q < np; q++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real v = xr[%d * B_SW * B_CIN + t];", q);
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", conv_chunk_width(b->cout, c));
            em_line(em, "    a%d_%d[co] += v * w[%s%d + co];", q, c, go, c * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
}

/* Stride 1: input column j feeds output pixels j - kx for every kx, so each
 * input is broadcast once and meets the KW weight rows of its channel, held
 * in registers: KW FMAs per load instead of one. */
static int taps_per_input_fit(const conv_block *b, int np, int nv)
{
    return b->sw == 1 && b->kw > 1 && (b->kw + 1) * nv + np * nv <= DW_ONE_PASS;
}

static void emit_taps_per_input(cnnc_emitter *em, const conv_block *b, int np, int nv, const char *go)
{
    em_open_block(em, "for (int ci = 0; ci < B_CIN; ci++) { /* each input broadcast once, for its %d taps */",
                  b->kw);
    for (int kx = 0; kx < b->kw; kx++)
        for (int c = 0; c < nv; c++) {
            em_line(em, "cnn_real w%d_%d[%d];", kx, c, conv_chunk_width(b->cout, c));
            em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", conv_chunk_width(b->cout, c));
            em_line(em, "    w%d_%d[co] = wr[((size_t)%d * B_CIN + ci) * B_COUT + %s%d + co];", kx, c, kx, go,
                    c * VEC);
        }
    for (int j = 0; j < np + b->kw - 1; j++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real v = xr[%d * B_CIN + ci];", j);
        for (int kx = 0; kx < b->kw; kx++) {
            int q = j - kx;
            if (q < 0 || q >= np)
                continue;
            for (int c = 0; c < nv; c++) {
                em_line(em, "OMP(simd)");
                em_line(em, "for (int co = 0; co < %d; co++)", conv_chunk_width(b->cout, c));
                em_line(em, "    a%d_%d[co] += v * w%d_%d[co];", q, c, kx, c);
            }
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
}

/* One tile of np output pixels starting at column ox0; `head` opens it
 * ("{" or a for loop over tiles). */
static void emit_block_tile(cnnc_emitter *em, const conv_block *b, int np, const char *ox0,
                            const char *head)
{
    char e[256], z[32];
    int nv = block_group_vectors(b);
    const char *go = nv < conv_vectors(b->cout) ? "c0 + " : ""; /* the group's first channel */
    em_open_block(em, "%s /* %d output pixel%s */", head, np, np == 1 ? "" : "s");
    em_line(em, "const int ox0 = %s;", ox0);
    for (int q = 0; q < np; q++)
        for (int c = 0; c < nv; c++)
            em_line(em, "cnn_real a%d_%d[%d];", q, c, conv_chunk_width(b->cout, c));
    for (int q = 0; q < np; q++)
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", conv_chunk_width(b->cout, c));
            if (b->bias)
                em_line(em, "    a%d_%d[co] = bb[%s%d + co];", q, c, go, c * VEC);
            else
                em_line(em, "    a%d_%d[co] = 0;", q, c);
        }
    em_open_block(em, "for (int ky = 0; ky < B_KH; ky++) {");
    em_line(em, "const cnn_real *restrict xr = bsrc + ((size_t)(oy * B_SH + ky) * B_SRC_W + (size_t)ox0 * B_SW) * B_CIN;");
    em_line(em, "const cnn_real *restrict wr = bw + (size_t)ky * B_KW * B_CIN * B_COUT;");
    if (taps_per_input_fit(b, np, nv))
        emit_taps_per_input(em, b, np, nv, go);
    else
        emit_taps_per_tap(em, b, np, nv, go);
    em_close_block(em, "}");
    if (b->dst_row)
        em_line(em, "cnn_real *restrict yp = bdst + ((size_t)(%s) * B_OW + ox0) * B_COUT;", b->dst_row);
    else
        em_line(em, "cnn_real *restrict yp = bdst + ((size_t)oy * B_OW + ox0) * B_COUT;");
    cnn_act act = b->act == CNN_ACT_SOFTMAX ? CNN_ACT_LINEAR : b->act;
    for (int q = 0; q < np; q++)
        for (int c = 0; c < nv; c++) {
            snprintf(z, sizeof z, "a%d_%d[co]", q, c);
            if (emit_act_simd_ok(act))
                em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", conv_chunk_width(b->cout, c));
            em_line(em, "    yp[%d * B_COUT + %s%d + co] = %s;", q, go, c * VEC,
                    emit_act_expr(e, sizeof e, act, b->alpha, z));
        }
    if (b->act == CNN_ACT_SOFTMAX) {
        em_open_block(em, "for (int q = 0; q < %d; q++) { /* softmax over each pixel's channels */", np);
        emit_softmax_row(em, "(yp + (size_t)q * B_COUT)", "(yp + (size_t)q * B_COUT)", "B_COUT");
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
}

void conv_emit_block(cnnc_emitter *em, const conv_block *b)
{
    int v = block_group_vectors(b);
    int np = ACC_BUDGET / v;
    if (np < 1)
        np = 1;
    if (np > b->ow)
        np = b->ow;
    np = (b->ow + (b->ow + np - 1) / np - 1) / ((b->ow + np - 1) / np); /* balance the tiles */
    int full = b->ow / np, rest = b->ow % np;
    em_open_block(em, "{");
    em_line(em, "const cnn_real *restrict bsrc = %s;", b->src);
    em_line(em, "const cnn_real *restrict bw = %s; /* [B_KH][B_KW][B_CIN][B_COUT] */", b->wgt);
    if (b->bias)
        em_line(em, "const cnn_real *restrict bb = %s;", b->bias);
    em_line(em, "cnn_real *restrict bdst = %s;", b->dst);
    em_line(em, "enum { B_SRC_W = %d, B_CIN = %d, B_COUT = %d, B_KH = %d, B_KW = %d, B_SH = %d, B_SW = %d };",
            b->src_w, b->cin, b->cout, b->kh, b->kw, b->sh, b->sw);
    em_line(em, "enum { B_OH = %d, B_OW = %d };", b->oh, b->ow);
    if (b->rows)
        em_open_block(em, "%s", b->rows);
    else
        em_open_block(em, "for (int oy = 0; oy < B_OH; oy++) {");
    if (v < conv_vectors(b->cout))
        em_open_block(em, "for (int c0 = 0; c0 < B_COUT; c0 += %d) { /* %d channels at a time */", v * VEC, v * VEC);
    if (full == 1) {
        emit_block_tile(em, b, np, "0", "{");
    } else if (full > 1) {
        char ox0[32], head[64];
        snprintf(ox0, sizeof ox0, "ob * %d", np);
        snprintf(head, sizeof head, "for (int ob = 0; ob < %d; ob++) {", full);
        emit_block_tile(em, b, np, ox0, head);
    }
    if (rest) {
        char ox0[32];
        snprintf(ox0, sizeof ox0, "%d", b->ow - rest);
        emit_block_tile(em, b, rest, ox0, "{");
    }
    if (v < conv_vectors(b->cout))
        em_close_block(em, "} /* c0 */");
    em_close_block(em, "} /* oy */");
    em_close_block(em, "}");
}

void conv_emit_pad_copy(cnnc_emitter *em, const char *from, const char *to, int h, int w, int c,
                          int top, int left, int ph, int pw)
{
    em_open_block(em, "{ /* zero-padded copy: %dx%dx%d inside %dx%dx%d at (%d, %d) */", h, w, c, ph, pw, c,
                  top, left);
    em_line(em, "const cnn_real *restrict from = %s;", from);
    em_line(em, "cnn_real *restrict to = %s;", to);
    if (top > 0)
        em_line(em, "memset(to, 0, sizeof(cnn_real) * %zu);", (size_t)top * pw * c);
    em_open_block(em, "for (int y = 0; y < %d; y++) {", h);
    em_line(em, "cnn_real *restrict row = to + (size_t)(y + %d) * %zu;", top, (size_t)pw * c);
    if (left > 0)
        em_line(em, "memset(row, 0, sizeof(cnn_real) * %zu);", (size_t)left * c);
    em_line(em, "memcpy(row + %zu, from + (size_t)y * %zu, sizeof(cnn_real) * %zu);", (size_t)left * c,
            (size_t)w * c, (size_t)w * c);
    if (pw - left - w > 0)
        em_line(em, "memset(row + %zu, 0, sizeof(cnn_real) * %zu);", (size_t)(left + w) * c,
                (size_t)(pw - left - w) * c);
    em_close_block(em, "}");
    if (ph - top - h > 0)
        em_line(em, "memset(to + %zu, 0, sizeof(cnn_real) * %zu);", (size_t)(top + h) * pw * c,
                (size_t)(ph - top - h) * pw * c);
    em_close_block(em, "}");
}

void conv_padded_dims(const cnn_layer *l, int *ph, int *pw)
{
    *ph = l->in.h + l->pad_top + l->pad_bottom;
    *pw = l->in.w + l->pad_left + l->pad_right;
}

int conv_fast_dx(const cnn_layer *l)
{
    return l->sh == 1 && l->sw == 1;
}

size_t conv_padded_copy_floats(const cnn_layer *l)
{
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    return ph != l->in.h || pw != l->in.w ? (size_t)ph * pw * l->in.c : 0;
}

/* Whether the backward's dx (the plain conv's, not a fused pool's) runs by
 * Winograd (emit_conv_winograd.c). */
static int dx_winograd(const cnn_layer *l, int needs_dx, const cnn_layer *pool)
{
    return needs_dx && !pool && conv_fast_dx(l) && conv_winograd_dx_applies(l);
}

/* The zero-padded dz of the fast dx, in floats. */
static size_t dz_padded_floats(const cnn_layer *l)
{
    return (size_t)(l->in.h + l->kh - 1) * (l->in.w + l->kw - 1) * l->out.c;
}

/* Per-image scratch the fast path needs (emit_c.c sizes `pad` with it). */
size_t emit_conv2d_pad_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool)
{
    size_t s = conv_padded_copy_floats(l);
    if (pool)
        return s + conv_pool_scratch_floats(l, needs_dx, pool);
    if (needs_dx && conv_fast_dx(l)) {
        size_t d = dz_padded_floats(l);
        if (dx_winograd(l, needs_dx, pool))
            d += conv_winograd_dx_scratch_floats(l);
        if (d > s)
            s = d;
    }
    return s;
}

/* Fixed scratch: the rotated kernel of the fast dx, then Winograd's U of it. */
size_t emit_conv2d_flip_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool)
{
    size_t flip = needs_dx && conv_fast_dx(l) ? (size_t)l->kh * l->kw * l->in.c * l->out.c : 0;
    return flip + (dx_winograd(l, needs_dx, pool) ? conv_winograd_fixed_floats(l) : 0);
}

void conv_emit_source(cnnc_emitter *em, const cnn_layer *l)
{
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    if (ph != l->in.h || pw != l->in.w) {
        em_line(em, "cnn_real *restrict xpad = pad + (size_t)i * PAD_SIZE;");
        conv_emit_pad_copy(em, "xi", "xpad", l->in.h, l->in.w, l->in.c, l->pad_top, l->pad_left, ph, pw);
        em_line(em, "const cnn_real *restrict xs = xpad;");
    } else {
        em_line(em, "const cnn_real *restrict xs = xi;");
    }
}

static void conv_forward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    em_function(em, FWD_SIG, L->fn, fwd_wino_param(L));
    conv_emit_enums(em, L, &d);
    em_line(em, "enum { PAD_SIZE = %zu };", L->pad_floats);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [KH][KW][IC][OC] */");
    if (l->bias)
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    if (L->wino) {
        em_raw(em, "#ifndef CNN_NO_WINOGRAD /* defined: the direct kernel below (for comparisons) */\n");
        em_line(em, "enum { PW = %d, WINO_AT = %zu }; /* per image: [padded input, PW wide] then V and M */", pw,
                conv_padded_copy_floats(l));
        conv_winograd_emit_weights(em, "wino", "wgt", "IC", "OC");
        conv_winograd_emit_images(em, L, NULL, NULL, NULL);
        em_raw(em, "#else\n");
        em_line(em, "(void)wino;");
    }
    if (ph == l->in.h && pw == l->in.w)
        em_line(em, "(void)pad; /* no padding: read the input in place */");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    conv_emit_source(em, l);
    conv_block b = {"xs", "wgt", l->bias ? "bias" : NULL, "yi", pw, d.ic, d.oc, d.kh, d.kw,
                    d.sh, d.sw, d.oh, d.ow, L->act, l->alpha, NULL, NULL};
    conv_emit_block(em, &b);
    em_close_block(em, "} /* i */");
    if (L->wino)
        em_raw(em, "#endif\n");
    em_close_block(em, "}");
}

/* dw[r][co] = sum over output pixels of src(pixel window, row r) * dz, for
 * rows r in [r0, r0 + cb), written into `dwi` (or added to what it holds,
 * with z->accumulate). The input offsets of the rows come from off(): a
 * constant per row. */
static void emit_dw_chunk(cnnc_emitter *em, const conv_dz *z, int oc, int cb, const char *const *off,
                          const char *r0)
{
    int nv = conv_vectors(oc);
    em_open_block(em, "{ /* %d row%s of dW */", cb, cb == 1 ? "" : "s");
    for (int r = 0; r < cb; r++)
        for (int c = 0; c < nv; c++)
            em_line(em, "cnn_real g%d_%d[%d];", r, c, conv_chunk_width(oc, c));
    for (int r = 0; r < cb; r++)
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", conv_chunk_width(oc, c));
            if (z->accumulate)
                em_line(em, "    g%d_%d[co] = dwi[(size_t)(%s + %d) * OC + %d + co];", r, c, r0, r, c * VEC);
            else
                em_line(em, "    g%d_%d[co] = 0;", r, c);
        }
    em_open_block(em, "for (int oy = %s; oy < %s; oy++) {", z->oy_begin, z->oy_end);
    em_line(em, "const cnn_real *restrict xr = xs + (size_t)(oy * SH) * PW * IC;");
    em_line(em, "const cnn_real *restrict dr = %s;", z->row);
    em_open_block(em, "for (int ox = 0; ox < %s; ox++) {", z->ox_end);
    em_line(em, "const cnn_real *restrict xp = xr + (size_t)ox * SW * IC;");
    em_line(em, "const cnn_real *restrict d = dr + (size_t)ox * OC;");
    for (int r = 0; r < cb; r++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real v = xp[%s];", off[r]);
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", conv_chunk_width(oc, c));
            em_line(em, "    g%d_%d[co] += v * d[%d + co];", r, c, c * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
    for (int r = 0; r < cb; r++)
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", conv_chunk_width(oc, c));
            em_line(em, "    dwi[(size_t)(%s + %d) * OC + %d + co] = g%d_%d[co];", r0, r, c * VEC, r, c);
        }
    em_close_block(em, "}");
}

void conv_emit_dw(cnnc_emitter *em, const cnn_layer *l, const conv_dz *z)
{
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    int ic = l->in.c, rows = l->kh * l->kw * ic;
    int cb = ACC_BUDGET / conv_vectors(l->out.c);
    if (cb < 1)
        cb = 1;
    /* All of dW in registers when it fits (a 3x3 first layer on RGB with 16
     * filters: 27 accumulators): dz is then read once, not once per chunk. */
    if (rows * conv_vectors(l->out.c) <= DW_ONE_PASS)
        cb = rows;
    if (cb > rows)
        cb = rows;
    /* balance the chunks (27 rows as 14 + 13, not 20 + 7) */
    int span = ic >= cb ? ic : rows, nch = (span + cb - 1) / cb;
    cb = (span + nch - 1) / nch;
    static char offs[DW_ONE_PASS][64];
    const char *off[DW_ONE_PASS];
    for (int c = 0; c < DW_ONE_PASS; c++)
        off[c] = offs[c];
    em_line(em, "/* dW rows r = (ky * KW + kx) * IC + ci, %d at a time */", cb);
    if (ic >= cb) {
        /* rolled over taps and channel blocks: the rows of a block are
         * consecutive channels of one tap, consecutive in the input too */
        em_open_block(em, "for (int tap = 0; tap < KH * KW; tap++) {");
        em_line(em, "const int base = ((tap / KW) * PW + tap %% KW) * IC;");
        int full = ic / cb, rest = ic % cb;
        if (full) {
            em_open_block(em, "for (int cb = 0; cb < %d; cb++) {", full);
            em_line(em, "const int at = base + cb * %d, r0 = tap * IC + cb * %d;", cb, cb);
            for (int c = 0; c < cb; c++)
                snprintf(offs[c], sizeof offs[c], "at + %d", c);
            emit_dw_chunk(em, z, l->out.c, cb, off, "r0");
            em_close_block(em, "}");
        }
        if (rest) {
            em_open_block(em, "{");
            em_line(em, "const int at = base + %d, r0 = tap * IC + %d;", full * cb, full * cb);
            for (int c = 0; c < rest; c++)
                snprintf(offs[c], sizeof offs[c], "at + %d", c);
            emit_dw_chunk(em, z, l->out.c, rest, off, "r0");
            em_close_block(em, "}");
        }
        em_close_block(em, "}");
    } else {
        /* few channels (a first layer): rows spread over several taps, each
         * with its own constant offset in the input window */
        for (int r0 = 0; r0 < rows; r0 += cb) {
            int n = rows - r0 < cb ? rows - r0 : cb;
            char r0s[32];
            for (int c = 0; c < n; c++) {
                int r = r0 + c, ky = r / (l->kw * ic), rem = r % (l->kw * ic);
                snprintf(offs[c], sizeof offs[c], "%d", ky * pw * ic + rem);
            }
            snprintf(r0s, sizeof r0s, "%d", r0);
            emit_dw_chunk(em, z, l->out.c, n, off, r0s);
        }
    }
}

void conv_emit_flip(cnnc_emitter *em)
{
    em_line(em, "/* the kernel rotated by 180 degrees, in and out swapped: [KH][KW][OC][IC] */");
    em_line(em, "for (int ky = 0; ky < KH; ky++)");
    em_line(em, "    for (int kx = 0; kx < KW; kx++)");
    em_line(em, "        for (int ci = 0; ci < IC; ci++)");
    em_line(em, "            for (int co = 0; co < OC; co++)");
    em_line(em, "                flip[((ky * KW + kx) * OC + co) * IC + ci] =");
    em_line(em, "                    wgt[(((KH - 1 - ky) * KW + (KW - 1 - kx)) * IC + ci) * OC + co];");
}

static void conv_backward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    int fdx = L->needs_dx && conv_fast_dx(l);
    emit_backward_sig(em, L);
    conv_emit_enums(em, L, &d);
    em_line(em, "enum { SLOT = %zu, PAD_SIZE = %zu, PW = %d }; /* slot: dW [KH][KW][IC][OC]%s */",
            L->slot_floats, L->pad_floats, pw, l->bias ? ", then db [OC]" : "");
    if (L->pad_floats == 0)
        em_line(em, "(void)pad;");
    if (L->needs_dx)
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
    else
        em_line(em, "(void)p;");
    int wdx = dx_winograd(l, L->needs_dx, NULL);
    if (fdx) {
        conv_emit_flip(em);
    } else {
        em_line(em, "(void)flip;");
    }
    if (wdx) {
        em_raw(em, "#ifndef CNN_NO_WINOGRAD\n");
        conv_winograd_emit_weights(em, "flip + W_COUNT", "flip", "OC", "IC");
        em_raw(em, "#endif\n");
    }
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict dzi = dy + (size_t)i * OUT_SIZE;");
    em_line(em, "cnn_real *restrict dwi = slot + (size_t)i * SLOT;");
    /* An element-wise activation's gradient and db in one pass over dz: the
     * image's dz (1 MB for fruit's first layer) is read once less. */
    int fused_db = l->bias && L->act != CNN_ACT_LINEAR && L->act != CNN_ACT_SOFTMAX;
    if (L->act != CNN_ACT_LINEAR)
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    else
        em_line(em, "(void)out;");
    if (fused_db) {
        char e[256];
        em_open_block(em, "{ /* dz = dy * act'(y), in place, and db */");
        em_line(em, "cnn_real s[OC];");
        em_line(em, "OMP(simd)");
        em_line(em, "for (int co = 0; co < OC; co++)");
        em_line(em, "    s[co] = 0;");
        em_open_block(em, "for (int q = 0; q < OH * OW; q++) {");
        em_line(em, "const cnn_real *restrict yq = yi + (size_t)q * OC;");
        em_line(em, "cnn_real *restrict dq = dzi + (size_t)q * OC;");
        em_line(em, "OMP(simd)");
        em_open_block(em, "for (int co = 0; co < OC; co++) {");
        em_line(em, "const cnn_real v = %s;",
                emit_act_grad_expr(e, sizeof e, L->act, l->alpha, "yq[co]", "dq[co]"));
        em_line(em, "dq[co] = v;");
        em_line(em, "s[co] += v;");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_line(em, "OMP(simd)");
        em_line(em, "for (int co = 0; co < OC; co++)");
        em_line(em, "    dwi[W_COUNT + co] = s[co];");
        em_close_block(em, "}");
    } else if (L->act != CNN_ACT_LINEAR) {
        em_line(em, "/* dz = dy * act'(y), in place */");
        emit_act_grad_image(em, L->act, l->alpha, "yi", "dzi", L->out_size, (size_t)d.oc);
    }
    if (l->bias && !fused_db) {
        em_open_block(em, "{ /* db */");
        em_line(em, "cnn_real s[OC];");
        em_line(em, "OMP(simd)");
        em_line(em, "for (int co = 0; co < OC; co++)");
        em_line(em, "    s[co] = 0;");
        em_line(em, "for (int q = 0; q < OH * OW; q++)");
        em_line(em, "    OMP(simd)");
        em_line(em, "    for (int co = 0; co < OC; co++)");
        em_line(em, "        s[co] += dzi[(size_t)q * OC + co];");
        em_line(em, "OMP(simd)");
        em_line(em, "for (int co = 0; co < OC; co++)");
        em_line(em, "    dwi[W_COUNT + co] = s[co];");
        em_close_block(em, "}");
    }
    conv_emit_source(em, l);
    conv_dz whole = {"0", "OH", "OW", "dzi + (size_t)oy * OW * OC", 0};
    conv_emit_dw(em, l, &whole);
    if (fdx) {
        int top = l->kh - 1 - l->pad_top, left = l->kw - 1 - l->pad_left;
        int zh = l->in.h + l->kh - 1, zw = l->in.w + l->kw - 1;
        em_line(em, "/* dx: the forward kernel over the zero-padded dz with the rotated kernel */");
        em_line(em, "cnn_real *restrict dzpad = pad + (size_t)i * PAD_SIZE;");
        conv_emit_pad_copy(em, "dzi", "dzpad", d.oh, d.ow, d.oc, top, left, zh, zw);
        em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN_SIZE;");
        conv_block b = {"dzpad", "flip", NULL, "dxi", zw, d.oc, d.ic, d.kh, d.kw, 1, 1, d.ih, d.iw,
                        CNN_ACT_LINEAR, 0, NULL, NULL};
        if (wdx) {
            char scratch[48];
            snprintf(scratch, sizeof scratch, "dzpad + %zu", dz_padded_floats(l));
            em_raw(em, "#ifndef CNN_NO_WINOGRAD\n");
            conv_winograd_emit_dx(em, l, "dzpad", zw, "dxi", scratch);
            em_raw(em, "#else\n");
            conv_emit_block(em, &b);
            em_raw(em, "#endif\n");
        } else {
            conv_emit_block(em, &b);
        }
    } else if (L->needs_dx) {
        em_line(em, "/* dx (strided: the plain transposed convolution) */");
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
    conv_emit_slot_sum(em, l);
    em_close_block(em, "}");
}

/* ---- both paths: the fast one, and under CNN_REFERENCE_KERNELS the plain
 * loops (the oracle the fast path is tested against) ---------------------- */

static void conv_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "forward");
    em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    if (L->fuse_pool)
        emit_conv_pool_fast(em, pl, L, &pl->layers[L->index + 1], 0);
    else
        conv_forward_fast(em, L);
    em_line(em, "#else");
    conv_forward_ref(em, pl, L);
    em_line(em, "#endif");
    em_blank(em);
}

static void conv_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "backward");
    em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    if (L->fuse_pool)
        emit_conv_pool_fast(em, pl, L, &pl->layers[L->index + 1], 1);
    else
        conv_backward_fast(em, L);
    em_line(em, "#else");
    conv_backward_ref(em, pl, L);
    em_line(em, "#endif");
    em_blank(em);
}

static void conv_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                              const cnnc_args *a)
{
    (void)pl;
    if (L->fuse_pool && L->wino)
        em_line(em, "%s_pool_forward(p, %s, %s, %s, pad, wk + %zu, n, training);", L->fn, a->in, a->out,
                a->pool_out, L->wino_off);
    else if (L->fuse_pool)
        em_line(em, "%s_pool_forward(p, %s, %s, %s, pad, n, training);", L->fn, a->in, a->out, a->pool_out);
    else if (L->wino)
        em_line(em, "%s_forward(p, %s, %s, pad, wk + %zu, n);", L->fn, a->in, a->out, L->wino_off);
    else
        em_line(em, "%s_forward(p, %s, %s, pad, n);", L->fn, a->in, a->out);
}

static void conv_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                               const cnnc_args *a)
{
    (void)pl;
    char flip[64];
    snprintf(flip, sizeof flip, "wk + %zu", L->flip_off);
    if (L->fuse_pool) /* dx: the gradient buffer, scratch when nothing needs dx */
        em_line(em, "%s_pool_backward(p, g, %s, %s, %s, %s, %s, slot, pad, %s, n);", L->fn, a->in, a->out,
                a->pool_out, a->dy, a->dx, flip);
    else if (a->dx)
        em_line(em, "%s_backward(p, g, %s, %s, %s, %s, slot, pad, %s, n);", L->fn, a->in, a->out, a->dy,
                a->dx, flip);
    else
        em_line(em, "%s_backward(p, g, %s, %s, %s, slot, pad, %s, n);", L->fn, a->in, a->out, a->dy, flip);
}

const cnnc_layer_emitter emit_conv2d_layer = {
    conv_forward, conv_forward_call, conv_backward, conv_backward_call,
};
