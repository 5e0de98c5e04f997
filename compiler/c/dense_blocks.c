/* dense_blocks.c: the building blocks of the dense layer's kernels, shared
 * by the plain path (emit_dense.c), the fast forward and backward
 * (emit_dense_forward.c, emit_dense_backward.c) and the one-image export
 * kernel (emit_dense_one.c): the tile geometry, the enums and signature,
 * dz, db and the activation; and what the plan asks of them. */
#include "dense_blocks.h"

#include <stdio.h>

#include "emit_activation.h"
#include "emit_util.h"

void dense_emit_enums(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_line(em, "enum { IN = %zu, OUT = %zu, W_OFF = %zu };", L->in_size, L->out_size, L->t_off[0]);
    if (L->l->bias)
        em_line(em, "enum { B_OFF = %zu };", L->t_off[1]);
}

/* Accumulator vectors a tile keeps (of 32 registers), outputs per o-tile,
 * and the k range's parts in forward. */
#define DENSE_ACC 20
#define DENSE_OT 64   /* outputs per o-tile: 4 vectors */
#define DENSE_PART_ROWS 1024 /* forward: rows of W per part at least */
#define DENSE_MAX_PARTS 16

static int dense_otile(size_t out)
{
    return out < DENSE_OT ? (int)out : DENSE_OT;
}

/* Rows (images, or rows of W) per tile: as many as the accumulators allow,
 * at most 8 (more buys nothing once the FMA pipes are full). */
int dense_per_tile(size_t out)
{
    int v = (dense_otile(out) + 15) / 16;
    int r = DENSE_ACC / v;
    return r < 1 ? 1 : r > 8 ? 8 : r;
}

/* Rows of W per dW tile in backward: a power of two, so that they divide
 * the 16-row tiles. */
int dense_dw_rows(size_t out)
{
    int r = 1;
    while (2 * r <= dense_per_tile(out))
        r *= 2;
    return r;
}

/* Parts of the k range in forward (1: the image-tiled scheme). */
int dense_k_parts(size_t in)
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
    int ks = dense_k_parts(in);
    return ks > 1 ? (size_t)ks * out : 0;
}

/* The signature of a dense backward, both paths: with update_in_backward the
 * optimizer comes as `u` (NULL: plain backward), and p is not restrict
 * because u writes the weights through the runtime. */
void dense_backward_signature(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_function(em,
                "static void %s_backward(const cnn_real *%sp, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, cnn_real *restrict dy, "
                "%sint n%s)",
                L->fn, L->fuse_update ? "" : "restrict ", L->needs_dx ? "cnn_real *restrict dx, " : "",
                L->fuse_update ? ", const cnn_update *u" : "");
}

/* dz = dy * act'(y), in place, or nothing for a linear layer */
void dense_emit_dz(cnnc_emitter *em, const cnnc_plan_layer *L)
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

void dense_emit_db(cnnc_emitter *em, const cnnc_plan_layer *L)
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

/* dx = dz W^T, image by image, each dx[k] summing over o in order; wgt is
 * declared by the caller. */
void dense_emit_dx_rows(cnnc_emitter *em, const cnnc_plan_layer *L)
{
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

/* o-tiles: a rolled loop over full tiles, then the rest. */
void dense_for_otiles(cnnc_emitter *em, size_t out,
                      void (*body)(cnnc_emitter *, const tile_args *, int ot, const char *o0),
                      const tile_args *t)
{
    int ot = dense_otile(out);
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

/* The activation of image i's row yi, once its sums are complete. */
void dense_emit_activation(cnnc_emitter *em, const cnnc_plan_layer *L)
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
