/* emit_conv_winograd.c: 3x3 stride-1 convolutions by Winograd's minimal
 * filtering F(2x2, 3x3): the forward of a conv (with the 2x2 maxpool after
 * it, or alone) and the dx of a conv's backward.
 *
 * Why: a 2x2 block of conv outputs takes 4 x 9 = 36 multiply-adds per
 * (input, output) channel pair directly, and 16 this way (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2016): the 4x4 input
 * tile d under it and each 3x3 kernel g are transformed, V = B^T d B and
 * U = G g G^T, multiplied element by element and summed over input channels
 * (16 small matrix products, M[pos] = V[pos] U[pos]), and the 2x2 outputs
 * are A^T M A:
 *
 *   B^T = | 1  0 -1  0 |    G = | 1    0    0  |    A^T = | 1  1  1  0 |
 *         | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
 *         | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
 *         | 0  1  0 -1 |        | 0    0    1  |
 *
 * The transforms are additions (and halvings of the weights, done once per
 * call), so the rounding stays that of a sum of a few more terms: the
 * parity and gradient tests hold this path to the direct oracle. It takes
 * about 0.6 of the direct kernel's time on the layers it applies to
 * (docs/codegen.md, "Winograd F(2x2, 3x3)").
 *
 * With a pool, the 2x2 output block is the pooling window: its maximum (and
 * in training its argmax code) comes from the four outputs in registers and
 * the conv output never exists. The dx of a stride-1 conv is the forward
 * conv of the zero-padded dz with the kernel rotated (emit_conv2d.c), so
 * the same code computes it. The weight gradient stays direct.
 *
 * Layout: channels are the vector lanes. The emitted code names its shape
 * WIC, WOC (input and output channels), WPW (the source's row width) and WOW
 * (the destination's, without a pool). U is [16][WIC][WOC] in the fixed work
 * area (transformed at each call, like the batchnorm fold); per image, V is
 * [16][NT][WIC] for a block of NT tiles along a row and M is [16][NT][WOC];
 * each product is a register block of NT tiles x (up to) 32 output channels
 * that broadcasts V and loads U once per input channel. */
#include <stdio.h>

#include "conv_blocks.h"
#include "emit_activation.h"
#include "emit_conv_winograd.h"
#include "emit_util.h"


/* Output channels of one product pass, in vectors. */
static int pass_vectors(int cout)
{
    return cout % (2 * VEC) == 0 ? 2 : 1;
}

/* Tiles per block: as many as fill the register budget, balanced over the row. */
static int tiles_per_block(int tiles_x, int cout)
{
    int nt = 24 / pass_vectors(cout);
    if (nt > tiles_x)
        nt = tiles_x;
    int blocks = (tiles_x + nt - 1) / nt;
    return (tiles_x + blocks - 1) / blocks;
}

/* Tiles along a row: the pool's windows, or without a pool half the outputs. */
static int tiles_x(const cnn_layer *l, const cnn_layer *pool)
{
    return pool ? pool->out.w : l->out.w / 2;
}

static int shape_applies(const cnn_layer *l)
{
    return l->kind == CNN_CONV2D && l->kh == 3 && l->kw == 3 && l->sh == 1 && l->sw == 1 && l->in.c % VEC == 0 &&
           l->out.c % VEC == 0;
}

int conv_winograd_applies(const cnn_layer *l, const cnn_layer *pool)
{
    if (!shape_applies(l))
        return 0;
    if (!pool) /* every output in a 2x2 tile */
        return l->out.h % 2 == 0 && l->out.w % 2 == 0 && l->out.h >= 2 && l->out.w >= 2;
    if (pool->kind != CNN_MAXPOOL || pool->kh != 2 || pool->kw != 2 || pool->sh != 2 || pool->sw != 2 ||
        pool->same)
        return 0;
    /* every window inside the conv's output (a valid, floored pool) */
    return pool->out.h >= 1 && pool->out.w >= 1 && 2 * pool->out.h <= l->out.h && 2 * pool->out.w <= l->out.w;
}

size_t conv_winograd_fixed_floats(const cnn_layer *l)
{
    return (size_t)16 * l->in.c * l->out.c;
}

size_t conv_winograd_scratch_floats(const cnn_layer *l, const cnn_layer *pool)
{
    return (size_t)16 * tiles_per_block(tiles_x(l, pool), l->out.c) * (l->in.c + l->out.c);
}

int conv_winograd_dx_applies(const cnn_layer *l)
{
    /* dx: IH x IW outputs from OC channels into IC */
    return shape_applies(l) && l->in.h % 2 == 0 && l->in.w % 2 == 0 && l->in.h >= 2 && l->in.w >= 2;
}

size_t conv_winograd_dx_scratch_floats(const cnn_layer *l)
{
    return (size_t)16 * tiles_per_block(l->in.w / 2, l->in.c) * (l->in.c + l->out.c);
}

void conv_winograd_emit_weights(cnnc_emitter *em, const char *wu, const char *wgt, const char *cin,
                                const char *cout)
{
    em_line(em, "cnn_real *restrict wu = %s;", wu);
    em_line(em, "/* U = G g G^T of every 3x3 kernel g of %s ([KH][KW][%s][%s]): [16][%s][%s] */", wgt, cin, cout,
            cin, cout);
    em_open_block(em, "for (int ic = 0; ic < %s; ic++) {", cin);
    emit_simd_block(em, "oc", "%s", cout);
    em_line(em, "const cnn_real h = (cnn_real)0.5;");
    for (int k = 0; k < 9; k++)
        em_line(em, "const cnn_real g%d%d = %s[(size_t)(%d * %s + ic) * %s + oc];", k / 3, k % 3, wgt, k, cin, cout);
    em_line(em, "/* G g: rows 0-3 of a 4x3 */");
    for (int x = 0; x < 3; x++) {
        em_line(em, "const cnn_real t0%d = g0%d, t1%d = (g0%d + g1%d + g2%d) * h;", x, x, x, x, x, x);
        em_line(em, "const cnn_real t2%d = (g0%d - g1%d + g2%d) * h, t3%d = g2%d;", x, x, x, x, x, x);
    }
    em_line(em, "/* (G g) G^T */");
    for (int r = 0; r < 4; r++) {
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = t%d0;", r * 4 + 0, cin, cout, r);
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = (t%d0 + t%d1 + t%d2) * h;", r * 4 + 1, cin, cout, r, r,
                r);
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = (t%d0 - t%d1 + t%d2) * h;", r * 4 + 2, cin, cout, r, r,
                r);
        em_line(em, "wu[(size_t)(%d * %s + ic) * %s + oc] = t%d2;", r * 4 + 3, cin, cout, r);
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
}

void conv_winograd_weights(const float *wgt, int cin, int cout, float *wu)
{
    const float h = 0.5f;
    for (int ic = 0; ic < cin; ic++) {
        for (int oc = 0; oc < cout; oc++) {
            float g[3][3], t[4][3];
            for (int k = 0; k < 9; k++)
                g[k / 3][k % 3] = wgt[(size_t)(k * cin + ic) * cout + oc];
            for (int x = 0; x < 3; x++) { /* G g, as conv_winograd_emit_weights rounds it */
                t[0][x] = g[0][x];
                t[1][x] = (g[0][x] + g[1][x] + g[2][x]) * h;
                t[2][x] = (g[0][x] - g[1][x] + g[2][x]) * h;
                t[3][x] = g[2][x];
            }
            for (int r = 0; r < 4; r++) { /* (G g) G^T */
                wu[(size_t)((r * 4 + 0) * cin + ic) * cout + oc] = t[r][0];
                wu[(size_t)((r * 4 + 1) * cin + ic) * cout + oc] = (t[r][0] + t[r][1] + t[r][2]) * h;
                wu[(size_t)((r * 4 + 2) * cin + ic) * cout + oc] = (t[r][0] - t[r][1] + t[r][2]) * h;
                wu[(size_t)((r * 4 + 3) * cin + ic) * cout + oc] = t[r][2];
            }
        }
    }
}

/* V = B^T d B of tiles t0 .. t0 + nt - 1 of tile row py, from `src`.
 * Per vector of channels, two loops: the column sums B^T d into 16 local
 * vectors, then B^T d B into V. `src` and V are often parts of the same
 * per-image scratch (the padded copy and the Winograd scratch), which the
 * compiler cannot tell apart: read and written in one loop, they would keep
 * it scalar (deep.cnn's conv2d_2: a third of its time); each of these two
 * loops touches only one of them. */
static void emit_input_transform(cnnc_emitter *em, const char *src, int nt, const char *t0)
{
    em_line(em, "/* V = B^T d B: the 4x4 input tile under each 2x2 output tile */");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    em_line(em, "const cnn_real *restrict d = %s + ((size_t)py * 2 * WPW + (size_t)(%s + t) * 2) * WIC;", src, t0);
    em_open_block(em, "for (int c0 = 0; c0 < WIC; c0 += %d) {", VEC);
    for (int r = 0; r < 4; r++)
        em_line(em, "cnn_real b%d0[%d], b%d1[%d], b%d2[%d], b%d3[%d];", r, VEC, r, VEC, r, VEC, r, VEC);
    emit_simd_block(em, "c", "%d", VEC);
    for (int r = 0; r < 4; r++)
        em_line(em, "const cnn_real d%d0 = d[(%d * WPW + 0) * WIC + c0 + c], d%d1 = d[(%d * WPW + 1) * WIC + c0 + c], "
                    "d%d2 = d[(%d * WPW + 2) * WIC + c0 + c], d%d3 = d[(%d * WPW + 3) * WIC + c0 + c];",
                r, r, r, r, r, r, r, r);
    for (int q = 0; q < 4; q++)
        em_line(em, "b0%d[c] = d0%d - d2%d, b1%d[c] = d1%d + d2%d, b2%d[c] = d2%d - d1%d, b3%d[c] = d1%d - d3%d;",
                q, q, q, q, q, q, q, q, q, q, q, q);
    em_close_block(em, "}");
    emit_simd_block(em, "c", "%d", VEC);
    for (int r = 0; r < 4; r++) {
        em_line(em, "wv[(size_t)(%d * NT + t) * WIC + c0 + c] = b%d0[c] - b%d2[c];", r * 4 + 0, r, r);
        em_line(em, "wv[(size_t)(%d * NT + t) * WIC + c0 + c] = b%d1[c] + b%d2[c];", r * 4 + 1, r, r);
        em_line(em, "wv[(size_t)(%d * NT + t) * WIC + c0 + c] = b%d2[c] - b%d1[c];", r * 4 + 2, r, r);
        em_line(em, "wv[(size_t)(%d * NT + t) * WIC + c0 + c] = b%d1[c] - b%d3[c];", r * 4 + 3, r, r);
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "}");
}

void conv_winograd_emit_product_block(cnnc_emitter *em, int nt, int nv)
{
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < nv; j++)
            em_line(em, "cnn_real m%d_%d[%d];", t, j, VEC);
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < nv; j++) {
            emit_simd_for(em, "co", "%d", VEC);
            em_line(em, "    m%d_%d[co] = 0;", t, j);
        }
    em_open_block(em, "for (int ic = 0; ic < WIC; ic++) {");
    em_line(em, "const cnn_real *restrict ur = up + (size_t)ic * WOC + ob;");
    for (int t = 0; t < nt; t++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real s = vp[%d * WIC + ic];", t);
        for (int j = 0; j < nv; j++) {
            emit_simd_for(em, "co", "%d", VEC);
            em_line(em, "    m%d_%d[co] += s * ur[%d + co];", t, j, j * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < nv; j++) {
            emit_simd_for(em, "co", "%d", VEC);
            em_line(em, "    mp[%d * WOC + ob + %d + co] = m%d_%d[co];", t, j * VEC, t, j);
        }
}

/* M[pos] = V[pos] U[pos] for nt tiles: a register block of nt x nv vectors. */
static void emit_products(cnnc_emitter *em, int nt, int nv)
{
    em_line(em, "/* M[pos] = V[pos] U[pos], summed over the input channels */");
    em_open_block(em, "for (int pos = 0; pos < 16; pos++) {");
    em_line(em, "const cnn_real *restrict vp = wv + (size_t)pos * NT * WIC;");
    em_line(em, "const cnn_real *restrict up = wu + (size_t)pos * WIC * WOC;");
    em_line(em, "cnn_real *restrict mp = wm + (size_t)pos * NT * WOC;");
    em_open_block(em, "for (int ob = 0; ob < WOC; ob += %d) {", nv * VEC);
    conv_winograd_emit_product_block(em, nt, nv);
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* In the output loop over channel c of tile t: a00 .. a33 = M, then the
 * tile's four outputs z00, z01, z10, z11 (each plus `b`). */
static void emit_tile_outputs(cnnc_emitter *em, const char *b)
{
    for (int r = 0; r < 4; r++)
        em_line(em, "const cnn_real a%d0 = wm[(size_t)(%d * NT + t) * WOC + c], a%d1 = wm[(size_t)(%d * NT + t) * WOC + c], "
                    "a%d2 = wm[(size_t)(%d * NT + t) * WOC + c], a%d3 = wm[(size_t)(%d * NT + t) * WOC + c];",
                r, r * 4, r, r * 4 + 1, r, r * 4 + 2, r, r * 4 + 3);
    for (int q = 0; q < 4; q++)
        em_line(em, "const cnn_real b0%d = a0%d + a1%d + a2%d, b1%d = a1%d - a2%d - a3%d;", q, q, q, q, q, q, q, q);
    em_line(em, "const cnn_real z00 = b00 + b01 + b02%s, z01 = b01 - b02 - b03%s;", b, b);
    em_line(em, "const cnn_real z10 = b10 + b11 + b12%s, z11 = b11 - b12 - b13%s;", b, b);
}

/* Without a pool: the tile's four outputs into `dst`, each with bias and activation. */
static void emit_output_store(cnnc_emitter *em, const char *dst, const char *bias, cnn_act act, float alpha,
                              int nt, const char *t0)
{
    char e[128], b[64];
    snprintf(b, sizeof b, bias ? " + %s[c]" : "", bias);
    em_line(em, "/* the tile's outputs A^T M A */");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    em_line(em, "cnn_real *restrict y0 = %s + ((size_t)py * 2 * WOW + (size_t)(%s + t) * 2) * WOC;", dst, t0);
    emit_simd_block(em, "c", "WOC");
    emit_tile_outputs(em, b);
    em_line(em, "y0[c] = %s;", emit_act_expr(e, sizeof e, act, alpha, "z00"));
    em_line(em, "y0[WOC + c] = %s;", emit_act_expr(e, sizeof e, act, alpha, "z01"));
    em_line(em, "y0[(size_t)WOW * WOC + c] = %s;", emit_act_expr(e, sizeof e, act, alpha, "z10"));
    em_line(em, "y0[(size_t)(WOW + 1) * WOC + c] = %s;", emit_act_expr(e, sizeof e, act, alpha, "z11"));
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* With a pool: the window's maximum (and minimum, or the argmax code) of
 * its four outputs, the pooled value into yi. */
static void emit_output_pool(cnnc_emitter *em, int nt, const char *t0, const conv_pool_variant *v)
{
    char e[128], f[128];
    em_line(em, "/* the window's outputs A^T M A, pooled */");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    em_line(em, "cnn_real *restrict yp = yi + ((size_t)py * POW + %s + t) * OC;", t0);
    if (v->argmax)
        em_line(em, "cnn_real kf[OC]; /* argmax codes as reals: the loop stays at full vector width */");
    emit_simd_block(em, "c", "WOC");
    /* With the argmax, the bias goes into each output first, so that ties
     * break as in the direct kernel (which compares z + b); without, once
     * into the maximum (z + b rounds monotonically in z: the same value). */
    emit_tile_outputs(em, v->argmax && v->bias ? " + bias[c]" : "");
    if (v->argmax) {
        em_line(em, "/* row-major: only a larger value replaces, so the first maximum wins */");
        em_line(em, "cnn_real m = z00, k = 0;");
        em_line(em, "k = z01 > m ? (cnn_real)1 : k;");
        em_line(em, "m = z01 > m ? z01 : m;");
        em_line(em, "k = z10 > m ? (cnn_real)2 : k;");
        em_line(em, "m = z10 > m ? z10 : m;");
        em_line(em, "k = z11 > m ? (cnn_real)3 : k;");
        em_line(em, "m = z11 > m ? z11 : m;");
    } else {
        em_line(em, "cnn_real m = z00;");
        em_line(em, "m = z01 > m ? z01 : m;");
        em_line(em, "m = z10 > m ? z10 : m;");
        em_line(em, "m = z11 > m ? z11 : m;");
    }
    if (v->affine) {
        em_line(em, "cnn_real mn = z00;");
        em_line(em, "mn = z01 < mn ? z01 : mn;");
        em_line(em, "mn = z10 < mn ? z10 : mn;");
        em_line(em, "mn = z11 < mn ? z11 : mn;");
    }
    if (v->bias && !v->argmax) {
        em_line(em, "m += bias[c];");
        if (v->affine)
            em_line(em, "mn += bias[c];");
    }
    if (v->affine)
        em_line(em, "yp[c] = (scale[c] < 0 ? %s : %s) * scale[c] + shift[c];",
                emit_act_expr(f, sizeof f, v->act, v->alpha, "mn"), emit_act_expr(e, sizeof e, v->act, v->alpha, "m"));
    else
        em_line(em, "yp[c] = %s;", emit_act_expr(e, sizeof e, v->act, v->alpha, "m"));
    if (v->argmax && v->act == CNN_ACT_RELU)
        em_line(em, "kf[c] = m > 0 ? k : (cnn_real)%d;", NO_GRAD);
    else if (v->argmax)
        em_line(em, "kf[c] = k;");
    em_close_block(em, "}");
    if (v->argmax) {
        em_line(em, "unsigned char *restrict ap = am + ((size_t)py * POW + %s + t) * OC;", t0);
        emit_simd_for(em, "c", "OC");
        em_line(em, "    ap[c] = (unsigned char)kf[c];");
    }
    em_close_block(em, "}");
}

/* What a tile row's blocks write: a pool variant's windows (with
 * `untrained`, those of v in training and of untrained otherwise: the
 * transforms and products are the same, only the output step differs), or
 * (v NULL) the outputs themselves into dst, with bias and act. */
typedef struct wino_out {
    const conv_pool_variant *v, *untrained;
    const char *dst, *bias;
    cnn_act act;
    float alpha;
} wino_out;

static void emit_tile_block(cnnc_emitter *em, const char *src, const wino_out *o, int nt, int nv, const char *t0,
                            const char *head)
{
    em_open_block(em, "%s", head);
    emit_input_transform(em, src, nt, t0);
    emit_products(em, nt, nv);
    if (o->v && o->untrained) {
        em_open_block(em, "if (training) {");
        emit_output_pool(em, nt, t0, o->v);
        em_close_block(em, "} else {");
        em->indent++;
        emit_output_pool(em, nt, t0, o->untrained);
        em_close_block(em, "}");
    } else if (o->v) {
        emit_output_pool(em, nt, t0, o->v);
    } else {
        emit_output_store(em, o->dst, o->bias, o->act, o->alpha, nt, t0);
    }
    em_close_block(em, "}");
}

/* The tile rows [0, rows) of one image: blocks of NT tiles, then the rest. */
static void emit_tile_rows(cnnc_emitter *em, const char *src, const wino_out *o, const char *rows, int tx,
                           int cout)
{
    int nt = tiles_per_block(tx, cout), nv = pass_vectors(cout);
    int full = tx / nt, rest = tx % nt;
    em_open_block(em, "for (int py = 0; py < %s; py++) {", rows);
    if (full == 1) {
        emit_tile_block(em, src, o, nt, nv, "0", "{");
    } else if (full > 1) {
        char head[64];
        snprintf(head, sizeof head, "for (int tb = 0; tb < %d; tb++) {", full);
        emit_tile_block(em, src, o, nt, nv, "tb * NT", head);
    }
    if (rest) {
        char t0[32];
        snprintf(t0, sizeof t0, "%d", tx - rest);
        emit_tile_block(em, src, o, rest, nv, t0, "{");
    }
    em_close_block(em, "} /* py */");
}

void conv_winograd_emit_images(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P,
                               const conv_pool_variant *v, const conv_pool_variant *untrained)
{
    const cnn_layer *l = L->l, *pool = P ? P->l : NULL;
    int tx = tiles_x(l, pool);
    em_line(em, "/* Winograd F(2x2, 3x3) (emit_conv_winograd.c): blocks of NT %s along a row */",
            pool ? "windows" : "2x2 tiles");
    em_line(em, "enum { NT = %d, WIC = IC, WOC = OC, WPW = PW%s };", tiles_per_block(tx, l->out.c),
            pool ? "" : ", WOW = OW");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    if (pool)
        em_line(em, "cnn_real *restrict yi = pooled + (size_t)i * POOL_SIZE;");
    else
        em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    if (v && v->argmax) {
        em_line(em, "/* the conv's own output slot keeps each window's argmax for backward%s */",
                untrained ? " (in training)" : "");
        em_line(em, "unsigned char *restrict am = (unsigned char *)(out + (size_t)i * OUT_SIZE);");
    }
    conv_emit_source(em, l);
    em_line(em, "cnn_real *restrict wv = pad + (size_t)i * PAD_SIZE + %s; /* V [16][NT][WIC] */",
            pool ? "SCRATCH" : "WINO_AT");
    em_line(em, "cnn_real *restrict wm = wv + 16 * NT * WIC;                    /* M [16][NT][WOC] */");
    wino_out o = {v, untrained, "yi", l->bias ? "bias" : NULL, L->act, l->alpha};
    emit_tile_rows(em, "xs", &o, pool ? "POH" : "OH / 2", tx, l->out.c);
    em_close_block(em, "} /* i */");
}

void conv_winograd_emit_dx(cnnc_emitter *em, const cnn_layer *l, const char *dzpad, int zw, const char *dxi,
                           const char *scratch)
{
    int tx = l->in.w / 2;
    em_open_block(em, "{ /* Winograd F(2x2, 3x3) (emit_conv_winograd.c), from OC channels into IC */");
    em_line(em, "enum { NT = %d, WIC = OC, WOC = IC, WPW = %d, WOW = IW };", tiles_per_block(tx, l->in.c), zw);
    em_line(em, "cnn_real *restrict wv = %s; /* V [16][NT][WIC] */", scratch);
    em_line(em, "cnn_real *restrict wm = wv + 16 * NT * WIC; /* M [16][NT][WOC] */");
    wino_out o = {NULL, NULL, dxi, NULL, CNN_ACT_LINEAR, 0};
    emit_tile_rows(em, dzpad, &o, "IH / 2", tx, l->in.c);
    em_close_block(em, "}");
}
