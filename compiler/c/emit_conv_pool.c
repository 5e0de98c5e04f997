/* emit_conv_pool.c: conv2d + activation + maxpool as one pass, forward and
 * backward, in the fast kernels.
 *
 * Why: a conv's output before a pool is the largest tensor of a small CNN
 * (fruit's first conv: 1 MB per image). Unfused, forward writes it and the
 * pool reads it; backward the pool reads it again to find each window's
 * maximum and writes a dz of the same size, which the conv reads twice more
 * (activation gradient, then weight gradient). Fused, that tensor never
 * leaves the cache:
 *
 * Forward, per image and pooled row py: the conv rows under that row of
 * windows (the register-blocked conv_emit_block, without the activation) go
 * to a band of the image's scratch (a few KB); the pool takes each window's
 * first maximum in row-major order, as the plain pool does, applies the
 * activation (relu commutes with max, so relu(max z) = max relu(z)) and
 * stores the pooled value. What backward needs of the conv output is kept
 * in its (otherwise unused) activation slot: one byte per pooled value, the
 * window position of the maximum, or NO_GRAD where the gradient is 0 (relu
 * of a maximum <= 0: the plain chain multiplies by relu'(y) = 0 there).
 *
 * Backward: dz is the pooled gradient at the recorded position and 0 at the
 * others. It is written band by band when nothing below needs dx (the band
 * stays in L1 and the weight gradient reads it at once; its accumulators go
 * back to the image's slot between bands), else into the zero-padded dz
 * that the fast input gradient (the forward kernel, rotated) reads. The
 * conv rows and columns that no window covers have dz = 0 and are skipped.
 *
 * Under CNN_REFERENCE_KERNELS the same two entry points run the plain conv
 * and pool functions one after the other: the oracle the gradient checks and
 * parity tests hold the fused path to. */
#include <stdio.h>

#include "conv_blocks.h"
#include "emit_activation.h"
#include "emit_conv_pool.h"
#include "emit_conv_pool_avx512.h"
#include "emit_conv_winograd.h"
#include "emit_util.h"


/* The forward band, and the backward band or whole padded dz (stride 1). */
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

void conv_pool_emit_enums(cnnc_emitter *em, const cnnc_plan_layer *conv, const cnnc_plan_layer *pool)
{
    const cnn_layer *p = pool->l;
    int ph, pw;
    conv_padded_dims(conv->l, &ph, &pw);
    em_line(em, "enum { POH = %d, POW = %d, PKH = %d, PKW = %d, POOL_SIZE = %zu }; /* %s */", p->out.h,
            p->out.w, p->kh, p->kw, pool->out_size, p->name);
    em_line(em, "enum { PAD_SIZE = %zu, PW = %d, SCRATCH = %zu }; /* per image: [padded input] then scratch */",
            conv->pad_floats, pw, conv_padded_copy_floats(conv->l));
}

/* A window's pooled value, from its maximum m (and its minimum mn with a
 * batchnorm after the activation): v->act of the maximum, or, with
 * v->affine, scale * act(.) + shift taken at the maximum where scale >= 0
 * and at the minimum where it is negative (the affine map then reverses the
 * order, and both maps are monotone, so this is the max of the normalized
 * window). CH is the channel expression. */
static void emit_window_value(cnnc_emitter *em, const conv_pool_variant *v, const char *dst, const char *ch)
{
    char e[128], f[128];
    if (!v->affine) {
        em_line(em, "%s = %s;", dst, emit_act_expr(e, sizeof e, v->act, v->alpha, "m"));
        return;
    }
    em_line(em, "%s = (scale[%s] < 0 ? %s : %s) * scale[%s] + shift[%s];", dst, ch,
            emit_act_expr(f, sizeof f, v->act, v->alpha, "mn"), emit_act_expr(e, sizeof e, v->act, v->alpha, "m"),
            ch, ch);
}

/* In the forward image loop, pooled row py: the pool over the band. */
static void emit_pool_band(cnnc_emitter *em, const cnnc_plan_layer *pool, const conv_pool_variant *v)
{
    em_open_block(em, "for (int px = 0; px < POW; px++) {");
    em_line(em, "const cnn_real *restrict w0 = band + (size_t)px * PKW * OC;");
    em_line(em, "cnn_real *restrict yp = yi + ((size_t)py * POW + px) * OC;");
    if (v->argmax) {
        em_line(em, "unsigned char *restrict ap = am + ((size_t)py * POW + px) * OC;");
        em_line(em, "cnn_real kf[OC]; /* argmax codes as reals: the loop stays at full vector width */");
    }
    emit_simd_block(em, "c", "OC");
    em_line(em, "cnn_real m = w0[c];");
    if (v->affine)
        em_line(em, "cnn_real mn = m;");
    if (v->argmax) {
        em_line(em, "cnn_real k = 0; /* a real: with an int, gcc 12 does not vectorize this loop */");
        em_line(em, "/* row-major: only a larger value replaces, so the first maximum wins */");
    }
    for (int r = 0; r < pool->l->kh; r++)
        for (int x = 0; x < pool->l->kw; x++) {
            int j = r * pool->l->kw + x;
            if (j == 0)
                continue;
            em_open_block(em, "{");
            em_line(em, "const cnn_real v = w0[(size_t)%d * OW * OC + %d * OC + c];", r, x);
            if (v->argmax)
                em_line(em, "k = v > m ? (cnn_real)%d : k;", j);
            em_line(em, "m = v > m ? v : m;");
            if (v->affine)
                em_line(em, "mn = v < mn ? v : mn;");
            em_close_block(em, "}");
        }
    emit_window_value(em, v, "yp[c]", "c");
    if (v->argmax) {
        if (v->act == CNN_ACT_RELU)
            em_line(em, "kf[c] = m > 0 ? k : (cnn_real)%d;", NO_GRAD);
        else
            em_line(em, "kf[c] = k;");
    }
    em_close_block(em, "}");
    if (v->argmax) {
        emit_simd_for(em, "c", "OC");
        em_line(em, "    ap[c] = (unsigned char)kf[c];");
    }
    em_close_block(em, "} /* px */");
}

/* Windows per register tile: every conv output of NW windows (PKH rows x
 * NW * PKW columns, each conv_vectors(OC) vectors) in registers; 0 when
 * not even one window fits, and the band path is used. */
static int windows_per_tile_of(const cnn_layer *pool, int nv)
{
    int per_window = pool->kh * pool->kw * nv;
    int nw = ACC_BUDGET / per_window;
    if (nw > pool->out.w)
        nw = pool->out.w;
    if (nw < 1)
        return 0;
    int tiles = (pool->out.w + nw - 1) / nw;
    return (pool->out.w + tiles - 1) / tiles; /* balanced: 63 windows as 13 x 5 - 2, not 12 x 5 + 3 */
}

/* Output-channel vectors per tile: all of them, or half when a window of
 * all of them alone fills the tile (64 channels under 2x2 windows: 16
 * accumulators and 12 weight vectors for one window), so that two windows
 * share each weight vector: 16 accumulators and 6 weight vectors, the
 * input read once per half: each weight load feeds twice the FMAs. */
static int group_vectors(const cnn_layer *l, const cnn_layer *pool)
{
    int nv = conv_vectors(l->out.c);
    if (windows_per_tile_of(pool, nv) == 1 && nv % 2 == 0 && l->out.c % (VEC * nv / 2) == 0 &&
        windows_per_tile_of(pool, nv / 2) >= 2)
        return nv / 2;
    return nv;
}

static int windows_per_tile(const cnn_layer *l, const cnn_layer *pool)
{
    return windows_per_tile_of(pool, group_vectors(l, pool));
}

size_t conv_pool_forward_floats(const cnn_layer *l, const cnn_layer *pool)
{
    size_t band = windows_per_tile(l, pool) > 0 ? 0 : (size_t)pool->kh * l->out.w * l->out.c;
    return conv_padded_copy_floats(l) + band;
}

/* In a tile of nw windows (px0, ox0): the input that pooled row py + 1
 * adds to this tile's columns, two tiles ahead. The rows of a band are
 * read as a few interleaved streams at a slow pace that the hardware
 * prefetcher does not run ahead of, so the tile fetches them itself. */
static void emit_tile_prefetch(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool, int nw)
{
    int span = (pool->kh - 1) * l->sh + l->kh, step = pool->kh * l->sh;
    int rows = step < span ? step : span, first = step + span - rows;
    int bytes = nw * pool->kw * l->sw * l->in.c * (int)sizeof(float), lines = (bytes + 63) / 64;
    em_open_block(em, "if (py + 1 < POH) { /* row py + 1's new input under these windows, ahead of use */");
    em_line(em, "const char *nx = (const char *)(xs + ((size_t)(py * PKH * SH + %d) * PW + (size_t)ox0 * SW) * IC) + %d;",
            first, 2 * bytes);
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < lines; q++)
            em_line(em, "CNN_PREFETCH(nx + (size_t)%d * PW * IC * sizeof(cnn_real) + %d, 0);", r, q * 64);
    em_close_block(em, "}");
}

/* One tile of nw windows from window column px0 (a C expression), pooled
 * row py: the conv outputs under the windows accumulate in registers, then
 * each window's first maximum, its activation and its argmax code are
 * stored; the conv output itself never is. */
static void emit_window_tile(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P,
                             const conv_pool_variant *v, int nw, const char *px0, const char *head)
{
    const cnn_layer *l = L->l;
    int pkh = P->l->kh, pkw = P->l->kw, nv = group_vectors(l, P->l), cols = nw * pkw;
    /* with channel groups, the group's first channel `c0` comes first in every channel index */
    const char *go = nv < conv_vectors(l->out.c) ? "c0 + " : "";
    char a[64], dst[64], ch[48];
    em_open_block(em, "%s /* %d window%s */", head, nw, nw == 1 ? "" : "s");
    em_line(em, "const int px0 = %s, ox0 = px0 * PKW;", px0);
    emit_tile_prefetch(em, l, P->l, nw);
    for (int r = 0; r < pkh; r++)
        for (int q = 0; q < cols; q++)
            for (int c = 0; c < nv; c++) {
                int w = vec_width(l->out.c, c);
                em_line(em, "cnn_real a%d_%d_%d[%d];", r, q, c, w);
                emit_simd_for(em, "co", "%d", w);
                if (v->bias)
                    em_line(em, "    a%d_%d_%d[co] = bias[%s%d + co];", r, q, c, go, c * VEC);
                else
                    em_line(em, "    a%d_%d_%d[co] = 0;", r, q, c);
            }
    em_open_block(em, "for (int ky = 0; ky < KH; ky++) {");
    em_line(em, "const cnn_real *restrict wr = wgt + (size_t)ky * KW * IC * OC;");
    for (int r = 0; r < pkh; r++)
        em_line(em, "const cnn_real *restrict x%d = xs + ((size_t)((py * PKH + %d) * SH + ky) * PW + (size_t)ox0 * SW) * IC;",
                r, r);
    /* the one-broadcast form whenever its registers fit in all 32 vector
     * registers (a 2x2 window of 64 channels, 16 accumulators, with its
     * 3 x 4 weight vectors does): it beats the per-tap loop below */
    if (l->sw == 1 && l->kw > 1 && (l->kw + 1) * nv + pkh * cols * nv <= 32) {
        /* stride 1: each input broadcast once for its KW taps, with the
         * channel's KW weight vectors in registers (as conv2d's tiles):
         * KW FMAs per broadcast load instead of one */
        em_open_block(em, "for (int ci = 0; ci < IC; ci++) { /* each input broadcast once, for its %d taps */", l->kw);
        for (int kx = 0; kx < l->kw; kx++)
            for (int c = 0; c < nv; c++) {
                em_line(em, "cnn_real w%d_%d[%d];", kx, c, vec_width(l->out.c, c));
                emit_simd_for(em, "co", "%d", vec_width(l->out.c, c));
                em_line(em, "    w%d_%d[co] = wr[((size_t)%d * IC + ci) * OC + %s%d + co];", kx, c, kx, go, c * VEC);
            }
        for (int r = 0; r < pkh; r++)
            for (int j = 0; j < cols + l->kw - 1; j++) {
                em_open_block(em, "{");
                em_line(em, "const cnn_real v = x%d[%d * IC + ci];", r, j);
                for (int kx = 0; kx < l->kw; kx++) {
                    int q = j - kx;
                    if (q < 0 || q >= cols)
                        continue;
                    for (int c = 0; c < nv; c++) {
                        emit_simd_for(em, "co", "%d", vec_width(l->out.c, c));
                        em_line(em, "    a%d_%d_%d[co] += v * w%d_%d[co];", r, q, c, kx, c);
                    }
                }
                em_close_block(em, "}");
            }
        em_close_block(em, "}");
    } else {
        em_open_block(em, "for (int t = 0; t < KW * IC; t++) { /* (kx, ci) */");
        em_line(em, "const cnn_real *restrict w = wr + (size_t)t * OC;");
        for (int r = 0; r < pkh; r++)
            for (int q = 0; q < cols; q++) {
                em_open_block(em, "{");
                em_line(em, "const cnn_real v = x%d[%d * SW * IC + t];", r, q);
                for (int c = 0; c < nv; c++) {
                    emit_simd_for(em, "co", "%d", vec_width(l->out.c, c));
                    em_line(em, "    a%d_%d_%d[co] += v * w[%s%d + co];", r, q, c, go, c * VEC);
                }
                em_close_block(em, "}");
            }
        em_close_block(em, "}");
    }
    em_close_block(em, "} /* ky */");
    if (v->argmax)
        em_line(em, "cnn_real kf[OC]; /* argmax codes as reals: the loops stay at full vector width */");
    for (int j = 0; j < nw; j++) {
        em_open_block(em, "{ /* window px0 + %d */", j);
        em_line(em, "cnn_real *restrict yp = yi + ((size_t)py * POW + px0 + %d) * OC;", j);
        for (int c = 0; c < nv; c++) {
            emit_simd_block(em, "co", "%d", vec_width(l->out.c, c));
            if (v->argmax)
                em_line(em, "cnn_real m = a0_%d_%d[co], k = 0;", j * pkw, c);
            else if (v->affine)
                em_line(em, "cnn_real m = a0_%d_%d[co], mn = m;", j * pkw, c);
            else
                em_line(em, "cnn_real m = a0_%d_%d[co];", j * pkw, c);
            for (int r = 0; r < pkh; r++)
                for (int x = 0; x < pkw; x++) {
                    if (r == 0 && x == 0)
                        continue;
                    snprintf(a, sizeof a, "a%d_%d_%d[co]", r, j * pkw + x, c);
                    if (v->argmax)
                        em_line(em, "k = %s > m ? (cnn_real)%d : k;", a, r * pkw + x);
                    em_line(em, "m = %s > m ? %s : m;", a, a);
                    if (v->affine)
                        em_line(em, "mn = %s < mn ? %s : mn;", a, a);
                }
            snprintf(dst, sizeof dst, "yp[%s%d + co]", go, c * VEC);
            snprintf(ch, sizeof ch, "%s%d + co", go, c * VEC);
            emit_window_value(em, v, dst, ch);
            if (v->argmax && v->act == CNN_ACT_RELU)
                em_line(em, "kf[%s%d + co] = m > 0 ? k : (cnn_real)%d;", go, c * VEC, NO_GRAD);
            else if (v->argmax)
                em_line(em, "kf[%s%d + co] = k;", go, c * VEC);
            em_close_block(em, "}");
        }
        if (v->argmax) {
            em_line(em, "unsigned char *restrict ap = am + ((size_t)py * POW + px0 + %d) * OC;", j);
            em_line(em, "OMP(simd)");
            if (*go)
                em_line(em, "for (int c = c0; c < c0 + %d; c++)", nv * VEC);
            else
                em_line(em, "for (int c = 0; c < OC; c++)");
            em_line(em, "    ap[c] = (unsigned char)kf[c];");
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
}

/* The image loop of a fused conv + pool forward, in a function that has
 * declared wgt (and bias, scale, shift as the variant needs). */
void conv_pool_emit_images(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P,
                           const conv_pool_variant *v)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict yi = pooled + (size_t)i * POOL_SIZE;");
    if (v->argmax) {
        em_line(em, "/* the conv's own output slot keeps each window's argmax for backward */");
        em_line(em, "unsigned char *restrict am = (unsigned char *)(out + (size_t)i * OUT_SIZE);");
    }
    conv_emit_source(em, l);
    int nw = windows_per_tile(l, P->l);
    if (nw > 0) {
        int full = P->l->out.w / nw, rest = P->l->out.w % nw;
        if (conv_padded_copy_floats(l) == 0)
            em_line(em, "(void)pad; /* no padded copy, and the windows pool in registers */");
        em_open_block(em, "for (int py = 0; py < POH; py++) {");
        int nvg = group_vectors(l, P->l);
        if (nvg < conv_vectors(l->out.c))
            em_open_block(em, "for (int c0 = 0; c0 < OC; c0 += %d) { /* %d channels at a time: two windows a tile */",
                          nvg * VEC, nvg * VEC);
        if (full == 1) {
            emit_window_tile(em, L, P, v, nw, "0", "{");
        } else if (full > 1) {
            char head[64], px0[32];
            snprintf(head, sizeof head, "for (int wb = 0; wb < %d; wb++) {", full);
            snprintf(px0, sizeof px0, "wb * %d", nw);
            emit_window_tile(em, L, P, v, nw, px0, head);
        }
        if (rest) {
            char px0[32];
            snprintf(px0, sizeof px0, "%d", P->l->out.w - rest);
            emit_window_tile(em, L, P, v, rest, px0, "{");
        }
        if (nvg < conv_vectors(l->out.c))
            em_close_block(em, "} /* c0 */");
        em_close_block(em, "} /* py */");
        em_close_block(em, "} /* i */");
        return;
    }
    em_line(em, "cnn_real *restrict band = pad + (size_t)i * PAD_SIZE + SCRATCH; /* [PKH][OW][OC] */");
    em_open_block(em, "for (int py = 0; py < POH; py++) {");
    em_line(em, "/* the conv rows under this row of windows, before the activation */");
    conv_block b = {"xs", "wgt", v->bias ? "bias" : NULL, "band", pw, d.ic, d.oc, d.kh, d.kw, d.sh, d.sw,
                    d.oh, d.ow, CNN_ACT_LINEAR, 0,
                    "for (int oy = py * PKH; oy < py * PKH + PKH; oy++) {", "oy - py * PKH"};
    conv_emit_block(em, &b);
    emit_pool_band(em, P, v);
    em_close_block(em, "} /* py */");
    em_close_block(em, "} /* i */");
}

/* The fused forward's parameters; `wino`, Winograd's U, when it has one. */
static void emit_forward_head(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_function(em,
                "static void %s_pool_forward(const cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out, cnn_real *restrict pooled, cnn_real *restrict pad, %sint n, int training)",
                L->fn, L->wino ? "cnn_real *restrict wino, " : "");
}

/* Inference needs no argmax codes: the window's maximum alone, without the
 * selects of its code and the byte store, which are a visible share of the
 * forward's work. The image loop is emitted once for each. */
static void emit_forward_images(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P)
{
    const cnn_layer *l = L->l;
    conv_pool_variant v = {L->act, l->alpha, l->bias != 0, 1, 0};
    em_open_block(em, "if (training) { /* the pooled values and each window's argmax code, for backward */");
    conv_pool_emit_images(em, L, P, &v);
    em_close_block(em, "} else { /* inference: the pooled values alone; `out` is not written */");
    em->indent++;
    v.argmax = 0;
    conv_pool_emit_images(em, L, P, &v);
    em_close_block(em, "}");
}

static void emit_forward(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    emit_forward_head(em, L);
    conv_emit_enums(em, L, &d);
    conv_pool_emit_enums(em, L, P);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [KH][KW][IC][OC] */");
    if (l->bias)
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    if (L->wino) {
        /* one image loop: the transforms and products are the same in
         * training and inference, only the pooled output step differs */
        conv_pool_variant tv = {L->act, l->alpha, l->bias != 0, 1, 0}, iv = tv;
        iv.argmax = 0;
        em_raw(em, "#ifndef CNN_NO_WINOGRAD /* defined: the direct kernel below (for comparisons) */\n");
        if (L->wino_stored) {
            em_line(em, "cnn_real *restrict wu = wino; /* U = G g G^T [16][IC][OC], computed by cnnc export */");
            em_line(em, "(void)wgt; /* the direct kernel's, below */");
        } else {
            conv_winograd_emit_weights(em, "wino", "wgt", "IC", "OC");
        }
        conv_winograd_emit_images(em, L, P, &tv, &iv);
        em_raw(em, "#else /* CNN_NO_WINOGRAD: the direct kernel */\n");
        em_line(em, "(void)wino;");
        emit_forward_images(em, L, P);
        em_raw(em, "#endif /* CNN_NO_WINOGRAD */\n");
    } else {
        emit_forward_images(em, L, P);
    }
    em_close_block(em, "}");
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
 * (emit_conv_pool_avx512.c; emit_backward); the walk with dx is their
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
                    em_line(em, "cnn_real w%d_%d_%d[%d];", ky, kx, v, w);
                    em_line(em, "OMP(simd)");
                    em_line(em, "for (int e = 0; e < %d; e++) /* the rotated kernel holds W[%d][%d][.][co] */",
                            w, ky, kx);
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

static void emit_backward(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P)
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

void emit_conv_pool_fast(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                         const cnnc_plan_layer *pool, int backward)
{
    (void)pl;
    em_line(em, "/* fused with %s (emit_conv_pool.c): the conv output stays in cache */", pool->l->name);
    if (backward)
        emit_backward(em, conv, pool);
    else
        emit_forward(em, conv, pool);
}

void emit_conv_pool_oracle(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                           const cnnc_plan_layer *pool)
{
    (void)pl;
    em_line(em, "/* %s + %s with the plain kernels: one after the other (the oracle of the",
            conv->l->name, pool->l->name);
    em_line(em, " * fused fast path) */");
    emit_forward_head(em, conv);
    if (conv->wino)
        em_line(em, "(void)wino; /* Winograd's U: the fast path's */");
    em_line(em, "(void)training;");
    em_line(em, "%s_forward(p, in, out, pad, n);", conv->fn);
    em_line(em, "%s_forward(out, pooled, n);", pool->fn);
    em_close_block(em, "}");
    em_blank(em);
    em_function(em,
                "static void %s_pool_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, const cnn_real *restrict pooled, "
                "cnn_real *restrict dy, cnn_real *restrict dx, cnn_real *restrict slot, cnn_real *restrict pad, "
                "cnn_real *restrict flip, int n)",
                conv->fn);
    em_line(em, "/* the pool's gradient goes to dx, free until the conv's own dx */");
    em_line(em, "%s_backward(out, pooled, dy, dx, n);", pool->fn);
    if (conv->needs_dx) {
        em_line(em, "/* then dx holds the conv's dz and dy (consumed) takes the conv's dx */");
        em_line(em, "%s_backward(p, g, in, out, dx, dy, slot, pad, flip, n);", conv->fn);
        em_line(em, "memcpy(dx, dy, sizeof(cnn_real) * (size_t)n * %zu);", conv->in_size);
    } else {
        em_line(em, "%s_backward(p, g, in, out, dx, slot, pad, flip, n);", conv->fn);
    }
    em_close_block(em, "}");
}

int conv_pool_dw_windows_apply(const cnn_layer *l)
{
    return dw_window_floats(l) > 0;
}
