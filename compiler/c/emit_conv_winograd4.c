/* emit_conv_winograd4.c: cnnc export's one-image forward of a 3x3 stride-1
 * conv by Winograd's F(4x4, 3x3) (winograd4_blocks.c): the conv alone, with
 * the 2x2 maxpool after it, or as the batchnorm fold's pass
 * (emit_conv_bn_fold.c). The weights are constants of the exported file,
 * so U = G g G^T is computed here (w4_weights: in double, rounded once,
 * as the trainer computes it). The larger
 * points make the rounding a few times that of F(2x2, 3x3) (docs/deploy.md
 * gives the differences measured against `predict`). */
#include "emit_conv_winograd4.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "conv_blocks.h"
#include "emit_conv_bn_fold.h"
#include "emit_util.h"
#include "winograd4_blocks.h"

static const cnn_layer *pool_of(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    if (L->fold_bn)
        return pl->layers[L->fold_pool].l;
    return L->fuse_pool ? pl->layers[L->pool_at].l : NULL;
}

static w4_geo geo_of(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    if (L->fold_bn && !L->fold_affine) /* the batchnorm in the weights and bias, its relu after */
        return w4_geometry(l, pool_of(pl, L), pl->layers[L->index + 1].act, l->alpha, 1, 0, "out");
    return w4_geometry(l, pool_of(pl, L), L->act, l->alpha, l->bias != 0, L->fold_bn, "out");
}

int conv_winograd4_applies(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    if (l->kind != CNN_CONV2D || !(L->fold_bn ? L->fold_wino : L->wino))
        return 0;
    w4_geo g = geo_of(pl, L);
    return w4_applies(&g);
}

size_t conv_winograd4_scratch_floats(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    w4_geo g = geo_of(pl, L);
    return conv_padded_copy_floats(L->l) + w4_scratch_floats(&g);
}

size_t conv_winograd4_stored_floats(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    w4_geo g = geo_of(pl, L);
    const size_t oc = (size_t)L->l->out.c;
    return 36 * (size_t)L->l->in.c * oc + (g.bias ? oc : 0) + (g.affine ? 2 * oc : 0);
}

int conv_winograd4_last(const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    (void)pl;
    return L->fold_bn ? L->fold_pool : L->fuse_pool ? L->pool_at : L->index;
}

int conv_winograd4_values(const cnnc_plan *pl, const cnnc_plan_layer *L, const float *p, float *stored)
{
    w4_geo g = geo_of(pl, L);
    const cnn_layer *l = L->l;
    const int ic = l->in.c, oc = l->out.c;
    float *bias = stored + (size_t)36 * ic * oc;
    if (L->fold_bn && !L->fold_affine) { /* the folded weights and bias, as the fold computes them */
        float *fold = malloc(emit_conv_bn_fold_stored_floats(L) * sizeof *fold);
        if (!fold)
            return emit_error("out of memory");
        emit_conv_bn_fold_values(pl, L, p, fold);
        w4_weights(fold, ic, oc, stored);
        for (int c = 0; c < oc; c++)
            bias[c] = fold[L->t_count[0] + (size_t)c];
        free(fold);
        return 0;
    }
    w4_weights(p + L->t_off[0], ic, oc, stored);
    if (g.bias)
        for (int c = 0; c < oc; c++)
            bias[c] = p[L->t_off[1] + (size_t)c];
    if (g.affine) { /* the batchnorm's inference map, as emit_conv_bn_fold.c computes it */
        const cnnc_plan_layer *B = &pl->layers[L->index + 1];
        float *scale = bias + (g.bias ? oc : 0), *shift = scale + oc;
        for (int c = 0; c < oc; c++) {
            scale[c] = p[B->t_off[0] + c] / sqrtf(p[B->t_off[3] + c] + B->l->epsilon);
            shift[c] = p[B->t_off[1] + c] - p[B->t_off[2] + c] * scale[c];
        }
    }
    return 0;
}

void conv_winograd4_emit_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    w4_geo g = geo_of(pl, L);
    const cnn_layer *l = L->l;
    const int last = conv_winograd4_last(pl, L);
    em_line(em, "/* %s to %s: forward, one image, by Winograd F(4x4, 3x3) (cnnc export: emit_conv_winograd4.c).",
            l->name, pl->layers[last].l->name);
    em_line(em, " * %s; %dx%d tiles of 4x4 outputs, %d whole (in blocks of %d), %d at the edges. */", L->stmt, g.ty,
            g.tx, g.tyf * g.txf, g.nt, g.ne);
    em_function(em,
                "static void %s_winograd4_forward(const cnn_real *restrict in, cnn_real *restrict out, "
                "cnn_real *restrict scratch, const cnn_real *restrict wu)",
                L->fn);
    w4_emit_enums(em, &g);
    em_line(em, "/* wu: U = G g G^T [36][WIC][WOC]%s%s, computed by cnnc export */", g.bias ? ", the bias" : "",
            g.affine ? ", the batchnorm's scale and shift" : "");
    if (g.bias)
        em_line(em, "const cnn_real *restrict bias = wu + 36 * WIC * WOC;");
    if (g.affine) {
        em_line(em, "const cnn_real *restrict scale = wu + 36 * WIC * WOC%s;", g.bias ? " + WOC" : "");
        em_line(em, "const cnn_real *restrict shift = scale + WOC;");
    }
    size_t padf = conv_padded_copy_floats(l);
    if (g.padded) {
        em_line(em, "cnn_real *restrict xpad = scratch;");
        conv_emit_pad_copy(em, "in", "xpad", l->in.h, l->in.w, l->in.c, l->pad_top, l->pad_left, g.src_h, g.src_w);
        em_line(em, "const cnn_real *restrict xs = xpad;");
    } else {
        em_line(em, "const cnn_real *restrict xs = in;");
    }
    char base[48];
    snprintf(base, sizeof base, "scratch + %zu", padf);
    w4_emit_scratch(em, &g, base);
    w4_emit_tiles(em, &g);
    em_close_block(em, "}");
    em_blank(em);
}

void conv_winograd4_emit_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *in, const char *out,
                              const char *scratch, const char *stored)
{
    em_line(em, "%s_winograd4_forward(%s, %s, %s, %s);", L->fn, in, out, scratch, stored);
}
