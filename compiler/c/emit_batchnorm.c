/* emit_batchnorm.c: batch normalization with Keras semantics.
 *
 * Training: per channel, the mean and the biased variance (two passes)
 * over the batch's N x H x W values; y = gamma (x - mean) / sqrt(var + eps)
 * + beta; running = momentum * running + (1 - momentum) * batch, with the
 * biased batch variance (Keras; PyTorch would store the unbiased one). The
 * batch mean and 1/std stay in the fixed part of b->work for backward.
 * Inference: the running statistics. Per-image partial sums go to slots
 * and are summed in the batch's chunk tree (emit_batch_sum.c): thread-count
 * independent, and across the processes of a data-parallel run the
 * statistics of the whole batch.
 *
 * Backward (training statistics): with xh = (x - mean) / std,
 * dbeta = sum dy, dgamma = sum dy xh, and
 * dx = gamma / std * (dy - (dbeta + xh dgamma) / M), M = N H W.
 *
 * Frozen (trainable=false, Keras): inference mode in training too, the
 * running statistics used and left unchanged; its backward only passes
 * dx = dy gamma / sqrt(running_var + eps) down (it runs only when a layer
 * below trains). */
#include <stdio.h>

#include "bn_blocks.h"
#include "emit_activation.h"
#include "emit_bn_pool.h"
#include "emit_layers.h"
#include "emit_batch_sum.h"
#include "emit_util.h"


/* The plain forward: statistics, then one normalizing pass. */
static void bn_forward_plain(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_function(em,
                  "static void %s_forward(cnn_real *restrict p, const cnn_real *restrict in, "
                  "cnn_real *restrict out, cnn_real *restrict wk, cnn_real *restrict slot, int n, "
                  "int training)",
                  L->fn);
    emit_bn_enums(em, L);
    /* fused with a pool, this is the oracle only */
    emit_bn_scale_shift(em, L, L->fuse_pool ? EMIT_BN_STATS_PLAIN : EMIT_BN_STATS_BOTH);
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * SIZE;");
    em_open_block(em, "for (int q = 0; q < PIXELS; q++) {");
    char e[128]; /* L->act: linear, or the relu after it (that layer is then a view of this output) */
    emit_simd_block(em, "c", "C");
    em_line(em, "const cnn_real z = xi[(size_t)q * C + c] * scale[c] + shift[c];");
    em_line(em, "yi[(size_t)q * C + c] = %s;", emit_act_expr(e, sizeof e, L->act, 0, "z"));
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
}

/* With a fused maxpool: the fast kernels' BN_pool_forward, and the plain
 * function for the oracle (emit_bn_pool.c, emitted with the pool). */
static void bn_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_batch_sum_helpers(em);
    emit_layer_comment(em, pl, L, "forward");
    if (L->fuse_pool) {
        em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
        emit_bn_pool_fast(em, pl, L, &pl->layers[L->pool_at], 0);
        em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
        bn_forward_plain(em, L);
        em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    } else {
        bn_forward_plain(em, L);
    }
    em_blank(em);
}

static void bn_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                            const cnnc_args *a)
{
    (void)pl;
    const char *training = L->l->frozen ? "0 /* frozen: inference mode */" : "training";
    if (L->fuse_pool)
        em_line(em, "%s_pool_forward(p, %s, %s, %s, wk, slot, n, %s);", L->fn, a->in, a->out, a->pool_out,
                training);
    else
        em_line(em, "%s_forward(p, %s, %s, wk, slot, n, %s);", L->fn, a->in, a->out, training);
}

/* In backward's first pass, element E (a C expression) of the image: dy
 * through the fused relu (in place), then SUM_DY += d and SUM_DY_XH += d xh. */
static void bn_backward_pixel(cnnc_emitter *em, const cnnc_plan_layer *L, const char *e,
                              const char *sum_dy, const char *sum_dy_xh)
{
    char y[64], d[64], g[200];
    em_open_block(em, "{");
    snprintf(d, sizeof d, "dyi[%s]", e);
    if (L->fuse_relu) {
        snprintf(y, sizeof y, "yi[%s]", e);
        em_line(em, "/* first through the fused relu: dy becomes dL/d(batchnorm output) in place */");
        em_line(em, "const cnn_real d = %s;", emit_act_grad_expr(g, sizeof g, CNN_ACT_RELU, 0, y, d));
        em_line(em, "%s = d;", d);
    } else {
        em_line(em, "const cnn_real d = %s;", d);
    }
    em_line(em, "const cnn_real xh = (xi[%s] - mean[c]) * invstd[c];", e);
    em_line(em, "%s += d;", sum_dy);
    em_line(em, "%s += d * xh;", sum_dy_xh);
    em_close_block(em, "}");
}

static void bn_backward_plain(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_function(em,
                  "static void %s_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                  "const cnn_real *restrict in, %scnn_real *restrict dy, %s"
                  "const cnn_real *restrict wk, cnn_real *restrict slot, int n)",
                  L->fn, L->fuse_relu ? "const cnn_real *restrict out, " : "",
                  L->needs_dx ? "cnn_real *restrict dx, " : "");
    emit_bn_enums(em, L);
    em_line(em, "(void)momentum;");
    em_line(em, "(void)epsilon;");
    em_line(em, "const cnn_real *restrict mean = wk + FIX;");
    em_line(em, "const cnn_real *restrict invstd = mean + C;");
    if (L->needs_dx)
        em_line(em, "cnn_real sum_dy[C], sum_dy_xh[C]; /* for dx */");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict dyi = dy + (size_t)i * SIZE;");
    if (L->fuse_relu)
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict si = slot + (size_t)i * SLOT;");
    /* fused with a pool, this function is the oracle only */
    int fast = L->l->in.h * L->l->in.w > 1 && !L->fuse_pool;
    if (fast) {
        /* the fast kernels: two pixels at a time into two pairs of sums
         * (one chain through memory per channel vector was the limit) */
        em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
        em_line(em, "cnn_real s0[C], s1[C], t0[C], t1[C];");
        emit_simd_for(em, "c", "C");
        em_line(em, "    s0[c] = s1[c] = t0[c] = t1[c] = 0;");
        em_line(em, "int q = 0;");
        em_open_block(em, "for (; q + 2 <= PIXELS; q += 2) {");
        emit_simd_block(em, "c", "C");
        bn_backward_pixel(em, L, "(size_t)q * C + c", "s0[c]", "s1[c]");
        bn_backward_pixel(em, L, "(size_t)(q + 1) * C + c", "t0[c]", "t1[c]");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_open_block(em, "for (; q < PIXELS; q++) {");
        emit_simd_block(em, "c", "C");
        bn_backward_pixel(em, L, "(size_t)q * C + c", "s0[c]", "s1[c]");
        em_close_block(em, "}");
        em_close_block(em, "}");
        emit_simd_block(em, "c", "C");
        em_line(em, "si[c] = s0[c] + t0[c];");
        em_line(em, "si[C + c] = s1[c] + t1[c];");
        em_close_block(em, "}");
        em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
    }
    em_line(em, "for (int c = 0; c < 2 * C; c++)");
    em_line(em, "    si[c] = 0;");
    em_open_block(em, "for (int q = 0; q < PIXELS; q++) {");
    emit_simd_block(em, "c", "C");
    bn_backward_pixel(em, L, "(size_t)q * C + c", "si[c]", "si[C + c]");
    em_close_block(em, "}");
    em_close_block(em, "}");
    if (fast)
        em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_close_block(em, "} /* i */");
    emit_bn_batch_sums(em, L);
    if (L->needs_dx) {
        em_line(em, "const cnn_real inv_m = (cnn_real)(1.0 / ((double)cnn_part()->n_global * PIXELS));");
        em_line(em, "const cnn_real *restrict gamma = p + G_OFF;");
        emit_image_loop(em);
        em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
        em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * SIZE;");
        em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * SIZE;");
        em_open_block(em, "for (int q = 0; q < PIXELS; q++) {");
        emit_simd_block(em, "c", "C");
        em_line(em, "const size_t e = (size_t)q * C + c;");
        em_line(em, "const cnn_real xh = (xi[e] - mean[c]) * invstd[c];");
        em_line(em, "dxi[e] = gamma[c] * invstd[c] * (dyi[e] - (sum_dy[c] + xh * sum_dy_xh[c]) * inv_m);");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_close_block(em, "} /* i */");
    } else {
        em_line(em, "(void)p;");
    }
    em_close_block(em, "}");
}

/* A frozen batchnorm's backward (the plan runs it only for dx, without a
 * fused pool): the inference-mode scale, through the fused relu. */
static void bn_backward_frozen(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_function(em,
                "static void %s_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                "const cnn_real *restrict in, %scnn_real *restrict dy, cnn_real *restrict dx, "
                "const cnn_real *restrict wk, cnn_real *restrict slot, int n)",
                L->fn, L->fuse_relu ? "const cnn_real *restrict out, " : "");
    emit_bn_enums(em, L);
    em_line(em, "(void)momentum;");
    em_line(em, "(void)g;");
    em_line(em, "(void)in;");
    em_line(em, "(void)wk;");
    em_line(em, "(void)slot;");
    em_line(em, "(void)B_OFF;");
    em_line(em, "(void)RM_OFF;");
    em_line(em, "const cnn_real *restrict gamma = p + G_OFF;");
    em_line(em, "const cnn_real *restrict rvar = p + RV_OFF;");
    em_line(em, "cnn_real scale[C];");
    em_line(em, "for (int c = 0; c < C; c++)");
    em_line(em, "    scale[c] = gamma[c] / REAL_SQRT(rvar[c] + epsilon); /* as the forward's */");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * SIZE;");
    if (L->fuse_relu)
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * SIZE;");
    em_open_block(em, "for (int q = 0; q < PIXELS; q++) {");
    emit_simd_block(em, "c", "C");
    em_line(em, "const size_t e = (size_t)q * C + c;");
    if (L->fuse_relu) {
        char g[200];
        em_line(em, "const cnn_real d = %s; /* through the fused relu */",
                emit_act_grad_expr(g, sizeof g, CNN_ACT_RELU, 0, "yi[e]", "dyi[e]"));
        em_line(em, "dxi[e] = d * scale[c];");
    } else {
        em_line(em, "dxi[e] = dyi[e] * scale[c];");
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
}

static void bn_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "backward");
    if (L->l->frozen) {
        bn_backward_frozen(em, L);
    } else if (L->fuse_pool) {
        em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
        emit_bn_pool_fast(em, pl, L, &pl->layers[L->pool_at], 1);
        em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
        bn_backward_plain(em, L);
        em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    } else {
        bn_backward_plain(em, L);
    }
    em_blank(em);
}

static void bn_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                             const cnnc_args *a)
{
    (void)pl;
    if (L->fuse_pool) { /* dx: the gradient buffer, scratch when nothing needs dx */
        em_line(em, "%s_pool_backward(p, g, %s, %s, %s, %s, %s, wk, slot, n);", L->fn, a->in, a->out,
                a->pool_out, a->dy, a->dx);
        return;
    }
    char in_out[200];
    if (L->fuse_relu)
        snprintf(in_out, sizeof in_out, "%s, %s", a->in, a->out);
    else
        snprintf(in_out, sizeof in_out, "%s", a->in);
    if (a->dx)
        em_line(em, "%s_backward(p, g, %s, %s, %s, wk, slot, n);", L->fn, in_out, a->dy, a->dx);
    else
        em_line(em, "%s_backward(p, g, %s, %s, wk, slot, n);", L->fn, in_out, a->dy);
}

const cnnc_layer_emitter emit_batchnorm_layer = {
    bn_forward, bn_forward_call, bn_backward, bn_backward_call,
};
