/* winograd4_blocks.c: the building blocks of Winograd F(4x4, 3x3) for a
 * 3x3 stride-1 conv: the tiles of one image, their transforms and products,
 * and the output step (the conv's outputs, or its 2x2 maxpool's windows).
 *
 * Why: F(2x2, 3x3) (emit_conv_winograd.c) takes 16 multiply-adds per 2x2
 * outputs and (input, output) channel pair, 4 per output; F(4x4, 3x3) takes
 * 36 per 4x4 outputs, 2.25 per output (Lavin and Gray, 2016). Its transforms
 * are larger (6x6 tiles), so it pays where the products dominate: channels
 * in whole vectors. With the interpolation points 0, 1, -1, 2, -2 and
 * infinity:
 *
 *   B^T = | 4  0 -5  0  1  0 |   G = |  1/4     0     0  |   A^T = | 1  1  1  1  1  0 |
 *         | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |         | 0  1 -1  2 -2  0 |
 *         | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |         | 0  1  1  4  4  0 |
 *         | 0 -2 -1  2  1  0 |       |  1/24  1/12  1/6  |         | 0  1 -1  8 -8  1 |
 *         | 0  2 -1 -2  1  0 |       |  1/24 -1/12  1/6  |
 *         | 0  4  0 -5  0  1 |       |  0     0     1    |
 *
 * V = B^T d B of each 6x6 input tile d, U = G g G^T of each kernel g,
 * M[pos] = V[pos] U[pos] summed over the input channels (36 small matrix
 * products), and the 4x4 outputs A^T M A. The larger points make the
 * rounding a few times that of F(2x2, 3x3).
 *
 * Tiles: the outputs the pass needs (the maxpool's windows, or every
 * output) in 4x4 tiles. The whole tiles, whose 6x6 input lies inside the
 * source, run in blocks of NT over the image (not per row: fruit's 15 tiles
 * a row would leave a register block half empty); the tiles of a last
 * partial row or column (the edge tiles) one at a time, their input copied
 * with zeros outside the source and only their valid outputs stored.
 *
 * Layout: channels are the vector lanes. The source is the input, or its
 * zero-padded copy (padding=same); V is [36][NT][IC], M [36][NT][OC]. The
 * products keep NT tiles x up to 32 output channels in registers, an
 * AVX-512 kernel under CNN_AVX512_FLOAT and its portable twin that sums in
 * the same order; the transforms are plain vector loops, the same code in
 * both. */
#include "winograd4_blocks.h"

#include <stdio.h>
#include <string.h>

#include "emit_activation.h"
#include "emit_conv_winograd.h"
#include "emit_util.h"

#define W4_ACC 24 /* vector accumulators of a product block */

w4_geo w4_geometry(const cnn_layer *l, const cnn_layer *pool, cnn_act act, float alpha, int bias, int affine,
                   const char *dst)
{
    w4_geo g = {0};
    g.l = l;
    g.pool = pool;
    conv_padded_dims(l, &g.src_h, &g.src_w);
    g.padded = g.src_h != l->in.h || g.src_w != l->in.w;
    g.yh = pool ? pool->out.h : l->out.h;
    g.yw = pool ? pool->out.w : l->out.w;
    g.lh = pool ? 2 * g.yh : l->out.h;
    g.lw = pool ? 2 * g.yw : l->out.w;
    g.ty = (g.lh + 3) / 4;
    g.tx = (g.lw + 3) / 4;
    g.tyf = g.lh / 4;
    g.txf = g.lw / 4;
    g.nv = l->out.c % (2 * VEC) == 0 ? 2 : 1;
    int k = g.tyf * g.txf, most = W4_ACC / g.nv;
    if (k > 0) {
        int blocks = (k + most - 1) / most;
        g.nt = (k + blocks - 1) / blocks;
        g.nb = k / g.nt;
        g.rest = k % g.nt;
    }
    if (g.nt < 1)
        g.nt = 1;
    g.ec = g.tx > g.txf ? g.tyf : 0;
    g.ne = g.ec + (g.ty > g.tyf ? g.tx : 0);
    g.act = act;
    g.alpha = alpha;
    g.bias = bias;
    g.affine = affine;
    g.dst = dst;
    return g;
}

w4_geo w4_trainer_geometry(const cnnc_plan_layer *L, const cnn_layer *pool)
{
    return w4_geometry(L->l, pool, L->act, L->l->alpha, L->l->bias != 0, 0, "yi");
}

size_t w4_u_floats(const cnn_layer *l)
{
    return (size_t)36 * l->in.c * l->out.c;
}

int w4_applies(const w4_geo *g)
{
    const cnn_layer *l = g->l;
    if (l->kind != CNN_CONV2D || l->kh != 3 || l->kw != 3 || l->sh != 1 || l->sw != 1 || l->in.c % VEC ||
        l->out.c % VEC)
        return 0;
    return g->act != CNN_ACT_SOFTMAX && g->tyf >= 1 && g->txf >= 1;
}

size_t w4_scratch_floats(const w4_geo *g)
{
    const size_t ic = (size_t)g->l->in.c, oc = (size_t)g->l->out.c;
    return 36 * (size_t)g->nt * (ic + oc) + (g->ne ? 36 * ic : 0);
}

void w4_emit_weights(cnnc_emitter *em, const char *wu, const char *wgt, const char *cin, const char *cout)
{
    em_line(em, "cnn_real *restrict wu = %s;", wu);
    em_line(em, "/* U = G g G^T of every 3x3 kernel g of %s ([KH][KW][%s][%s]): [36][%s][%s],", wgt, cin, cout, cin,
            cout);
    em_line(em, " * in double and rounded once (G's sixths and twelfths are inexact in float) */");
    em_open_block(em, "for (int ic = 0; ic < %s; ic++) {", cin);
    emit_simd_block(em, "oc", "%s", cout);
    for (int k = 0; k < 9; k++)
        em_line(em, "const double g%d%d = %s[(size_t)(%d * %s + ic) * %s + oc];", k / 3, k % 3, wgt, k, cin, cout);
    em_line(em, "/* G g: 6x3, column by column */");
    for (int x = 0; x < 3; x++) {
        em_line(em, "const double t0%d = g0%d / 4, t1%d = -(g0%d + g1%d + g2%d) / 6, t2%d = -(g0%d - g1%d + g2%d) / 6;",
                x, x, x, x, x, x, x, x, x, x);
        em_line(em, "const double t3%d = g0%d / 24 + g1%d / 12 + g2%d / 6, t4%d = g0%d / 24 - g1%d / 12 + g2%d / 6, "
                    "t5%d = g2%d;",
                x, x, x, x, x, x, x, x, x, x);
    }
    em_line(em, "/* (G g) G^T: row r of U from row r of G g */");
    for (int r = 0; r < 6; r++) {
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = (cnn_real)(t%d0 / 4);", r * 6 + 0, cin, cout, r);
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = (cnn_real)(-(t%d0 + t%d1 + t%d2) / 6);", r * 6 + 1, cin,
                cout, r, r, r);
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = (cnn_real)(-(t%d0 - t%d1 + t%d2) / 6);", r * 6 + 2, cin,
                cout, r, r, r);
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = (cnn_real)(t%d0 / 24 + t%d1 / 12 + t%d2 / 6);", r * 6 + 3,
                cin, cout, r, r, r);
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = (cnn_real)(t%d0 / 24 - t%d1 / 12 + t%d2 / 6);", r * 6 + 4,
                cin, cout, r, r, r);
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = (cnn_real)t%d2;", r * 6 + 5, cin, cout, r);
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* One column (a, b, c) of a kernel through G: the six values in the order
 * and with the operations w4_emit_weights emits (divisions only, so no
 * multiply-add contraction can change them). */
static void g_column(double a, double b, double c, double t[6])
{
    t[0] = a / 4;
    t[1] = -(a + b + c) / 6;
    t[2] = -(a - b + c) / 6;
    t[3] = a / 24 + b / 12 + c / 6;
    t[4] = a / 24 - b / 12 + c / 6;
    t[5] = c;
}

void w4_weights(const float *wgt, int cin, int cout, float *wu)
{
    for (int ic = 0; ic < cin; ic++)
        for (int oc = 0; oc < cout; oc++) {
            double g[9], t[3][6], u[6];
            for (int k = 0; k < 9; k++)
                g[k] = wgt[(size_t)(k * cin + ic) * cout + oc];
            for (int x = 0; x < 3; x++) /* G g, column x */
                g_column(g[x], g[3 + x], g[6 + x], t[x]);
            for (int r = 0; r < 6; r++) { /* (G g) G^T, row r */
                g_column(t[0][r], t[1][r], t[2][r], u);
                for (int c = 0; c < 6; c++)
                    wu[(size_t)((r * 6 + c) * cin + ic) * cout + oc] = (float)u[c];
            }
        }
}

void w4_emit_enums(cnnc_emitter *em, const w4_geo *g)
{
    em_line(em, "enum { WIC = %d, WOC = %d, SRC_H = %d, SRC_W = %d, YH = %d, YW = %d };", g->l->in.c, g->l->out.c,
            g->src_h, g->src_w, g->yh, g->yw);
    em_line(em, "enum { TYF = %d, TXF = %d, NT = %d, EC = %d }; /* whole tiles; block; edge tiles of the last column */",
            g->tyf, g->txf, g->nt, g->ec);
}

/* The tile coordinates ty, tx of tile t of a block: of the whole tiles from
 * k0 on, or (edge) edge tile e. */
static void emit_tile_coords(cnnc_emitter *em, const char *k0, int edge)
{
    if (edge)
        em_line(em, "const int ty = e < EC ? e : TYF, tx = e < EC ? TXF : e - EC;");
    else
        em_line(em, "const int k = %s + t, ty = k / TXF, tx = k %% TXF;", k0);
}

/* `form` with each '#' replaced by the variables' prefix v. */
static const char *expand(char *buf, size_t size, const char *form, const char *v)
{
    size_t k = 0, n = strlen(v);
    for (; *form && k + n + 1 < size; form++) {
        if (*form == '#') {
            memcpy(buf + k, v, n);
            k += n;
        } else {
            buf[k++] = *form;
        }
    }
    buf[k] = 0;
    return buf;
}

/* Row r of the 1-D input transform B^T of the six values v0 .. v5. */
static const char *bt_expr(char *buf, size_t size, int r, const char *v)
{
    static const char *const rows[6] = {"#4 + 4 * #0 - 5 * #2",        "#3 + #4 - 4 * (#1 + #2)",
                                        "#4 - #3 + 4 * (#1 - #2)",     "#4 - #2 + 2 * (#3 - #1)",
                                        "#4 - #2 - 2 * (#3 - #1)",     "#5 + 4 * #1 - 5 * #3"};
    return expand(buf, size, rows[r], v);
}

/* V = B^T d B of the block's tiles. Per vector of input channels two loops,
 * as in emit_conv_winograd.c: the columns B^T d into a local array, then
 * the rows into V (the source and V are both in the scratch: read and
 * written in one loop they would keep the compiler from vectorizing). */
static void emit_input_transform(cnnc_emitter *em, int nt, const char *k0, int edge)
{
    char e[96];
    em_line(em, "/* V = B^T d B: the 6x6 input tile under each 4x4 output tile */");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    emit_tile_coords(em, k0, edge);
    if (edge) {
        em_line(em, "/* the tile's input, zero outside the source */");
        em_open_block(em, "for (int r = 0; r < 6; r++) {");
        em_open_block(em, "for (int x = 0; x < 6; x++) {");
        em_line(em, "const int inside = ty * 4 + r < SRC_H && tx * 4 + x < SRC_W;");
        em_line(em, "const cnn_real *restrict s = xs + ((size_t)(inside ? ty * 4 + r : 0) * SRC_W + "
                    "(size_t)(inside ? tx * 4 + x : 0)) * WIC;");
        emit_simd_for(em, "c", "WIC");
        em_line(em, "    et[(r * 6 + x) * WIC + c] = inside ? s[c] : 0;");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_line(em, "enum { DS = 6 * WIC };");
        em_line(em, "const cnn_real *restrict d = et;");
    } else {
        em_line(em, "enum { DS = SRC_W * WIC };");
        em_line(em, "const cnn_real *restrict d = xs + ((size_t)ty * 4 * SRC_W + (size_t)tx * 4) * WIC;");
    }
    em_open_block(em, "for (int c0 = 0; c0 < WIC; c0 += %d) {", VEC);
    em_line(em, "cnn_real b[36][%d];", VEC);
    emit_simd_block(em, "c", "%d", VEC);
    for (int x = 0; x < 6; x++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real d0 = d[0 * DS + %d * WIC + c0 + c], d1 = d[1 * DS + %d * WIC + c0 + c], "
                    "d2 = d[2 * DS + %d * WIC + c0 + c];",
                x, x, x);
        em_line(em, "const cnn_real d3 = d[3 * DS + %d * WIC + c0 + c], d4 = d[4 * DS + %d * WIC + c0 + c], "
                    "d5 = d[5 * DS + %d * WIC + c0 + c];",
                x, x, x);
        for (int r = 0; r < 6; r++)
            em_line(em, "b[%d][c] = %s;", r * 6 + x, bt_expr(e, sizeof e, r, "d"));
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    emit_simd_block(em, "c", "%d", VEC);
    for (int r = 0; r < 6; r++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real e0 = b[%d][c], e1 = b[%d][c], e2 = b[%d][c], e3 = b[%d][c], e4 = b[%d][c], "
                    "e5 = b[%d][c];",
                r * 6, r * 6 + 1, r * 6 + 2, r * 6 + 3, r * 6 + 4, r * 6 + 5);
        for (int j = 0; j < 6; j++)
            em_line(em, "wv[(size_t)(%d * NT + t) * WIC + c0 + c] = %s;", r * 6 + j, bt_expr(e, sizeof e, j, "e"));
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* M[pos] = V[pos] U[pos] for nt tiles: a register block of nt x nv vectors,
 * the AVX-512 kernel and its twin (each accumulator sums over the input
 * channels in order, one multiply-add each). */
static void emit_products(cnnc_emitter *em, int nt, int nv)
{
    em_line(em, "/* M[pos] = V[pos] U[pos], summed over the input channels */");
    em_open_block(em, "for (int pos = 0; pos < 36; pos++) {");
    em_line(em, "const cnn_real *restrict vp = wv + (size_t)pos * NT * WIC;");
    em_line(em, "const cnn_real *restrict up = wu + (size_t)pos * WIC * WOC;");
    em_line(em, "cnn_real *restrict mp = wm + (size_t)pos * NT * WOC;");
    em_open_block(em, "for (int ob = 0; ob < WOC; ob += %d) {", nv * VEC);
    em_raw(em, "#if CNN_AVX512_FLOAT\n");
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < nv; j++)
            em_line(em, "__m512 m%d_%d = _mm512_setzero_ps();", t, j);
    em_open_block(em, "for (int ic = 0; ic < WIC; ic++) {");
    for (int j = 0; j < nv; j++)
        em_line(em, "const __m512 u%d = _mm512_loadu_ps(up + (size_t)ic * WOC + ob + %d);", j, j * VEC);
    for (int t = 0; t < nt; t++) {
        em_open_block(em, "{");
        em_line(em, "const __m512 s = _mm512_set1_ps(vp[%d * WIC + ic]);", t);
        for (int j = 0; j < nv; j++)
            em_line(em, "m%d_%d = _mm512_fmadd_ps(s, u%d, m%d_%d);", t, j, j, t, j);
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < nv; j++)
            em_line(em, "_mm512_storeu_ps(mp + %d * WOC + ob + %d, m%d_%d);", t, j * VEC, t, j);
    em_raw(em, "#else /* the portable twin, summing in the same order */\n");
    conv_winograd_emit_product_block(em, nt, nv);
    em_raw(em, "#endif\n");
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* Row r of the 1-D output transform A^T of six values v0 .. v5, with
 * vp = v1 + v2, vm = v1 - v2, vq = v3 + v4 and vn = v3 - v4 precomputed. */
static const char *at_expr(char *buf, size_t size, int r, const char *v)
{
    static const char *const rows[4] = {"#0 + #p + #q", "#m + 2 * #n", "#p + 4 * #q", "#m + 8 * #n + #5"};
    return expand(buf, size, rows[r], v);
}

/* A^T over six values v0 .. v5 (the C names `v` then 0 .. 5): the four
 * results `out` k `fixed` (k_first) or `out` `fixed` k, for k = 0 .. 3. */
static void emit_at_1d(cnnc_emitter *em, const char *v, char out, int fixed, int k_first)
{
    char e[96];
    em_line(em, "const cnn_real %sp = %s1 + %s2, %sm = %s1 - %s2, %sq = %s3 + %s4, %sn = %s3 - %s4;", v, v, v, v, v,
            v, v, v, v, v, v, v);
    for (int k = 0; k < 4; k++)
        em_line(em, "const cnn_real %c%d%d = %s;", out, k_first ? k : fixed, k_first ? fixed : k,
                at_expr(e, sizeof e, k, v));
}

/* In the output loop over channel c of tile t: z00 .. z33 = A^T M A. */
static void emit_tile_outputs(cnnc_emitter *em)
{
    char v[8];
    for (int j = 0; j < 6; j++) { /* the columns: A^T over M's rows, s0j .. s3j */
        em_line(em, "const cnn_real a%d0 = wm[(size_t)(%d * NT + t) * WOC + c], a%d1 = wm[(size_t)(%d * NT + t) * WOC + c], "
                    "a%d2 = wm[(size_t)(%d * NT + t) * WOC + c];",
                j, j, j, 6 + j, j, 12 + j);
        em_line(em, "const cnn_real a%d3 = wm[(size_t)(%d * NT + t) * WOC + c], a%d4 = wm[(size_t)(%d * NT + t) * WOC + c], "
                    "a%d5 = wm[(size_t)(%d * NT + t) * WOC + c];",
                j, 18 + j, j, 24 + j, j, 30 + j);
        snprintf(v, sizeof v, "a%d", j);
        emit_at_1d(em, v, 's', j, 1);
    }
    for (int r = 0; r < 4; r++) { /* the rows: A^T over the columns, zr0 .. zr3 */
        snprintf(v, sizeof v, "s%d", r);
        emit_at_1d(em, v, 'z', r, 0);
    }
}

/* One 2x2 window (wy, wx) of a tile's outputs z, pooled by step s: the
 * maximum, the bias, the activation (with s->affine, scale and shift at the
 * maximum, or at the minimum where scale < 0); with s->argmax, the bias goes
 * into each output first, so that ties break as in the direct kernel (which
 * compares z + b), and the window's code goes to kfYX[c]. */
static void emit_window(cnnc_emitter *em, const conv_pool_variant *s, int wy, int wx)
{
    char e[128], f[128];
    int y = 2 * wy, x = 2 * wx;
    if (s->argmax) {
        const char *b = s->bias ? " + bias[c]" : "";
        em_line(em, "const cnn_real v0 = z%d%d%s, v1 = z%d%d%s, v2 = z%d%d%s, v3 = z%d%d%s;", y, x, b, y, x + 1, b,
                y + 1, x, b, y + 1, x + 1, b);
        em_line(em, "/* row-major: only a larger value replaces, so the first maximum wins */");
        em_line(em, "cnn_real m = v0, code = 0;");
        for (int j = 1; j < 4; j++) {
            em_line(em, "code = v%d > m ? (cnn_real)%d : code;", j, j);
            em_line(em, "m = v%d > m ? v%d : m;", j, j);
        }
        em_line(em, "y0[(size_t)(%d * YW + %d) * WOC + c] = %s;", wy, wx, emit_act_expr(e, sizeof e, s->act, s->alpha, "m"));
        if (s->act == CNN_ACT_RELU)
            em_line(em, "kf%d%d[c] = m > 0 ? code : (cnn_real)%d;", wy, wx, NO_GRAD);
        else
            em_line(em, "kf%d%d[c] = code;", wy, wx);
        return;
    }
    em_line(em, "cnn_real m = z%d%d;", y, x);
    em_line(em, "m = z%d%d > m ? z%d%d : m;", y, x + 1, y, x + 1);
    em_line(em, "m = z%d%d > m ? z%d%d : m;", y + 1, x, y + 1, x);
    em_line(em, "m = z%d%d > m ? z%d%d : m;", y + 1, x + 1, y + 1, x + 1);
    if (s->affine) {
        em_line(em, "cnn_real mn = z%d%d;", y, x);
        em_line(em, "mn = z%d%d < mn ? z%d%d : mn;", y, x + 1, y, x + 1);
        em_line(em, "mn = z%d%d < mn ? z%d%d : mn;", y + 1, x, y + 1, x);
        em_line(em, "mn = z%d%d < mn ? z%d%d : mn;", y + 1, x + 1, y + 1, x + 1);
    }
    if (s->bias) {
        em_line(em, "m += bias[c];");
        if (s->affine)
            em_line(em, "mn += bias[c];");
    }
    if (s->affine)
        em_line(em, "y0[(size_t)(%d * YW + %d) * WOC + c] = (scale[c] < 0 ? %s : %s) * scale[c] + shift[c];", wy, wx,
                emit_act_expr(f, sizeof f, s->act, s->alpha, "mn"), emit_act_expr(e, sizeof e, s->act, s->alpha, "m"));
    else
        em_line(em, "y0[(size_t)(%d * YW + %d) * WOC + c] = %s;", wy, wx,
                emit_act_expr(e, sizeof e, s->act, s->alpha, "m"));
}

/* The block's outputs: the 2x2 windows of each tile pooled by step s (NULL:
 * no pool, the 16 outputs with bias and activation). Edge tiles store only
 * what lies inside the output. */
static void emit_output(cnnc_emitter *em, const w4_geo *g, const conv_pool_variant *s, int nt, const char *k0,
                        int edge)
{
    char e[128];
    int step = s ? 2 : 4, argmax = s && s->argmax;
    em_line(em, "/* the tile's outputs A^T M A%s */", s ? (argmax ? ", pooled, with the windows' argmax codes" : ", pooled") : "");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    emit_tile_coords(em, k0, edge);
    em_line(em, "cnn_real *restrict y0 = %s + ((size_t)ty * %d * YW + (size_t)tx * %d) * WOC;", g->dst, step, step);
    if (edge)
        em_line(em, "const int vy = YH - ty * %d, vx = YW - tx * %d; /* valid rows and columns */", step, step);
    if (argmax)
        em_line(em, "cnn_real kf00[WOC], kf01[WOC], kf10[WOC], kf11[WOC]; /* codes as reals: full vector width */");
    emit_simd_block(em, "c", "WOC");
    emit_tile_outputs(em);
    for (int wy = 0; wy < step; wy++)
        for (int wx = 0; wx < step; wx++) {
            if (edge)
                em_open_block(em, "if (%d < vy && %d < vx) {", wy, wx);
            else
                em_open_block(em, "{");
            if (s) {
                emit_window(em, s, wy, wx);
            } else {
                em_line(em, "const cnn_real v = z%d%d%s;", wy, wx, g->bias ? " + bias[c]" : "");
                em_line(em, "y0[(size_t)(%d * YW + %d) * WOC + c] = %s;", wy, wx,
                        emit_act_expr(e, sizeof e, g->act, g->alpha, "v"));
            }
            em_close_block(em, "}");
        }
    em_close_block(em, "}");
    if (argmax) {
        em_line(em, "unsigned char *restrict a0 = am + ((size_t)ty * 2 * YW + (size_t)tx * 2) * WOC;");
        for (int wy = 0; wy < 2; wy++)
            for (int wx = 0; wx < 2; wx++) {
                if (edge)
                    em_open_block(em, "if (%d < vy && %d < vx) {", wy, wx);
                else
                    em_open_block(em, "{");
                emit_simd_for(em, "c", "WOC");
                em_line(em, "    a0[(size_t)(%d * YW + %d) * WOC + c] = (unsigned char)kf%d%d[c];", wy, wx, wy, wx);
                em_close_block(em, "}");
            }
    }
    em_close_block(em, "}");
}

static void emit_block(cnnc_emitter *em, const w4_geo *g, int nt, const char *k0, int edge, const char *head)
{
    em_open_block(em, "%s", head);
    emit_input_transform(em, nt, k0, edge);
    emit_products(em, nt, g->nv);
    if (g->v) {
        em_open_block(em, "if (training) {");
        emit_output(em, g, g->v, nt, k0, edge);
        em_close_block(em, "} else {");
        em->indent++;
        emit_output(em, g, g->untrained, nt, k0, edge);
        em_close_block(em, "}");
    } else if (g->pool) {
        conv_pool_variant s = {g->act, g->alpha, g->bias, 0, g->affine};
        emit_output(em, g, &s, nt, k0, edge);
    } else {
        emit_output(em, g, NULL, nt, k0, edge);
    }
    em_close_block(em, "}");
}

void w4_emit_scratch(cnnc_emitter *em, const w4_geo *g, const char *base)
{
    em_line(em, "cnn_real *restrict wv = %s; /* V [36][NT][WIC] */", base);
    em_line(em, "cnn_real *restrict wm = wv + 36 * NT * WIC; /* M [36][NT][WOC] */");
    if (g->ne)
        em_line(em, "cnn_real *restrict et = wm + 36 * NT * WOC; /* an edge tile's input [6][6][WIC] */");
}

void w4_emit_tiles(cnnc_emitter *em, const w4_geo *g)
{
    char head[96];
    if (g->nb == 1) {
        emit_block(em, g, g->nt, "0", 0, "{ /* the whole tiles */");
    } else if (g->nb > 1) {
        snprintf(head, sizeof head, "for (int kb = 0; kb < %d * NT; kb += NT) { /* the whole tiles */", g->nb);
        emit_block(em, g, g->nt, "kb", 0, head);
    }
    if (g->rest) {
        char k0[32];
        snprintf(k0, sizeof k0, "%d", g->nb * g->nt);
        emit_block(em, g, g->rest, k0, 0, "{ /* the rest of the whole tiles */");
    }
    if (g->ne) {
        snprintf(head, sizeof head, "for (int e = 0; e < %d; e++) { /* the edge tiles */", g->ne);
        emit_block(em, g, 1, NULL, 1, head);
    }
}
