/* emit_conv_pool_forward.c: the fused conv2d + activation + maxpool
 * forward (emit_conv_pool.c says why the pair is fused).
 *
 * Per image and pooled row py: the conv outputs under that row of windows
 * either accumulate in registers, a tile of windows at a time
 * (emit_window_tile, when one window's outputs fit), or go to a band of the
 * image's scratch (a few KB: the register-blocked conv_emit_block, without
 * the activation), which the pool then reads. The pool takes each window's
 * first maximum in row-major order, as the plain pool does, applies the
 * activation (relu commutes with max, so relu(max z) = max relu(z)) and
 * stores the pooled value. What backward needs of the conv output is kept
 * in its (otherwise unused) activation slot: one byte per pooled value, the
 * window position of the maximum, or NO_GRAD where the gradient is 0 (relu
 * of a maximum <= 0: the plain chain multiplies by relu'(y) = 0 there). */
#include "emit_conv_pool_forward.h"

#include <stdio.h>

#include "emit_activation.h"
#include "emit_conv_winograd.h"
#include "emit_util.h"
#include "winograd4_blocks.h"

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
            if (*go)
                emit_simd_range(em, "c", "c0", NULL, "c0 + %d", nv * VEC);
            else
                emit_simd_for(em, "c", "OC");
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

/* Every image by F(4x4, 3x3) (winograd4_blocks.c): each 4x4 tile of conv
 * outputs is 2x2 windows, pooled in registers as F(2x2, 3x3) pools its one
 * (emit_conv_winograd.c); the conv output never exists. */
static void emit_winograd4_images(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P,
                                  const conv_pool_variant *v, const conv_pool_variant *untrained)
{
    w4_geo g = w4_trainer_geometry(L, P->l);
    g.v = v;
    g.untrained = untrained;
    em_line(em, "/* Winograd F(4x4, 3x3) (winograd4_blocks.c): %d 4x4 tiles of 2x2 windows, %d whole in blocks of "
                "NT, %d at the edges */",
            g.ty * g.tx, g.tyf * g.txf, g.ne);
    w4_emit_enums(em, &g);
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict yi = pooled + (size_t)i * POOL_SIZE;");
    em_line(em, "/* the conv's own output slot keeps each window's argmax for backward (in training) */");
    em_line(em, "unsigned char *restrict am = (unsigned char *)(out + (size_t)i * OUT_SIZE);");
    conv_emit_source(em, L->l);
    w4_emit_scratch(em, &g, "pad + (size_t)i * PAD_SIZE + SCRATCH");
    w4_emit_tiles(em, &g);
    em_close_block(em, "} /* i */");
}

/* The fused forward's parameters; `wino`, Winograd's U, when it has one. */
void conv_pool_emit_forward_head(cnnc_emitter *em, const cnnc_plan_layer *L)
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

void conv_pool_emit_forward(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    conv_pool_emit_forward_head(em, L);
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
            conv_winograd_emit_images(em, L, P, &tv, &iv);
        } else if (L->wino4_pool) {
            w4_emit_weights(em, "wino", "wgt", "IC", "OC");
            emit_winograd4_images(em, L, P, &tv, &iv);
        } else {
            conv_winograd_emit_weights(em, "wino", "wgt", "IC", "OC");
            conv_winograd_emit_images(em, L, P, &tv, &iv);
        }
        em_raw(em, "#else /* CNN_NO_WINOGRAD: the direct kernel */\n");
        em_line(em, "(void)wino;");
        emit_forward_images(em, L, P);
        em_raw(em, "#endif /* CNN_NO_WINOGRAD */\n");
    } else {
        emit_forward_images(em, L, P);
    }
    em_close_block(em, "}");
}
