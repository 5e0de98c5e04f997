/* emit_conv2d.c: conv2d forward and backward, NHWC activations, HWIO kernels.
 *
 * Forward: per output pixel, a vector of OC accumulators starts at the bias;
 * for each tap (ky, kx) inside the image and each input channel, one
 * broadcast input times one row of OC weights (the innermost loop runs over
 * output channels, contiguous in both the kernel and the output: what the
 * vectorizer wants). The fused activation is applied before the store.
 * `same` padding is TensorFlow's (pad_top/pad_left from the IR; the extra
 * pixel at the bottom/right); taps falling in the padding are skipped.
 *
 * Backward, per image: dz = dy * act'(y) in place; the weight and bias
 * gradients of that image go to its own slot; dx (when a lower layer needs
 * it) is the transposed convolution. The slots are then summed in image
 * order and added to grads, so the result does not depend on the threads. */
#include <stdio.h>

#include "conv_blocks.h"
#include "emit_activation.h"
#include "emit_conv2d.h"
#include "emit_conv_pool.h"
#include "emit_conv_pool_backward.h"
#include "emit_conv_pool_avx512.h"
#include "emit_conv_winograd.h"
#include "emit_layers.h"
#include "emit_util.h"

/* The tap loops: for (ky) { iy; [skip]; for (kx) { ix; [skip]; */
static void open_taps(cnnc_emitter *em, const conv_dims *d)
{
    em_open_block(em, "for (int ky = 0; ky < KH; ky++) {");
    em_line(em, "const int iy = oy * SH - PT + ky;");
    if (d->padded) {
        em_line(em, "if (iy < 0 || iy >= IH)");
        em_line(em, "    continue;");
    }
    em_open_block(em, "for (int kx = 0; kx < KW; kx++) {");
    em_line(em, "const int ix = ox * SW - PL + kx;");
    if (d->padded) {
        em_line(em, "if (ix < 0 || ix >= IW)");
        em_line(em, "    continue;");
    }
}

static void close_taps(cnnc_emitter *em)
{
    em_close_block(em, "} /* kx */");
    em_close_block(em, "} /* ky */");
}

#define FWD_SIG                                                                               \
    "static void %s_forward(const cnn_real *restrict p, const cnn_real *restrict in, "        \
    "cnn_real *restrict out, cnn_real *restrict pad, %sint n)"

/* In an image loop with dzi and wgt: dx, every output pixel sending its dz
 * back through the taps (the plain backward's, and the fast one's with a
 * stride). */
static void emit_dx_taps(cnnc_emitter *em, const conv_dims *d)
{
    em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN_SIZE;");
    em_line(em, "memset(dxi, 0, sizeof(cnn_real) * IN_SIZE);");
    em_open_block(em, "for (int oy = 0; oy < OH; oy++) {");
    em_open_block(em, "for (int ox = 0; ox < OW; ox++) {");
    em_line(em, "const cnn_real *restrict dzp = dzi + ((size_t)oy * OW + ox) * OC;");
    open_taps(em, d);
    em_line(em, "cnn_real *restrict dxp = dxi + ((size_t)iy * IW + ix) * IC;");
    em_line(em, "const cnn_real *restrict wp = wgt + (size_t)(ky * KW + kx) * IC * OC;");
    em_open_block(em, "for (int ci = 0; ci < IC; ci++) {");
    em_line(em, "cnn_real s = 0;");
    em_line(em, "OMP(simd reduction(+:s))");
    em_line(em, "for (int co = 0; co < OC; co++)");
    em_line(em, "    s += wp[ci * OC + co] * dzp[co];");
    em_line(em, "dxp[ci] += s;");
    em_close_block(em, "}");
    close_taps(em);
    em_close_block(em, "} /* ox */");
    em_close_block(em, "} /* oy */");
}

/* The forward's extra parameter: Winograd's U, for a conv whose forward
 * without a pool runs by Winograd (emit_conv_winograd.c). */
static const char *fwd_wino_param(const cnnc_plan_layer *L)
{
    return L->wino && !L->fuse_pool ? "cnn_real *restrict wino, " : "";
}

static void emit_backward_sig(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    em_function(em,
                "static void %s_backward(const cnn_real *restrict p, cnn_real *restrict g, "
                "const cnn_real *restrict in, const cnn_real *restrict out, cnn_real *restrict dy, "
                "%scnn_real *restrict slot, cnn_real *restrict pad, cnn_real *restrict flip, int n)",
                L->fn, L->needs_dx ? "cnn_real *restrict dx, " : "");
}

static void conv_forward_ref(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    char e[256];
    (void)pl;
    em_function(em, FWD_SIG, L->fn, fwd_wino_param(L));
    conv_emit_enums(em, L, &d);
    em_line(em, "(void)pad;");
    if (*fwd_wino_param(L))
        em_line(em, "(void)wino; /* Winograd's U: the fast path's */");
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [KH][KW][IC][OC] */");
    if (l->bias)
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    em_open_block(em, "for (int oy = 0; oy < OH; oy++) {");
    em_open_block(em, "for (int ox = 0; ox < OW; ox++) {");
    em_line(em, "cnn_real acc[OC];");
    emit_simd_for(em, "co", "OC");
    em_line(em, "    acc[co] = %s;", l->bias ? "bias[co]" : "0");
    open_taps(em, &d);
    em_line(em, "const cnn_real *restrict xp = xi + ((size_t)iy * IW + ix) * IC;");
    em_line(em, "const cnn_real *restrict wp = wgt + (size_t)(ky * KW + kx) * IC * OC;");
    em_open_block(em, "for (int ci = 0; ci < IC; ci++) {");
    em_line(em, "const cnn_real v = xp[ci];");
    emit_simd_for(em, "co", "OC");
    em_line(em, "    acc[co] += v * wp[ci * OC + co];");
    em_close_block(em, "}");
    close_taps(em);
    em_line(em, "cnn_real *restrict yp = yi + ((size_t)oy * OW + ox) * OC;");
    if (L->act == CNN_ACT_SOFTMAX) {
        emit_softmax_row(em, "acc", "yp", "OC");
    } else {
        emit_simd_block_if(em, emit_act_simd_ok(L->act), "co", "OC");
        em_line(em, "const cnn_real z = acc[co];");
        em_line(em, "yp[co] = %s;", emit_act_expr(e, sizeof e, L->act, l->alpha, "z"));
        em_close_block(em, "}");
    }
    em_close_block(em, "} /* ox */");
    em_close_block(em, "} /* oy */");
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
}


static void conv_backward_ref(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    emit_backward_sig(em, L);
    conv_emit_enums(em, L, &d);
    em_line(em, "(void)pad;");
    em_line(em, "(void)flip;");
    em_line(em, "enum { SLOT = %zu }; /* per image: dW [KH][KW][IC][OC]%s */", L->slot_floats,
            l->bias ? ", then db [OC]" : "");
    if (L->needs_dx)
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
    else
        em_line(em, "(void)p;");
    (void)pl;
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict dzi = dy + (size_t)i * OUT_SIZE;");
    em_line(em, "cnn_real *restrict dwi = slot + (size_t)i * SLOT;");
    if (L->act != CNN_ACT_LINEAR) {
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
        em_line(em, "/* dz = dy * act'(y), in place */");
        emit_act_grad_image(em, L->act, l->alpha, "yi", "dzi", L->out_size, (size_t)d.oc);
    } else {
        em_line(em, "(void)out;");
    }
    if (!L->has_params) {
        em_line(em, "(void)xi;");
        em_line(em, "(void)dwi;");
    } else {
    em_line(em, "memset(dwi, 0, sizeof(cnn_real) * SLOT);");
    em_open_block(em, "for (int oy = 0; oy < OH; oy++) {");
    em_open_block(em, "for (int ox = 0; ox < OW; ox++) {");
    em_line(em, "const cnn_real *restrict dzp = dzi + ((size_t)oy * OW + ox) * OC;");
    if (l->bias) {
        emit_simd_for(em, "co", "OC");
        em_line(em, "    dwi[W_COUNT + co] += dzp[co];");
    }
    open_taps(em, &d);
    em_line(em, "const cnn_real *restrict xp = xi + ((size_t)iy * IW + ix) * IC;");
    em_line(em, "cnn_real *restrict dwp = dwi + (size_t)(ky * KW + kx) * IC * OC;");
    em_open_block(em, "for (int ci = 0; ci < IC; ci++) {");
    em_line(em, "const cnn_real v = xp[ci];");
    emit_simd_for(em, "co", "OC");
    em_line(em, "    dwp[ci * OC + co] += v * dzp[co];");
    em_close_block(em, "}");
    close_taps(em);
    em_close_block(em, "} /* ox */");
    em_close_block(em, "} /* oy */");
    } /* has_params */
    if (L->needs_dx) {
        em_line(em, "/* dx: every output pixel sends its dz back through the taps */");
        emit_dx_taps(em, &d);
    }
    em_close_block(em, "} /* i */");
    if (L->has_params)
        conv_emit_slot_sum(em, l);
    else
        em_line(em, "(void)g; /* frozen: no weight gradient */");
    em_close_block(em, "}");
}

/* ---- the fast path ------------------------------------------------------
 *
 * Register blocking, sized for 16-float vectors (AVX-512) and about 20
 * vector accumulators; correct, only slower, elsewhere:
 *  - forward (and dx, which is the same kernel run on the zero-padded dz with
 *    the kernel rotated 180 degrees and its in/out channels swapped): P
 *    output pixels of a row at once, each with OC accumulators. For each
 *    kernel row ky, the (kx, ci) pairs are contiguous in the input window and
 *    in the HWIO kernel, so one flat loop over them broadcasts P inputs
 *    against one vector row of weights.
 *  - weight gradient: CB rows (ky, kx, ci) of dW at once, each OC wide,
 *    streamed over all output pixels: one dz load feeds CB broadcasts.
 * 'same' padding reads a zero-padded copy of the input (per-image scratch
 * `pad`), so the kernels have no bounds checks. Results are summed in a fixed
 * order per image, so they do not depend on the number of threads. */

/* The zero-padded dz of the fast dx, in floats. */
static size_t dz_padded_floats(const cnn_layer *l)
{
    return (size_t)(l->in.h + l->kh - 1) * (l->in.w + l->kw - 1) * l->out.c;
}

/* Per-image scratch the fast path needs (plan.c sizes `pad` with it). */
size_t emit_conv2d_pad_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool, int wino_dx)
{
    size_t s = conv_padded_copy_floats(l);
    if (pool)
        return s + conv_pool_scratch_floats(l, needs_dx, pool);
    if (needs_dx && conv_fast_dx(l)) {
        size_t d = dz_padded_floats(l);
        if (wino_dx)
            d += conv_winograd_dx_scratch_floats(l);
        if (d > s)
            s = d;
    }
    return s;
}

/* Fixed scratch: the rotated kernel of the fast dx, then Winograd's U of it. */
size_t emit_conv2d_flip_floats(const cnn_layer *l, int needs_dx, int wino_dx)
{
    size_t flip = needs_dx && conv_fast_dx(l) ? (size_t)l->kh * l->kw * l->in.c * l->out.c : 0;
    return flip + (wino_dx ? conv_winograd_fixed_floats(l) : 0);
}

static void conv_forward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    em_function(em, FWD_SIG, L->fn, fwd_wino_param(L));
    conv_emit_enums(em, L, &d);
    em_line(em, "enum { PAD_SIZE = %zu };", L->pad_floats);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [KH][KW][IC][OC] */");
    if (l->bias)
        em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    if (L->wino) {
        em_raw(em, "#ifndef CNN_NO_WINOGRAD /* defined: the direct kernel below (for comparisons) */\n");
        em_line(em, "enum { PW = %d, WINO_AT = %zu }; /* per image: [padded input, PW wide] then V and M */", pw,
                conv_padded_copy_floats(l));
        if (L->wino_stored) {
            em_line(em, "cnn_real *restrict wu = wino; /* U = G g G^T [16][IC][OC], computed by cnnc export */");
            em_line(em, "(void)wgt; /* the direct kernel's, below */");
        } else {
            conv_winograd_emit_weights(em, "wino", "wgt", "IC", "OC");
        }
        conv_winograd_emit_images(em, L, NULL, NULL, NULL);
        em_raw(em, "#else /* CNN_NO_WINOGRAD: the direct kernel */\n");
        em_line(em, "(void)wino;");
    }
    if (ph == l->in.h && pw == l->in.w)
        em_line(em, "(void)pad; /* no padding: read the input in place */");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    conv_emit_source(em, l);
    conv_block b = {"xs", "wgt", l->bias ? "bias" : NULL, "yi", pw, d.ic, d.oc, d.kh, d.kw,
                    d.sh, d.sw, d.oh, d.ow, L->act, l->alpha, NULL, NULL};
    conv_emit_block(em, &b);
    em_close_block(em, "} /* i */");
    if (L->wino)
        em_raw(em, "#endif /* CNN_NO_WINOGRAD */\n");
    em_close_block(em, "}");
}

static void conv_backward_fast(cnnc_emitter *em, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    conv_dims d = conv_dims_of(l);
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    int fdx = L->needs_dx && conv_fast_dx(l);
    emit_backward_sig(em, L);
    conv_emit_enums(em, L, &d);
    em_line(em, "enum { SLOT = %zu, PAD_SIZE = %zu, PW = %d }; /* slot: dW [KH][KW][IC][OC]%s */",
            L->slot_floats, L->pad_floats, pw, l->bias ? ", then db [OC]" : "");
    if (L->pad_floats == 0)
        em_line(em, "(void)pad;");
    if (L->needs_dx)
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF;");
    else
        em_line(em, "(void)p;");
    int wdx = L->wino_dx;
    if (fdx) {
        conv_emit_flip(em);
    } else {
        em_line(em, "(void)flip;");
    }
    if (wdx) {
        em_raw(em, "#ifndef CNN_NO_WINOGRAD\n");
        conv_winograd_emit_weights(em, "flip + W_COUNT", "flip", "OC", "IC");
        em_raw(em, "#endif /* CNN_NO_WINOGRAD */\n");
    }
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * IN_SIZE;");
    em_line(em, "cnn_real *restrict dzi = dy + (size_t)i * OUT_SIZE;");
    em_line(em, "cnn_real *restrict dwi = slot + (size_t)i * SLOT;");
    /* An element-wise activation's gradient and db in one pass over dz: the
     * image's dz (1 MB for fruit's first layer) is read once less. */
    int fused_db = L->has_params && l->bias && L->act != CNN_ACT_LINEAR && L->act != CNN_ACT_SOFTMAX;
    if (L->act != CNN_ACT_LINEAR)
        em_line(em, "const cnn_real *restrict yi = out + (size_t)i * OUT_SIZE;");
    else
        em_line(em, "(void)out;");
    if (fused_db) {
        char e[256];
        em_open_block(em, "{ /* dz = dy * act'(y), in place, and db */");
        em_line(em, "cnn_real s[OC];");
        emit_simd_for(em, "co", "OC");
        em_line(em, "    s[co] = 0;");
        em_open_block(em, "for (int q = 0; q < OH * OW; q++) {");
        em_line(em, "const cnn_real *restrict yq = yi + (size_t)q * OC;");
        em_line(em, "cnn_real *restrict dq = dzi + (size_t)q * OC;");
        emit_simd_block(em, "co", "OC");
        em_line(em, "const cnn_real v = %s;",
                emit_act_grad_expr(e, sizeof e, L->act, l->alpha, "yq[co]", "dq[co]"));
        em_line(em, "dq[co] = v;");
        em_line(em, "s[co] += v;");
        em_close_block(em, "}");
        em_close_block(em, "}");
        emit_simd_for(em, "co", "OC");
        em_line(em, "    dwi[W_COUNT + co] = s[co];");
        em_close_block(em, "}");
    } else if (L->act != CNN_ACT_LINEAR) {
        em_line(em, "/* dz = dy * act'(y), in place */");
        emit_act_grad_image(em, L->act, l->alpha, "yi", "dzi", L->out_size, (size_t)d.oc);
    }
    if (!L->has_params) {
        em_line(em, "(void)xi; /* frozen: dx only */");
        em_line(em, "(void)dwi;");
    }
    if (L->has_params && l->bias && !fused_db) {
        em_open_block(em, "{ /* db */");
        em_line(em, "cnn_real s[OC];");
        emit_simd_for(em, "co", "OC");
        em_line(em, "    s[co] = 0;");
        em_line(em, "for (int q = 0; q < OH * OW; q++)");
        em->indent++;
        emit_simd_for(em, "co", "OC");
        em_line(em, "    s[co] += dzi[(size_t)q * OC + co];");
        em->indent--;
        emit_simd_for(em, "co", "OC");
        em_line(em, "    dwi[W_COUNT + co] = s[co];");
        em_close_block(em, "}");
    }
    if (L->has_params) {
        conv_emit_source(em, l);
        conv_dz whole = {"0", "OH", "OW", "dzi + (size_t)oy * OW * OC", 0};
        conv_emit_dw(em, l, &whole);
    }
    if (fdx) {
        int top = l->kh - 1 - l->pad_top, left = l->kw - 1 - l->pad_left;
        int zh = l->in.h + l->kh - 1, zw = l->in.w + l->kw - 1;
        em_line(em, "/* dx: the forward kernel over the zero-padded dz with the rotated kernel */");
        em_line(em, "cnn_real *restrict dzpad = pad + (size_t)i * PAD_SIZE;");
        conv_emit_pad_copy(em, "dzi", "dzpad", d.oh, d.ow, d.oc, top, left, zh, zw);
        em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * IN_SIZE;");
        conv_block b = {"dzpad", "flip", NULL, "dxi", zw, d.oc, d.ic, d.kh, d.kw, 1, 1, d.ih, d.iw,
                        CNN_ACT_LINEAR, 0, NULL, NULL};
        if (wdx) {
            char scratch[48];
            snprintf(scratch, sizeof scratch, "dzpad + %zu", dz_padded_floats(l));
            em_raw(em, "#ifndef CNN_NO_WINOGRAD\n");
            conv_winograd_emit_dx(em, l, "dzpad", zw, "dxi", scratch);
            em_raw(em, "#else /* CNN_NO_WINOGRAD: the direct kernel */\n");
            conv_emit_block(em, &b);
            em_raw(em, "#endif /* CNN_NO_WINOGRAD */\n");
        } else {
            conv_emit_block(em, &b);
        }
    } else if (L->needs_dx) {
        em_line(em, "/* dx (strided: the plain transposed convolution) */");
        emit_dx_taps(em, &d);
    }
    em_close_block(em, "} /* i */");
    if (L->has_params)
        conv_emit_slot_sum(em, l);
    else
        em_line(em, "(void)g; /* frozen: no weight gradient */");
    em_close_block(em, "}");
}

/* ---- both paths: the fast one, and under CNN_REFERENCE_KERNELS the plain
 * loops (the oracle the fast path is tested against) ---------------------- */

static void conv_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "forward");
    em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    if (L->fuse_pool)
        emit_conv_pool_fast(em, pl, L, &pl->layers[L->index + 1], 0);
    else
        conv_forward_fast(em, L);
    em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
    conv_forward_ref(em, pl, L);
    em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_blank(em);
}

static void conv_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "backward");
    em_line(em, "#ifndef CNN_REFERENCE_KERNELS");
    if (L->fuse_pool)
        emit_conv_pool_fast(em, pl, L, &pl->layers[L->index + 1], 1);
    else
        conv_backward_fast(em, L);
    em_line(em, "#else /* CNN_REFERENCE_KERNELS: the plain loops, the oracle */");
    conv_backward_ref(em, pl, L);
    em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
    em_blank(em);
}

static void conv_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                              const cnnc_args *a)
{
    (void)pl;
    char wino[CNN_MAX_NAME + 48];
    snprintf(wino, sizeof wino, L->wino_stored ? "(cnn_real *)cnnx_wino_%s_ptr" : "wk + WK_%s_WINO", L->l->name);
    if (L->fuse_pool && L->wino)
        em_line(em, "%s_pool_forward(p, %s, %s, %s, pad, %s, n, training);", L->fn, a->in, a->out, a->pool_out,
                wino);
    else if (L->fuse_pool)
        em_line(em, "%s_pool_forward(p, %s, %s, %s, pad, n, training);", L->fn, a->in, a->out, a->pool_out);
    else if (L->wino)
        em_line(em, "%s_forward(p, %s, %s, pad, %s, n);", L->fn, a->in, a->out, wino);
    else
        em_line(em, "%s_forward(p, %s, %s, pad, n);", L->fn, a->in, a->out);
}

static void conv_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                               const cnnc_args *a)
{
    (void)pl;
    char flip[64];
    snprintf(flip, sizeof flip, "wk + WK_%s_FLIP", L->l->name);
    if (L->fuse_pool) /* dx: the gradient buffer, scratch when nothing needs dx */
        em_line(em, "%s_pool_backward(p, g, %s, %s, %s, %s, %s, slot, pad, %s, n);", L->fn, a->in, a->out,
                a->pool_out, a->dy, a->dx, flip);
    else if (a->dx)
        em_line(em, "%s_backward(p, g, %s, %s, %s, %s, slot, pad, %s, n);", L->fn, a->in, a->out, a->dy,
                a->dx, flip);
    else
        em_line(em, "%s_backward(p, g, %s, %s, %s, slot, pad, %s, n);", L->fn, a->in, a->out, a->dy, flip);
}

const cnnc_layer_emitter emit_conv2d_layer = {
    conv_forward, conv_forward_call, conv_backward, conv_backward_call,
};
