/* conv_blocks.c: the building blocks of conv2d's kernels that the plain
 * conv (emit_conv2d.c), the fused conv + maxpool (emit_conv_pool.c), the
 * inference fold (emit_conv_bn_fold.c) and Winograd (emit_conv_winograd.c)
 * share: the layer's enum constants, the register-blocked convolution of an
 * image's rows, the zero-padded input copy, the weight gradient walk, the
 * rotated kernel of the fast input gradient and the slots' ordered sum. */
#include <stdio.h>

#include "conv_blocks.h"
#include "emit_activation.h"
#include "emit_util.h"

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

void conv_emit_slot_sum(cnnc_emitter *em, const cnn_layer *l)
{
    /* A block of 256 sums at a time, the images' slots read contiguously:
     * one sum per element over the images strides SLOT floats between
     * loads, which costs a large share of a backward with big slots
     * (docs/codegen.md, "Direct convolution"). Each block sums in the
     * batch's chunk tree (emit_batch_sum.c). */
    em_line(em, "/* sum the slots in the batch's chunk tree */");
    em_line(em, "OMP(parallel for schedule(static))");
    em_open_block(em, "for (int k0 = 0; k0 < SLOT; k0 += 256) {");
    em_line(em, "const int kn = SLOT - k0 < 256 ? SLOT - k0 : 256;");
    em_line(em, "cnn_real s[256];");
    em_line(em, "cnn_tree_sum(slot + k0, SLOT, kn, s);");
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

int conv_vectors(int channels)
{
    return (channels + VEC - 1) / VEC;
}

/* Output-channel vectors a tile takes: all of them, or half when there are
 * 4 or more and the weights are larger than L1 (tiles of pixels x all
 * channels stream every weight once per tile; half the channels over twice
 * the pixels stream them half as often, and the tile fits the one-broadcast
 * form); deep conv2d_4 (8x8x64 -> 64, 147 KB of weights) is such a layer,
 * forward and in its dx (docs/codegen.md, "Direct convolution"). Softmax
 * needs all of a pixel's channels. The size test counts floats whatever cnn_real is, so
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
            emit_simd_for(em, "co", "%d", vec_width(b->cout, c));
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
            em_line(em, "cnn_real w%d_%d[%d];", kx, c, vec_width(b->cout, c));
            emit_simd_for(em, "co", "%d", vec_width(b->cout, c));
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
                emit_simd_for(em, "co", "%d", vec_width(b->cout, c));
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
            em_line(em, "cnn_real a%d_%d[%d];", q, c, vec_width(b->cout, c));
    for (int q = 0; q < np; q++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "co", "%d", vec_width(b->cout, c));
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
            emit_simd_for_if(em, emit_act_simd_ok(act), "co", "%d", vec_width(b->cout, c));
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
            em_line(em, "cnn_real g%d_%d[%d];", r, c, vec_width(oc, c));
    for (int r = 0; r < cb; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "co", "%d", vec_width(oc, c));
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
            emit_simd_for(em, "co", "%d", vec_width(oc, c));
            em_line(em, "    g%d_%d[co] += v * d[%d + co];", r, c, c * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
    for (int r = 0; r < cb; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "co", "%d", vec_width(oc, c));
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
