/* emit_conv_bn_fold.c: in inference, a batchnorm after a conv2d folded
 * into it, and the pair (with the maxpool after them) run as one fused
 * conv + activation + maxpool pass.
 *
 * Why: at inference a batchnorm uses its running statistics, so it is an
 * affine map per channel, y = scale z + shift with scale = gamma /
 * sqrt(var + epsilon) and shift = beta - mean scale. Unfolded, the conv
 * writes its output (deep's first conv: 256 KB per image), the batchnorm
 * reads it and writes the normalized, pooled values. Folded, neither the
 * conv's output nor the batchnorm's is ever written:
 *
 *   conv (linear) -> batchnorm [-> relu] -> maxpool (deep's blocks): scale
 *   goes into the conv's weights (W'[..][co] = W[..][co] scale[co]) and
 *   shift into its bias (b' = b scale + shift), computed into the fixed
 *   work area at each call (a few thousand multiplications); the fused
 *   kernel then applies the relu and pools.
 *
 *   conv relu -> batchnorm -> maxpool (fashion's blocks): the affine map
 *   comes after the relu, so it cannot go into the weights; the fused
 *   kernel pools and applies it to the pooled value: at the window's
 *   maximum where scale >= 0 and at its minimum where scale < 0 (a
 *   negative gamma reverses the order; max of the normalized window).
 *
 * A 3x3 stride-1 conv with whole vectors of channels and 2x2 windows runs
 * the pass by Winograd's F(2x2, 3x3) (emit_conv_winograd.c), its U after the
 * folded weights in the fixed work area.
 *
 * The trainer's inference computes the folded weights and U from the
 * parameters at each call (they change as it trains). `cnnc export`'s
 * weights never change, so there they are computed once, here in cnnc
 * (emit_conv_bn_fold_values, the same operations in the same order), and
 * stored in the exported file as constants ("stored" below): a tenth of
 * deep.cnn's inference time was this recomputation.
 *
 * Training keeps the layers as written (batch statistics are not an affine
 * map fixed in advance), and so does inference under CNN_REFERENCE_KERNELS:
 * the oracle the parity tests hold the folded path to. */
#include <math.h>
#include <stdio.h>

#include "cnn_words.h"
#include "conv_blocks.h"
#include "emit_conv_bn_fold.h"
#include "emit_conv_pool_forward.h"
#include "emit_conv_winograd.h"
#include "emit_util.h"

/* The folded weights and bias (not affine), then Winograd's U. */
static size_t fold_floats(const cnnc_plan_layer *conv)
{
    return conv->fold_affine ? 0 : conv->t_count[0] + (size_t)conv->l->out.c;
}

size_t emit_conv_bn_fold_fixed_floats(const cnnc_plan_layer *conv)
{
    if (!conv->fold_bn)
        return 0;
    return fold_floats(conv) + (conv->fold_wino ? conv_winograd_fixed_floats(conv->l) : 0);
}

size_t emit_conv_bn_fold_pad_floats(const cnnc_plan *pl, const cnnc_plan_layer *conv)
{
    if (!conv->fold_bn)
        return 0;
    const cnn_layer *pool = pl->layers[conv->fold_pool].l;
    size_t direct = conv_pool_forward_floats(conv->l, pool);
    if (!conv->fold_wino)
        return direct;
    size_t wino = conv_padded_copy_floats(conv->l) + conv_winograd_scratch_floats(conv->l, pool);
    return wino > direct ? wino : direct;
}

/* The folded pass takes the fixed work area's part when it uses one. */
static int takes_fold(const cnnc_plan_layer *conv)
{
    return !conv->fold_affine || conv->fold_wino;
}

size_t emit_conv_bn_fold_stored_floats(const cnnc_plan_layer *conv)
{
    return conv->fold_bn && takes_fold(conv) ? emit_conv_bn_fold_fixed_floats(conv) : 0;
}

void emit_conv_bn_fold_values(const cnnc_plan *pl, const cnnc_plan_layer *L, const float *p, float *fold)
{
    const cnn_layer *l = L->l;
    const cnnc_plan_layer *B = &pl->layers[L->index + 1];
    const int oc = l->out.c;
    const size_t taps = (size_t)l->kh * l->kw * l->in.c;
    const float *wgt = p + L->t_off[0];
    if (!L->fold_affine) {
        float *w = fold, *bias = fold + L->t_count[0];
        const float epsilon = B->l->epsilon;
        for (int co = 0; co < oc; co++) { /* as the emitted fold below */
            const float scale = p[B->t_off[0] + co] / sqrtf(p[B->t_off[3] + co] + epsilon);
            const float shift = p[B->t_off[1] + co] - p[B->t_off[2] + co] * scale;
            for (size_t t = 0; t < taps; t++)
                w[t * (size_t)oc + co] = wgt[t * (size_t)oc + co] * scale;
            bias[co] = l->bias ? p[L->t_off[1] + co] * scale + shift : shift;
        }
        wgt = w;
    }
    if (L->fold_wino)
        conv_winograd_weights(wgt, l->in.c, oc, fold + fold_floats(L));
}

void emit_conv_bn_fold_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L, int stored)
{
    const cnn_layer *l = L->l;
    const cnnc_plan_layer *B = &pl->layers[L->index + 1], *P = &pl->layers[L->fold_pool];
    conv_dims d = conv_dims_of(l);
    char f[48];
    if (L->fold_affine) {
        em_line(em, "/* %s + %s + %s in inference (emit_conv_bn_fold.c): the batchnorm, with its", l->name,
                B->l->name, P->l->name);
        em_line(em, " * running statistics, is y = scale z + shift per channel after the conv's %s; the",
                cnn_act_words[L->act]);
        em_line(em, " * fused conv + %s + maxpool applies it to each window's maximum (its minimum where",
                cnn_act_words[L->act]);
        em_line(em, " * scale < 0), so the conv's and the batchnorm's outputs are never written. */");
    } else {
        em_line(em, "/* %s + %s%s + %s in inference (emit_conv_bn_fold.c): the batchnorm, with its", l->name,
                B->l->name, B->fuse_relu ? " + relu" : "", P->l->name);
        em_line(em, " * running statistics, is y = scale z + shift per channel: scale goes into the conv's");
        em_line(em, " * weights, shift into its bias (in `fold`, %s), and one fused conv + %s +",
                stored ? "computed by cnnc export" : "at each call", cnn_act_words[B->act]);
        em_line(em, " * maxpool pass follows: the conv's and the batchnorm's outputs are never written. */");
    }
    em_function(em,
                "static void %s_folded_forward(const cnn_real *restrict p, %sconst cnn_real *restrict in, "
                "cnn_real *restrict pooled, cnn_real *restrict pad, int n)",
                L->fn, !takes_fold(L) ? "" : stored ? "const cnn_real *restrict fold, " : "cnn_real *restrict fold, ");
    conv_emit_enums(em, L, &d);
    cnnc_plan_layer F = *L; /* the pair's enums, with this pass's own per-image scratch */
    F.pad_floats = L->fold_pad_floats;
    conv_pool_emit_enums(em, &F, P);
    em_line(em, "enum { BN_G_OFF = %zu, BN_B_OFF = %zu, BN_RM_OFF = %zu, BN_RV_OFF = %zu }; /* %s */",
            B->t_off[0], B->t_off[1], B->t_off[2], B->t_off[3], B->l->name);
    if (L->fold_affine || !stored) {
        em_line(em, "const cnn_real epsilon = %s;", emit_real(f, sizeof f, B->l->epsilon));
        em_line(em, "cnn_real scale[OC], shift[OC];");
        em_open_block(em, "for (int co = 0; co < OC; co++) { /* as the batchnorm's own inference */");
        em_line(em, "scale[co] = p[BN_G_OFF + co] / REAL_SQRT(p[BN_RV_OFF + co] + epsilon);");
        em_line(em, "shift[co] = p[BN_B_OFF + co] - p[BN_RM_OFF + co] * scale[co];");
        em_close_block(em, "}");
    }
    conv_pool_variant v = {L->act, l->alpha, l->bias != 0, 0, L->fold_affine};
    if (L->fold_affine) {
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [KH][KW][IC][OC] */");
        if (l->bias)
            em_line(em, "const cnn_real *restrict bias = p + B_OFF;");
    } else if (stored) {
        v.act = B->act;
        v.bias = 1;
        em_line(em, "(void)p; /* the fold holds all this pass reads */");
        em_line(em, "const cnn_real *restrict wgt = fold; /* [KH][KW][IC][OC], scaled */");
        em_line(em, "const cnn_real *restrict bias = fold + W_COUNT;");
    } else {
        v.act = B->act;
        v.bias = 1;
        em_line(em, "cnn_real *restrict wgt = fold; /* [KH][KW][IC][OC], scaled */");
        em_line(em, "cnn_real *restrict bias = fold + W_COUNT;");
        em_open_block(em, "for (int t = 0; t < KH * KW * IC; t++) {");
        emit_simd_for(em, "co", "OC");
        em_line(em, "    wgt[(size_t)t * OC + co] = p[W_OFF + (size_t)t * OC + co] * scale[co];");
        em_close_block(em, "}");
        emit_simd_for(em, "co", "OC");
        em_line(em, l->bias ? "    bias[co] = p[B_OFF + co] * scale[co] + shift[co];" : "    bias[co] = shift[co];");
    }
    if (L->fold_wino) {
        char wu[64];
        snprintf(wu, sizeof wu, "fold + %zu", fold_floats(L));
        em_raw(em, "#ifndef CNN_NO_WINOGRAD /* defined: the direct kernel below (for comparisons) */\n");
        if (stored) {
            em_line(em, "const cnn_real *restrict wu = %s; /* U = G g G^T: [16][IC][OC] */", wu);
            em_line(em, "(void)wgt; /* the direct kernel's, below */");
        } else {
            conv_winograd_emit_weights(em, wu, "wgt", "IC", "OC");
        }
        conv_winograd_emit_images(em, L, P, &v, NULL);
        em_raw(em, "#else /* CNN_NO_WINOGRAD: the direct kernel */\n");
        if (L->fold_affine)
            em_line(em, "(void)fold; /* Winograd's U alone */");
        conv_pool_emit_images(em, L, P, &v);
        em_raw(em, "#endif /* CNN_NO_WINOGRAD */\n");
    } else {
        conv_pool_emit_images(em, L, P, &v);
    }
    em_close_block(em, "}");
    em_blank(em);
}

void emit_conv_bn_fold_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *in, const char *pooled,
                            const char *stored)
{
    if (!takes_fold(L))
        em_line(em, "%s_folded_forward(p, %s, %s, pad, n);", L->fn, in, pooled);
    else if (stored)
        em_line(em, "%s_folded_forward(p, %s, %s, %s, pad, n);", L->fn, stored, in, pooled);
    else
        em_line(em, "%s_folded_forward(p, wk + WK_%s_FOLD, %s, %s, pad, n);", L->fn, L->l->name, in, pooled);
}
