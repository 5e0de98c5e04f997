/* emit_dense_backward.c: the dense layer's fast backward (the plain one,
 * its oracle, is in emit_dense.c).
 *
 * One pass over W in tiles of 16 rows, threads split the tiles. Per tile:
 * dx for those 16 rows (the rows transposed into a small buffer, then
 * dx[i][k..k+15] for 8 images at a time, one vector each over o), then
 * their dW (KR rows x one o-tile in registers while the images go by,
 * images in the batch's chunk tree). Layers with update_in_backward (large
 * ones, see emit_dense_fuses_update) take the optimizer as an argument:
 * with it, a tile's dW goes to a buffer in L1 and u->apply updates those
 * rows at once, after their dx has read the old weights; the gradient
 * never goes to memory, is never zeroed and never read back. Without it
 * (plain backward), dW is added into g. Every sum runs in an order fixed
 * by the shapes alone, so threads never change a result. */
#include "emit_dense_backward.h"

#include <stdio.h>
#include <string.h>

#include "dense_blocks.h"
#include "emit_util.h"

#define DX_NB 8       /* images per dx tile (then 4, then 1) */
/* images summed in registers per group where every chunk is one image: 4
 * and 8 measure alike on fruit.cnn, 2 is slower (docs/codegen.md, "Dense").
 * Fewer chunks than a group, or a count that is not a multiple of it (2
 * chunks of one image: a batch of 2, or 32 split over 16 processes), take
 * the generic loop. */
#define DW_GROUP 4

/* The sum of leaves [j, j + count) of a group, left + right level by
 * level, into buf; a leaf is 0 + v_j d_j (image i + j's product). */
static void leaf_tree(char *buf, size_t size, int j, int count, int c)
{
    size_t len = strlen(buf);
    if (count == 1) {
        snprintf(buf + len, size - len, "((cnn_real)0 + v%d * d[%d * OUT + %d + o])", j, j, c * VEC);
        return;
    }
    snprintf(buf + len, size - len, "(");
    leaf_tree(buf, size, j, count / 2, c);
    len = strlen(buf);
    snprintf(buf + len, size - len, " + ");
    leaf_tree(buf, size, j + count / 2, count / 2, c);
    len = strlen(buf);
    snprintf(buf + len, size - len, ")");
}

/* The chunk tree of rows [r_lo, r_hi) of the tile when every chunk is one
 * image (a full batch whose size is its chunk count, as the trainer's 32
 * is): each group of DW_GROUP leaves (aligned) is summed in
 * registers, left + right, and its root goes into the stack at level
 * log2(DW_GROUP). That is the generic loop's arithmetic, bit for bit (a leaf is
 * 0 + v d in both, so a -0 product is +0 in both; tree_unit_NAME holds it),
 * without the generic loop's stack store and reload of every leaf, which
 * were most of a dense layer's dW at one image a chunk. */
static void dw_group(cnnc_emitter *em, const tile_args *t, int nv, int ot, const char *o0, int r_lo, int r_hi)
{
    const int g = DW_GROUP;
    int level = 0;
    while ((1 << level) < g)
        level++;
    em_open_block(em, "for (int ch = 0; ch < ps->n_chunks; ch += %d) {", g);
    em_line(em, "const int i = ps->chunk[ch];");
    em_line(em, "const cnn_real *restrict xr = in + (size_t)i * IN + k0 + %s;", t->row0);
    em_line(em, "const cnn_real *restrict d = dz + (size_t)i * OUT + %s;", o0);
    for (int r = r_lo; r < r_hi; r++) {
        em_open_block(em, "{");
        for (int j = 0; j < g; j++)
            em_line(em, "const cnn_real v%d = xr[%d * IN + %d];", j, j, r);
        for (int c = 0; c < nv; c++) {
            char expr[2048] = "";
            leaf_tree(expr, sizeof expr, 0, g, c);
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
            em_line(em, "    a%d_%d[o] = %s;", r, c, expr);
        }
        em_close_block(em, "}");
    }
    em_line(em, "int lv = %d;", level);
    em_open_block(em, "for (int m = ch >> %d; m & 1; m >>= 1, lv++) { /* a right child: its left sibling + it */", level);
    for (int r = r_lo; r < r_hi; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
            em_line(em, "    a%d_%d[o] = t%d_%d[lv][o] + a%d_%d[o];", r, c, r, c, r, c);
        }
    em_close_block(em, "}");
    for (int r = r_lo; r < r_hi; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
            em_line(em, "    t%d_%d[lv][o] = a%d_%d[o];", r, c, r, c);
        }
    em_close_block(em, "}");
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
            em_line(em, "cnn_real a%d_%d[%d] = {0}, t%d_%d[CNN_TREE_LEVELS][%d];", r, c, vec_width(ot, c), r,
                    c, vec_width(ot, c));
    }
    em_line(em, "const cnn_part_state *ps = cnn_part();");
    em_open_block(em, "if (ps->unit && ps->n_chunks %% %d == 0) { /* one image a chunk: the tree's lowest levels in registers */", DW_GROUP);
    /* a group's partial sums hold about DW_GROUP / 2 accumulator sets at
     * once: a pass takes 2 / DW_GROUP of the rows, so they stay in registers */
    int part = t->rows * 2 / DW_GROUP < 1 ? 1 : t->rows * 2 / DW_GROUP;
    for (int r = 0; r < t->rows; r += part)
        dw_group(em, t, nv, ot, o0, r, r + part);
    em_close_block(em, "} else {");
    em->indent++;
    em_line(em, "int ch = 0;");
    em_open_block(em, "do { /* each chunk (one at least) from zero, then the tree */");
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
            em_line(em, "    a%d_%d[o] = 0;", r, c);
        }
    em_open_block(em, "for (int i = ps->chunk[ch]; i < ps->chunk[ch + 1]; i++) {");
    em_line(em, "const cnn_real *restrict d = dz + (size_t)i * OUT + %s;", o0);
    em_line(em, "const cnn_real *restrict xr = in + (size_t)i * IN + k0 + %s;", t->row0);
    for (int r = 0; r < t->rows; r++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real v = xr[%d];", r);
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
            em_line(em, "    a%d_%d[o] += v * d[%d + o];", r, c, c * VEC);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    em_line(em, "int lv = 0;");
    em_open_block(em, "for (int m = ch; m & 1; m >>= 1, lv++) { /* a right child: its left sibling + it */");
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
            em_line(em, "    a%d_%d[o] = t%d_%d[lv][o] + a%d_%d[o];", r, c, r, c, r, c);
        }
    em_close_block(em, "}");
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
            em_line(em, "    t%d_%d[lv][o] = a%d_%d[o];", r, c, r, c);
        }
    em_close_block(em, "} while (++ch < ps->n_chunks);");
    em_close_block(em, "}");
    em_line(em, "/* the last chunk closed every level: a holds the root */");
    for (int r = 0; r < t->rows; r++)
        for (int c = 0; c < nv; c++) {
            emit_simd_for(em, "o", "%d", vec_width(ot, c));
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

void dense_emit_backward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char c[48];
    int kr = dense_dw_rows(L->out_size);
    int tiled_dx = L->needs_dx && L->out_size <= DX_MAX_OUT;
    int tiles = L->fuse_update || tiled_dx; /* one pass over W in 16-row tiles */
    int prefetch = L->in_size * L->out_size >= DENSE_FUSE_MIN;
    dense_backward_signature(em, L);
    dense_emit_enums(em, L);
    dense_emit_dz(em, L);
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
        dense_for_otiles(em, L->out_size, dw_tile, &t);
        em_close_block(em, "}");
        if (kr > 1) {
            em_open_block(em, "for (; r0 < kn; r0++) {");
            tile_args one = {1, "r0", NULL, NULL, NULL, 0};
            dense_for_otiles(em, L->out_size, dw_tile, &one);
            em_close_block(em, "}");
        }
        if (L->fuse_update) {
            em_line(em, "if (u)");
            em_line(em, "    u->apply(u, W_OFF + (size_t)k0 * OUT, (size_t)kn * OUT, tile);");
        }
        em_close_block(em, "} /* t */");
        dense_emit_db(em, L);
    } else {
        /* dW alone (no dx, or OUT too wide for the stack tiles) */
        em_line(em, "/* dW: tiles of %d rows, threads split the rows */", kr);
        em_line(em, "OMP(parallel for schedule(static)%s)", emit_par_if(c, sizeof c, L->in_size * L->out_size));
        em_open_block(em, "for (int t = 0; t < %zu; t++) {", (L->in_size + (size_t)kr - 1) / (size_t)kr);
        em_line(em, "const int k0 = t * %d, kn = IN - k0 < %d ? IN - k0 : %d;", kr, kr, kr);
        em_line(em, "cnn_real *restrict gr = gw + (size_t)k0 * OUT;");
        em_open_block(em, "if (kn == %d) {", kr);
        tile_args t = {kr, "0", NULL, NULL, NULL, 0};
        dense_for_otiles(em, L->out_size, dw_tile, &t);
        em_close_block(em, "} else {");
        em->indent++;
        em_open_block(em, "for (int r0 = 0; r0 < kn; r0++) {");
        tile_args one = {1, "r0", NULL, NULL, NULL, 0};
        dense_for_otiles(em, L->out_size, dw_tile, &one);
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_close_block(em, "}");
        dense_emit_db(em, L);
        if (L->needs_dx) {
            em_line(em, "/* dx = dz W^T */");
            dense_emit_dx_rows(em, L);
        } else {
            em_line(em, "(void)wgt;");
        }
    }
    em_close_block(em, "}");
}
