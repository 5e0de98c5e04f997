/* emit_dense.c: fully connected layers, kernel [in][out] in memory.
 *
 * The plain path (under CNN_REFERENCE_KERNELS; the fast path is below).
 * Forward, per image: y = b + x W, one broadcast input times one contiguous
 * row of OUT weights at a time (vectorized over the output units), then the
 * fused activation.
 * Backward: dz = dy * act'(y) per image; dW[k][o] += sum_i x[i][k] dz[i][o]
 * split over the rows k (each thread owns whole rows and walks the images
 * in order, so the sum never depends on the thread count, and no thread
 * keeps a private copy of a large W); db likewise over o; dx = dz W^T per
 * image. */
#include <stdio.h>

#include "emit_layers.h"

static void emit_enums(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_line(em, "enum { IN = %zu, OUT = %zu, W_OFF = %zu };", L->in_size, L->out_size, L->t_off[0]);
    if (L->l->bias)
        em_line(em, "enum { B_OFF = %zu };", L->t_off[1]);
}

static void dense_forward_ref(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    char e[256];
    em_function(em,
                  "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "
                  "cnn_real *restrict out, int n)",
                  L->fn);
    emit_enums(em, L);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [IN][OUT] */");
    if (l->bias)
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    emit_image_loop_work(em, L->in_size * L->out_size);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT;");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int o = 0; o < OUT; o++)");
    em_line(em, "    yi[o] = %s;", l->bias ? "bias[o]" : "0");
    em_open_block(em, "for (int k = 0; k < IN; k++) {");
    em_line(em, "const cnn_real v = xi[k];");
    em_line(em, "const cnn_real *restrict wk = wgt + (size_t)k * OUT;");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int o = 0; o < OUT; o++)");
    em_line(em, "    yi[o] += v * wk[o];");
    em_close_block(em, "}");
    if (L->act == CNN_ACT_SOFTMAX) {
        emit_softmax_row(em, "yi", "yi", "OUT");
    } else if (L->act != CNN_ACT_LINEAR) {
        if (emit_act_simd_ok(L->act))
            em_line(em, "OMP(simd)");
        em_open_block(em, "for (int o = 0; o < OUT; o++) {");
        em_line(em, "const cnn_real z = yi[o];");
        em_line(em, "yi[o] = %s;", emit_act_expr(e, sizeof e, L->act, l->alpha, "z"));
        em_close_block(em, "}");
    }
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
}

static void dense_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                               const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_forward(p, %s, %s, n);", L->fn, a->in, a->out);
}

static void dense_backward_ref(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char c[48];
    const cnn_layer *l = L->l;
    em_function(em,
                  "static void %s_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                  "const cnn_real *restrict in, const cnn_real *restrict out, cnn_real *restrict dy, "
                  "%sint n)",
                  L->fn, L->needs_dx ? "cnn_real *restrict dx, " : "");
    emit_enums(em, L);
    if (L->act != CNN_ACT_LINEAR) {
        em_line(em, "/* dz = dy * act'(y), in place */");
        emit_image_loop_work(em, L->out_size);
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * OUT;");
        em_line(em, "cnn_real *restrict dzi = dy + (size_t)i * OUT;");
        emit_act_grad_image(em, L->act, l->alpha, "yi", "dzi", L->out_size, L->out_size);
        em_close_block(em, "}");
    } else {
        em_line(em, "(void)out;");
    }
    em_line(em, "const cnn_real *restrict dz = dy;");
    em_line(em, "/* dW: rows split over threads, images summed in order */");
    em_line(em, "cnn_real *restrict gw = g + W_OFF;");
    em_line(em, "OMP(parallel for schedule(static)%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
    em_open_block(em, "for (int k = 0; k < IN; k++) {");
    em_line(em, "cnn_real *restrict gk = gw + (size_t)k * OUT;");
    em_open_block(em, "for (int i = 0; i < n; i++) {");
    em_line(em, "const cnn_real v = in[(size_t)i * IN + k];");
    em_line(em, "const cnn_real *restrict dzi = dz + (size_t)i * OUT;");
    em_line(em, "OMP(simd)");
    em_line(em, "for (int o = 0; o < OUT; o++)");
    em_line(em, "    gk[o] += v * dzi[o];");
    em_close_block(em, "}");
    em_close_block(em, "}");
    if (l->bias) {
        em_line(em, "cnn_real *restrict gb = g + B_OFF;");
        em_line(em, "for (int i = 0; i < n; i++)");
        em_line(em, "    for (int o = 0; o < OUT; o++)");
        em_line(em, "        gb[o] += dz[(size_t)i * OUT + o];");
    }
    if (L->needs_dx) {
        em_line(em, "/* dx = dz W^T */");
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
        emit_image_loop_work(em, L->in_size * L->out_size);
        em_line(em, "const cnn_real *restrict dzi = dz + (size_t)i * OUT;");
        em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN;");
        em_open_block(em, "for (int k = 0; k < IN; k++) {");
        em_line(em, "const cnn_real *restrict wk = wgt + (size_t)k * OUT;");
        em_line(em, "cnn_real s = 0;");
        em_line(em, "OMP(simd reduction(+:s))");
        em_line(em, "for (int o = 0; o < OUT; o++)");
        em_line(em, "    s += wk[o] * dzi[o];");
        em_line(em, "dxi[k] = s;");
        em_close_block(em, "}");
        em_close_block(em, "} /* i */");
    } else {
        em_line(em, "(void)p;");
    }
    em_close_block(em, "}");
}

static void dense_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                                const cnnc_args *a)
{
    (void)pl;
    if (a->dx)
        em_line(em, "%s_backward(p, g, %s, %s, %s, %s, n);", L->fn, a->in, a->out, a->dy, a->dx);
    else
        em_line(em, "%s_backward(p, g, %s, %s, %s, n);", L->fn, a->in, a->out, a->dy);
}

/* ---- the fast path ------------------------------------------------------
 *
 * Register blocking like conv2d's (16-float vectors, about 20 vector
 * accumulators), and every output summed over k in ascending order exactly as
 * the plain loops do, so tiling and threads never change a result:
 *  - forward: tiles of NB images x one o-tile (up to 64 outputs) of
 *    accumulators; each weight row is loaded once per tile and broadcast
 *    inputs of NB images hit it. The k range is cut into blocks of KB rows
 *    (a KB x OUT slab of W stays in cache) and each thread runs its own
 *    images (the same static share in every k block) through every block, so
 *    W is streamed from memory about once per thread per call.
 *  - dW: tiles of KR rows x one o-tile held in registers while the images go
 *    by; threads split the rows.
 *  - dx: 16 rows of W at a time are transposed into a small buffer, then
 *    dx[i][k..k+15] for NB images accumulate one vector each over o. */

#define DENSE_ACC 20
#define DENSE_OT 64   /* outputs per o-tile: 4 vectors */
#define DENSE_KB 64 /* rows of W per k block in forward: a 16 KB slab for 64 outputs, in L1 */

static int otile(size_t out)
{
    return out < DENSE_OT ? (int)out : DENSE_OT;
}

/* Rows (images, or rows of W) per tile: as many as the accumulators allow,
 * at most 8 (more buys nothing once the FMA pipes are full). */
static int per_tile(size_t out)
{
    int v = (otile(out) + 15) / 16;
    int r = DENSE_ACC / v;
    return r < 1 ? 1 : r > 8 ? 8 : r;
}

/* o-tiles: a rolled loop over full tiles, then the rest. `body` gets the
 * tile width and the expression of its first output. */
static void for_otiles(cnnc_emitter *em, size_t out,
                       void (*body)(cnnc_emitter *, int rows, const char *row0, int ot, const char *o0),
                       int rows, const char *row0)
{
    int ot = otile(out);
    size_t full = out / (size_t)ot, rest = out % (size_t)ot;
    if (full == 1) {
        em_open_block(em, "{");
        em_line(em, "const int o0 = 0;");
        body(em, rows, row0, ot, "o0");
        em_close_block(em, "}");
    } else if (full > 1) {
        em_open_block(em, "for (int ot = 0; ot < %zu; ot++) {", full);
        em_line(em, "const int o0 = ot * %d;", ot);
        body(em, rows, row0, ot, "o0");
        em_close_block(em, "}");
    }
    if (rest) {
        em_open_block(em, "{");
        em_line(em, "const int o0 = %zu;", full * (size_t)ot);
        body(em, rows, row0, (int)rest, "o0");
        em_close_block(em, "}");
    }
}

#define VEC 16 /* one accumulator array per vector: see emit_conv2d.c */

static int chunk_width(int width, int c)
{
    int w = width - c * VEC;
    return w < VEC ? w : VEC;
}

/* forward tile: rows images from row0, outputs [o0, o0 + ot), k in [k0, k1) */
static void fwd_tile(cnnc_emitter *em, int rows, const char *row0, int ot, const char *o0)
{
    int nv = (ot + VEC - 1) / VEC;
    for (int j = 0; j < rows; j++) {
        for (int c = 0; c < nv; c++)
            em_line(em, "cnn_real a%d_%d[%d];", j, c, chunk_width(ot, c));
        em_line(em, "cnn_real *restrict y%d = out + (size_t)(%s + %d) * OUT + %s;", j, row0, j, o0);
        em_line(em, "const cnn_real *restrict x%d = in + (size_t)(%s + %d) * IN;", j, row0, j);
    }
    em_open_block(em, "if (k0 == 0) {");
    for (int j = 0; j < rows; j++)
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int o = 0; o < %d; o++)", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] = B0(%s + %d + o);", j, c, o0, c * VEC);
        }
    em_close_block(em, "} else {");
    em->indent++;
    for (int j = 0; j < rows; j++)
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int o = 0; o < %d; o++)", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] = y%d[%d + o];", j, c, j, c * VEC);
        }
    em_close_block(em, "}");
    em_open_block(em, "for (int k = k0; k < k1; k++) {");
    em_line(em, "const cnn_real *restrict w = wgt + (size_t)k * OUT + %s;", o0);
    for (int j = 0; j < rows; j++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real v = x%d[k];", j);
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int o = 0; o < %d; o++)", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] += v * w[%d + o];", j, c, c * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    for (int j = 0; j < rows; j++)
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int o = 0; o < %d; o++)", chunk_width(ot, c));
            em_line(em, "    y%d[%d + o] = a%d_%d[o];", j, c * VEC, j, c);
        }
}

static void dense_forward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char c[48];
    const cnn_layer *l = L->l;
    char e[256];
    int nb = per_tile(L->out_size);
    em_function(em,
                "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out, int n)",
                L->fn);
    emit_enums(em, L);
    em_line(em, "enum { NB = %d, KB = %d }; /* images per tile, rows of W per block */", nb, DENSE_KB);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [IN][OUT] */");
    if (l->bias) {
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
        em_line(em, "#define B0(o) bias[o]");
    } else {
        em_line(em, "#define B0(o) 0");
    }
    em_line(em, "const int nblk = (n + NB - 1) / NB;");
    em_line(em, "OMP(parallel%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
    em_open_block(em, "for (int k0 = 0; k0 < IN; k0 += KB) {");
    em_line(em, "const int k1 = k0 + KB < IN ? k0 + KB : IN;");
    em_line(em, "OMP(for schedule(static) nowait)");
    em_open_block(em, "for (int b = 0; b < nblk; b++) {");
    em_line(em, "const int i0 = b * NB, i1 = i0 + NB < n ? i0 + NB : n;");
    em_open_block(em, "if (i1 - i0 == NB) {");
    for_otiles(em, L->out_size, fwd_tile, nb, "i0");
    em_close_block(em, "} else { /* the last, partial tile: halves, then single images */");
    em->indent++;
    em_line(em, "int i = i0;");
    if (nb / 2 > 1) {
        em_open_block(em, "for (; i + %d <= i1; i += %d) {", nb / 2, nb / 2);
        for_otiles(em, L->out_size, fwd_tile, nb / 2, "i");
        em_close_block(em, "}");
    }
    em_open_block(em, "for (; i < i1; i++) {");
    for_otiles(em, L->out_size, fwd_tile, 1, "i");
    em_close_block(em, "}");
    em_close_block(em, "}");
    if (L->act != CNN_ACT_LINEAR) {
        em_open_block(em, "if (k1 == IN) { /* the activation, once the sums are complete */");
        em_open_block(em, "for (int i = i0; i < i1; i++) {");
        em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT;");
        if (L->act == CNN_ACT_SOFTMAX) {
            emit_softmax_row(em, "yi", "yi", "OUT");
        } else {
            if (emit_act_simd_ok(L->act))
                em_line(em, "OMP(simd)");
            em_open_block(em, "for (int o = 0; o < OUT; o++) {");
            em_line(em, "const cnn_real z = yi[o];");
            em_line(em, "yi[o] = %s;", emit_act_expr(e, sizeof e, L->act, l->alpha, "z"));
            em_close_block(em, "}");
        }
        em_close_block(em, "}");
        em_close_block(em, "}");
    }
    em_close_block(em, "} /* b */");
    em_close_block(em, "} /* k0 */");
    em_line(em, "#undef B0");
    em_close_block(em, "}");
}

/* dW tile: rows of W from row0 (k), outputs [o0, o0 + ot), over all images */
static void dw_tile(cnnc_emitter *em, int rows, const char *row0, int ot, const char *o0)
{
    int nv = (ot + VEC - 1) / VEC;
    for (int r = 0; r < rows; r++) {
        em_line(em, "cnn_real *restrict g%d = gw + (size_t)(%s + %d) * OUT + %s;", r, row0, r, o0);
        for (int c = 0; c < nv; c++) {
            em_line(em, "cnn_real a%d_%d[%d];", r, c, chunk_width(ot, c));
            em_line(em, "OMP(simd)");
            em_line(em, "for (int o = 0; o < %d; o++)", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] = g%d[%d + o];", r, c, r, c * VEC);
        }
    }
    em_open_block(em, "for (int i = 0; i < n; i++) {");
    em_line(em, "const cnn_real *restrict d = dz + (size_t)i * OUT + %s;", o0);
    em_line(em, "const cnn_real *restrict xr = in + (size_t)i * IN + %s;", row0);
    for (int r = 0; r < rows; r++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real v = xr[%d];", r);
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int o = 0; o < %d; o++)", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] += v * d[%d + o];", r, c, c * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < nv; c++) {
            em_line(em, "OMP(simd)");
            em_line(em, "for (int o = 0; o < %d; o++)", chunk_width(ot, c));
            em_line(em, "    g%d[%d + o] = a%d_%d[o];", r, c * VEC, r, c);
        }
}

#define DX_NB 8       /* images per dx tile (then 4, then 1) */
#define DX_MAX_OUT 1024 /* the transposed 16-row slab lives on the stack */

/* dx for `count` images from i: one 16-wide accumulator each, over o */
static void emit_dx_tile(cnnc_emitter *em, int count)
{
    for (int j = 0; j < count; j++) {
        em_line(em, "cnn_real a%d[16];", j);
        em_line(em, "const cnn_real *restrict d%d = dz + (size_t)(i + %d) * OUT;", j, j);
        em_line(em, "OMP(simd)");
        em_line(em, "for (int r = 0; r < 16; r++)");
        em_line(em, "    a%d[r] = 0;", j);
    }
    /* the dz values first, then the row of wt through a restrict pointer:
     * written as a%d[r] += d%d[o] * wt[o][r], gcc keeps a%d on the stack */
    em_open_block(em, "for (int o = 0; o < OUT; o++) {");
    for (int j = 0; j < count; j++)
        em_line(em, "const cnn_real v%d = d%d[o];", j, j);
    em_line(em, "const cnn_real *restrict w = wt[o];");
    for (int j = 0; j < count; j++) {
        em_line(em, "OMP(simd)");
        em_line(em, "for (int r = 0; r < 16; r++)");
        em_line(em, "    a%d[r] += v%d * w[r];", j, j);
    }
    em_close_block(em, "}");
    /* Only constant-bound loops touch the accumulators: an access with a
     * variable index (r < kn) makes gcc keep the arrays on the stack, and
     * every FMA then loads and stores its accumulator. */
    em_open_block(em, "if (kn == 16) {");
    for (int j = 0; j < count; j++) {
        em_line(em, "OMP(simd)");
        em_line(em, "for (int r = 0; r < 16; r++)");
        em_line(em, "    dx[(size_t)(i + %d) * IN + k0 + r] = a%d[r];", j, j);
    }
    em_close_block(em, "} else {");
    em->indent++;
    em_line(em, "cnn_real tail[16];");
    for (int j = 0; j < count; j++) {
        em_line(em, "OMP(simd)");
        em_line(em, "for (int r = 0; r < 16; r++)");
        em_line(em, "    tail[r] = a%d[r];", j);
        em_line(em, "for (int r = 0; r < kn; r++)");
        em_line(em, "    dx[(size_t)(i + %d) * IN + k0 + r] = tail[r];", j);
    }
    em_close_block(em, "}");
}

static void dense_backward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char c[48];
    const cnn_layer *l = L->l;
    int kr = per_tile(L->out_size);
    size_t full = L->in_size / (size_t)kr, rest = L->in_size % (size_t)kr;
    em_function(em,
                "static void %s_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, cnn_real *restrict dy, "
                "%sint n)",
                L->fn, L->needs_dx ? "cnn_real *restrict dx, " : "");
    emit_enums(em, L);
    if (L->act != CNN_ACT_LINEAR) {
        em_line(em, "/* dz = dy * act'(y), in place */");
        emit_image_loop_work(em, L->out_size);
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * OUT;");
        em_line(em, "cnn_real *restrict dzi = dy + (size_t)i * OUT;");
        emit_act_grad_image(em, L->act, l->alpha, "yi", "dzi", L->out_size, L->out_size);
        em_close_block(em, "}");
    } else {
        em_line(em, "(void)out;");
    }
    em_line(em, "const cnn_real *restrict dz = dy;");
    em_line(em, "cnn_real *restrict gw = g + W_OFF;");
    em_line(em, "/* dW: tiles of %d rows, threads split the rows */", kr);
    em_line(em, "OMP(parallel for schedule(static)%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
    em_open_block(em, "for (int t = 0; t < %zu; t++) {", full + (rest ? 1 : 0));
    em_line(em, "const int k0 = t * %d;", kr);
    if (rest) {
        em_open_block(em, "if (t < %zu) {", full);
        for_otiles(em, L->out_size, dw_tile, kr, "k0");
        em_close_block(em, "} else {");
        em->indent++;
        for_otiles(em, L->out_size, dw_tile, (int)rest, "k0");
        em_close_block(em, "}");
    } else {
        for_otiles(em, L->out_size, dw_tile, kr, "k0");
    }
    em_close_block(em, "}");
    if (l->bias) {
        em_line(em, "cnn_real *restrict gb = g + B_OFF;");
        em_line(em, "for (int i = 0; i < n; i++)");
        em_line(em, "    for (int o = 0; o < OUT; o++)");
        em_line(em, "        gb[o] += dz[(size_t)i * OUT + o];");
    }
    if (L->needs_dx && L->out_size <= DX_MAX_OUT) {
        em_line(em, "/* dx = dz W^T: 16 rows of W transposed at a time, %d (then 4, 1) images per tile */", DX_NB);
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
        em_line(em, "OMP(parallel for schedule(static)%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
        em_open_block(em, "for (int t = 0; t < %zu; t++) {", (L->in_size + 15) / 16);
        em_line(em, "const int k0 = t * 16, kn = IN - k0 < 16 ? IN - k0 : 16;");
        em_line(em, "cnn_real wt[OUT][16]; /* rows k0.. of W, transposed; zero past the last row */");
        em_line(em, "for (int r = 0; r < kn; r++)");
        em_line(em, "    for (int o = 0; o < OUT; o++)");
        em_line(em, "        wt[o][r] = wgt[(size_t)(k0 + r) * OUT + o];");
        em_line(em, "for (int r = kn; r < 16; r++)");
        em_line(em, "    for (int o = 0; o < OUT; o++)");
        em_line(em, "        wt[o][r] = 0;");
        em_line(em, "int i = 0;");
        for (int tier = DX_NB; tier >= 1; tier /= 2) {
            if (tier == 2)
                continue;
            em_open_block(em, "for (; i + %d <= n; i += %d) {", tier, tier);
            emit_dx_tile(em, tier);
            em_close_block(em, "}");
        }
        em_close_block(em, "}");
    } else if (L->needs_dx) {
        em_line(em, "/* dx = dz W^T */");
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
        emit_image_loop_work(em, L->in_size * L->out_size);
        em_line(em, "const cnn_real *restrict dzi = dz + (size_t)i * OUT;");
        em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN;");
        em_open_block(em, "for (int k = 0; k < IN; k++) {");
        em_line(em, "const cnn_real *restrict wk = wgt + (size_t)k * OUT;");
        em_line(em, "cnn_real s = 0;");
        em_line(em, "OMP(simd reduction(+:s))");
        em_line(em, "for (int o = 0; o < OUT; o++)");
        em_line(em, "    s += wk[o] * dzi[o];");
        em_line(em, "dxi[k] = s;");
        em_close_block(em, "}");
        em_close_block(em, "} /* i */");
    } else {
        em_line(em, "(void)p;");
    }
    em_close_block(em, "}");
}

/* ---- both paths ---------------------------------------------------------- */

static void dense_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "forward");
    em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    dense_forward_fast(em, L);
    em_line(em, "#else");
    dense_forward_ref(em, L);
    em_line(em, "#endif");
    em_blank(em);
}

static void dense_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "backward");
    em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    dense_backward_fast(em, L);
    em_line(em, "#else");
    dense_backward_ref(em, L);
    em_line(em, "#endif");
    em_blank(em);
}

const cnnc_layer_emitter emit_dense_layer = {
    dense_forward, dense_forward_call, dense_backward, dense_backward_call,
};
