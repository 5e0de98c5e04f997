/* emit_conv_pool.c: conv2d + activation + maxpool as one pass, forward and
 * backward, in the fast kernels: the pair's two entry points.
 *
 * Why: a conv's output before a pool is the largest tensor of a small CNN
 * (fruit's first conv: 1 MB per image). Unfused, forward writes it and the
 * pool reads it; backward the pool reads it again to find each window's
 * maximum and writes a dz of the same size, which the conv reads twice more
 * (activation gradient, then weight gradient). Fused, that tensor never
 * leaves the cache: the forward (emit_conv_pool_forward.c) pools the conv
 * rows under each row of windows while they are in registers or L1, and
 * keeps only each window's argmax, in the conv's own activation slot; the
 * backward (emit_conv_pool_backward.c) sends the pooled gradient through
 * those argmax positions.
 *
 * Under CNN_REFERENCE_KERNELS the same two entry points run the plain conv
 * and pool functions one after the other: the oracle the gradient checks and
 * parity tests hold the fused path to. */
#include "emit_conv_pool.h"

#include "emit_conv_pool_backward.h"
#include "emit_conv_pool_forward.h"

void emit_conv_pool_fast(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                         const cnnc_plan_layer *pool, int backward)
{
    (void)pl;
    em_line(em, "/* fused with %s (emit_conv_pool.c): the conv output stays in cache */", pool->l->name);
    if (backward)
        conv_pool_emit_backward(em, conv, pool);
    else
        conv_pool_emit_forward(em, conv, pool);
}

void emit_conv_pool_oracle(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                           const cnnc_plan_layer *pool)
{
    (void)pl;
    em_line(em, "/* %s + %s with the plain kernels: one after the other (the oracle of the",
            conv->l->name, pool->l->name);
    em_line(em, " * fused fast path) */");
    conv_pool_emit_forward_head(em, conv);
    if (conv->wino)
        em_line(em, "(void)wino; /* Winograd's U: the fast path's */");
    em_line(em, "(void)training;");
    em_line(em, "%s_forward(p, in, out, pad, n);", conv->fn);
    em_line(em, "%s_forward(out, pooled, n);", pool->fn);
    em_close_block(em, "}");
    em_blank(em);
    em_function(em,
                "static void %s_pool_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, const cnn_real *restrict pooled, "
                "cnn_real *restrict dy, cnn_real *restrict dx, cnn_real *restrict slot, cnn_real *restrict pad, "
                "cnn_real *restrict flip, int n)",
                conv->fn);
    em_line(em, "/* the pool's gradient goes to dx, free until the conv's own dx */");
    em_line(em, "%s_backward(out, pooled, dy, dx, n);", pool->fn);
    if (conv->needs_dx) {
        em_line(em, "/* then dx holds the conv's dz and dy (consumed) takes the conv's dx */");
        em_line(em, "%s_backward(p, g, in, out, dx, dy, slot, pad, flip, n);", conv->fn);
        em_line(em, "memcpy(dx, dy, sizeof(cnn_real) * (size_t)n * %zu);", conv->in_size);
    } else {
        em_line(em, "%s_backward(p, g, in, out, dx, slot, pad, flip, n);", conv->fn);
    }
    em_close_block(em, "}");
}
