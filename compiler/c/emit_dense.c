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
 * image. The fast path's dW and both paths' db sum in the batch's chunk
 * tree (emit_batch_sum.c); the plain dW, an oracle, in image order. */
#include <stdio.h>

#include "emit_activation.h"
#include "emit_dense.h"
#include "emit_layers.h"
#include "emit_util.h"


static void emit_enums(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_line(em, "enum { IN = %zu, OUT = %zu, W_OFF = %zu };", L->in_size, L->out_size, L->t_off[0]);
    if (L->l->bias)
        em_line(em, "enum { B_OFF = %zu };", L->t_off[1]);
}

#define DENSE_ACC 20
#define DENSE_OT 64   /* outputs per o-tile: 4 vectors */
#define DENSE_KB 128 /* rows of W per k block in forward: a 32 KB slab for 64 outputs, which stays in L1; 64 rows are slower */
#define DENSE_PART_ROWS 1024 /* forward: rows of W per part at least */
#define DENSE_MAX_PARTS 16
#define DENSE_FUSE_MIN 16384 /* weights: from 64 KB on, the optimizer runs inside backward */
#define DX_NB 8       /* images per dx tile (then 4, then 1) */
#define DX_MAX_OUT 1024 /* the transposed 16-row slab and the dW tile live on the stack */
#define VEC 16 /* one accumulator array per vector: see emit_conv2d.c */

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

/* Rows of W per dW tile in backward: a power of two, so that they divide
 * the 16-row tiles. */
static int dw_rows(size_t out)
{
    int r = 1;
    while (2 * r <= per_tile(out))
        r *= 2;
    return r;
}

/* Parts of the k range in forward (1: the image-tiled scheme). */
static int k_parts(size_t in)
{
    size_t p = in / DENSE_PART_ROWS;
    return p < 2 ? 1 : p > DENSE_MAX_PARTS ? DENSE_MAX_PARTS : (int)p;
}

int emit_dense_fuses_update(size_t in, size_t out)
{
    return in * out >= DENSE_FUSE_MIN && out <= DX_MAX_OUT;
}

size_t emit_dense_slot_floats(size_t in, size_t out)
{
    int ks = k_parts(in);
    return ks > 1 ? (size_t)ks * out : 0;
}

/* The signature of a dense backward, both paths: with update_in_backward the
 * optimizer comes as `u` (NULL: plain backward), and p is not restrict
 * because u writes the weights through the runtime. */
static void backward_signature(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_function(em,
                "static void %s_backward(const cnn_real *%sp, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, cnn_real *restrict dy, "
                "%sint n%s)",
                L->fn, L->fuse_update ? "" : "restrict ", L->needs_dx ? "cnn_real *restrict dx, " : "",
                L->fuse_update ? ", const cnn_update *u" : "");
}

/* dz = dy * act'(y), in place, or nothing for a linear layer */
static void emit_dz(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    if (L->act != CNN_ACT_LINEAR) {
        em_line(em, "/* dz = dy * act'(y), in place */");
        emit_image_loop_work(em, L->out_size);
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * OUT;");
        em_line(em, "cnn_real *restrict dzi = dy + (size_t)i * OUT;");
        emit_act_grad_image(em, L->act, L->l->alpha, "yi", "dzi", L->out_size, L->out_size);
        em_close_block(em, "}");
    } else {
        em_line(em, "(void)out;");
    }
    em_line(em, "const cnn_real *restrict dz = dy;");
}

static void emit_db(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    if (!L->l->bias)
        return;
    em_open_block(em, "{ /* db: the batch's chunk tree */");
    em_line(em, "cnn_real *restrict gb = g + B_OFF;");
    em_line(em, "cnn_real s[OUT];");
    em_line(em, "cnn_tree_sum(dz, OUT, OUT, s);");
    em_line(em, "for (int o = 0; o < OUT; o++)");
    em_line(em, "    gb[o] += s[o];");
    em_close_block(em, "}");
}

/* dx = dz W^T, image by image, each dx[k] summing over o in order: the
 * plain backward's and a frozen layer's (qual: "restrict " unless the fused
 * update rewrites W in the same function). */
static void emit_dx_plain(cnnc_emitter *em, const cnnc_plan_layer *L, const char *qual)
{
    em_line(em, "/* dx = dz W^T */");
    em_line(em, "const cnn_real *%swgt = p + W_OFF;", qual);
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
}

static void dense_forward_ref(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    char e[256];
    em_function(em,
                "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out, %sint n)",
                L->fn, k_parts(L->in_size) > 1 ? "cnn_real *restrict slot, " : "");
    emit_enums(em, L);
    if (k_parts(L->in_size) > 1)
        em_line(em, "(void)slot; /* the fast kernel's partial sums */");
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [IN][OUT] */");
    if (l->bias)
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    emit_image_loop_work(em, L->in_size * L->out_size);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT;");
    emit_simd_for(em, "o", "OUT");
    em_line(em, "    yi[o] = %s;", l->bias ? "bias[o]" : "0");
    em_open_block(em, "for (int k = 0; k < IN; k++) {");
    em_line(em, "const cnn_real v = xi[k];");
    em_line(em, "const cnn_real *restrict wk = wgt + (size_t)k * OUT;");
    emit_simd_for(em, "o", "OUT");
    em_line(em, "    yi[o] += v * wk[o];");
    em_close_block(em, "}");
    if (L->act == CNN_ACT_SOFTMAX) {
        emit_softmax_row(em, "yi", "yi", "OUT");
    } else if (L->act != CNN_ACT_LINEAR) {
        emit_simd_block_if(em, emit_act_simd_ok(L->act), "o", "OUT");
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
    if (k_parts(L->in_size) > 1)
        em_line(em, "%s_forward(p, %s, %s, slot, n);", L->fn, a->in, a->out);
    else
        em_line(em, "%s_forward(p, %s, %s, n);", L->fn, a->in, a->out);
}

static void dense_backward_ref(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char c[48];
    backward_signature(em, L);
    emit_enums(em, L);
    emit_dz(em, L);
    em_line(em, "/* dW: rows split over threads, images summed in order */");
    em_line(em, "cnn_real *restrict gw = g + W_OFF;");
    if (L->fuse_update) {
        em_line(em, "if (u) /* the oracle of the fused update: dW of this batch alone, stored, then one update */");
        em_line(em, "    memset(gw, 0, (size_t)IN * OUT * sizeof(cnn_real));");
    }
    em_line(em, "OMP(parallel for schedule(static)%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
    em_open_block(em, "for (int k = 0; k < IN; k++) {");
    em_line(em, "cnn_real *restrict gk = gw + (size_t)k * OUT;");
    em_open_block(em, "for (int i = 0; i < n; i++) {");
    em_line(em, "const cnn_real v = in[(size_t)i * IN + k];");
    em_line(em, "const cnn_real *restrict dzi = dz + (size_t)i * OUT;");
    emit_simd_for(em, "o", "OUT");
    em_line(em, "    gk[o] += v * dzi[o];");
    em_close_block(em, "}");
    em_close_block(em, "}");
    emit_db(em, L);
    if (L->needs_dx) {
        emit_dx_plain(em, L, L->fuse_update ? "" : "restrict ");
    } else {
        em_line(em, "(void)p;");
    }
    if (L->fuse_update) {
        em_line(em, "if (u)");
        em_line(em, "    u->apply(u, W_OFF, (size_t)IN * OUT, gw);");
    }
    em_close_block(em, "}");
}

static void dense_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                                const cnnc_args *a)
{
    (void)pl;
    const char *u = L->fuse_update ? ", u" : "";
    if (a->dx)
        em_line(em, "%s_backward(p, g, %s, %s, %s, %s, n%s);", L->fn, a->in, a->out, a->dy, a->dx, u);
    else
        em_line(em, "%s_backward(p, g, %s, %s, %s, n%s);", L->fn, a->in, a->out, a->dy, u);
}

/* ---- the fast path ------------------------------------------------------
 *
 * Register blocking like conv2d's (16-float vectors, about 20 vector
 * accumulators); every sum runs in an order fixed by the shapes alone, so
 * threads never change a result.
 *  - forward, small layers (fewer than 2 * DENSE_PART_ROWS inputs): tiles
 *    of NB images x one o-tile (up to 64 outputs) of accumulators; each
 *    weight row is loaded once per tile and broadcast inputs of NB images hit
 *    it. The k range is cut into blocks of KB rows (a KB x OUT slab of W
 *    stays in L1), each thread runs its own images through every block, and
 *    every output is summed over k in ascending order as the plain loop does.
 *  - forward, large layers: the k range is cut into KS parts (a number fixed
 *    by IN, not by the threads); threads split the parts, each part sums all
 *    images into its own partial [n][OUT] in the slot, and the partials are
 *    added in part order at the end. W (7.4 MB for fruit.cnn) is then read
 *    from memory once per call instead of once per thread.
 *  - backward: one pass over W in tiles of 16 rows, threads split the tiles.
 *    Per tile: dx for those 16 rows (the rows transposed into a small buffer,
 *    then dx[i][k..k+15] for 8 images at a time, one vector each over o),
 *    then their dW (KR rows x one o-tile in registers while the images go
 *    by, images in the batch's chunk tree). Layers with update_in_backward (large ones, see
 *    emit_dense_fuses_update) take the optimizer as an argument: with it, a
 *    tile's dW goes to a buffer in L1 and u->apply updates those rows at
 *    once, after their dx has read the old weights; the gradient never goes
 *    to memory, is never zeroed and never read back. Without it (plain
 *    backward), dW is added into g. */

/* What one register tile works on; the o-tile (width and first output) is
 * added by for_otiles. */
typedef struct tile_args {
    int rows;            /* images (forward) or rows of W (dW) */
    const char *row0;    /* expression of the first */
    const char *dst;     /* forward: where the sums go, [n][OUT] ("out" or "part") */
    const char *first;   /* forward: condition of the first k block, whose sums start at `start` */
    const char *start;   /* forward: "B0" (the bias) or "ZERO" */
    int prefetch;        /* forward: fetch what comes next (pw, pwn, px, pxn of fwd_image_tiles) */
} tile_args;

/* o-tiles: a rolled loop over full tiles, then the rest. */
static void for_otiles(cnnc_emitter *em, size_t out,
                       void (*body)(cnnc_emitter *, const tile_args *, int ot, const char *o0),
                       const tile_args *t)
{
    int ot = otile(out);
    size_t full = out / (size_t)ot, rest = out % (size_t)ot;
    if (full == 1) {
        em_open_block(em, "{");
        em_line(em, "const int o0 = 0;");
        body(em, t, ot, "o0");
        em_close_block(em, "}");
    } else if (full > 1) {
        em_open_block(em, "for (int ot = 0; ot < %zu; ot++) {", full);
        em_line(em, "const int o0 = ot * %d;", ot);
        body(em, t, ot, "o0");
        em_close_block(em, "}");
    }
    if (rest) {
        em_open_block(em, "{");
        em_line(em, "const int o0 = %zu;", full * (size_t)ot);
        body(em, t, (int)rest, "o0");
        em_close_block(em, "}");
    }
}

static int chunk_width(int width, int c)
{
    int w = width - c * VEC;
    return w < VEC ? w : VEC;
}

/* forward tile: t->rows images from t->row0, outputs [o0, o0 + ot), k in [k0, k1) */
static void fwd_tile(cnnc_emitter *em, const tile_args *t, int ot, const char *o0)
{
    int nv = (ot + VEC - 1) / VEC;
    for (int j = 0; j < t->rows; j++) {
        for (int c = 0; c < nv; c++)
            em_line(em, "cnn_real a%d_%d[%d];", j, c, chunk_width(ot, c));
        em_line(em, "cnn_real *restrict y%d = %s + (size_t)(%s + %d) * OUT + %s;", j, t->dst, t->row0, j, o0);
        em_line(em, "const cnn_real *restrict x%d = in + (size_t)(%s + %d) * IN;", j, t->row0, j);
    }
    em_open_block(em, "if (%s) {", t->first);
    for (int j = 0; j < t->rows; j++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] = %s(%s + %d + o);", j, c, t->start, o0, c * VEC);
        }
    em_close_block(em, "} else {");
    em->indent++;
    for (int j = 0; j < t->rows; j++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] = y%d[%d + o];", j, c, j, c * VEC);
        }
    em_close_block(em, "}");
    em_open_block(em, "for (int k = k0; k < k1; k++) {");
    em_line(em, "const cnn_real *restrict w = wgt + (size_t)k * OUT + %s;", o0);
    if (t->prefetch) {
        em_line(em, "if (k - k0 < pwn) /* a line of the next k-block's W */");
        em_line(em, "    CNN_PREFETCH(pw + (size_t)(k - k0) * 64, 0);");
        em_line(em, "if (k - k0 < pxn) /* a line of the next tile's x */");
        em_line(em, "    CNN_PREFETCH((const char *)(px + (size_t)((k - k0) / XL) * IN) + (size_t)((k - k0) %% XL) * 64, 0);");
    }
    for (int j = 0; j < t->rows; j++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real v = x%d[k];", j);
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] += v * w[%d + o];", j, c, c * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    for (int j = 0; j < t->rows; j++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", chunk_width(ot, c));
            em_line(em, "    y%d[%d + o] = a%d_%d[o];", j, c * VEC, j, c);
        }
}

/* In the k-parts forward, image block b of k-block [k0, k1) of part
 * [ks0, ks1): what comes next, to fetch a line per k while this block
 * computes. Its share (lines b * KB ..) of the next k-block's W (pw, pwn
 * lines), and the x of the next image block in this k-block, or of the
 * first one in the next k-block (px, pxn lines, XL per image; only for a
 * full k-block). The rows of W and the images' x (115 KB apart in fruit)
 * are streams that the hardware prefetcher does not keep up with. A line
 * per k spreads the fetches over the compute; fetching the whole next
 * block at the start of each image block gains nothing, as the burst
 * queues behind itself (docs/codegen.md, "Dense"). */
static void fwd_next_lines(cnnc_emitter *em)
{
    em_line(em, "/* fetched while this block computes: its share of the next k-block's W, the next tile's x */");
    em_line(em, "enum { XL = KB * sizeof(cnn_real) / 64 }; /* lines of x per image and k-block */");
    em_line(em, "const int nk = ks1 - k1 < KB ? ks1 - k1 : KB; /* rows of the next k-block */");
    em_line(em, "const int wl = (int)((size_t)nk * OUT * sizeof(cnn_real) / 64) - b * KB;");
    em_line(em, "const int pwn = wl < 0 ? 0 : wl < KB ? wl : KB;");
    em_line(em, "const char *pw = (const char *)(wgt + (size_t)k1 * OUT) + (size_t)(pwn ? b * KB : 0) * 64;");
    em_line(em, "const int ni = b + 1 < nblk ? (b + 1) * NB : 0, kn = b + 1 < nblk ? k0 : k1;");
    em_line(em, "const int nimg = n - ni < NB ? n - ni : NB;");
    em_line(em, "const int pxn = kn + KB <= ks1 ? nimg * XL : 0;");
    em_line(em, "const cnn_real *px = in + (size_t)ni * IN + (pxn ? kn : 0);");
}

/* The image tiles of one k block [k0, k1): full tiles of NB images, then
 * halves and single images for the last one; with `prefetch`, each fetches
 * what fwd_next_lines names. */
static void fwd_image_tiles(cnnc_emitter *em, const cnnc_plan_layer *L, const char *dst, const char *first,
                            const char *start, int prefetch)
{
    int nb = per_tile(L->out_size);
    em_line(em, "const int i0 = b * NB, i1 = i0 + NB < n ? i0 + NB : n;");
    if (prefetch)
        fwd_next_lines(em);
    em_open_block(em, "if (i1 - i0 == NB) {");
    tile_args t = {nb, "i0", dst, first, start, prefetch};
    for_otiles(em, L->out_size, fwd_tile, &t);
    em_close_block(em, "} else { /* the last, partial tile: halves, then single images */");
    em->indent++;
    em_line(em, "int i = i0;");
    if (nb / 2 > 1) {
        em_open_block(em, "for (; i + %d <= i1; i += %d) {", nb / 2, nb / 2);
        tile_args h = {nb / 2, "i", dst, first, start, prefetch};
        for_otiles(em, L->out_size, fwd_tile, &h);
        em_close_block(em, "}");
    }
    em_open_block(em, "for (; i < i1; i++) {");
    tile_args one = {1, "i", dst, first, start, prefetch};
    for_otiles(em, L->out_size, fwd_tile, &one);
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* The activation of image i's row yi, once its sums are complete. */
static void fwd_activation(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char e[256];
    if (L->act == CNN_ACT_SOFTMAX) {
        emit_softmax_row(em, "yi", "yi", "OUT");
    } else if (L->act != CNN_ACT_LINEAR) {
        emit_simd_block_if(em, emit_act_simd_ok(L->act), "o", "OUT");
        em_line(em, "const cnn_real z = yi[o];");
        em_line(em, "yi[o] = %s;", emit_act_expr(e, sizeof e, L->act, L->l->alpha, "z"));
        em_close_block(em, "}");
    }
}

static void dense_forward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char c[48];
    const cnn_layer *l = L->l;
    int ks = k_parts(L->in_size);
    em_function(em,
                "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out, %sint n)",
                L->fn, ks > 1 ? "cnn_real *restrict slot, " : "");
    emit_enums(em, L);
    em_line(em, "enum { NB = %d, KB = %d }; /* images per tile, rows of W per block */", per_tile(L->out_size),
            DENSE_KB);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [IN][OUT] */");
    if (l->bias) {
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
        em_line(em, "#define B0(o) bias[o]");
    } else {
        em_line(em, "#define B0(o) 0");
    }
    em_line(em, "const int nblk = (n + NB - 1) / NB;");
    if (ks == 1) {
        em_line(em, "OMP(parallel%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
        em_open_block(em, "for (int k0 = 0; k0 < IN; k0 += KB) {");
        em_line(em, "const int k1 = k0 + KB < IN ? k0 + KB : IN;");
        em_line(em, "OMP(for schedule(static) nowait)");
        em_open_block(em, "for (int b = 0; b < nblk; b++) {");
        fwd_image_tiles(em, L, "out", "k0 == 0", "B0", 0);
        if (L->act != CNN_ACT_LINEAR) {
            em_open_block(em, "if (k1 == IN) { /* the activation, once the sums are complete */");
            em_open_block(em, "for (int i = i0; i < i1; i++) {");
            em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT;");
            fwd_activation(em, L);
            em_close_block(em, "}");
            em_close_block(em, "}");
        }
        em_close_block(em, "} /* b */");
        em_close_block(em, "} /* k0 */");
    } else {
        size_t kp = ((L->in_size + (size_t)ks - 1) / (size_t)ks + 15) / 16 * 16;
        em_line(em, "enum { KS = %d, KP = %zu }; /* parts of the k range, rows per part */", ks, kp);
        em_line(em, "#define ZERO(o) 0");
        em_line(em, "/* each part sums every image over its rows into its partial [n][OUT] */");
        em_line(em, "OMP(parallel for schedule(static)%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
        em_open_block(em, "for (int s = 0; s < KS; s++) {");
        em_line(em, "const int ks0 = s * KP, ks1 = ks0 + KP < IN ? ks0 + KP : IN;");
        em_line(em, "cnn_real *restrict part = slot + (size_t)s * n * OUT;");
        em_open_block(em, "for (int k0 = ks0; k0 < ks1; k0 += KB) {");
        em_line(em, "const int k1 = k0 + KB < ks1 ? k0 + KB : ks1;");
        em_open_block(em, "for (int b = 0; b < nblk; b++) {");
        fwd_image_tiles(em, L, "part", "k0 == ks0", "ZERO", 1);
        em_close_block(em, "} /* b */");
        em_close_block(em, "} /* k0 */");
        em_close_block(em, "} /* s */");
        em_line(em, "#undef ZERO");
        em_line(em, "/* y = bias + the partials in part order, then the activation */");
        emit_image_loop_work(em, (size_t)ks * L->out_size);
        em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT;");
        emit_simd_block(em, "o", "OUT");
        em_line(em, "cnn_real y = B0(o);");
        em_line(em, "for (int s = 0; s < KS; s++)");
        em_line(em, "    y += slot[((size_t)s * n + i) * OUT + o];");
        em_line(em, "yi[o] = y;");
        em_close_block(em, "}");
        fwd_activation(em, L);
        em_close_block(em, "} /* i */");
    }
    em_line(em, "#undef B0");
    em_close_block(em, "}");
}

/* ---- one image (cnnc export) ----------------------------------------------
 *
 * The trainer's forward is built for batches (tiles of images that share
 * each row of W, a k range cut into parts for threads). An exported model
 * runs one image per call, and a large layer is then bound by reading W
 * (fruit.cnn's first dense layer: 7.4 MB per image). This kernel streams W
 * once, front to back, R consecutive rows per step, each row into its own
 * set of vector accumulators (R x OUT/16 independent FMA chains), and
 * prefetches DENSE_ONE_AHEAD floats ahead of the rows it reads; y = bias +
 * the R partial sums, in that order, then the activation. The AVX-512
 * kernel and its portable twin sum in the same order. */

#define DENSE_ONE_AHEAD 1024 /* floats: 4 KB ahead of the row being read */
#define DENSE_ONE_ACC 8      /* vector accumulators */

int emit_dense_one_applies(const cnnc_plan_layer *L)
{
    return L->l->kind == CNN_DENSE && L->out_size % VEC == 0 && L->out_size <= (size_t)VEC * DENSE_ONE_ACC &&
           L->in_size * L->out_size >= 65536;
}

void emit_dense_forward_one(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    int nv = (int)(L->out_size / VEC), r = DENSE_ONE_ACC / nv;
    if (r > 4)
        r = 4;
    int ahead = (int)((DENSE_ONE_AHEAD + L->out_size - 1) / L->out_size); /* rows */
    emit_layer_comment(em, pl, L, "forward, one image (cnnc export: emit_dense.c)");
    em_function(em,
                "static void %s_forward_one(const cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out)",
                L->fn);
    emit_enums(em, L);
    em_line(em, "enum { R = %d, AHEAD = %d }; /* rows per step; rows prefetched ahead */", r, ahead);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [IN][OUT] */");
    em_line(em, "cnn_real *restrict yi = out;");
    em_line(em, "const int kr = IN / R * R;");
    em_raw(em, "#if CNN_AVX512_FLOAT\n");
    for (int j = 0; j < r; j++)
        for (int c = 0; c < nv; c++)
            em_line(em, "__m512 a%d_%d = _mm512_setzero_ps();", j, c);
    em_open_block(em, "for (int k = 0; k < kr; k += R) {");
    em_line(em, "const cnn_real *restrict w = wgt + (size_t)k * OUT;");
    em_open_block(em, "if (k + R + AHEAD <= IN) {");
    em_line(em, "for (int q = 0; q < R * OUT; q += 16)");
    em_line(em, "    CNN_PREFETCH(w + (size_t)AHEAD * OUT + q, 0);");
    em_close_block(em, "}");
    for (int j = 0; j < r; j++) {
        em_open_block(em, "{");
        em_line(em, "const __m512 v = _mm512_set1_ps(in[k + %d]);", j);
        for (int c = 0; c < nv; c++)
            em_line(em, "a%d_%d = _mm512_fmadd_ps(v, _mm512_loadu_ps(w + %d * OUT + %d), a%d_%d);", j, c, j, c * VEC,
                    j, c);
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    em_open_block(em, "for (int k = kr; k < IN; k++) {");
    em_line(em, "const __m512 v = _mm512_set1_ps(in[k]);");
    for (int c = 0; c < nv; c++)
        em_line(em, "a0_%d = _mm512_fmadd_ps(v, _mm512_loadu_ps(wgt + (size_t)k * OUT + %d), a0_%d);", c, c * VEC, c);
    em_close_block(em, "}");
    for (int c = 0; c < nv; c++) { /* bias + a0 + a1 + ..., left to right */
        char sum[512];
        int k = 0;
        for (int j = 1; j < r; j++)
            k += snprintf(sum + k, sizeof sum - (size_t)k, "_mm512_add_ps(");
        if (l->bias)
            k += snprintf(sum + k, sizeof sum - (size_t)k, "_mm512_add_ps(_mm512_loadu_ps(p + B_OFF + %d), a0_%d)",
                          c * VEC, c);
        else
            k += snprintf(sum + k, sizeof sum - (size_t)k, "a0_%d", c);
        for (int j = 1; j < r; j++)
            k += snprintf(sum + k, sizeof sum - (size_t)k, ", a%d_%d)", j, c);
        em_line(em, "_mm512_storeu_ps(yi + %d, %s);", c * VEC, sum);
    }
    em_raw(em, "#else /* the portable twin, summing in the same order */\n");
    em_line(em, "cnn_real a[R][OUT];");
    em_line(em, "for (int j = 0; j < R; j++)");
    em_line(em, "    for (int o = 0; o < OUT; o++)");
    em_line(em, "        a[j][o] = 0;");
    em_open_block(em, "for (int k = 0; k < kr; k += R) {");
    em_line(em, "const cnn_real *restrict w = wgt + (size_t)k * OUT;");
    em_open_block(em, "if (k + R + AHEAD <= IN) {");
    em_line(em, "for (int q = 0; q < R * OUT; q += 16)");
    em_line(em, "    CNN_PREFETCH(w + (size_t)AHEAD * OUT + q, 0);");
    em_close_block(em, "}");
    em_open_block(em, "for (int j = 0; j < R; j++) {");
    em_line(em, "const cnn_real v = in[k + j];");
    emit_simd_for(em, "o", "OUT");
    em_line(em, "    a[j][o] += v * w[(size_t)j * OUT + o];");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_open_block(em, "for (int k = kr; k < IN; k++) {");
    em_line(em, "const cnn_real v = in[k];");
    emit_simd_for(em, "o", "OUT");
    em_line(em, "    a[0][o] += v * wgt[(size_t)k * OUT + o];");
    em_close_block(em, "}");
    emit_simd_block(em, "o", "OUT");
    em_line(em, l->bias ? "cnn_real y = p[B_OFF + o] + a[0][o];" : "cnn_real y = a[0][o];");
    em_line(em, "for (int j = 1; j < R; j++)");
    em_line(em, "    y += a[j][o];");
    em_line(em, "yi[o] = y;");
    em_close_block(em, "}");
    em_raw(em, "#endif\n");
    fwd_activation(em, L);
    em_close_block(em, "}");
    em_blank(em);
}

void emit_dense_forward_one_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *in, const char *out)
{
    em_line(em, "%s_forward_one(p, %s, %s);", L->fn, in, out);
}

/* dW tile: t->rows rows of W from k0 + t->row0, outputs [o0, o0 + ot): each
 * chunk of images in order from zero in registers, the chunks' sums in the
 * batch's tree (a stack of partial sums per level, on the stack), and the
 * root added to the rows of `gr` (the tile's rows in g, or the zeroed tile
 * buffer). */
static void dw_tile(cnnc_emitter *em, const tile_args *t, int ot, const char *o0)
{
    int nv = (ot + VEC - 1) / VEC;
    for (int r = 0; r < t->rows; r++) {
        em_line(em, "cnn_real *restrict g%d = gr + (size_t)(%s + %d) * OUT + %s;", r, t->row0, r, o0);
        for (int c = 0; c < nv; c++)
            em_line(em, "cnn_real a%d_%d[%d] = {0}, t%d_%d[CNN_TREE_LEVELS][%d];", r, c, chunk_width(ot, c), r,
                    c, chunk_width(ot, c));
    }
    em_line(em, "const cnn_part_state *ps = cnn_part();");
    em_line(em, "int ch = 0;");
    em_open_block(em, "do { /* each chunk (one at least) from zero, then the tree */");
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] = 0;", r, c);
        }
    em_open_block(em, "for (int i = ps->chunk[ch]; i < ps->chunk[ch + 1]; i++) {");
    em_line(em, "const cnn_real *restrict d = dz + (size_t)i * OUT + %s;", o0);
    em_line(em, "const cnn_real *restrict xr = in + (size_t)i * IN + k0 + %s;", t->row0);
    for (int r = 0; r < t->rows; r++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real v = xr[%d];", r);
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] += v * d[%d + o];", r, c, c * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    em_line(em, "int lv = 0;");
    em_open_block(em, "for (int m = ch; m & 1; m >>= 1, lv++) { /* a right child: its left sibling + it */");
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", chunk_width(ot, c));
            em_line(em, "    a%d_%d[o] = t%d_%d[lv][o] + a%d_%d[o];", r, c, r, c, r, c);
        }
    em_close_block(em, "}");
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", chunk_width(ot, c));
            em_line(em, "    t%d_%d[lv][o] = a%d_%d[o];", r, c, r, c);
        }
    em_close_block(em, "} while (++ch < ps->n_chunks);");
    em_line(em, "/* the last chunk closed every level: a holds the root */");
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", chunk_width(ot, c));
            em_line(em, "    g%d[%d + o] += a%d_%d[o];", r, c * VEC, r, c);
        }
}

/* dx for `count` images from i: one 16-wide accumulator each, over o */
static void emit_dx_tile(cnnc_emitter *em, int count)
{
    for (int j = 0; j < count; j++) {
        em_line(em, "cnn_real a%d[16];", j);
        em_line(em, "const cnn_real *restrict d%d = dz + (size_t)(i + %d) * OUT;", j, j);
        emit_simd_for(em, "r", "16");
        em_line(em, "    a%d[r] = 0;", j);
    }
    /* the dz values first, then the row of wt through a restrict pointer:
     * written as a%d[r] += d%d[o] * wt[o][r], gcc keeps a%d on the stack */
    em_open_block(em, "for (int o = 0; o < OUT; o++) {");
    for (int j = 0; j < count; j++)
        em_line(em, "const cnn_real v%d = d%d[o];", j, j);
    em_line(em, "const cnn_real *restrict w = wt[o];");
    for (int j = 0; j < count; j++) {
        emit_simd_for(em, "r", "16");
        em_line(em, "    a%d[r] += v%d * w[r];", j, j);
    }
    em_close_block(em, "}");
    /* Only constant-bound loops touch the accumulators: an access with a
     * variable index (r < kn) makes gcc keep the arrays on the stack, and
     * every FMA then loads and stores its accumulator. */
    em_open_block(em, "if (kn == 16) {");
    for (int j = 0; j < count; j++) {
        emit_simd_for(em, "r", "16");
        em_line(em, "    dx[(size_t)(i + %d) * IN + k0 + r] = a%d[r];", j, j);
    }
    em_close_block(em, "} else {");
    em->indent++;
    em_line(em, "cnn_real tail[16];");
    for (int j = 0; j < count; j++) {
        emit_simd_for(em, "r", "16");
        em_line(em, "    tail[r] = a%d[r];", j);
        em_line(em, "for (int r = 0; r < kn; r++)");
        em_line(em, "    dx[(size_t)(i + %d) * IN + k0 + r] = tail[r];", j);
    }
    em_close_block(em, "}");
}

/* In the tiled backward of a large layer, tile t prefetches the lines that
 * tile t + 1 reads: its rows of W (and with u, of the optimizer's state;
 * without, of the gradient it adds into), and its 16 columns of x and dx in
 * every image. These are strided (one line per image, 115 KB apart for
 * fruit.cnn) or in memory the step before left (m and v), so the hardware
 * prefetchers do not see them coming. The prefetches are spread over the
 * tile's work in `nq` parts, part `q` at a time: over its dx image blocks,
 * or over its dW row blocks in a layer without dx (the two placements cost
 * the same where both apply). */
static void emit_prefetch_next_tile(cnnc_emitter *em, const cnnc_plan_layer *L, const char *q, const char *nq)
{
    size_t tiles = (L->in_size + 15) / 16;
    em_open_block(em, "if (t + 1 < %zu) { /* part %s of %s of tile t + 1's lines: rows q, q + nq, ..., images likewise */",
                  tiles, q, nq);
    em_line(em, "const int q = %s, nq = %s;", q, nq);
    em_line(em, "const int k1 = k0 + 16, rows = IN - k1 < 16 ? IN - k1 : 16;");
    em_open_block(em, "for (int r = q; r < rows; r += nq) {");
    em_line(em, "const size_t at = (size_t)(k1 + r) * OUT;");
    em_line(em, "for (size_t b = 0; b < OUT * sizeof(cnn_real); b += 64)");
    em_line(em, "    CNN_PREFETCH((const char *)(wgt + at) + b, %d);", L->fuse_update ? 1 : 0);
    if (L->fuse_update) {
        em_open_block(em, "if (u) { /* the optimizer's state */");
        em_line(em, "for (int s = 0; s < 2; s++)");
        em_line(em, "    for (size_t b = 0; u->state[s] && b < OUT * sizeof(float); b += 64)");
        em_line(em, "        CNN_PREFETCH((const char *)(u->state[s] + W_OFF + at) + b, 1);");
        em_close_block(em, "} else {");
        em->indent++;
    }
    em_line(em, "for (size_t b = 0; b < OUT * sizeof(cnn_real); b += 64)");
    em_line(em, "    CNN_PREFETCH((const char *)(gw + at) + b, 1);");
    if (L->fuse_update)
        em_close_block(em, "}");
    em_close_block(em, "}");
    em_open_block(em, "for (int j = q; j < n; j += nq) {");
    em_line(em, "CNN_PREFETCH(in + (size_t)j * IN + k1, 0);");
    if (L->needs_dx)
        em_line(em, "CNN_PREFETCH(dx + (size_t)j * IN + k1, 1);");
    em_close_block(em, "}");
    em_close_block(em, "}");
}

static void dense_backward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char c[48];
    int kr = dw_rows(L->out_size);
    int tiled_dx = L->needs_dx && L->out_size <= DX_MAX_OUT;
    int tiles = L->fuse_update || tiled_dx; /* one pass over W in 16-row tiles */
    int prefetch = L->in_size * L->out_size >= DENSE_FUSE_MIN;
    backward_signature(em, L);
    emit_enums(em, L);
    emit_dz(em, L);
    em_line(em, "const cnn_real *wgt = p + W_OFF;%s",
            L->fuse_update ? " /* not restrict: u updates the weights */" : "");
    em_line(em, "cnn_real *restrict gw = g + W_OFF;");
    if (tiles) {
        em_line(em, "/* W in tiles of 16 rows, threads split the tiles:%s dW of the rows%s */",
                L->needs_dx ? " dx of the rows (old weights)," : "",
                L->fuse_update ? ", then with u their update from the dW tile in L1" : "");
        em_line(em, "OMP(parallel for schedule(static)%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
        em_open_block(em, "for (int t = 0; t < %zu; t++) {", (L->in_size + 15) / 16);
        em_line(em, "const int k0 = t * 16, kn = IN - k0 < 16 ? IN - k0 : 16;");
        if (!L->needs_dx)
            em_line(em, "(void)wgt;");
        if (L->needs_dx) {
            em_open_block(em, "{ /* dx[i][k0 .. k0 + 15] = dz_i W^T, %d (then 4, 1) images at a time */", DX_NB);
            em_line(em, "cnn_real wt[OUT][16]; /* rows k0.. of W, transposed; zero past the last row */");
            int avx = L->out_size % 16 == 0; /* whole 16x16 blocks; the scalar loops are then the #else */
            if (avx) {
                /* the scalar transpose is 1,024 loads and stores a tile;
                 * four 16x16 register transposes instead (docs/codegen.md,
                 * "Dense") */
                em_raw(em, "#if CNN_AVX512_FLOAT\n");
                em_open_block(em, "if (kn == 16) { /* 16x16 blocks through registers */");
                em_open_block(em, "for (int ob = 0; ob < OUT; ob += 16) {");
                em_line(em, "__m512 r[16];");
                em_line(em, "for (int q = 0; q < 16; q++)");
                em_line(em, "    r[q] = _mm512_loadu_ps(wgt + (size_t)(k0 + q) * OUT + ob);");
                em_line(em, "cnn_transpose16_ps(r);");
                em_line(em, "for (int q = 0; q < 16; q++)");
                em_line(em, "    _mm512_storeu_ps(wt[ob + q], r[q]);");
                em_close_block(em, "}");
                em_close_block(em, "} else");
                em_raw(em, "#endif /* CNN_AVX512_FLOAT */\n");
            }
            if (avx)
                em_open_block(em, "{");
            em_line(em, "for (int r = 0; r < kn; r++)");
            em_line(em, "    for (int o = 0; o < OUT; o++)");
            em_line(em, "        wt[o][r] = wgt[(size_t)(k0 + r) * OUT + o];");
            em_line(em, "for (int r = kn; r < 16; r++)");
            em_line(em, "    for (int o = 0; o < OUT; o++)");
            em_line(em, "        wt[o][r] = 0;");
            if (avx)
                em_close_block(em, "}");
            em_line(em, "int i = 0;");
            for (int tier = DX_NB; tier >= 1; tier /= 2) {
                if (tier == 2)
                    continue;
                em_open_block(em, "for (; i + %d <= n; i += %d) {", tier, tier);
                if (tier == DX_NB && prefetch) {
                    char q[16], nq[16];
                    snprintf(q, sizeof q, "i / %d", DX_NB);
                    snprintf(nq, sizeof nq, "n / %d", DX_NB);
                    emit_prefetch_next_tile(em, L, q, nq);
                }
                emit_dx_tile(em, tier);
                em_close_block(em, "}");
            }
            em_close_block(em, "}");
        }
        if (L->fuse_update) {
            em_line(em, "cnn_real tile[16 * OUT]; /* with u: this batch's dW of rows k0.. */");
            em_line(em, "cnn_real *restrict gr = u ? tile : gw + (size_t)k0 * OUT;");
            em_line(em, "if (u)");
            em_line(em, "    memset(tile, 0, sizeof tile);");
        } else {
            em_line(em, "cnn_real *restrict gr = gw + (size_t)k0 * OUT;");
        }
        em_line(em, "int r0 = 0;");
        em_open_block(em, "for (; r0 + %d <= kn; r0 += %d) {", kr, kr);
        if (prefetch && !L->needs_dx) {
            char q[32], nq[16];
            snprintf(q, sizeof q, "r0 / %d", kr);
            snprintf(nq, sizeof nq, "%d", 16 / kr);
            emit_prefetch_next_tile(em, L, q, nq);
        }
        tile_args t = {kr, "r0", NULL, NULL, NULL, 0};
        for_otiles(em, L->out_size, dw_tile, &t);
        em_close_block(em, "}");
        if (kr > 1) {
            em_open_block(em, "for (; r0 < kn; r0++) {");
            tile_args one = {1, "r0", NULL, NULL, NULL, 0};
            for_otiles(em, L->out_size, dw_tile, &one);
            em_close_block(em, "}");
        }
        if (L->fuse_update) {
            em_line(em, "if (u)");
            em_line(em, "    u->apply(u, W_OFF + (size_t)k0 * OUT, (size_t)kn * OUT, tile);");
        }
        em_close_block(em, "} /* t */");
        emit_db(em, L);
    } else {
        /* dW alone (no dx, or OUT too wide for the stack tiles) */
        em_line(em, "/* dW: tiles of %d rows, threads split the rows */", kr);
        em_line(em, "OMP(parallel for schedule(static)%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
        em_open_block(em, "for (int t = 0; t < %zu; t++) {", (L->in_size + (size_t)kr - 1) / (size_t)kr);
        em_line(em, "const int k0 = t * %d, kn = IN - k0 < %d ? IN - k0 : %d;", kr, kr, kr);
        em_line(em, "cnn_real *restrict gr = gw + (size_t)k0 * OUT;");
        em_open_block(em, "if (kn == %d) {", kr);
        tile_args t = {kr, "0", NULL, NULL, NULL, 0};
        for_otiles(em, L->out_size, dw_tile, &t);
        em_close_block(em, "} else {");
        em->indent++;
        em_open_block(em, "for (int r0 = 0; r0 < kn; r0++) {");
        tile_args one = {1, "r0", NULL, NULL, NULL, 0};
        for_otiles(em, L->out_size, dw_tile, &one);
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_close_block(em, "}");
        emit_db(em, L);
        if (L->needs_dx) {
            em_line(em, "/* dx = dz W^T */");
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
            em_line(em, "(void)wgt;");
        }
    }
    em_close_block(em, "}");
}

/* ---- both paths ---------------------------------------------------------- */

static void dense_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "forward");
    em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    dense_forward_fast(em, L);
    em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
    dense_forward_ref(em, L);
    em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_blank(em);
}

/* A frozen dense layer's backward (run only when a layer below trains):
 * dz, then dx = dz W^T; no weight gradient. One path for both builds. */
static void dense_backward_frozen(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    backward_signature(em, L);
    emit_enums(em, L);
    em_line(em, "(void)g; /* frozen: no weight gradient */");
    em_line(em, "(void)in;");
    emit_dz(em, L);
    emit_dx_plain(em, L, "restrict ");
    em_close_block(em, "}");
}

static void dense_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "backward");
    if (!L->has_params) {
        dense_backward_frozen(em, L);
        em_blank(em);
        return;
    }
    em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    dense_backward_fast(em, L);
    em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
    dense_backward_ref(em, L);
    em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_blank(em);
}

const cnnc_layer_emitter emit_dense_layer = {
    dense_forward, dense_forward_call, dense_backward, dense_backward_call,
};
