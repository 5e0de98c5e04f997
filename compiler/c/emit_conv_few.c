/* emit_conv_few.c: cnnc export's fused conv2d + activation + 2x2 maxpool
 * for a 3x3 stride-1 conv with few input channels (an image's first conv:
 * 1, 3 or 4), by Winograd's F(2x2, 3x3), one image per call.
 *
 * Why: the direct fused kernel (emit_conv_pool_forward.c) already runs
 * near the FMA peak on such a layer (fruit's conv2d_1), so only fewer FMAs
 * make it faster. Each 2x2 pooling window is one Winograd tile: its four
 * outputs take 16 FMAs per (input, output) channel pair instead of 36
 * (emit_conv_winograd.c has the transforms B, G and A). The trainer's
 * Winograd kernel vectorizes its input transform over input channels, which
 * needs them in whole vectors; here there are only 1 to 4, so:
 *
 *   - V = B^T d B is computed for a whole row of tiles at once, vectorized
 *     over the row's positions f = x * IC + c: B^T combines the four input
 *     rows element by element, and B the columns x, x + 1, x + 2, x + 3,
 *     which are the same row read at offsets 0, IC, 2 IC, 3 IC. Every x is
 *     transformed, the tiles' (x = 2t) are used: twice the additions of the
 *     tiles alone, but no gathers. V is [16][VS] per tile row.
 *   - M = V U is vectorized over output channels (U is [16][IC][OC], a
 *     constant of the exported file): a block of NT tiles, each tile's V
 *     broadcast, IC products per tile and position.
 *   - A^T M A gives the window's four outputs, their maximum, the bias and
 *     the activation (relu commutes with max), as the trainer's kernel.
 *
 * The AVX-512 kernel and its portable twin compute the same sums in the
 * same order (M: the first channel's product, then one FMA per channel).
 * The transforms round as a sum of a few more terms than the direct conv:
 * the export tests hold the result to `predict` within 1e-5. */
#include "emit_conv_few.h"

#include <stdio.h>

#include "conv_blocks.h"
#include "emit_activation.h"
#include "emit_util.h"

#define FEW_MAX_IC 4  /* input channels: the U vectors of a product step stay in registers */
#define FEW_MAX_NT 16 /* tiles per product block: NT accumulators + IC U vectors of 32 registers */

static size_t round16(size_t n)
{
    return (n + 15) / 16 * 16;
}

/* Tiles per product block: at most FEW_MAX_NT, balanced over the row. */
static int tiles_per_block(int tiles)
{
    int blocks = (tiles + FEW_MAX_NT - 1) / FEW_MAX_NT;
    return (tiles + blocks - 1) / blocks;
}

/* Positions f = x * IC + c of a row that V needs: up to the last tile's x. */
static int v_positions(const cnn_layer *l, const cnn_layer *pool)
{
    return (2 * pool->out.w - 1) * l->in.c;
}

int emit_conv_few_applies(const cnnc_plan_layer *L, const cnnc_plan_layer *P)
{
    const cnn_layer *l = L->l, *p = P->l;
    if (l->kind != CNN_CONV2D || !L->fuse_pool || L->fold_bn || L->wino || L->pool_at != P->index)
        return 0;
    if (l->kh != 3 || l->kw != 3 || l->sh != 1 || l->sw != 1 || l->in.c < 1 || l->in.c > FEW_MAX_IC ||
        l->out.c % VEC != 0)
        return 0;
    if (L->act != CNN_ACT_RELU && L->act != CNN_ACT_LINEAR)
        return 0;
    if (p->kind != CNN_MAXPOOL || p->kh != 2 || p->kw != 2 || p->sh != 2 || p->sw != 2 || p->same)
        return 0;
    /* every window inside the conv's output (a valid, floored pool) */
    return p->out.h >= 1 && p->out.w >= 1 && 2 * p->out.h <= l->out.h && 2 * p->out.w <= l->out.w;
}

size_t emit_conv_few_pad_floats(const cnnc_plan_layer *L, const cnnc_plan_layer *P)
{
    const cnn_layer *l = L->l;
    return round16(conv_padded_copy_floats(l)) + 16 * round16((size_t)v_positions(l, P->l)) +
           (size_t)16 * tiles_per_block(P->l->out.w) * l->out.c;
}

size_t emit_conv_few_u_floats(const cnnc_plan_layer *L)
{
    return (size_t)16 * L->l->in.c * L->l->out.c;
}

/* V = B^T d B of tile row py at every position f < NF of the row, from the
 * rows d, d + RS, d + 2 RS, d + 3 RS (RS = PW * IC): per column offset q,
 * the rows combined (e_rq), then the columns (V[r * 4 + c]). */
static void emit_input_transform(cnnc_emitter *em)
{
    em_line(em, "/* V = B^T d B at every position f = x * IC + c of the tile row (tile t's at x = 2t) */");
    em_line(em, "const cnn_real *restrict d = xs + (size_t)py * 2 * RS;");
    em_raw(em, "#if CNN_AVX512_FLOAT\n");
    em_open_block(em, "for (int f = 0; f < NF; f += 16) {");
    em_line(em, "/* the last step's lanes past NF are not read (their V is not used) */");
    em_line(em, "const __mmask16 k = NF - f >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (NF - f)) - 1u);");
    for (int q = 0; q < 4; q++) {
        em_line(em, "__m512 e0%d, e1%d, e2%d, e3%d;", q, q, q, q);
        em_open_block(em, "{");
        for (int r = 0; r < 4; r++)
            em_line(em, "const __m512 x%d = _mm512_maskz_loadu_ps(k, d + %d * RS + f + %d * IC);", r, r, q);
        em_line(em, "e0%d = _mm512_sub_ps(x0, x2);", q);
        em_line(em, "e1%d = _mm512_add_ps(x1, x2);", q);
        em_line(em, "e2%d = _mm512_sub_ps(x2, x1);", q);
        em_line(em, "e3%d = _mm512_sub_ps(x1, x3);", q);
        em_close_block(em, "}");
    }
    for (int r = 0; r < 4; r++) {
        em_line(em, "_mm512_storeu_ps(wv + %d * VS + f, _mm512_sub_ps(e%d0, e%d2));", r * 4 + 0, r, r);
        em_line(em, "_mm512_storeu_ps(wv + %d * VS + f, _mm512_add_ps(e%d1, e%d2));", r * 4 + 1, r, r);
        em_line(em, "_mm512_storeu_ps(wv + %d * VS + f, _mm512_sub_ps(e%d2, e%d1));", r * 4 + 2, r, r);
        em_line(em, "_mm512_storeu_ps(wv + %d * VS + f, _mm512_sub_ps(e%d1, e%d3));", r * 4 + 3, r, r);
    }
    em_close_block(em, "}");
    em_raw(em, "#else /* the portable twin */\n");
    em_open_block(em, "for (int f = 0; f < NF; f++) {");
    for (int q = 0; q < 4; q++) {
        char x[4][48];
        for (int r = 0; r < 4; r++)
            snprintf(x[r], sizeof x[r], "d[%d * RS + f + %d * IC]", r, q);
        em_line(em, "const cnn_real e0%d = %s - %s, e1%d = %s + %s;", q, x[0], x[2], q, x[1], x[2]);
        em_line(em, "const cnn_real e2%d = %s - %s, e3%d = %s - %s;", q, x[2], x[1], q, x[1], x[3]);
    }
    for (int r = 0; r < 4; r++) {
        em_line(em, "wv[%d * VS + f] = e%d0 - e%d2;", r * 4 + 0, r, r);
        em_line(em, "wv[%d * VS + f] = e%d1 + e%d2;", r * 4 + 1, r, r);
        em_line(em, "wv[%d * VS + f] = e%d2 - e%d1;", r * 4 + 2, r, r);
        em_line(em, "wv[%d * VS + f] = e%d1 - e%d3;", r * 4 + 3, r, r);
    }
    em_close_block(em, "}");
    em_raw(em, "#endif\n");
}

/* M[pos] = sum over input channels c of V[pos] U[pos] for the nt tiles
 * from t0: [16][NT][OC]. */
static void emit_products(cnnc_emitter *em, int nt, int ic)
{
    em_line(em, "/* M[pos] = V[pos] U[pos], summed over the input channels */");
    em_open_block(em, "for (int pos = 0; pos < 16; pos++) {");
    em_line(em, "const cnn_real *restrict vp = wv + (size_t)pos * VS + (size_t)t0 * 2 * IC;");
    em_line(em, "const cnn_real *restrict up = wu + (size_t)pos * IC * OC;");
    em_line(em, "cnn_real *restrict mp = wm + (size_t)pos * NT * OC;");
    em_raw(em, "#if CNN_AVX512_FLOAT\n");
    em_open_block(em, "for (int ob = 0; ob < OC; ob += 16) {");
    for (int c = 0; c < ic; c++)
        em_line(em, "const __m512 u%d = _mm512_loadu_ps(up + %d * OC + ob);", c, c);
    for (int t = 0; t < nt; t++)
        em_line(em, "__m512 m%d = _mm512_mul_ps(_mm512_set1_ps(vp[%d]), u0);", t, 2 * t * ic);
    for (int c = 1; c < ic; c++)
        for (int t = 0; t < nt; t++)
            em_line(em, "m%d = _mm512_fmadd_ps(_mm512_set1_ps(vp[%d]), u%d, m%d);", t, 2 * t * ic + c, c, t);
    for (int t = 0; t < nt; t++)
        em_line(em, "_mm512_storeu_ps(mp + %d * OC + ob, m%d);", t, t);
    em_close_block(em, "}");
    em_raw(em, "#else /* the portable twin */\n");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    em_line(em, "const cnn_real *restrict vt = vp + (size_t)t * 2 * IC;");
    emit_simd_block(em, "o", "OC");
    em_line(em, "cnn_real m = vt[0] * up[o];");
    for (int c = 1; c < ic; c++)
        em_line(em, "m += vt[%d] * up[%d * OC + o];", c, c);
    em_line(em, "mp[(size_t)t * OC + o] = m;");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_raw(em, "#endif\n");
    em_close_block(em, "}");
}

/* The window of each of the nt tiles: A^T M A, the maximum of its four
 * outputs, the bias, the activation, into the pooled row. */
static void emit_outputs(cnnc_emitter *em, const cnnc_plan_layer *L, int nt)
{
    const cnn_layer *l = L->l;
    char e[128];
    em_line(em, "/* each window's four outputs A^T M A, pooled */");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    em_line(em, "const cnn_real *restrict mt = wm + (size_t)t * OC;");
    em_line(em, "cnn_real *restrict yp = pooled + ((size_t)py * POW + t0 + t) * OC;");
    em_raw(em, "#if CNN_AVX512_FLOAT\n");
    em_open_block(em, "for (int ob = 0; ob < OC; ob += 16) {");
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            em_line(em, "const __m512 a%d%d = _mm512_loadu_ps(mt + (size_t)%d * NT * OC + ob);", r, c, r * 4 + c);
    for (int q = 0; q < 4; q++) {
        em_line(em, "const __m512 b0%d = _mm512_add_ps(_mm512_add_ps(a0%d, a1%d), a2%d);", q, q, q, q);
        em_line(em, "const __m512 b1%d = _mm512_sub_ps(_mm512_sub_ps(a1%d, a2%d), a3%d);", q, q, q, q);
    }
    em_line(em, "const __m512 z00 = _mm512_add_ps(_mm512_add_ps(b00, b01), b02);");
    em_line(em, "const __m512 z01 = _mm512_sub_ps(_mm512_sub_ps(b01, b02), b03);");
    em_line(em, "const __m512 z10 = _mm512_add_ps(_mm512_add_ps(b10, b11), b12);");
    em_line(em, "const __m512 z11 = _mm512_sub_ps(_mm512_sub_ps(b11, b12), b13);");
    em_line(em, "/* max_ps(a, b) is a > b ? a : b: the first maximum, as the twin's selects */");
    em_line(em, "__m512 m = _mm512_max_ps(z01, z00);");
    em_line(em, "m = _mm512_max_ps(z10, m);");
    em_line(em, "m = _mm512_max_ps(z11, m);");
    if (l->bias)
        em_line(em, "m = _mm512_add_ps(m, _mm512_loadu_ps(bias + ob));");
    if (L->act == CNN_ACT_RELU)
        em_line(em, "m = _mm512_max_ps(_mm512_setzero_ps(), m); /* m < 0 ? 0 : m */");
    em_line(em, "_mm512_storeu_ps(yp + ob, m);");
    em_close_block(em, "}");
    em_raw(em, "#else /* the portable twin */\n");
    emit_simd_block(em, "o", "OC");
    for (int r = 0; r < 4; r++)
        em_line(em, "const cnn_real a%d0 = mt[%d * NT * OC + o], a%d1 = mt[%d * NT * OC + o], "
                    "a%d2 = mt[%d * NT * OC + o], a%d3 = mt[%d * NT * OC + o];",
                r, r * 4, r, r * 4 + 1, r, r * 4 + 2, r, r * 4 + 3);
    for (int q = 0; q < 4; q++)
        em_line(em, "const cnn_real b0%d = a0%d + a1%d + a2%d, b1%d = a1%d - a2%d - a3%d;", q, q, q, q, q, q, q, q);
    em_line(em, "const cnn_real z00 = b00 + b01 + b02, z01 = b01 - b02 - b03;");
    em_line(em, "const cnn_real z10 = b10 + b11 + b12, z11 = b11 - b12 - b13;");
    em_line(em, "cnn_real m = z00;");
    em_line(em, "m = z01 > m ? z01 : m;");
    em_line(em, "m = z10 > m ? z10 : m;");
    em_line(em, "m = z11 > m ? z11 : m;");
    if (l->bias)
        em_line(em, "m += bias[o];");
    em_line(em, "yp[o] = %s;", emit_act_expr(e, sizeof e, L->act, l->alpha, "m"));
    em_close_block(em, "}");
    em_raw(em, "#endif\n");
    em_close_block(em, "}");
}

static void emit_block(cnnc_emitter *em, const cnnc_plan_layer *L, int nt, const char *t0, const char *head)
{
    em_open_block(em, "%s", head);
    em_line(em, "const int t0 = %s;", t0);
    emit_products(em, nt, L->l->in.c);
    emit_outputs(em, L, nt);
    em_close_block(em, "}");
}

void emit_conv_few_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    const cnnc_plan_layer *P = &pl->layers[L->pool_at];
    conv_dims d = conv_dims_of(l);
    int ph, pw, tiles = P->l->out.w, nt = tiles_per_block(tiles);
    conv_padded_dims(l, &ph, &pw);
    size_t copy = round16(conv_padded_copy_floats(l));
    emit_layer_comment(em, pl, L, "forward with the maxpool after it, one image (cnnc export: emit_conv_few.c)");
    em_function(em,
                "static void %s_pool_forward(const cnn_real *restrict p, const cnn_real *restrict wu, "
                "const cnn_real *restrict in, cnn_real *restrict pooled, cnn_real *restrict pad)",
                L->fn);
    conv_emit_enums(em, L, &d);
    em_line(em, "enum { POH = %d, POW = %d, PW = %d, RS = PW * IC, PAD_SIZE = %zu }; /* %s */", P->l->out.h,
            tiles, pw, emit_conv_few_pad_floats(L, P), P->l->name);
    em_line(em, "enum { NF = %d, VS = %zu, V_AT = %zu, NT = %d }; /* V's positions and row stride, where V is "
                "in pad; tiles per block */",
            v_positions(l, P->l), round16((size_t)v_positions(l, P->l)), copy, nt);
    if (l->bias)
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    else
        em_line(em, "(void)p;");
    if (conv_padded_copy_floats(l))
        em_line(em, "const int i = 0; /* the image, for the padded copy */");
    em_line(em, "const cnn_real *restrict xi = in;");
    conv_emit_source(em, l);
    em_line(em, "cnn_real *restrict wv = pad + V_AT;     /* V [16][VS] */");
    em_line(em, "cnn_real *restrict wm = wv + 16 * VS;   /* M [16][NT][OC] */");
    em_open_block(em, "for (int py = 0; py < POH; py++) {");
    emit_input_transform(em);
    int full = tiles / nt, rest = tiles % nt;
    char head[64], t0[32];
    if (full == 1) {
        emit_block(em, L, nt, "0", "{");
    } else if (full > 1) {
        snprintf(head, sizeof head, "for (int tb = 0; tb < %d; tb++) {", full);
        emit_block(em, L, nt, "tb * NT", head);
    }
    if (rest) {
        snprintf(t0, sizeof t0, "%d", tiles - rest);
        emit_block(em, L, rest, t0, "{");
    }
    em_close_block(em, "} /* py */");
    em_close_block(em, "}");
    em_blank(em);
}

void emit_conv_few_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *wu, const char *in,
                        const char *pooled)
{
    em_line(em, "%s_pool_forward(p, %s, %s, %s, pad);", L->fn, wu, in, pooled);
}
