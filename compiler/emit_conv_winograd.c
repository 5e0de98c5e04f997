/* emit_conv_winograd.c: a 3x3 conv and the 2x2 maxpool after it in
 * inference, by Winograd's minimal filtering F(2x2, 3x3).
 *
 * Why: a 2x2 block of conv outputs (exactly one pooling window) takes
 * 4 x 9 = 36 multiply-adds per (input, output) channel pair directly, and
 * 16 this way (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016): the 4x4 input tile d under it and each 3x3 kernel g are
 * transformed, V = B^T d B and U = G g G^T, multiplied element by element
 * and summed over input channels (16 small matrix products, M[pos] = V[pos]
 * U[pos]), and the 2x2 outputs are A^T M A:
 *
 *   B^T = | 1  0 -1  0 |    G = | 1    0    0  |    A^T = | 1  1  1  0 |
 *         | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
 *         | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
 *         | 0  1  0 -1 |        | 0    0    1  |
 *
 * The transforms are additions (and halvings of the weights, done once per
 * call), so the rounding stays that of a sum of a few more terms: the
 * inference parity tests hold this path to the direct oracle. Measured on
 * one thread (a standalone prototype, batch 32): deep conv2d_2 (16 -> 32
 * channels, 32x32) 1.38-1.45 -> 0.78 ms, conv2d_3 (32 -> 64, 16x16) 1.38-1.41
 * -> 0.69 ms.
 *
 * The 2x2 output block is the pooling window, so the window's maximum is
 * taken from the four outputs in registers and the conv output never exists.
 * Training keeps the direct kernels: they record each window's argmax for
 * backward, and the weight gradient reads the conv's input directly anyway.
 *
 * Layout: channels are the vector lanes. U is [16][IC][OC] in the fixed work
 * area (transformed at each call, like the batchnorm fold); per image, V is
 * [16][NT][IC] for a block of NT tiles along a row of windows and M is
 * [16][NT][OC]; each product is a register block of NT tiles x (up to) 32
 * output channels that broadcasts V and loads U once per input channel. */
#include <stdio.h>

#include "emit_conv2d.h"

/* Output channels of one product pass, in vectors. */
static int pass_vectors(const cnn_layer *l)
{
    return l->out.c % (2 * VEC) == 0 ? 2 : 1;
}

/* Tiles along a row: the pool's windows, or without a pool half the outputs. */
static int tiles_x(const cnn_layer *l, const cnn_layer *pool)
{
    return pool ? pool->out.w : l->out.w / 2;
}

/* Tiles per block: as many as fill the register budget, balanced over the row. */
static int tiles_per_block(const cnn_layer *l, const cnn_layer *pool)
{
    int tx = tiles_x(l, pool), nt = 24 / pass_vectors(l);
    if (nt > tx)
        nt = tx;
    int blocks = (tx + nt - 1) / nt;
    return (tx + blocks - 1) / blocks;
}

int conv_winograd_applies(const cnn_layer *l, const cnn_layer *pool)
{
    if (l->kind != CNN_CONV2D || l->kh != 3 || l->kw != 3 || l->sh != 1 || l->sw != 1)
        return 0;
    if (l->in.c % VEC != 0 || l->out.c % VEC != 0)
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
    return (size_t)16 * tiles_per_block(l, pool) * (l->in.c + l->out.c);
}

void conv_winograd_emit_weights(cnnc_emitter *em, const char *wu)
{
    em_line(em, "cnn_real *restrict wu = %s;", wu);
    em_line(em, "/* U = G g G^T of every 3x3 kernel (ic, oc): [16][IC][OC] */");
    em_open_block(em, "for (int ic = 0; ic < IC; ic++) {");
    em_line(em, "OMP(simd)");
    em_open_block(em, "for (int oc = 0; oc < OC; oc++) {");
    em_line(em, "const cnn_real h = (cnn_real)0.5;");
    for (int k = 0; k < 9; k++)
        em_line(em, "const cnn_real g%d%d = wgt[(size_t)(%d * IC + ic) * OC + oc];", k / 3, k % 3, k);
    em_line(em, "/* G g: rows 0-3 of a 4x3 */");
    for (int x = 0; x < 3; x++) {
        em_line(em, "const cnn_real t0%d = g0%d, t1%d = (g0%d + g1%d + g2%d) * h;", x, x, x, x, x, x);
        em_line(em, "const cnn_real t2%d = (g0%d - g1%d + g2%d) * h, t3%d = g2%d;", x, x, x, x, x, x);
    }
    em_line(em, "/* (G g) G^T */");
    for (int r = 0; r < 4; r++) {
        em_line(em, "wu[(size_t)(%d * IC + ic) * OC + oc] = t%d0;", r * 4 + 0, r);
        em_line(em, "wu[(size_t)(%d * IC + ic) * OC + oc] = (t%d0 + t%d1 + t%d2) * h;", r * 4 + 1, r, r, r);
        em_line(em, "wu[(size_t)(%d * IC + ic) * OC + oc] = (t%d0 - t%d1 + t%d2) * h;", r * 4 + 2, r, r, r);
        em_line(em, "wu[(size_t)(%d * IC + ic) * OC + oc] = t%d2;", r * 4 + 3, r);
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* V = B^T d B of tiles t0 .. t0 + nt - 1 of pooled row py. */
static void emit_input_transform(cnnc_emitter *em, int nt, const char *t0)
{
    em_line(em, "/* V = B^T d B: a 4x4 input tile under each window */");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    em_line(em, "const cnn_real *restrict d = xs + ((size_t)py * 2 * PW + (size_t)(%s + t) * 2) * IC;", t0);
    em_line(em, "OMP(simd)");
    em_open_block(em, "for (int c = 0; c < IC; c++) {");
    for (int r = 0; r < 4; r++)
        em_line(em, "const cnn_real d%d0 = d[(%d * PW + 0) * IC + c], d%d1 = d[(%d * PW + 1) * IC + c], "
                    "d%d2 = d[(%d * PW + 2) * IC + c], d%d3 = d[(%d * PW + 3) * IC + c];",
                r, r, r, r, r, r, r, r);
    for (int q = 0; q < 4; q++)
        em_line(em, "const cnn_real b0%d = d0%d - d2%d, b1%d = d1%d + d2%d, b2%d = d2%d - d1%d, b3%d = d1%d - d3%d;",
                q, q, q, q, q, q, q, q, q, q, q, q);
    for (int r = 0; r < 4; r++) {
        em_line(em, "wv[(size_t)(%d * NT + t) * IC + c] = b%d0 - b%d2;", r * 4 + 0, r, r);
        em_line(em, "wv[(size_t)(%d * NT + t) * IC + c] = b%d1 + b%d2;", r * 4 + 1, r, r);
        em_line(em, "wv[(size_t)(%d * NT + t) * IC + c] = b%d2 - b%d1;", r * 4 + 2, r, r);
        em_line(em, "wv[(size_t)(%d * NT + t) * IC + c] = b%d1 - b%d3;", r * 4 + 3, r, r);
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* M[pos] = V[pos] U[pos] for nt tiles: a register block of nt x nv vectors. */
static void emit_products(cnnc_emitter *em, int nt, int nv)
{
    em_line(em, "/* M[pos] = V[pos] U[pos], summed over the input channels */");
    em_open_block(em, "for (int pos = 0; pos < 16; pos++) {");
    em_line(em, "const cnn_real *restrict vp = wv + (size_t)pos * NT * IC;");
    em_line(em, "const cnn_real *restrict up = wu + (size_t)pos * IC * OC;");
    em_line(em, "cnn_real *restrict mp = wm + (size_t)pos * NT * OC;");
    em_open_block(em, "for (int ob = 0; ob < OC; ob += %d) {", nv * VEC);
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < nv; j++)
            em_line(em, "cnn_real m%d_%d[%d];", t, j, VEC);
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < nv; j++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", VEC);
            em_line(em, "    m%d_%d[co] = 0;", t, j);
        }
    em_open_block(em, "for (int ic = 0; ic < IC; ic++) {");
    em_line(em, "const cnn_real *restrict ur = up + (size_t)ic * OC + ob;");
    for (int t = 0; t < nt; t++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real s = vp[%d * IC + ic];", t);
        for (int j = 0; j < nv; j++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", VEC);
            em_line(em, "    m%d_%d[co] += s * ur[%d + co];", t, j, j * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < nv; j++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int co = 0; co < %d; co++)", VEC);
            em_line(em, "    mp[%d * OC + ob + %d + co] = m%d_%d[co];", t, j * VEC, t, j);
        }
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* The window's four outputs A^T M A, its maximum (and minimum, or the
 * argmax code), the pooled value. */
/* Without a pool: the tile's four outputs, each with bias and activation. */
static void emit_output_store(cnnc_emitter *em, const cnn_layer *l, cnn_act act, int nt, const char *t0)
{
    char e[128];
    const char *b = l->bias ? " + bias[c]" : "";
    em_line(em, "/* the tile's outputs A^T M A */");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    em_line(em, "cnn_real *restrict y0 = yi + ((size_t)py * 2 * OW + (size_t)(%s + t) * 2) * OC;", t0);
    em_line(em, "OMP(simd)");
    em_open_block(em, "for (int c = 0; c < OC; c++) {");
    for (int r = 0; r < 4; r++)
        em_line(em, "const cnn_real a%d0 = wm[(size_t)(%d * NT + t) * OC + c], a%d1 = wm[(size_t)(%d * NT + t) * OC + c], "
                    "a%d2 = wm[(size_t)(%d * NT + t) * OC + c], a%d3 = wm[(size_t)(%d * NT + t) * OC + c];",
                r, r * 4, r, r * 4 + 1, r, r * 4 + 2, r, r * 4 + 3);
    for (int q = 0; q < 4; q++)
        em_line(em, "const cnn_real b0%d = a0%d + a1%d + a2%d, b1%d = a1%d - a2%d - a3%d;", q, q, q, q, q, q, q, q);
    em_line(em, "const cnn_real z00 = b00 + b01 + b02%s, z01 = b01 - b02 - b03%s;", b, b);
    em_line(em, "const cnn_real z10 = b10 + b11 + b12%s, z11 = b11 - b12 - b13%s;", b, b);
    em_line(em, "y0[c] = %s;", emit_act_expr(e, sizeof e, act, l->alpha, "z00"));
    em_line(em, "y0[OC + c] = %s;", emit_act_expr(e, sizeof e, act, l->alpha, "z01"));
    em_line(em, "y0[(size_t)OW * OC + c] = %s;", emit_act_expr(e, sizeof e, act, l->alpha, "z10"));
    em_line(em, "y0[(size_t)(OW + 1) * OC + c] = %s;", emit_act_expr(e, sizeof e, act, l->alpha, "z11"));
    em_close_block(em, "}");
    em_close_block(em, "}");
}

static void emit_output_transform(cnnc_emitter *em, int nt, const char *t0, const conv_pool_variant *v)
{
    char e[128], f[128];
    em_line(em, "/* the window's outputs A^T M A, pooled */");
    em_open_block(em, "for (int t = 0; t < %d; t++) {", nt);
    em_line(em, "cnn_real *restrict yp = yi + ((size_t)py * POW + %s + t) * OC;", t0);
    if (v->argmax)
        em_line(em, "cnn_real kf[OC]; /* argmax codes as reals: the loop stays at full vector width */");
    em_line(em, "OMP(simd)");
    em_open_block(em, "for (int c = 0; c < OC; c++) {");
    for (int r = 0; r < 4; r++)
        em_line(em, "const cnn_real a%d0 = wm[(size_t)(%d * NT + t) * OC + c], a%d1 = wm[(size_t)(%d * NT + t) * OC + c], "
                    "a%d2 = wm[(size_t)(%d * NT + t) * OC + c], a%d3 = wm[(size_t)(%d * NT + t) * OC + c];",
                r, r * 4, r, r * 4 + 1, r, r * 4 + 2, r, r * 4 + 3);
    for (int q = 0; q < 4; q++)
        em_line(em, "const cnn_real b0%d = a0%d + a1%d + a2%d, b1%d = a1%d - a2%d - a3%d;", q, q, q, q, q, q, q, q);
    /* With the argmax, the bias goes into each output first, so that ties
     * break as in the direct kernel (which compares z + b); without, once
     * into the maximum (z + b rounds monotonically in z: the same value). */
    const char *b = v->argmax && v->bias ? " + bias[c]" : "";
    em_line(em, "const cnn_real z00 = b00 + b01 + b02%s, z01 = b01 - b02 - b03%s;", b, b);
    em_line(em, "const cnn_real z10 = b10 + b11 + b12%s, z11 = b11 - b12 - b13%s;", b, b);
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
        em_line(em, "OMP(simd)");
        em_line(em, "for (int c = 0; c < OC; c++)");
        em_line(em, "    ap[c] = (unsigned char)kf[c];");
    }
    em_close_block(em, "}");
}

static void emit_tile_block(cnnc_emitter *em, const cnnc_plan_layer *L, int nt, int nv, const char *t0,
                            const char *head, const conv_pool_variant *v)
{
    em_open_block(em, "%s", head);
    emit_input_transform(em, nt, t0);
    emit_products(em, nt, nv);
    if (v)
        emit_output_transform(em, nt, t0, v);
    else
        emit_output_store(em, L->l, L->act, nt, t0);
    em_close_block(em, "}");
}

void conv_winograd_emit_images(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P,
                               const conv_pool_variant *v)
{
    const cnn_layer *l = L->l, *pool = P ? P->l : NULL;
    int tx = tiles_x(l, pool), nt = tiles_per_block(l, pool), nv = pass_vectors(l);
    int full = tx / nt, rest = tx % nt;
    em_line(em, "/* Winograd F(2x2, 3x3) (emit_conv_winograd.c): blocks of NT %s along a row */",
            pool ? "windows" : "2x2 tiles");
    em_line(em, "enum { NT = %d };", nt);
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    if (pool)
        em_line(em, "cnn_real *restrict yi = pooled + (size_t)i * POOL_SIZE;");
    else
        em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    if (v && v->argmax) {
        em_line(em, "/* the conv's own output slot keeps each window's argmax for backward */");
        em_line(em, "unsigned char *restrict am = (unsigned char *)(out + (size_t)i * OUT_SIZE);");
    }
    conv_emit_source(em, l);
    em_line(em, "cnn_real *restrict wv = pad + (size_t)i * PAD_SIZE + %s; /* V [16][NT][IC] */",
            pool ? "SCRATCH" : "WINO_AT");
    em_line(em, "cnn_real *restrict wm = wv + 16 * NT * IC;                    /* M [16][NT][OC] */");
    em_open_block(em, "for (int py = 0; py < %s; py++) {", pool ? "POH" : "OH / 2");
    if (full == 1) {
        emit_tile_block(em, L, nt, nv, "0", "{", v);
    } else if (full > 1) {
        char head[64];
        snprintf(head, sizeof head, "for (int tb = 0; tb < %d; tb++) {", full);
        emit_tile_block(em, L, nt, nv, "tb * NT", head, v);
    }
    if (rest) {
        char t0[32];
        snprintf(t0, sizeof t0, "%d", tx - rest);
        emit_tile_block(em, L, rest, nv, t0, "{", v);
    }
    em_close_block(em, "} /* py */");
    em_close_block(em, "} /* i */");
}
