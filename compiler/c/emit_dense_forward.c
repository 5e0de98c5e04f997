/* emit_dense_forward.c: the dense layer's fast forward (the plain one, its
 * oracle, is in emit_dense.c).
 *
 * Register blocking like conv2d's (16-float vectors, about 20 vector
 * accumulators); every sum runs in an order fixed by the shapes alone, so
 * threads never change a result.
 *  - small layers (fewer than 2 * DENSE_PART_ROWS inputs): tiles of NB
 *    images x one o-tile (up to 64 outputs) of accumulators; each weight
 *    row is loaded once per tile and broadcast inputs of NB images hit it.
 *    The k range is cut into blocks of KB rows (a KB x OUT slab of W stays
 *    in L1), each thread runs its own images through every block, and every
 *    output is summed over k in ascending order as the plain loop does.
 *  - large layers: the k range is cut into KS parts (a number fixed by IN,
 *    not by the threads); threads split the parts, each part sums all
 *    images into its own partial [n][OUT] in the slot, and the partials are
 *    added in part order at the end. W (7.4 MB for fruit.cnn) is then read
 *    from memory once per call instead of once per thread. */
#include "emit_dense_forward.h"

#include <stdio.h>

#include "dense_blocks.h"
#include "emit_util.h"

#define DENSE_KB 128 /* rows of W per k block in forward: a 32 KB slab for 64 outputs, which stays in L1; 64 rows are slower */

/* forward tile: t->rows images from t->row0, outputs [o0, o0 + ot), k in [k0, k1) */
static void fwd_tile(cnnc_emitter *em, const tile_args *t, int ot, const char *o0)
{
    int nv = (ot + VEC - 1) / VEC;
    for (int j = 0; j < t->rows; j++) {
        for (int c = 0; c < nv; c++)
            em_line(em, "cnn_real a%d_%d[%d];", j, c, vec_width(ot, c));
        em_line(em, "cnn_real *restrict y%d = %s + (size_t)(%s + %d) * OUT + %s;", j, t->dst, t->row0, j, o0);
        em_line(em, "const cnn_real *restrict x%d = in + (size_t)(%s + %d) * IN;", j, t->row0, j);
    }
    em_open_block(em, "if (%s) {", t->first);
    for (int j = 0; j < t->rows; j++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
            em_line(em, "    a%d_%d[o] = %s(%s + %d + o);", j, c, t->start, o0, c * VEC);
        }
    em_close_block(em, "} else {");
    em->indent++;
    for (int j = 0; j < t->rows; j++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
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
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
            em_line(em, "    a%d_%d[o] += v * w[%d + o];", j, c, c * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    for (int j = 0; j < t->rows; j++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
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
    int nb = dense_per_tile(L->out_size);
    em_line(em, "const int i0 = b * NB, i1 = i0 + NB < n ? i0 + NB : n;");
    if (prefetch)
        fwd_next_lines(em);
    em_open_block(em, "if (i1 - i0 == NB) {");
    tile_args t = {nb, "i0", dst, first, start, prefetch};
    dense_for_otiles(em, L->out_size, fwd_tile, &t);
    em_close_block(em, "} else { /* the last, partial tile: halves, then single images */");
    em->indent++;
    em_line(em, "int i = i0;");
    if (nb / 2 > 1) {
        em_open_block(em, "for (; i + %d <= i1; i += %d) {", nb / 2, nb / 2);
        tile_args h = {nb / 2, "i", dst, first, start, prefetch};
        dense_for_otiles(em, L->out_size, fwd_tile, &h);
        em_close_block(em, "}");
    }
    em_open_block(em, "for (; i < i1; i++) {");
    tile_args one = {1, "i", dst, first, start, prefetch};
    dense_for_otiles(em, L->out_size, fwd_tile, &one);
    em_close_block(em, "}");
    em_close_block(em, "}");
}

void dense_emit_forward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char c[48];
    const cnn_layer *l = L->l;
    int ks = dense_k_parts(L->in_size);
    em_function(em,
                "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out, %sint n)",
                L->fn, ks > 1 ? "cnn_real *restrict slot, " : "");
    dense_emit_enums(em, L);
    em_line(em, "enum { NB = %d, KB = %d }; /* images per tile, rows of W per block */", dense_per_tile(L->out_size),
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
            dense_emit_activation(em, L);
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
        dense_emit_activation(em, L);
        em_close_block(em, "} /* i */");
    }
    em_line(em, "#undef B0");
    em_close_block(em, "}");
}
