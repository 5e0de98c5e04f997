/* bn_blocks.c: the pieces of batchnorm's functions that the plain layer
 * (emit_batchnorm.c) and the fused batchnorm + maxpool (emit_bn_pool.c)
 * share: the enum constants, and the block that computes each channel's
 * scale and shift (batch statistics in training, kept for backward, and the
 * running statistics' update; the running statistics in inference), and
 * backward's batch sums of the per-image slots. */
#include <stdio.h>

#include "bn_blocks.h"
#include "emit_util.h"

void emit_bn_enums(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    char f1[48], f2[48];
    em_line(em, "enum { PIXELS = %d, C = %d, SIZE = %zu, SLOT = %zu, FIX = WK_%s_STATS };", l->in.h * l->in.w,
            l->in.c, L->in_size, L->slot_floats, l->name);
    em_line(em, "enum { G_OFF = %zu, B_OFF = %zu, RM_OFF = %zu, RV_OFF = %zu };", L->t_off[0], L->t_off[1],
            L->t_off[2], L->t_off[3]);
    em_line(em, "const cnn_real momentum = %s, epsilon = %s;", emit_real(f1, sizeof f1, l->momentum),
            emit_real(f2, sizeof f2, l->epsilon));
}

/* slot[i][0..C) = per-image sums of EXPR over pixels, then RESULT[c] = the
 * batch's sum (the chunk tree, and the other processes') times inv_m. */
static void emit_channel_mean(cnnc_emitter *em, const char *expr, const char *result)
{
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict si = slot + (size_t)i * SLOT;");
    em_line(em, "for (int c = 0; c < C; c++)");
    em_line(em, "    si[c] = 0;");
    em_open_block(em, "for (int q = 0; q < PIXELS; q++) {");
    emit_simd_block(em, "c", "C");
    em_line(em, "const cnn_real v = xi[(size_t)q * C + c];");
    em_line(em, "si[c] += %s;", expr);
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_open_block(em, "{");
    em_line(em, "cnn_real s[C];");
    em_line(em, "cnn_tree_sum(slot, SLOT, C, s);");
    em_line(em, "cnn_part_reduce(s, C);");
    em_line(em, "for (int c = 0; c < C; c++)");
    em_line(em, "    %s[c] = s[c] * inv_m;", result);
    em_close_block(em, "}");
}

/* In the image loop: DST[c] (an lvalue with c) = the sum over the image's
 * pixels of EXPR (of v = the input value and c), with four independent
 * accumulators: one chain through memory per channel vector was the
 * limit (a load, an add and a store per pixel, each waiting on the last). */
static void emit_pixel_sum(cnnc_emitter *em, const char *expr, const char *dst)
{
    em_open_block(em, "{");
    em_line(em, "cnn_real a0[C], a1[C], a2[C], a3[C];");
    emit_simd_for(em, "c", "C");
    em_line(em, "    a0[c] = a1[c] = a2[c] = a3[c] = 0;");
    em_line(em, "int q = 0;");
    em_open_block(em, "for (; q + 4 <= PIXELS; q += 4) {");
    em_line(em, "const cnn_real *restrict x0 = xi + (size_t)q * C;");
    emit_simd_block(em, "c", "C");
    for (int k = 0; k < 4; k++) {
        em_open_block(em, "{");
        em_line(em, "const cnn_real v = x0[%d * C + c];", k);
        em_line(em, "a%d[c] += %s;", k, expr);
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_open_block(em, "for (; q < PIXELS; q++) {");
    emit_simd_block(em, "c", "C");
    em_line(em, "const cnn_real v = xi[(size_t)q * C + c];");
    em_line(em, "a0[c] += %s;", expr);
    em_close_block(em, "}");
    em_close_block(em, "}");
    emit_simd_for(em, "c", "C");
    em_line(em, "    %s = (a0[c] + a1[c]) + (a2[c] + a3[c]);", dst);
    em_close_block(em, "}");
}

/* The fast kernels' statistics, one memory pass: per image, its sums and
 * then, while the image is still in cache, its squared deviations from its
 * own mean; the images' parts are combined in the batch's chunk tree (Chan et al.):
 * M var = sum_i [ m2_i + PIXELS (mean_i - mean)^2 ]. */
static void emit_channel_stats_fast(cnnc_emitter *em)
{
    em_line(em, "const cnn_real inv_p = (cnn_real)(1.0 / PIXELS);");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict si = slot + (size_t)i * SLOT; /* [C] sums, [C] m2 */");
    emit_pixel_sum(em, "v", "si[c]");
    em_line(em, "cnn_real mi[C];");
    em_line(em, "for (int c = 0; c < C; c++)");
    em_line(em, "    mi[c] = si[c] * inv_p;");
    emit_pixel_sum(em, "(v - mi[c]) * (v - mi[c])", "si[C + c]");
    em_close_block(em, "}");
    em_open_block(em, "{");
    em_line(em, "cnn_real s[C];");
    em_line(em, "cnn_tree_sum(slot, SLOT, C, s);");
    em_line(em, "cnn_part_reduce(s, C);");
    em_line(em, "for (int c = 0; c < C; c++)");
    em_line(em, "    mean[c] = s[c] * inv_m;");
    em_line(em, "/* each image's m2 becomes its part of M var, then the same sum */");
    em_open_block(em, "for (int i = 0; i < n; i++) {");
    em_line(em, "cnn_real *restrict si = slot + (size_t)i * SLOT;");
    em_open_block(em, "for (int c = 0; c < C; c++) {");
    em_line(em, "const cnn_real d = si[c] * inv_p - mean[c];");
    em_line(em, "si[C + c] = si[C + c] + (cnn_real)PIXELS * d * d;");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_line(em, "cnn_tree_sum(slot + C, SLOT, C, s);");
    em_line(em, "cnn_part_reduce(s, C);");
    em_line(em, "for (int c = 0; c < C; c++)");
    em_line(em, "    var[c] = s[c] * inv_m;");
    em_close_block(em, "}");
}

void emit_bn_scale_shift(cnnc_emitter *em, const cnnc_plan_layer *L, int kernels)
{
    if (L->l->in.h * L->l->in.w == 1) /* a vector: nothing to gain */
        kernels = EMIT_BN_STATS_PLAIN;
    em_line(em, "const cnn_real *restrict gamma = p + G_OFF;");
    em_line(em, "const cnn_real *restrict beta = p + B_OFF;");
    em_line(em, "cnn_real *restrict mean = wk + FIX;     /* kept for backward */");
    em_line(em, "cnn_real *restrict invstd = mean + C;");
    em_line(em, "cnn_real scale[C], shift[C];");
    em_open_block(em, "if (training) {");
    em_line(em, "const cnn_real inv_m = (cnn_real)(1.0 / ((double)cnn_part()->n_global * PIXELS));");
    em_line(em, "cnn_real var[C];");
    if (kernels == EMIT_BN_STATS_BOTH)
        em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    if (kernels != EMIT_BN_STATS_PLAIN)
        emit_channel_stats_fast(em);
    if (kernels == EMIT_BN_STATS_BOTH)
        em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
    if (kernels != EMIT_BN_STATS_FAST) {
        emit_channel_mean(em, "v", "mean");
        emit_channel_mean(em, "(v - mean[c]) * (v - mean[c])", "var");
    }
    if (kernels == EMIT_BN_STATS_BOTH)
        em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_line(em, "cnn_real *restrict rmean = p + RM_OFF;");
    em_line(em, "cnn_real *restrict rvar = p + RV_OFF;");
    em_open_block(em, "for (int c = 0; c < C; c++) {");
    em_line(em, "invstd[c] = (cnn_real)1 / REAL_SQRT(var[c] + epsilon);");
    em_line(em, "rmean[c] = rmean[c] * momentum + mean[c] * ((cnn_real)1 - momentum);");
    em_line(em, "rvar[c] = rvar[c] * momentum + var[c] * ((cnn_real)1 - momentum);");
    em_line(em, "scale[c] = gamma[c] * invstd[c];");
    em_line(em, "shift[c] = beta[c] - mean[c] * scale[c];");
    em_close_block(em, "}");
    em_close_block(em, "} else {");
    em->indent++;
    em_line(em, "const cnn_real *restrict rmean = p + RM_OFF;");
    em_line(em, "const cnn_real *restrict rvar = p + RV_OFF;");
    em_open_block(em, "for (int c = 0; c < C; c++) {");
    em_line(em, "scale[c] = gamma[c] / REAL_SQRT(rvar[c] + epsilon);");
    em_line(em, "shift[c] = beta[c] - rmean[c] * scale[c];");
    em_close_block(em, "}");
    em_close_block(em, "}");
}

void emit_bn_batch_sums(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_open_block(em, "{ /* the batch's sums: this process's into g, the whole batch's for dx */");
    em_line(em, "cnn_real s[2 * C];");
    em_line(em, "cnn_tree_sum(slot, SLOT, 2 * C, s);");
    em_open_block(em, "for (int c = 0; c < C; c++) {");
    em_line(em, "g[B_OFF + c] += s[c];");
    em_line(em, "g[G_OFF + c] += s[C + c];");
    em_close_block(em, "}");
    if (L->needs_dx) {
        em_line(em, "cnn_part_reduce(s, 2 * C);");
        em_open_block(em, "for (int c = 0; c < C; c++) {");
        em_line(em, "sum_dy[c] = s[c];");
        em_line(em, "sum_dy_xh[c] = s[C + c];");
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
}
