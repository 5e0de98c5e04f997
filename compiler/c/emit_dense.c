/* emit_dense.c: fully connected layers, kernel [in][out] in memory.
 *
 * The layer's emitter: both twins of each pass, the fast kernels
 * (emit_dense_forward.c, emit_dense_backward.c) and under
 * CNN_REFERENCE_KERNELS the plain path, their oracle, which is here.
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

#include "dense_blocks.h"
#include "emit_activation.h"
#include "emit_dense_backward.h"
#include "emit_dense_forward.h"
#include "emit_layers.h"
#include "emit_util.h"

/* dx = dz W^T, image by image, each dx[k] summing over o in order: the
 * plain backward's and a frozen layer's (qual: "restrict " unless the fused
 * update rewrites W in the same function). */
static void emit_dx_plain(cnnc_emitter *em, const cnnc_plan_layer *L, const char *qual)
{
    em_line(em, "/* dx = dz W^T */");
    em_line(em, "const cnn_real *%swgt = p + W_OFF;", qual);
    dense_emit_dx_rows(em, L);
}

static void dense_forward_ref(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    em_function(em,
                "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out, %sint n)",
                L->fn, dense_k_parts(L->in_size) > 1 ? "cnn_real *restrict slot, " : "");
    dense_emit_enums(em, L);
    if (dense_k_parts(L->in_size) > 1)
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
    dense_emit_activation(em, L);
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
}

static void dense_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                               const cnnc_args *a)
{
    (void)pl;
    if (dense_k_parts(L->in_size) > 1)
        em_line(em, "%s_forward(p, %s, %s, slot, n);", L->fn, a->in, a->out);
    else
        em_line(em, "%s_forward(p, %s, %s, n);", L->fn, a->in, a->out);
}

static void dense_backward_ref(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    char c[48];
    dense_backward_signature(em, L);
    dense_emit_enums(em, L);
    dense_emit_dz(em, L);
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
    dense_emit_db(em, L);
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

/* ---- both paths ---------------------------------------------------------- */

static void dense_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "forward");
    em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    dense_emit_forward_fast(em, L);
    em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
    dense_forward_ref(em, L);
    em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_blank(em);
}

/* A frozen dense layer's backward (run only when a layer below trains):
 * dz, then dx = dz W^T; no weight gradient. One path for both builds. */
static void dense_backward_frozen(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    dense_backward_signature(em, L);
    dense_emit_enums(em, L);
    em_line(em, "(void)g; /* frozen: no weight gradient */");
    em_line(em, "(void)in;");
    dense_emit_dz(em, L);
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
    dense_emit_backward_fast(em, L);
    em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
    dense_backward_ref(em, L);
    em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_blank(em);
}

const cnnc_layer_emitter emit_dense_layer = {
    dense_forward, dense_forward_call, dense_backward, dense_backward_call,
};
