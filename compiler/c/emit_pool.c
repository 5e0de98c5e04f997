/* emit_pool.c: maxpool, avgpool (valid windows, floor division, any stride)
 * and globalavgpool. No parameters: backward runs only when a lower layer
 * needs dx, and then writes all of dx (zeroed first: windows may overlap or
 * leave gaps).
 *
 * maxpool's backward recomputes each window's argmax from the input (the
 * first maximum in row-major window order wins ties, as PyTorch), so it
 * keeps nothing but the layers' outputs. */
#include <stdio.h>

#include "emit_bn_pool.h"
#include "emit_conv_pool.h"
#include "emit_layers.h"
#include "emit_util.h"


static void pool_enums(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    em_line(em, "enum { IH = %d, IW = %d, C = %d, OH = %d, OW = %d };", l->in.h, l->in.w, l->in.c,
            l->out.h, l->out.w);
    em_line(em, "enum { KH = %d, KW = %d, SH = %d, SW = %d, IN_SIZE = %zu, OUT_SIZE = %zu };", l->kh,
            l->kw, l->sh, l->sw, L->in_size, L->out_size);
}

static void pool_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    int is_max = L->l->kind == CNN_MAXPOOL;
    emit_layer_comment(em, pl, L, "forward");
    if (L->fused) {
        em_line(em, "/* The fast kernels compute this pool inside %s_pool_forward; the plain", pl->layers[L->fused_by].fn);
        em_line(em, " * kernels (the oracle) run it on its own. */");
        em_line(em, "#ifdef CNN_REFERENCE_KERNELS");
    }
    em_function(em, "static void %s_forward(const cnn_real *restrict in, cnn_real *restrict out, int n)",
                  L->fn);
    pool_enums(em, L);
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    em_open_block(em, "for (int oy = 0; oy < OH; oy++) {");
    em_open_block(em, "for (int ox = 0; ox < OW; ox++) {");
    em_line(em, "cnn_real *restrict yp = yi + ((size_t)oy * OW + ox) * C;");
    em_line(em, "const cnn_real *restrict x0 = xi + ((size_t)(oy * SH) * IW + ox * SW) * C;");
    if (is_max) {
        emit_simd_for(em, "c", "C");
        em_line(em, "    yp[c] = x0[c];");
    } else {
        em_line(em, "cnn_real acc[C];");
        emit_simd_for(em, "c", "C");
        em_line(em, "    acc[c] = 0;");
    }
    em_open_block(em, "for (int ky = 0; ky < KH; ky++) {");
    em_open_block(em, "for (int kx = 0; kx < KW; kx++) {");
    em_line(em, "const cnn_real *restrict xp = x0 + ((size_t)ky * IW + kx) * C;");
    emit_simd_for(em, "c", "C");
    if (is_max)
        em_line(em, "    yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];");
    else
        em_line(em, "    acc[c] += xp[c];");
    em_close_block(em, "}");
    em_close_block(em, "}");
    if (!is_max) {
        emit_simd_for(em, "c", "C");
        em_line(em, "    yp[c] = acc[c] * ((cnn_real)1 / (KH * KW));");
    }
    em_close_block(em, "} /* ox */");
    em_close_block(em, "} /* oy */");
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
    if (L->fused)
        em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_blank(em);
}

static void pool_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                              const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_forward(%s, %s, n);", L->fn, a->in, a->out);
}

/* maxpool backward when windows do not overlap: each input element gets
 * dy if it is the first maximum of its window (equal to the output, which is
 * a copy of that element), else 0, so dx is written once, never accumulated. */
static void maxpool_backward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    int exact = l->out.h * l->sh == l->in.h && l->out.w * l->sw == l->in.w && l->sh == l->kh &&
                l->sw == l->kw;
    em_function(em,
                "static void %s_backward(const cnn_real *restrict in, const cnn_real *restrict out, "
                "const cnn_real *restrict dy, cnn_real *restrict dx, int n)",
                L->fn);
    pool_enums(em, L);
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "const cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * OUT_SIZE;");
    em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN_SIZE;");
    if (!exact)
        em_line(em, "memset(dxi, 0, sizeof(cnn_real) * IN_SIZE); /* rows or columns no window covers */");
    em_open_block(em, "for (int oy = 0; oy < OH; oy++) {");
    em_open_block(em, "for (int ox = 0; ox < OW; ox++) {");
    em_line(em, "const size_t o = ((size_t)oy * OW + ox) * C;");
    em_line(em, "const size_t base = ((size_t)(oy * SH) * IW + ox * SW) * C;");
    em_line(em, "cnn_real left[C]; /* 1 until the window's first maximum is found */");
    emit_simd_for(em, "c", "C");
    em_line(em, "    left[c] = 1;");
    em_open_block(em, "for (int ky = 0; ky < KH; ky++) {");
    em_open_block(em, "for (int kx = 0; kx < KW; kx++) {");
    em_line(em, "const size_t at = base + ((size_t)ky * IW + kx) * C;");
    emit_simd_block(em, "c", "C");
    em_line(em, "const int hit = (xi[at + c] == yi[o + c]) & (left[c] != 0);");
    em_line(em, "dxi[at + c] = hit ? dyi[o + c] : (cnn_real)0;");
    em_line(em, "left[c] = hit ? (cnn_real)0 : left[c];");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "} /* ox */");
    em_close_block(em, "} /* oy */");
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
}

/* The plain loops: every window's first maximum (or each element's share
 * of the mean) gets the window's gradient. */
static void pool_backward_plain(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    int is_max = L->l->kind == CNN_MAXPOOL;
    em_function(em,
                  "static void %s_backward(const cnn_real *restrict in, const cnn_real *restrict out, "
                  "const cnn_real *restrict dy, cnn_real *restrict dx, int n)",
                  L->fn);
    pool_enums(em, L);
    em_line(em, "(void)out;");
    if (!is_max)
        em_line(em, "(void)in;");
    emit_image_loop(em);
    if (is_max)
        em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * OUT_SIZE;");
    em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN_SIZE;");
    em_line(em, "memset(dxi, 0, sizeof(cnn_real) * IN_SIZE);");
    em_open_block(em, "for (int oy = 0; oy < OH; oy++) {");
    em_open_block(em, "for (int ox = 0; ox < OW; ox++) {");
    em_line(em, "const cnn_real *restrict dyp = dyi + ((size_t)oy * OW + ox) * C;");
    em_line(em, "const size_t base = ((size_t)(oy * SH) * IW + ox * SW) * C;");
    if (is_max) {
        em_open_block(em, "for (int c = 0; c < C; c++) {");
        em_line(em, "size_t best = base + c;");
        em_open_block(em, "for (int ky = 0; ky < KH; ky++) {");
        em_open_block(em, "for (int kx = 0; kx < KW; kx++) {");
        em_line(em, "const size_t at = base + ((size_t)ky * IW + kx) * C + c;");
        em_line(em, "if (xi[at] > xi[best])");
        em_line(em, "    best = at;");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_line(em, "dxi[best] += dyp[c];");
        em_close_block(em, "}");
    } else {
        em_open_block(em, "for (int ky = 0; ky < KH; ky++) {");
        em_open_block(em, "for (int kx = 0; kx < KW; kx++) {");
        em_line(em, "cnn_real *restrict dxp = dxi + base + ((size_t)ky * IW + kx) * C;");
        emit_simd_for(em, "c", "C");
        em_line(em, "    dxp[c] += dyp[c] * ((cnn_real)1 / (KH * KW));");
        em_close_block(em, "}");
        em_close_block(em, "}");
    }
    em_close_block(em, "} /* ox */");
    em_close_block(em, "} /* oy */");
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
}

static void pool_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    int is_max = L->l->kind == CNN_MAXPOOL;
    emit_layer_comment(em, pl, L, "backward");
    if (L->fused) {
        em_line(em, "#ifdef CNN_REFERENCE_KERNELS");
        pool_backward_plain(em, L);
        em_blank(em);
        const cnnc_plan_layer *by = &pl->layers[L->fused_by];
        if (by->l->kind == CNN_BATCHNORM)
            emit_bn_pool_oracle(em, pl, by, L);
        else
            emit_conv_pool_oracle(em, pl, by, L);
        em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
        em_blank(em);
        return;
    }
    int fast = is_max && L->l->sh >= L->l->kh && L->l->sw >= L->l->kw;
    if (fast) {
        em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
        maxpool_backward_fast(em, L);
        em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
    }
    pool_backward_plain(em, L);
    if (fast)
        em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_blank(em);
}

static void pool_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                               const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_backward(%s, %s, %s, %s, n);", L->fn, a->in, a->out, a->dy, a->dx);
}

const cnnc_layer_emitter emit_maxpool_layer = {
    pool_forward, pool_forward_call, pool_backward, pool_backward_call,
};
const cnnc_layer_emitter emit_avgpool_layer = {
    pool_forward, pool_forward_call, pool_backward, pool_backward_call,
};

/* ---- globalavgpool: mean over height and width, out is a vector of C ---- */

static void gap_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    emit_layer_comment(em, pl, L, "forward");
    em_function(em, "static void %s_forward(const cnn_real *restrict in, cnn_real *restrict out, int n)",
                  L->fn);
    em_line(em, "enum { PIXELS = %d, C = %d, IN_SIZE = %zu };", l->in.h * l->in.w, l->in.c, L->in_size);
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * C;");
    em_line(em, "cnn_real acc[C];");
    emit_simd_for(em, "c", "C");
    em_line(em, "    acc[c] = 0;");
    em_open_block(em, "for (int q = 0; q < PIXELS; q++) {");
    emit_simd_for(em, "c", "C");
    em_line(em, "    acc[c] += xi[(size_t)q * C + c];");
    em_close_block(em, "}");
    emit_simd_for(em, "c", "C");
    em_line(em, "    yi[c] = acc[c] * ((cnn_real)1 / PIXELS);");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_blank(em);
}

static void gap_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    emit_layer_comment(em, pl, L, "backward");
    em_function(em, "static void %s_backward(const cnn_real *restrict dy, cnn_real *restrict dx, int n)",
                  L->fn);
    em_line(em, "enum { PIXELS = %d, C = %d, IN_SIZE = %zu };", l->in.h * l->in.w, l->in.c, L->in_size);
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * C;");
    em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN_SIZE;");
    em_open_block(em, "for (int q = 0; q < PIXELS; q++) {");
    emit_simd_for(em, "c", "C");
    em_line(em, "    dxi[(size_t)q * C + c] = dyi[c] * ((cnn_real)1 / PIXELS);");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_blank(em);
}

static void gap_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                              const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_backward(%s, %s, n);", L->fn, a->dy, a->dx);
}

const cnnc_layer_emitter emit_globalavgpool_layer = {
    gap_forward, pool_forward_call, gap_backward, gap_backward_call,
};
