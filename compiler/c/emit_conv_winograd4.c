/* emit_conv_winograd4.c: cnnc export's one-image forward of a 3x3 stride-1
 * conv by Winograd's F(4x4, 3x3): the conv alone, with the 2x2 maxpool
 * after it, or as the batchnorm fold's pass (emit_conv_bn_fold.c).
 *
 * Why: F(2x2, 3x3) (emit_conv_winograd.c) takes 16 multiply-adds per 2x2
 * outputs and (input, output) channel pair, 4 per output; F(4x4, 3x3) takes
 * 36 per 4x4 outputs, 2.25 per output (Lavin and Gray, 2016). Its transforms
 * are larger (6x6 tiles), so it pays where the products dominate: channels
 * in whole vectors, and a one-image call, where the trainer's batch kernels
 * have nothing to share. With the interpolation points 0, 1, -1, 2, -2 and
 * infinity:
 *
 *   B^T = | 4  0 -5  0  1  0 |   G = |  1/4     0     0  |   A^T = | 1  1  1  1  1  0 |
 *         | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |         | 0  1 -1  2 -2  0 |
 *         | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |         | 0  1  1  4  4  0 |
 *         | 0 -2 -1  2  1  0 |       |  1/24  1/12  1/6  |         | 0  1 -1  8 -8  1 |
 *         | 0  2 -1 -2  1  0 |       |  1/24 -1/12  1/6  |
 *         | 0  4  0 -5  0  1 |       |  0     0     1    |
 *
 * V = B^T d B of each 6x6 input tile d, U = G g G^T of each kernel g (here,
 * in double, rounded once: the weights are constants of the exported
 * file), M[pos] = V[pos] U[pos] summed over the input channels (36 small
 * matrix products), and the 4x4 outputs A^T M A. The larger points make
 * the rounding a few times that of F(2x2, 3x3) (docs/deploy.md gives the
 * differences measured against `predict`).
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
#include "emit_conv_winograd4.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_blocks.h"
#include "emit_activation.h"
#include "emit_conv_bn_fold.h"
#include "emit_conv_winograd.h"
#include "emit_util.h"

#define W4_ACC 24 /* vector accumulators of a product block */

/* The pass's shape and what its output step applies. */
typedef struct w4_geo {
    const cnn_layer *l, *pool; /* pool NULL: the conv's outputs themselves */
    int src_h, src_w, padded;  /* the source: the input, or its padded copy */
    int yh, yw;                /* the pass's output: the maxpool's, or the conv's */
    int lh, lw;                /* conv outputs needed */
    int ty, tx, tyf, txf;      /* tiles; whole tiles */
    int nv, nt, nb, rest;      /* output vectors per product pass; the blocks of whole tiles */
    int ec, ne;                /* edge tiles: of the last column (one per whole row), all */
    cnn_act act;
    float alpha;
    int bias, affine;
} w4_geo;

static const cnn_layer *pool_of(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    if (L->fold_bn)
        return pl->layers[L->fold_pool].l;
    return L->fuse_pool ? pl->layers[L->pool_at].l : NULL;
}

static w4_geo geo_of(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    w4_geo g = {0};
    const cnn_layer *l = L->l;
    g.l = l;
    g.pool = pool_of(pl, L);
    conv_padded_dims(l, &g.src_h, &g.src_w);
    g.padded = g.src_h != l->in.h || g.src_w != l->in.w;
    g.yh = g.pool ? g.pool->out.h : l->out.h;
    g.yw = g.pool ? g.pool->out.w : l->out.w;
    g.lh = g.pool ? 2 * g.yh : l->out.h;
    g.lw = g.pool ? 2 * g.yw : l->out.w;
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
    if (L->fold_bn && !L->fold_affine) { /* the batchnorm in the weights and bias, its relu after */
        g.act = pl->layers[L->index + 1].act;
        g.bias = 1;
    } else {
        g.act = L->act;
        g.bias = l->bias != 0;
        g.affine = L->fold_bn;
    }
    g.alpha = l->alpha;
    return g;
}

int conv_winograd4_applies(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    if (l->kind != CNN_CONV2D || !(L->fold_bn ? L->fold_wino : L->wino))
        return 0;
    if (l->kh != 3 || l->kw != 3 || l->sh != 1 || l->sw != 1 || l->in.c % VEC || l->out.c % VEC)
        return 0;
    w4_geo g = geo_of(pl, L);
    return g.act != CNN_ACT_SOFTMAX && g.tyf >= 1 && g.txf >= 1;
}

size_t conv_winograd4_scratch_floats(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    w4_geo g = geo_of(pl, L);
    const size_t ic = (size_t)L->l->in.c, oc = (size_t)L->l->out.c;
    return conv_padded_copy_floats(L->l) + 36 * (size_t)g.nt * (ic + oc) + (g.ne ? 36 * ic : 0);
}

size_t conv_winograd4_stored_floats(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    w4_geo g = geo_of(pl, L);
    const size_t oc = (size_t)L->l->out.c;
    return 36 * (size_t)L->l->in.c * oc + (g.bias ? oc : 0) + (g.affine ? 2 * oc : 0);
}

int conv_winograd4_last(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    (void)pl;
    return L->fold_bn ? L->fold_pool : L->fuse_pool ? L->pool_at : L->index;
}

/* U = G g G^T of every kernel of wgt ([3][3][cin][cout]) into wu
 * ([36][cin][cout]), in double. */
static void winograd4_u(const float *wgt, int cin, int cout, float *wu)
{
    static const double G[6][3] = {{1.0 / 4, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    for (int ic = 0; ic < cin; ic++)
        for (int oc = 0; oc < cout; oc++) {
            double t[6][3];
            for (int r = 0; r < 6; r++)
                for (int x = 0; x < 3; x++) {
                    t[r][x] = 0;
                    for (int k = 0; k < 3; k++)
                        t[r][x] += G[r][k] * wgt[(size_t)((k * 3 + x) * cin + ic) * cout + oc];
                }
            for (int r = 0; r < 6; r++)
                for (int c = 0; c < 6; c++) {
                    double u = 0;
                    for (int k = 0; k < 3; k++)
                        u += t[r][k] * G[c][k];
                    wu[(size_t)((r * 6 + c) * cin + ic) * cout + oc] = (float)u;
                }
        }
}

int conv_winograd4_values(const cnnc_plan *pl, const cnnc_plan_layer *L, const float *p, float *stored)
{
    w4_geo g = geo_of(pl, L);
    const cnn_layer *l = L->l;
    const int ic = l->in.c, oc = l->out.c;
    float *bias = stored + (size_t)36 * ic * oc;
    if (L->fold_bn && !L->fold_affine) { /* the folded weights and bias, as the fold computes them */
        float *fold = malloc(emit_conv_bn_fold_stored_floats(L) * sizeof *fold);
        if (!fold)
            return emit_error("out of memory");
        emit_conv_bn_fold_values(pl, L, p, fold);
        winograd4_u(fold, ic, oc, stored);
        for (int c = 0; c < oc; c++)
            bias[c] = fold[L->t_count[0] + (size_t)c];
        free(fold);
        return 0;
    }
    winograd4_u(p + L->t_off[0], ic, oc, stored);
    if (g.bias)
        for (int c = 0; c < oc; c++)
            bias[c] = p[L->t_off[1] + (size_t)c];
    if (g.affine) { /* the batchnorm's inference map, as emit_conv_bn_fold.c computes it */
        const cnnc_plan_layer *B = &pl->layers[L->index + 1];
        float *scale = bias + (g.bias ? oc : 0), *shift = scale + oc;
        for (int c = 0; c < oc; c++) {
            scale[c] = p[B->t_off[0] + c] / sqrtf(p[B->t_off[3] + c] + B->l->epsilon);
            shift[c] = p[B->t_off[1] + c] - p[B->t_off[2] + c] * scale[c];
        }
    }
    return 0;
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
        em_line(em, "const int inside = ty * 4 + r < SH && tx * 4 + x < SW;");
        em_line(em, "const cnn_real *restrict s = xs + ((size_t)(inside ? ty * 4 + r : 0) * SW + "
                    "(size_t)(inside ? tx * 4 + x : 0)) * WIC;");
        emit_simd_for(em, "c", "WIC");
        em_line(em, "    et[(r * 6 + x) * WIC + c] = inside ? s[c] : 0;");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_line(em, "enum { DS = 6 * WIC };");
        em_line(em, "const cnn_real *restrict d = et;");
    } else {
        em_line(em, "enum { DS = SW * WIC };");
        em_line(em, "const cnn_real *restrict d = xs + ((size_t)ty * 4 * SW + (size_t)tx * 4) * WIC;");
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

/* In the output loop over channel c of tile t: z00 .. z33 = A^T M A. */
static void emit_tile_outputs(cnnc_emitter *em)
{
    char e[96];
    for (int j = 0; j < 6; j++) { /* the columns: A^T over M's rows */
        em_line(em, "const cnn_real a%d0 = wm[(size_t)(%d * NT + t) * WOC + c], a%d1 = wm[(size_t)(%d * NT + t) * WOC + c], "
                    "a%d2 = wm[(size_t)(%d * NT + t) * WOC + c];",
                j, j, j, 6 + j, j, 12 + j);
        em_line(em, "const cnn_real a%d3 = wm[(size_t)(%d * NT + t) * WOC + c], a%d4 = wm[(size_t)(%d * NT + t) * WOC + c], "
                    "a%d5 = wm[(size_t)(%d * NT + t) * WOC + c];",
                j, 18 + j, j, 24 + j, j, 30 + j);
        em_line(em, "const cnn_real a%dp = a%d1 + a%d2, a%dm = a%d1 - a%d2, a%dq = a%d3 + a%d4, a%dn = a%d3 - a%d4;",
                j, j, j, j, j, j, j, j, j, j, j, j);
        char v[8];
        snprintf(v, sizeof v, "a%d", j);
        for (int r = 0; r < 4; r++)
            em_line(em, "const cnn_real s%d%d = %s;", r, j, at_expr(e, sizeof e, r, v));
    }
    for (int r = 0; r < 4; r++) { /* the rows: A^T over the columns */
        em_line(em, "const cnn_real s%dp = s%d1 + s%d2, s%dm = s%d1 - s%d2, s%dq = s%d3 + s%d4, s%dn = s%d3 - s%d4;",
                r, r, r, r, r, r, r, r, r, r, r, r);
        char v[8];
        snprintf(v, sizeof v, "s%d", r);
        for (int x = 0; x < 4; x++)
            em_line(em, "const cnn_real z%d%d = %s;", r, x, at_expr(e, sizeof e, x, v));
    }
}

/* The block's outputs: the 2x2 windows of each tile pooled (the maximum,
 * the bias, the activation; with a batchnorm after it, scale and shift at
 * the maximum, or at the minimum where scale < 0), or the 16 outputs with
 * bias and activation. Edge tiles store only what lies inside the output. */
static void emit_output(cnnc_emitter *em, const w4_geo *g, int nt, const char *k0, int edge)
{
    char e[128], f[128];
    em_line(em, "/* the tile's outputs A^T M A%s */", g->pool ? ", pooled" : "");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    emit_tile_coords(em, k0, edge);
    int step = g->pool ? 2 : 4;
    em_line(em, "cnn_real *restrict y0 = out + ((size_t)ty * %d * YW + (size_t)tx * %d) * WOC;", step, step);
    if (edge)
        em_line(em, "const int vy = YH - ty * %d, vx = YW - tx * %d; /* valid rows and columns */", step, step);
    emit_simd_block(em, "c", "WOC");
    emit_tile_outputs(em);
    for (int wy = 0; wy < step; wy++)
        for (int wx = 0; wx < step; wx++) {
            if (edge)
                em_open_block(em, "if (%d < vy && %d < vx) {", wy, wx);
            else
                em_open_block(em, "{");
            if (g->pool) {
                int y = 2 * wy, x = 2 * wx;
                em_line(em, "cnn_real m = z%d%d;", y, x);
                em_line(em, "m = z%d%d > m ? z%d%d : m;", y, x + 1, y, x + 1);
                em_line(em, "m = z%d%d > m ? z%d%d : m;", y + 1, x, y + 1, x);
                em_line(em, "m = z%d%d > m ? z%d%d : m;", y + 1, x + 1, y + 1, x + 1);
                if (g->affine) {
                    em_line(em, "cnn_real mn = z%d%d;", y, x);
                    em_line(em, "mn = z%d%d < mn ? z%d%d : mn;", y, x + 1, y, x + 1);
                    em_line(em, "mn = z%d%d < mn ? z%d%d : mn;", y + 1, x, y + 1, x);
                    em_line(em, "mn = z%d%d < mn ? z%d%d : mn;", y + 1, x + 1, y + 1, x + 1);
                }
                if (g->bias) {
                    em_line(em, "m += bias[c];");
                    if (g->affine)
                        em_line(em, "mn += bias[c];");
                }
                if (g->affine)
                    em_line(em, "y0[(size_t)(%d * YW + %d) * WOC + c] = (scale[c] < 0 ? %s : %s) * scale[c] + shift[c];",
                            wy, wx, emit_act_expr(f, sizeof f, g->act, g->alpha, "mn"),
                            emit_act_expr(e, sizeof e, g->act, g->alpha, "m"));
                else
                    em_line(em, "y0[(size_t)(%d * YW + %d) * WOC + c] = %s;", wy, wx,
                            emit_act_expr(e, sizeof e, g->act, g->alpha, "m"));
            } else {
                em_line(em, "const cnn_real v = z%d%d%s;", wy, wx, g->bias ? " + bias[c]" : "");
                em_line(em, "y0[(size_t)(%d * YW + %d) * WOC + c] = %s;", wy, wx,
                        emit_act_expr(e, sizeof e, g->act, g->alpha, "v"));
            }
            em_close_block(em, "}");
        }
    em_close_block(em, "}");
    em_close_block(em, "}");
}

static void emit_block(cnnc_emitter *em, const w4_geo *g, int nt, const char *k0, int edge, const char *head)
{
    em_open_block(em, "%s", head);
    emit_input_transform(em, nt, k0, edge);
    emit_products(em, nt, g->nv);
    emit_output(em, g, nt, k0, edge);
    em_close_block(em, "}");
}

void conv_winograd4_emit_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    w4_geo g = geo_of(pl, L);
    const cnn_layer *l = L->l;
    const int last = conv_winograd4_last(pl, L);
    em_line(em, "/* %s to %s: forward, one image, by Winograd F(4x4, 3x3) (cnnc export: emit_conv_winograd4.c).",
            l->name, pl->layers[last].l->name);
    em_line(em, " * %s; %dx%d tiles of 4x4 outputs, %d whole (in blocks of %d), %d at the edges. */", L->stmt, g.ty,
            g.tx, g.tyf * g.txf, g.nt, g.ne);
    em_function(em,
                "static void %s_winograd4_forward(const cnn_real *restrict in, cnn_real *restrict out, "
                "cnn_real *restrict scratch, const cnn_real *restrict wu)",
                L->fn);
    em_line(em, "enum { WIC = %d, WOC = %d, SH = %d, SW = %d, YH = %d, YW = %d };", l->in.c, l->out.c, g.src_h,
            g.src_w, g.yh, g.yw);
    em_line(em, "enum { TYF = %d, TXF = %d, NT = %d, EC = %d }; /* whole tiles; block; edge tiles of the last column */",
            g.tyf, g.txf, g.nt, g.ec);
    em_line(em, "/* wu: U = G g G^T [36][WIC][WOC]%s%s, computed by cnnc export */", g.bias ? ", the bias" : "",
            g.affine ? ", the batchnorm's scale and shift" : "");
    if (g.bias)
        em_line(em, "const cnn_real *restrict bias = wu + 36 * WIC * WOC;");
    if (g.affine) {
        em_line(em, "const cnn_real *restrict scale = wu + 36 * WIC * WOC%s;", g.bias ? " + WOC" : "");
        em_line(em, "const cnn_real *restrict shift = scale + WOC;");
    }
    size_t padf = conv_padded_copy_floats(l);
    if (g.padded) {
        em_line(em, "cnn_real *restrict xpad = scratch;");
        conv_emit_pad_copy(em, "in", "xpad", l->in.h, l->in.w, l->in.c, l->pad_top, l->pad_left, g.src_h, g.src_w);
        em_line(em, "const cnn_real *restrict xs = xpad;");
    } else {
        em_line(em, "const cnn_real *restrict xs = in;");
    }
    em_line(em, "cnn_real *restrict wv = scratch + %zu; /* V [36][NT][WIC] */", padf);
    em_line(em, "cnn_real *restrict wm = wv + 36 * NT * WIC; /* M [36][NT][WOC] */");
    if (g.ne)
        em_line(em, "cnn_real *restrict et = wm + 36 * NT * WOC; /* an edge tile's input [6][6][WIC] */");
    char head[96];
    if (g.nb == 1) {
        emit_block(em, &g, g.nt, "0", 0, "{ /* the whole tiles */");
    } else if (g.nb > 1) {
        snprintf(head, sizeof head, "for (int kb = 0; kb < %d * NT; kb += NT) { /* the whole tiles */", g.nb);
        emit_block(em, &g, g.nt, "kb", 0, head);
    }
    if (g.rest) {
        char k0[32];
        snprintf(k0, sizeof k0, "%d", g.nb * g.nt);
        emit_block(em, &g, g.rest, k0, 0, "{ /* the rest of the whole tiles */");
    }
    if (g.ne) {
        snprintf(head, sizeof head, "for (int e = 0; e < %d; e++) { /* the edge tiles */", g.ne);
        emit_block(em, &g, 1, NULL, 1, head);
    }
    em_close_block(em, "}");
    em_blank(em);
}

void conv_winograd4_emit_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *in, const char *out,
                              const char *scratch, const char *stored)
{
    em_line(em, "%s_winograd4_forward(%s, %s, %s, %s);", L->fn, in, out, scratch, stored);
}
