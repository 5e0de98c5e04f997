/* emit_conv_pool_backward.c: the fused conv2d + activation + maxpool
 * backward (emit_conv_pool.c says why the pair is fused).
 *
 * dz is the pooled gradient at the position the forward recorded and 0 at
 * the others. Per pooled row: db, then dW either from the windows that pass
 * a gradient (the plan's pool_dw_windows: dW^T in the image's scratch) or
 * dense from a dz band (written band by band when nothing below needs dx:
 * the band stays in L1 and the weight gradient reads it at once; its
 * accumulators go back to the image's slot between bands). dx goes from the
 * windows too (pool_dx_windows), or from a zero-padded dz that the fast
 * input gradient (the forward kernel, rotated) reads. The conv rows and
 * columns that no window covers have dz = 0 and are skipped. The AVX-512
 * variants the plan picks (pool_dx_patch, pool_dw_permute) are in
 * emit_conv_pool_avx512.c; the kernels here are their portable twins. */
#include "emit_conv_pool_backward.h"

#include <stdio.h>

#include "emit_conv_pool_avx512.h"
#include "emit_conv_pool_forward.h"
#include "emit_util.h"

/* Floats of the transposed dW in the image's scratch (0: not this path). */
static size_t dw_window_floats(const cnn_layer *l);

/* Where the transposed dW starts in an image's scratch (after the padded input). */
static size_t dwt_at(const cnn_layer *l, int needs_dx, const cnn_layer *pool)
{
    size_t band = (size_t)pool->kh * l->out.w * l->out.c;
    if (needs_dx) {
        int ph, pw;
        conv_padded_dims(l, &ph, &pw);
        size_t whole = (size_t)(l->in.h + l->kh - 1) * (l->in.w + l->kw - 1) * l->out.c;
        size_t pdx = (size_t)ph * pw * l->in.c; /* or the padded dx of the windows' dx */
        if (pdx > whole)
            whole = pdx;
        return whole > band ? whole : band;
    }
    return band;
}

size_t conv_pool_scratch_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool)
{
    return dwt_at(l, needs_dx, pool) + dw_window_floats(l);
}

/* In the backward image loop, pooled row py, and db: with `row0` the dz of
 * the window rows there (row r of the band at row0 + r * DZ_RS), for the
 * dense path; without, dpm: the pooled gradient where it flows (0 where the
 * code is NO_GRAD), for the windows' dW and dx. Each path gets its own
 * loop: one loop making both slows the dense path down. */
static void emit_scatter(cnnc_emitter *em, const cnnc_plan_layer *P, const char *row0, int bias)
{
    if (row0)
        em_line(em, "cnn_real *restrict z0 = %s;", row0);
    emit_argmax_row(em, "OC");
    if (!row0) {
        /* gcc turns `k != NO_GRAD ? dp[c] : 0` into a masked load, which is
         * slow on AMD Zen 5 (see emit_conv_pool_avx512.c): a 0/1 factor made
         * by integer arithmetic instead (codes < 128, NO_GRAD 255).
         * It differs from the select only where the pooled gradient is not
         * finite (0 * inf is NaN where the select gave 0): a step whose
         * gradient has overflowed is spoiled either way. */
        em_line(em, "cnn_real lv[POW * OC]; /* 1 where the gradient flows, 0 at NO_GRAD */");
        emit_simd_for(em, "e", "POW * OC");
        em_line(em, "    lv[e] = (cnn_real)((%d - (int)kfr[e]) >> 7);", NO_GRAD);
        em_line(em, "cnn_real dpm[POW * OC]; /* the pooled gradient of row py where it flows, else 0 */");
    }
    em_open_block(em, "for (int px = 0; px < POW; px++) {");
    em_line(em, "const cnn_real *restrict dp = dyi + ((size_t)py * POW + px) * OC;");
    if (row0) {
        em_line(em, "const cnn_real *restrict kf = kfr + (size_t)px * OC;");
        em_line(em, "cnn_real *restrict zp = z0 + (size_t)px * PKW * OC;");
    } else {
        em_line(em, "const cnn_real *restrict lp = lv + (size_t)px * OC;");
        em_line(em, "cnn_real *restrict dm = dpm + (size_t)px * OC;");
    }
    emit_simd_block(em, "c", "OC");
    if (row0) {
        em_line(em, "const cnn_real k = kf[c];");
        em_line(em, "const cnn_real d = dp[c];");
        for (int r = 0; r < P->l->kh; r++)
            for (int x = 0; x < P->l->kw; x++)
                em_line(em, "zp[(size_t)%d * DZ_RS + %d * OC + c] = k == (cnn_real)%d ? d : (cnn_real)0;", r, x,
                        r * P->l->kw + x);
        if (bias)
            em_line(em, "s[c] += k != (cnn_real)%d ? d : (cnn_real)0;", NO_GRAD);
    } else {
        em_line(em, "const cnn_real d = dp[c] * lp[c];");
        em_line(em, "dm[c] = d;");
        if (bias)
            em_line(em, "s[c] += d;");
    }
    em_close_block(em, "}");
    em_close_block(em, "} /* px */");
}

/* The weight gradient from the windows (the backward's dW).
 *
 * A window's conv outputs have dz = 0 except, per channel co, at its argmax
 * j, where dz = dp (the pooled gradient). So a window adds to dW[.][co] only
 * dp times the input patch under position j: for each co one input vector
 * per kernel row, at an offset that depends on j (a table per pooled row),
 * times the broadcast dp. Vectors run over the contiguous input floats of a
 * kernel row ((kx, ci), stride 1), the accumulators are one
 * channel's kernel (emit_window_channels), and dW is kept transposed ([OC][KH][KW][IC], in
 * the image's scratch) until the image is done. Against the dense
 * dz (PKH * PKW FMAs per window and dW row, 3 of 4 on zeros for a 2x2
 * pool) that is PKH * PKW times fewer FMAs, each with one input load. */

typedef struct dw_seg {
    int off;   /* in the input, from the window's first input */
    int off_t; /* in a row of dW^T: (ky * KW + kx) * IC + ci */
    int width;
} dw_seg; /* one vector of a kernel row's input */

/* The vectors of a kernel's window, in dW^T row order: with stride 1 a
 * kernel row's (kx, ci) are contiguous in the input and in dW^T. Returns
 * their count, or -1 when this path does not apply. */
static int dw_window_segments(const cnn_layer *l, dw_seg *seg, int max)
{
    int pw = l->in.w + l->pad_left + l->pad_right, n = 0, len = l->kw * l->in.c;
    /* a strided conv is only fused without dx, that is as the first layer;
     * and rows shorter than a vector (a first layer on 3 channels) are
     * faster by the dense dz (or the AVX-512 permutes) than by partial
     * vectors here */
    if (l->sw != 1 || len < VEC)
        return -1;
    for (int ky = 0; ky < l->kh; ky++)
        for (int e = 0; e < len; e += VEC) {
            if (n == max)
                return -1;
            seg[n].off = ky * pw * l->in.c + e;
            seg[n].off_t = ky * len + e;
            seg[n].width = len - e < VEC ? len - e : VEC;
            n++;
        }
    return n;
}

#define DW_MAX_SEGS ACC_BUDGET

/* Floats of the transposed dW in the image's scratch (0: not this path). */
static size_t dw_window_floats(const cnn_layer *l)
{
    dw_seg seg[DW_MAX_SEGS];
    if (dw_window_segments(l, seg, DW_MAX_SEGS) < 0)
        return 0;
    return (size_t)l->kh * l->kw * l->in.c * l->out.c;
}

/* The input gradient from the windows (stride 1; the backward's dx).
 *
 * The same sparsity as dW's: a window sends to dx, per channel co, only dp
 * times the kernel of co placed at its argmax position: for each kernel tap
 * one vector of dx (over its input channels) += dp * W[tap][.][co]. The
 * kernel's taps of one channel stay in registers, and dx accumulates in
 * memory, band by band in L1: 1 FMA per window, channel and tap (and a load
 * and a store) where the rotated kernel over the padded dz needs PKH * PKW.
 * Windows go even ones first, then odd ones (or in as many passes as
 * needed), so that the patches of one pass never overlap and its
 * read-modify-writes do not wait on each other. No dz is written. */

/* Kernel taps times input-channel vectors: the weight registers it needs. */
static int dx_window_regs(const cnn_layer *l)
{
    return l->kh * l->kw * conv_vectors(l->in.c);
}

int conv_pool_dx_windows_apply(const cnn_layer *l)
{
    return dw_window_floats(l) > 0 && l->sh == 1 && l->sw == 1 && dx_window_regs(l) <= ACC_BUDGET;
}

/* Pooled row py, after emit_scatter (kfr, dpm): dW (into dwt) and, with
 * `dx`, dx (into `dxp`, rows below `zrow` zeroed first) from the windows,
 * one channel at a time over the windows that pass it a gradient.
 *
 * Per channel co, a branch-free list of the row's windows whose code is not
 * NO_GRAD (relu leaves many dead), in passes whose windows' dx patches do
 * not overlap; then one loop over the list does both: dW^T[co] (its
 * kernel-row vectors in registers) += dp * input at the argmax, and dx at
 * the argmax += dp * the kernel's taps (in registers, from the rotated
 * kernel), loads before stores. One list and one walk for both beat blocks
 * of 2 channels over all windows for dW and a second walk for dx: dead
 * windows cost nothing and the list is read once. Where the
 * AVX-512 kernels apply (conv_pool_dx_patch_applies), the row's gradient
 * and offsets are transposed to per-channel lists first, the walk does dW
 * only, and dx goes a window at a time with its patch in registers
 * (emit_conv_pool_avx512.c; conv_pool_emit_backward); the walk with dx is their
 * portable twin. */
static void emit_channel_walk(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool, int dx, int lists);

/* Pooled row py's input band (xb) and, with `dx`, its dx band (xd), with
 * the dx rows it reaches first zeroed. */
static void emit_band(cnnc_emitter *em, int dx)
{
    em_line(em, "const cnn_real *restrict xb = xs + (size_t)py * PKH * SH * PW * IC;");
    if (dx) {
        em_line(em, "/* dx: first the rows of this band not zeroed yet */");
        em_line(em, "for (; zrow < py * PKH * SH + (PKH - 1) * SH + KH; zrow++)");
        em_line(em, "    memset(dxp + (size_t)zrow * PW * IC, 0, sizeof(cnn_real) * PW * IC);");
        em_line(em, "cnn_real *restrict xd = dxp + (size_t)py * PKH * SH * PW * IC;");
    }
}

static void emit_window_channels(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool, int dx)
{
    em_line(em, "int jo[POW * OC]; /* per window and channel: the argmax position's input, from the window's */");
    emit_simd_block(em, "e", "POW * OC");
    em_line(em, "const int k = (int)kfr[e];");
    em_line(em, "jo[e] = k == %d ? 0 : ((k / PKW) * SH * PW + (k %% PKW) * SW) * IC;", NO_GRAD);
    em_close_block(em, "}");
    emit_band(em, dx);
    emit_channel_walk(em, l, pool, dx, 0);
}

/* The per-channel walk over the live windows: dW, and dx with `dx`; with
 * `lists`, over the channel's lists from the transposed row (dT, aT of
 * conv_pool_emit_row_lists), else over a list of window numbers it makes
 * from the codes (kfr) and reads dpm and jo by. */
static void emit_channel_walk(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool, int dx, int lists)
{
    dw_seg seg[DW_MAX_SEGS];
    int ns = dw_window_segments(l, seg, DW_MAX_SEGS);
    int nvi = conv_vectors(l->in.c);
    int span = (pool->kw - 1) * l->sw + l->kw, step = pool->kw * l->sw;
    int passes = dx ? (span + step - 1) / step : 1;
    em_open_block(em, "for (int co = 0; co < OC; co++) {");
    if (lists) {
        conv_pool_emit_live_list(em, pool);
    } else {
        em_line(em, "int live[POW], nl = 0; /* co's windows with a gradient%s */",
                passes > 1 ? ", one pass after the other" : "");
        if (passes > 1) {
            em_open_block(em, "for (int pass = 0; pass < %d; pass++) { /* windows of one pass do not overlap */",
                          passes);
            em_open_block(em, "for (int px = pass; px < POW; px += %d) {", passes);
        } else {
            em_open_block(em, "for (int px = 0; px < POW; px++) {");
        }
        em_line(em, "live[nl] = px;");
        em_line(em, "nl += kfr[(size_t)px * OC + co] != (cnn_real)%d;", NO_GRAD);
        em_close_block(em, "}");
        if (passes > 1)
            em_close_block(em, "}");
    }
    for (int v = 0; v < ns; v++) {
        em_line(em, "cnn_real g%d[%d]; /* dW^T[co], kernel-row vector %d */", v, seg[v].width, v);
        emit_simd_for(em, "e", "%d", seg[v].width);
        em_line(em, "    g%d[e] = dwt[(size_t)co * KK + %d + e];", v, seg[v].off_t);
    }
    if (dx)
        for (int ky = 0; ky < l->kh; ky++)
            for (int kx = 0; kx < l->kw; kx++)
                for (int v = 0; v < nvi; v++) {
                    int w = vec_width(l->in.c, v);
                    char note[64];
                    snprintf(note, sizeof note, "the rotated kernel holds W[%d][%d][.][co]", ky, kx);
                    em_line(em, "cnn_real w%d_%d_%d[%d];", ky, kx, v, w);
                    emit_simd_range(em, "e", "0", note, "%d", w);
                    em_line(em, "    w%d_%d_%d[e] = flip[((size_t)%d * OC + co) * IC + %d + e];", ky, kx, v,
                            (l->kh - 1 - ky) * l->kw + (l->kw - 1 - kx), v * VEC);
                }
    em_open_block(em, "for (int j = 0; j < nl; j++) {");
    if (lists) {
        em_line(em, "const cnn_real d = ld[j];");
        em_line(em, "const size_t at = (size_t)la[j];");
    } else {
        em_line(em, "const int px = live[j];");
        em_line(em, "const cnn_real d = dpm[(size_t)px * OC + co];");
        em_line(em, "const size_t at = (size_t)px * PKW * SW * IC + (size_t)jo[(size_t)px * OC + co];");
    }
    em_line(em, "const cnn_real *restrict xj = xb + at;");
    for (int v = 0; v < ns; v++) {
        emit_simd_for(em, "e", "%d", seg[v].width);
        em_line(em, "    g%d[e] += d * xj[%d + e];", v, seg[v].off);
    }
    if (dx) {
        em_line(em, "cnn_real *restrict dj = xd + at;");
        /* all loads before the stores: with each tap's read-modify-write in
         * turn, every load waits behind the store before it (the compiler
         * cannot tell that the taps' addresses differ) */
        for (int st = 0; st < 2; st++)
            for (int ky = 0; ky < l->kh; ky++)
                for (int kx = 0; kx < l->kw; kx++)
                    for (int v = 0; v < nvi; v++) {
                        int w = vec_width(l->in.c, v);
                        int o = (ky * (l->in.w + l->pad_left + l->pad_right) + kx) * l->in.c + v * VEC;
                        if (!st)
                            em_line(em, "cnn_real t%d_%d_%d[%d];", ky, kx, v, w);
                        emit_simd_for(em, "e", "%d", w);
                        if (!st)
                            em_line(em, "    t%d_%d_%d[e] = dj[(size_t)%d + e] + d * w%d_%d_%d[e];", ky, kx, v, o,
                                    ky, kx, v);
                        else
                            em_line(em, "    dj[(size_t)%d + e] = t%d_%d_%d[e];", o, ky, kx, v);
                    }
    }
    em_close_block(em, "} /* j */");
    for (int v = 0; v < ns; v++) {
        emit_simd_for(em, "e", "%d", seg[v].width);
        em_line(em, "    dwt[(size_t)co * KK + %d + e] = g%d[e];", seg[v].off_t, v);
    }
    em_close_block(em, "} /* co */");
}

/* Pooled row py: db, the dz band at `scatter_to` (NULL: none) and this row's dW,
 * from the windows when that path applies (dwt), else dense from the dz
 * rows at `dz_row` (dwi). */
static void emit_dw_pass(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P,
                         const char *scatter_to, const char *dz_row, int dx_windows)
{
    const cnn_layer *l = L->l;
    emit_scatter(em, P, scatter_to, l->bias);
    if (L->pool_dw_windows) {
        emit_window_channels(em, l, P->l, dx_windows);
        return;
    }
    em_line(em, "/* dW over these rows while they are in L1 (not the whole dz once per chunk of dW) */");
    conv_dz z = {"py * PKH", "py * PKH + PKH", "POW * PKW", dz_row, 1};
    conv_emit_dw(em, l, &z);
}

void conv_pool_emit_backward(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    int dx = L->needs_dx, win = L->pool_dw_windows, dxw = L->pool_dx_windows;
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    int dx_padded = ph != l->in.h || pw != l->in.w;
    em_function(em,
                "static void %s_pool_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, const cnn_real *restrict pooled, "
                "cnn_real *restrict dy, cnn_real *restrict dx, cnn_real *restrict slot, cnn_real *restrict pad, "
                "cnn_real *restrict flip, int n)",
                L->fn);
    conv_emit_enums(em, L, &d);
    conv_pool_emit_enums(em, L, P);
    em_line(em, "enum { SLOT = %zu }; /* slot: dW [KH][KW][IC][OC]%s */", L->slot_floats,
            l->bias ? ", then db [OC]" : "");
    em_line(em, "(void)pooled; /* the argmax bytes in `out` say where the gradient goes */");
    if (win)
        em_line(em, "enum { KK = KH * KW * IC, DWT = %zu }; /* dW^T: [OC][KK], at DWT in the scratch */",
                dwt_at(l, dx, P->l));
    if (dxw) {
        em_line(em, "enum { PH = %d }; /* dx from the windows%s */", ph,
                dx_padded ? ", into a padded dx at the scratch's start" : "");
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
        conv_emit_flip(em);
    } else if (dx) {
        int top = l->kh - 1 - l->pad_top, left = l->kw - 1 - l->pad_left;
        em_line(em, "/* dz zero-padded for the input gradient: ZH x ZW, the conv output at (TOP, LEFT) */");
        em_line(em, "enum { ZH = %d, ZW = %d, TOP = %d, LEFT = %d, DZ_RS = ZW * OC };", l->in.h + l->kh - 1,
                l->in.w + l->kw - 1, top, left);
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
        conv_emit_flip(em);
    } else {
        if (!win)
            em_line(em, "enum { DZ_RS = OW * OC }; /* the band: [PKH][OW][OC] */");
        em_line(em, "(void)p;");
        em_line(em, "(void)dx; /* nothing below needs it */");
        em_line(em, "(void)flip;");
    }
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * POOL_SIZE;");
    em_line(em, "const unsigned char *restrict am = (const unsigned char *)(out + (size_t)i * OUT_SIZE);");
    em_line(em, "cnn_real *restrict dwi = slot + (size_t)i * SLOT;");
    if ((dx && !dxw) || !win)
        em_line(em, "cnn_real *restrict dzb = pad + (size_t)i * PAD_SIZE + SCRATCH;");
    if (dxw) {
        em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN_SIZE;");
        if (dx_padded)
            em_line(em, "cnn_real *restrict dxp = pad + (size_t)i * PAD_SIZE + SCRATCH; /* [PH][PW][IC] */");
        else
            em_line(em, "cnn_real *restrict dxp = dxi;");
        em_line(em, "int zrow = 0; /* rows of dxp zeroed so far */");
    }
    if (win)
        em_line(em, "cnn_real *restrict dwt = pad + (size_t)i * PAD_SIZE + SCRATCH + DWT; /* dW^T */");
    conv_emit_source(em, l);
    if (l->bias) {
        em_line(em, "cnn_real s[OC]; /* db */");
        emit_simd_for(em, "co", "OC");
        em_line(em, "    s[co] = 0;");
    }
    if (win)
        em_line(em, "memset(dwt, 0, sizeof(cnn_real) * W_COUNT);");
    else
        em_line(em, "memset(dwi, 0, sizeof(cnn_real) * W_COUNT);");
    if (!dx) {
        int permute = L->pool_dw_permute;
        if (permute) {
            em_raw(em, "#if CNN_AVX512_FLOAT\n");
            conv_pool_emit_dw_permute(em, l, P->l);
            em_raw(em, "#else /* not CNN_AVX512_FLOAT: the portable twin: dW from the dense dz band */\n");
        }
        em_open_block(em, "for (int py = 0; py < POH; py++) {");
        emit_dw_pass(em, L, P, win ? NULL : "dzb", "dzb + (size_t)(oy - py * PKH) * DZ_RS", 0);
        em_close_block(em, "} /* py */");
        if (permute)
            em_raw(em, "#endif /* CNN_AVX512_FLOAT */\n");
    } else if (dxw) {
        int patch = L->pool_dx_patch;
        if (patch) {
            em_raw(em, "#if CNN_AVX512_FLOAT\n");
            em_open_block(em, "for (int py = 0; py < POH; py++) {");
            conv_pool_emit_row_lists(em, l, P->l);
            emit_band(em, 1);
            emit_channel_walk(em, l, P->l, 0, 1);
            conv_pool_emit_dx_patch(em, l, P->l);
            em_close_block(em, "} /* py */");
            em_raw(em, "#else /* not CNN_AVX512_FLOAT: the portable twin: dx in the channels' walk */\n");
        }
        em_open_block(em, "for (int py = 0; py < POH; py++) {");
        emit_dw_pass(em, L, P, NULL, NULL, 1);
        em_close_block(em, "} /* py */");
        if (patch)
            em_raw(em, "#endif /* CNN_AVX512_FLOAT */\n");
        em_line(em, "for (; zrow < PH; zrow++) /* rows no window reaches */");
        em_line(em, "    memset(dxp + (size_t)zrow * PW * IC, 0, sizeof(cnn_real) * PW * IC);");
        if (dx_padded) {
            em_line(em, "for (int y = 0; y < IH; y++) /* the padded dx's interior */");
            em_line(em, "    memcpy(dxi + (size_t)y * IW * IC, dxp + ((size_t)(y + PT) * PW + PL) * IC,");
            em_line(em, "           sizeof(cnn_real) * IW * IC);");
        }
    } else {
        em_open_block(em, "{ /* the border of the padded dz, and rows and columns no window covers */");
        em_line(em, "memset(dzb, 0, sizeof(cnn_real) * (size_t)TOP * DZ_RS);");
        em_open_block(em, "for (int y = TOP; y < TOP + POH * PKH; y++) {");
        em_line(em, "memset(dzb + (size_t)y * DZ_RS, 0, sizeof(cnn_real) * LEFT * OC);");
        em_line(em, "memset(dzb + (size_t)y * DZ_RS + (size_t)(LEFT + POW * PKW) * OC, 0,");
        em_line(em, "       sizeof(cnn_real) * (size_t)(ZW - LEFT - POW * PKW) * OC);");
        em_close_block(em, "}");
        em_line(em, "memset(dzb + (size_t)(TOP + POH * PKH) * DZ_RS, 0,");
        em_line(em, "       sizeof(cnn_real) * (size_t)(ZH - TOP - POH * PKH) * DZ_RS);");
        em_close_block(em, "}");
        em_open_block(em, "for (int py = 0; py < POH; py++) {");
        emit_dw_pass(em, L, P, "dzb + ((size_t)(TOP + py * PKH) * ZW + LEFT) * OC",
                     "dzb + ((size_t)(oy + TOP) * ZW + LEFT) * OC", 0);
        em_close_block(em, "} /* py */");
        em_line(em, "/* dx: the forward kernel over the zero-padded dz with the rotated kernel */");
        em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN_SIZE;");
        conv_block b = {"dzb", "flip", NULL, "dxi", l->in.w + l->kw - 1, d.oc, d.ic, d.kh, d.kw, 1, 1,
                        d.ih, d.iw, CNN_ACT_LINEAR, 0, NULL, NULL};
        conv_emit_block(em, &b);
    }
    if (win) {
        em_line(em, "/* dW^T [OC][KH][KW][IC] into the slot's [KH][KW][IC][OC] */");
        em_line(em, "for (int r = 0; r < KK; r++)");
        em_line(em, "    for (int co = 0; co < OC; co++)");
        em_line(em, "        dwi[(size_t)r * OC + co] = dwt[(size_t)co * KK + r];");
    }
    if (l->bias) {
        emit_simd_for(em, "co", "OC");
        em_line(em, "    dwi[W_COUNT + co] = s[co];");
    }
    em_close_block(em, "} /* i */");
    conv_emit_slot_sum(em, l);
    em_close_block(em, "}");
}

int conv_pool_dw_windows_apply(const cnn_layer *l)
{
    return dw_window_floats(l) > 0;
}
