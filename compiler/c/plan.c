/* plan.c: from the checked IR to the plan (plan.h): the memory layout and
 * every kernel choice, decided here once. The kernel files answer what their
 * kernels can do (conv_winograd_applies, conv_pool_dx_patch_applies, ...)
 * and how much scratch a choice needs; this file asks each question once per
 * layer and records the answer, and the emitters read only the record. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cnn_words.h"
#include "dense_blocks.h"
#include "emit_conv2d.h"
#include "emit_conv_bn_fold.h"
#include "emit_conv_few.h"
#include "emit_conv_pool_avx512.h"
#include "emit_conv_pool_backward.h"
#include "emit_conv_winograd.h"
#include "emit_conv_winograd4.h"
#include "emit_dense_one.h"
#include "emit_util.h"
#include "plan.h"
#include "winograd4_blocks.h"

/* The layer as the user would write it: the comment over its functions. */
static void layer_stmt(char *buf, size_t size, const cnn_layer *l)
{
    char a[64] = "";
    if (l->act != CNN_ACT_LINEAR && l->kind != CNN_ACTIVATION) {
        if (l->act == CNN_ACT_LEAKY_RELU)
            snprintf(a, sizeof a, " leaky_relu");
        else
            snprintf(a, sizeof a, " %s", cnn_act_words[l->act]);
    }
    switch (l->kind) {
    case CNN_CONV2D:
        snprintf(buf, size, "conv2d %d %dx%d%s stride=%dx%d padding=%s bias=%s", l->filters, l->kh,
                 l->kw, a, l->sh, l->sw, l->same ? "same" : "valid", l->bias ? "true" : "false");
        break;
    case CNN_MAXPOOL:
    case CNN_AVGPOOL:
        snprintf(buf, size, "%s %dx%d stride=%dx%d", l->kind == CNN_MAXPOOL ? "maxpool" : "avgpool",
                 l->kh, l->kw, l->sh, l->sw);
        break;
    case CNN_GLOBALAVGPOOL: snprintf(buf, size, "globalavgpool"); break;
    case CNN_FLATTEN: snprintf(buf, size, "flatten"); break;
    case CNN_DENSE: snprintf(buf, size, "dense %d%s", l->filters, a); break;
    case CNN_DROPOUT: snprintf(buf, size, "dropout %g", (double)l->rate); break;
    case CNN_BATCHNORM:
        snprintf(buf, size, "batchnorm momentum=%g epsilon=%g", (double)l->momentum,
                 (double)l->epsilon);
        break;
    case CNN_ACTIVATION:
        if (l->act == CNN_ACT_LEAKY_RELU)
            snprintf(buf, size, "leaky_relu alpha=%g", (double)l->alpha);
        else
            snprintf(buf, size, "%s", cnn_act_words[l->act]);
        break;
    }
    if (l->frozen && strlen(buf) + 16 < size)
        strcat(buf, " trainable=false");
}

static size_t shape_size(const cnn_shape *s)
{
    return (size_t)s->h * (size_t)s->w * (size_t)s->c;
}

/* Whether conv2d `l` (forward activation `act`) and the layer after it,
 * `next` (NULL at the end), run as one fused conv + activation + maxpool in
 * the fast kernels (emit_conv_pool.c). */
static int conv_fuses_pool(const cnn_layer *l, cnn_act act, int needs_dx, const cnn_layer *next)
{
    if (!next || next->kind != CNN_MAXPOOL)
        return 0;
    /* max commutes with these activations; the gradient is 0 or 1 */
    if (act != CNN_ACT_RELU && act != CNN_ACT_LINEAR)
        return 0;
    /* windows that tile the image: each conv output belongs to one at most */
    if (next->kh != next->sh || next->kw != next->sw || next->kh * next->kw >= NO_GRAD)
        return 0;
    if (next->out.h < 1 || next->out.w < 1)
        return 0;
    /* a strided conv's dx is the plain transposed loop over the whole dz */
    if (needs_dx && !conv_fast_dx(l))
        return 0;
    return 1;
}

static int bn_fuses_pool(const cnn_layer *bn, const cnn_layer *pool)
{
    if (bn->kind != CNN_BATCHNORM || bn->in.rank != 3 || pool->kind != CNN_MAXPOOL)
        return 0;
    /* windows that tile the image: each element belongs to one at most;
     * and at least 2 elements per window, so that a pooled real and a byte
     * per window fit in the batchnorm's slot */
    if (pool->kh != pool->sh || pool->kw != pool->sw || pool->kh * pool->kw >= NO_GRAD ||
        pool->kh * pool->kw < 2)
        return 0;
    return pool->out.h >= 1 && pool->out.w >= 1;
}

/* Whether conv2d i and the batchnorm after it fold into one fused conv +
 * activation + maxpool pass in inference (emit_conv_bn_fold.c): then the
 * maxpool's index and whether the batchnorm applies after the conv's relu.
 * Needs the plan's fuse_relu and act of both layers. */
static int conv_bn_folds(const cnnc_plan *pl, int i, int *pool_at, int *affine)
{
    const cnnc_plan_layer *C = &pl->layers[i];
    if (C->l->kind != CNN_CONV2D || i + 2 >= pl->n)
        return 0;
    const cnnc_plan_layer *B = &pl->layers[i + 1];
    if (B->l->kind != CNN_BATCHNORM)
        return 0;
    int p = i + 2 + B->fuse_relu;
    if (p >= pl->n - 1 || pl->layers[p].l->kind != CNN_MAXPOOL)
        return 0;
    cnn_act kact;
    if (C->act == CNN_ACT_LINEAR) { /* the batchnorm goes into the weights; its relu after */
        kact = B->act;
        *affine = 0;
    } else if (C->act == CNN_ACT_RELU && B->act == CNN_ACT_LINEAR) { /* after the relu */
        kact = CNN_ACT_RELU;
        *affine = 1;
    } else {
        return 0;
    }
    if (!conv_fuses_pool(C->l, kact, 0, pl->layers[p].l))
        return 0;
    *pool_at = p;
    return 1;
}

/* Whether the folded pass runs by Winograd's F(2x2, 3x3) (emit_conv_winograd.c). */
static int fold_winograd(const cnnc_plan *pl, const cnnc_plan_layer *conv)
{
    return conv->fold_bn && conv_winograd_applies(conv->l, pl->layers[conv->fold_pool].l);
}

/* Whether the backward's dx (the plain conv's, not a fused pool's) runs by
 * Winograd (emit_conv_winograd.c). */
static int conv_dx_winograd(const cnn_layer *l, int needs_dx, const cnn_layer *pool)
{
    return needs_dx && !pool && conv_fast_dx(l) && conv_winograd_dx_applies(l);
}

/* Enum constants must fit an int; these bound every size in the file. */
#define PLAN_LIMIT ((size_t)INT_MAX / 4)

int plan_build(cnnc_plan *pl, const cnnc_ir *ir)
{
    memset(pl, 0, sizeof *pl);
    pl->ir = ir;
    pl->model = ir->name;
    pl->n = ir->n_layers;
    if (ir->n_layers < 1 || ir->n_layers > CNN_MAX_LAYERS)
        return emit_error("internal: %d layers", ir->n_layers);

    size_t act = 0, grad = (size_t)ir->in_h * ir->in_w * ir->in_c, fixed = 0, slot = 0, pad = 0;
    int params_below = 0;
    for (int i = 0; i < ir->n_layers; i++) {
        cnnc_plan_layer *L = &pl->layers[i];
        const cnn_layer *l = &ir->layers[i];
        L->index = i;
        L->l = l;
        L->cost = &ir->cost[i];
        snprintf(L->fn, sizeof L->fn, "%s_%s", ir->name, l->name);
        layer_stmt(L->stmt, sizeof L->stmt, l);
        L->in_size = shape_size(&l->in);
        L->out_size = shape_size(&l->out);
        if (L->in_size > PLAN_LIMIT || L->out_size > PLAN_LIMIT)
            return emit_error("layer %s is too large for the C back end", l->name);
        if (L->out_size > grad)
            grad = L->out_size;
        L->act = l->act;
        int last = i == ir->n_layers - 1;
        if (last) {
            /* The forward pass stops before the final sigmoid/softmax. */
            if (l->act != ir->final_act)
                return emit_error("internal: the last layer %s does not end in the final %s", l->name,
                                  cnn_act_words[ir->final_act]);
            L->act = CNN_ACT_LINEAR;
        }
        if (l->kind == CNN_FLATTEN || (last && l->kind == CNN_ACTIVATION))
            L->alias = 1;
        /* batchnorm then relu: the batchnorm applies the relu as it writes its
         * output (and takes relu' first in backward), so the relu layer is a
         * view and its full-size pass, forward and backward, is saved */
        if (l->kind == CNN_BATCHNORM && i + 2 < ir->n_layers && /* the relu is not the last layer */
            ir->layers[i + 1].kind == CNN_ACTIVATION && ir->layers[i + 1].act == CNN_ACT_RELU) {
            L->fuse_relu = 1;
            L->act = CNN_ACT_RELU;
        }
        if (l->kind == CNN_ACTIVATION && i > 0 && pl->layers[i - 1].fuse_relu)
            L->alias = 1;
        if (L->act == CNN_ACT_LEAKY_RELU && !(l->alpha >= 0))
            return emit_error("layer %s: leaky_relu needs alpha >= 0 (its gradient is taken from the output)",
                              l->name);
        if (l->kind == CNN_DROPOUT && !(l->rate >= 0 && l->rate < 1))
            return emit_error("layer %s: dropout rate must be in [0, 1)", l->name);

        if (l->n_tensors < 0 || l->n_tensors > 4 ||
            (l->n_tensors > 0 && (l->first_tensor < 0 || l->first_tensor + l->n_tensors > ir->n_tensors)))
            return emit_error("internal: layer %s has bad tensor indices", l->name);
        for (int t = 0; t < l->n_tensors; t++) {
            const cnn_tensor_info *ti = &ir->tensors[l->first_tensor + t];
            L->t_off[t] = ti->offset;
            L->t_count[t] = ti->count;
            if (ti->offset + ti->count > ir->n_params || ti->offset + ti->count > PLAN_LIMIT)
                return emit_error("internal: tensor %s outside the parameter block", ti->name);
            if (ti->trainable)
                L->has_params = 1;
        }
        int want = l->kind == CNN_CONV2D || l->kind == CNN_DENSE ? 1 + (l->bias != 0)
                   : l->kind == CNN_BATCHNORM                   ? 4
                                                                : 0;
        if (l->n_tensors != want)
            return emit_error("internal: layer %s has %d tensors, expected %d", l->name, l->n_tensors, want);

        L->needs_dx = params_below;
        L->run_backward = !L->alias && (L->has_params || L->needs_dx);
        if (L->has_params)
            params_below = 1;

        if (L->alias) {
            L->act_off = i > 0 ? pl->layers[i - 1].act_off : 0;
        } else {
            L->act_off = act;
            act += L->out_size;
            if (l->kind == CNN_DROPOUT) {
                L->mask_off = act;
                act += L->out_size;
            }
        }
        if (l->kind == CNN_BATCHNORM) {
            L->fixed_off = fixed;
            fixed += 2 * (size_t)l->out.c;
            L->slot_floats = 2 * (size_t)l->out.c;
        }
        if (l->kind == CNN_DENSE) {
            /* a frozen dense has no update to fuse */
            L->fuse_update = L->has_params && emit_dense_fuses_update(L->in_size, L->out_size);
            L->slot_floats = emit_dense_slot_floats(L->in_size, L->out_size);
        }
        if (l->kind == CNN_MAXPOOL) {
            /* the conv or batchnorm before it (through batchnorm's fused relu) */
            int j = i - 1;
            if (j > 0 && pl->layers[j].alias && pl->layers[j - 1].fuse_relu)
                j--;
            if (j >= 0 && pl->layers[j].fuse_pool && pl->layers[j].pool_at == i) {
                L->fused = 1;
                L->fused_by = j;
            }
        }
        /* A frozen layer that passes dx down runs its own dx-only backward
         * (emit_conv2d.c, emit_dense.c, emit_batchnorm.c): no fused pool. */
        int frozen_dx = l->frozen && L->needs_dx;
        if (l->kind == CNN_BATCHNORM && !frozen_dx && i + 1 + L->fuse_relu < ir->n_layers &&
            bn_fuses_pool(l, &ir->layers[i + 1 + L->fuse_relu])) {
            L->fuse_pool = 1;
            L->pool_at = i + 1 + L->fuse_relu;
        }
        if (l->kind == CNN_CONV2D) {
            const cnn_layer *next = i + 1 < ir->n_layers ? &ir->layers[i + 1] : NULL;
            L->fuse_pool = !last && !frozen_dx && conv_fuses_pool(l, L->act, L->needs_dx, next);
            L->pool_at = i + 1;
            L->slot_floats = L->t_count[0] + (l->bias ? L->t_count[1] : 0);
            const cnn_layer *pool = L->fuse_pool ? next : NULL;
            L->wino_dx = conv_dx_winograd(l, L->needs_dx, pool);
            if (pool) {
                L->pool_dw_windows = conv_pool_dw_windows_apply(l);
                L->pool_dx_windows = L->needs_dx && conv_pool_dx_windows_apply(l);
                L->pool_dx_patch = L->pool_dx_windows && conv_pool_dx_patch_applies(l, pool);
                L->pool_dw_permute = !L->needs_dx && !L->pool_dw_windows &&
                                     conv_pool_dw_permute_applies(l, pool, L->needs_dx);
            }
            L->pad_floats = emit_conv2d_pad_floats(l, L->needs_dx, pool, L->wino_dx);
            L->flip_off = fixed;
            fixed += emit_conv2d_flip_floats(l, L->needs_dx, L->wino_dx);
            /* Winograd's forward (emit_conv_winograd.c): the conv + pool's, or the plain conv's */
            const cnn_layer *wpool = L->fuse_pool ? next : NULL;
            L->wino = conv_winograd_applies(l, wpool);
            if (L->wino) {
                /* with the pool, by F(4x4, 3x3) where its tiles fit: 2.25
                 * multiply-adds per output against F(2x2, 3x3)'s 4, for
                 * larger transforms (docs/codegen.md has the layer times) */
                w4_geo g4 = {0};
                if (wpool) {
                    g4 = w4_trainer_geometry(L, wpool);
                    L->wino4_pool = w4_applies(&g4);
                }
                size_t s = conv_padded_copy_floats(l) +
                           (L->wino4_pool ? w4_scratch_floats(&g4) : conv_winograd_scratch_floats(l, wpool));
                if (s > L->pad_floats)
                    L->pad_floats = s;
                L->wino_off = fixed;
                fixed += L->wino4_pool ? w4_u_floats(l) : conv_winograd_fixed_floats(l);
            }
            if (L->pad_floats > pad)
                pad = L->pad_floats;
        }
        if (L->slot_floats > slot)
            slot = L->slot_floats;
        if (act > PLAN_LIMIT)
            return emit_error("the network's activations are too large for the C back end");
    }
    /* inference folds (the acts and fused relus above decide them) */
    for (int i = 0; i < pl->n; i++) {
        cnnc_plan_layer *L = &pl->layers[i];
        L->fold_bn = conv_bn_folds(pl, i, &L->fold_pool, &L->fold_affine);
        if (!L->fold_bn)
            continue;
        L->fold_wino = fold_winograd(pl, L);
        L->fold_off = fixed;
        fixed += emit_conv_bn_fold_fixed_floats(L);
        L->fold_pad_floats = emit_conv_bn_fold_pad_floats(pl, L);
        if (L->fold_pad_floats > pad)
            pad = L->fold_pad_floats;
    }
    pl->act_floats = act;
    pl->work_fixed = fixed;
    pl->grad_floats = grad;
    pl->slot_floats = slot;
    pl->pad_floats = pad;
    if (2 * grad + slot + pad > PLAN_LIMIT || fixed > PLAN_LIMIT)
        return emit_error("the network's scratch space is too large for the C back end");
    return 0;
}

static void need_pad(cnnc_plan *pl, size_t floats)
{
    if (floats > pl->pad_floats)
        pl->pad_floats = floats;
}

void plan_export(cnnc_plan *pl, const float *params)
{
    for (int i = 0; i < pl->n; i++) {
        cnnc_plan_layer *L = &pl->layers[i];
        /* the weights are constants, so is every Winograd U of a pass that
         * is not folded */
        L->wino_stored = L->wino && !L->fold_bn;
        /* every 3x3 conv that F(2x2, 3x3) runs, with whole vectors of
         * channels and a whole 4x4 tile, by F(4x4, 3x3): 0.56 of the
         * multiply-adds for the same transforms per output
         * (docs/benchmarks.md has the per-layer times) */
        L->wino4 = conv_winograd4_applies(pl, L);
        if (L->wino4)
            need_pad(pl, conv_winograd4_scratch_floats(pl, L));
        /* a conv with few input channels and a 2x2 maxpool by Winograd too */
        if (L->fuse_pool && !L->wino4 && emit_conv_few_applies(L, &pl->layers[L->pool_at])) {
            L->conv_few = 1;
            need_pad(pl, emit_conv_few_pad_floats(L, &pl->layers[L->pool_at]));
        }
        /* one image per call: a large dense layer streams W once, reading
         * only the rows of its nonzero inputs where a relu feeds it */
        L->dense_one = emit_dense_one_applies(L);
        L->dense_one_sparse = emit_dense_one_sparse_applies(pl, L, params);
        need_pad(pl, emit_dense_one_pad_floats(L));
    }
}

int plan_backward_update(const cnnc_plan *pl)
{
    for (int i = 0; i < pl->n; i++)
        if (pl->layers[i].fuse_update && pl->layers[i].run_backward)
            return 1;
    return 0;
}
