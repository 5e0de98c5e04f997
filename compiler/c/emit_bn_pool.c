/* emit_bn_pool.c: batchnorm (+ its fused relu) + maxpool as one pass,
 * forward and backward, in the fast kernels.
 *
 * Why: in deep.cnn and fashion.cnn a batchnorm sits between each conv and
 * its maxpool, so the conv + pool fusion (emit_conv_pool.c) does not apply,
 * and the full-size tensor between them made five memory passes forward
 * (two statistics, normalize, pool) and seven backward (pool scatter, the
 * relu' and sums pass that rewrites dy, the dx pass), about a third of
 * deep's training step.
 *
 * Forward, after the statistics (one memory pass, emit_bn_scale_shift): per
 * window, z = x scale + shift for each element, the first maximum in
 * row-major order (as the plain pool), its activation (relu commutes with
 * max) and the pooled value are written; the normalized output itself never
 * is. The maximum is taken over z, not x: scale may be negative. In
 * training, the batchnorm's (otherwise unused) activation slot keeps per
 * pooled value what backward needs: xh = (x - mean) / std at the maximum
 * (POOL_SIZE reals), then the argmax byte (POOL_SIZE bytes): the window
 * position, or NO_GRAD where the gradient is 0 (relu of a maximum <= 0: the
 * plain chain multiplies by relu'(y) = 0 there).
 *
 * Backward: dL/dz is the pooled gradient at the argmax and 0 elsewhere, so
 * dbeta = sum dL/dz and dgamma = sum dL/dz xh are sums over the pooled grid
 * (a quarter of the values for 2x2 windows, from the kept xh, without
 * reading x). dx = gamma / std (dL/dz - (dbeta + xh dgamma) / M) is dense:
 * one pass that reads x and the pooled gradient and writes dx, including
 * the rows and columns no window covers (dL/dz = 0 there, dx is not).
 *
 * The sums add the same nonzero terms as the plain loops, in window order
 * instead of pixel order: equal up to rounding, still per image in slots and
 * then in image order (thread-count independent). Under
 * CNN_REFERENCE_KERNELS the same two entry points run the plain batchnorm
 * and pool functions one after the other: the oracle. */
#include <stdio.h>

#include "bn_blocks.h"
#include "emit_activation.h"
#include "emit_bn_pool.h"
#include "emit_util.h"



static void emit_pool_enums(cnnc_emitter *em, const cnnc_plan_layer *pool)
{
    const cnn_layer *p = pool->l;
    em_line(em, "enum { IH = %d, IW = %d, POH = %d, POW = %d, PKH = %d, PKW = %d, POOL_SIZE = %zu }; /* %s */",
            p->in.h, p->in.w, p->out.h, p->out.w, p->kh, p->kw, pool->out_size, p->name);
}

/* In the forward image loop: every window of the image. `train` also keeps
 * xh at the maximum and the argmax byte. */
static void emit_forward_windows(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P,
                                 int train)
{
    char e[128];
    em_open_block(em, "for (int py = 0; py < POH; py++) {");
    em_open_block(em, "for (int px = 0; px < POW; px++) {");
    em_line(em, "const size_t o = ((size_t)py * POW + px) * C;");
    em_line(em, "const cnn_real *restrict w0 = xi + ((size_t)py * PKH * IW + (size_t)px * PKW) * C;");
    if (train)
        em_line(em, "cnn_real kf[C]; /* argmax codes as reals: the loop stays at full vector width */");
    emit_simd_block(em, "c", "C");
    em_line(em, "cnn_real m = w0[c] * scale[c] + shift[c];");
    if (train) {
        em_line(em, "cnn_real xm = w0[c];");
        em_line(em, "cnn_real k = 0; /* a real: with an int, gcc 12 does not vectorize this loop */");
    }
    em_line(em, "/* row-major: only a larger value replaces, so the first maximum wins */");
    for (int r = 0; r < P->l->kh; r++)
        for (int x = 0; x < P->l->kw; x++) {
            int j = r * P->l->kw + x;
            if (j == 0)
                continue;
            em_open_block(em, "{");
            em_line(em, "const cnn_real v = w0[((size_t)%d * IW + %d) * C + c];", r, x);
            em_line(em, "const cnn_real z = v * scale[c] + shift[c];");
            if (train) {
                em_line(em, "k = z > m ? (cnn_real)%d : k;", j);
                em_line(em, "xm = z > m ? v : xm;");
            }
            em_line(em, "m = z > m ? z : m;");
            em_close_block(em, "}");
        }
    em_line(em, "yi[o + c] = %s;", emit_act_expr(e, sizeof e, L->act, 0, "m"));
    if (train) {
        em_line(em, "hi[o + c] = (xm - mean[c]) * invstd[c];");
        if (L->act == CNN_ACT_RELU)
            em_line(em, "kf[c] = m > 0 ? k : (cnn_real)%d;", NO_GRAD);
        else
            em_line(em, "kf[c] = k;");
    }
    em_close_block(em, "}");
    if (train) {
        emit_simd_for(em, "c", "C");
        em_line(em, "    am[o + c] = (unsigned char)kf[c];");
    }
    em_close_block(em, "} /* px */");
    em_close_block(em, "} /* py */");
}

static void emit_forward(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P)
{
    em_function(em,
                "static void %s_pool_forward(cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out, cnn_real *restrict pooled, cnn_real *restrict wk, "
                "cnn_real *restrict slot, int n, int training)",
                L->fn);
    emit_bn_enums(em, L);
    emit_pool_enums(em, P);
    emit_bn_scale_shift(em, L, EMIT_BN_STATS_FAST);
    em_open_block(em, "if (training) {");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict yi = pooled + (size_t)i * POOL_SIZE;");
    em_line(em, "cnn_real *restrict hi = out + (size_t)i * SIZE; /* xh at each maximum */");
    em_line(em, "unsigned char *restrict am = (unsigned char *)(hi + POOL_SIZE); /* argmax bytes */");
    emit_forward_windows(em, L, P, 1);
    em_close_block(em, "} /* i */");
    em_close_block(em, "} else {");
    em->indent++;
    em_line(em, "(void)out; /* nothing kept for backward */");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict yi = pooled + (size_t)i * POOL_SIZE;");
    emit_forward_windows(em, L, P, 0);
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* In the dx image loop: dx of `rows` rows from row y0 (C expressions)
 * where no window covers a column >= X0: dL/dz = 0 there. */
static void emit_dx_uncovered(cnnc_emitter *em, const char *y0, const char *rows, const char *x0)
{
    em_open_block(em, "for (int y = %s; y < %s; y++) {", y0, rows);
    em_open_block(em, "for (int x = %s; x < IW; x++) {", x0);
    em_line(em, "const size_t e = ((size_t)y * IW + x) * C;");
    emit_simd_block(em, "c", "C");
    em_line(em, "const cnn_real xh = (xi[e + c] - mean[c]) * invstd[c];");
    em_line(em, "dxi[e + c] = ga[c] * ((cnn_real)0 - (sum_dy[c] + xh * sum_dy_xh[c]) * inv_m);");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "}");
}

static void emit_backward(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P)
{
    const cnn_layer *p = P->l;
    int relu = L->act == CNN_ACT_RELU;
    em_function(em,
                "static void %s_pool_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, const cnn_real *restrict pooled, "
                "cnn_real *restrict dy, cnn_real *restrict dx, const cnn_real *restrict wk, "
                "cnn_real *restrict slot, int n)",
                L->fn);
    emit_bn_enums(em, L);
    emit_pool_enums(em, P);
    em_line(em, "(void)momentum;");
    em_line(em, "(void)epsilon;");
    em_line(em, "(void)pooled; /* the argmax bytes in `out` say where the gradient goes */");
    em_line(em, "/* dbeta and dgamma over the pooled grid: dL/dz is 0 off the maxima */");
    emit_image_loop_work(em, 3 * P->out_size);
    em_line(em, "const cnn_real *restrict hi = out + (size_t)i * SIZE;");
    if (relu) /* linear: every window passes its gradient to its maximum */
        em_line(em, "const unsigned char *restrict am = (const unsigned char *)(hi + POOL_SIZE);");
    em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * POOL_SIZE;");
    em_line(em, "cnn_real *restrict si = slot + (size_t)i * SLOT;");
    /* two windows at a time into two pairs of sums: one chain through
     * memory per channel vector would be the limit */
    em_line(em, "cnn_real s0[C], s1[C], t0[C], t1[C];");
    emit_simd_for(em, "c", "C");
    em_line(em, "    s0[c] = s1[c] = t0[c] = t1[c] = 0;");
    em_line(em, "int w = 0;");
    for (int tail = 0; tail < 2; tail++) {
        int nw = tail ? 1 : 2;
        if (tail)
            em_open_block(em, "for (; w < POH * POW; w++) {");
        else
            em_open_block(em, "for (; w + 2 <= POH * POW; w += 2) {");
        if (relu) {
            em_line(em, "cnn_real kf[%d * C]; /* the bytes as reals: the loop below vectorizes */", nw);
            emit_simd_for(em, "c", "%d * C", nw);
            em_line(em, "    kf[c] = (cnn_real)am[(size_t)w * C + c];");
        }
        emit_simd_block(em, "c", "C");
        for (int k = 0; k < nw; k++) {
            em_open_block(em, "{");
            if (relu)
                em_line(em, "const cnn_real d = kf[%d * C + c] != (cnn_real)%d ? dyi[(size_t)(w + %d) * C + c] : (cnn_real)0;",
                        k, NO_GRAD, k);
            else
                em_line(em, "const cnn_real d = dyi[(size_t)(w + %d) * C + c];", k);
            em_line(em, "%s[c] += d;", k ? "t0" : "s0");
            em_line(em, "%s[c] += d * hi[(size_t)(w + %d) * C + c];", k ? "t1" : "s1", k);
            em_close_block(em, "}");
        }
        em_close_block(em, "}");
        em_close_block(em, "}");
    }
    emit_simd_block(em, "c", "C");
    em_line(em, "si[c] = s0[c] + t0[c];");
    em_line(em, "si[C + c] = s1[c] + t1[c];");
    em_close_block(em, "}");
    em_close_block(em, "} /* i */");
    if (L->needs_dx)
        em_line(em, "cnn_real sum_dy[C], sum_dy_xh[C]; /* for dx */");
    emit_bn_batch_sums(em, L);
    if (!L->needs_dx) {
        em_line(em, "(void)p;");
        em_line(em, "(void)in;");
        em_line(em, "(void)wk;");
        em_line(em, "(void)dx; /* nothing below needs it */");
        em_close_block(em, "}");
        return;
    }
    em_line(em, "const cnn_real inv_m = (cnn_real)(1.0 / ((double)cnn_part()->n_global * PIXELS));");
    em_line(em, "const cnn_real *restrict mean = wk + FIX;");
    em_line(em, "const cnn_real *restrict invstd = mean + C;");
    em_line(em, "cnn_real ga[C];");
    em_line(em, "for (int c = 0; c < C; c++)");
    em_line(em, "    ga[c] = p[G_OFF + c] * invstd[c];");
    em_line(em, "/* dx, window by window: dL/dz is the pooled gradient at the argmax, else 0 */");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
    em_line(em, "const unsigned char *restrict am = (const unsigned char *)(out + (size_t)i * SIZE + POOL_SIZE);");
    em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * POOL_SIZE;");
    em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * SIZE;");
    em_open_block(em, "for (int py = 0; py < POH; py++) {");
    emit_argmax_row(em, "C");
    em_open_block(em, "for (int px = 0; px < POW; px++) {");
    em_line(em, "const size_t o = ((size_t)py * POW + px) * C;");
    em_line(em, "const size_t e0 = ((size_t)py * PKH * IW + (size_t)px * PKW) * C;");
    em_line(em, "const cnn_real *restrict kf = kfr + (size_t)px * C;");
    emit_simd_block(em, "c", "C");
    em_line(em, "const cnn_real k = kf[c];");
    em_line(em, "const cnn_real d = dyi[o + c];");
    for (int r = 0; r < p->kh; r++)
        for (int x = 0; x < p->kw; x++) {
            em_open_block(em, "{");
            em_line(em, "const size_t e = e0 + ((size_t)%d * IW + %d) * C + c;", r, x);
            em_line(em, "const cnn_real xh = (xi[e] - mean[c]) * invstd[c];");
            em_line(em, "const cnn_real dz = k == (cnn_real)%d ? d : (cnn_real)0;", r * p->kw + x);
            em_line(em, "dxi[e] = ga[c] * (dz - (sum_dy[c] + xh * sum_dy_xh[c]) * inv_m);");
            em_close_block(em, "}");
        }
    em_close_block(em, "}");
    em_close_block(em, "} /* px */");
    if (p->out.w * p->kw < p->in.w)
        emit_dx_uncovered(em, "py * PKH", "(py + 1) * PKH", "POW * PKW");
    em_close_block(em, "} /* py */");
    if (p->out.h * p->kh < p->in.h)
        emit_dx_uncovered(em, "POH * PKH", "IH", "0");
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
}

void emit_bn_pool_fast(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *bn,
                       const cnnc_plan_layer *pool, int backward)
{
    (void)pl;
    if (backward)
        emit_backward(em, bn, pool);
    else
        emit_forward(em, bn, pool);
}

void emit_bn_pool_oracle(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *bn,
                         const cnnc_plan_layer *pool)
{
    (void)pl;
    char out_arg[16];
    snprintf(out_arg, sizeof out_arg, "%s", bn->fuse_relu ? "out, " : "");
    em_line(em, "/* %s + %s with the plain kernels: one after the other (the oracle of the",
            bn->l->name, pool->l->name);
    em_line(em, " * fused fast path) */");
    em_function(em,
                "static void %s_pool_forward(cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out, cnn_real *restrict pooled, cnn_real *restrict wk, "
                "cnn_real *restrict slot, int n, int training)",
                bn->fn);
    em_line(em, "%s_forward(p, in, out, wk, slot, n, training);", bn->fn);
    em_line(em, "%s_forward(out, pooled, n);", pool->fn);
    em_close_block(em, "}");
    em_blank(em);
    em_function(em,
                "static void %s_pool_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, const cnn_real *restrict pooled, "
                "cnn_real *restrict dy, cnn_real *restrict dx, const cnn_real *restrict wk, "
                "cnn_real *restrict slot, int n)",
                bn->fn);
    em_line(em, "/* the pool's gradient goes to dx, free until the batchnorm's own dx */");
    em_line(em, "%s_backward(out, pooled, dy, dx, n);", pool->fn);
    if (bn->needs_dx) {
        em_line(em, "/* then dx holds the batchnorm's dy and dy (consumed) takes its dx */");
        em_line(em, "%s_backward(p, g, in, %sdx, dy, wk, slot, n);", bn->fn, out_arg);
        em_line(em, "memcpy(dx, dy, sizeof(cnn_real) * (size_t)n * %zu);", bn->in_size);
    } else {
        em_line(em, "%s_backward(p, g, in, %sdx, wk, slot, n);", bn->fn, out_arg);
    }
    em_close_block(em, "}");
    em_blank(em);
}
