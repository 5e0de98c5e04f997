/* emit_c.c: the C back end. From a checked IR, DIR/NAME.h and DIR/NAME.c:
 * one forward and one backward function per layer (emit_<kind>.c), the
 * drivers that call them in order, the loss, and the descriptor
 * `const cnn_model NAME_model` (runtime/include/cnn_model.h).
 *
 * Output is a pure function of the IR and the compiler version: no dates,
 * no paths, numbers printed with fixed formats, so it is byte-identical on
 * every machine and can be committed (generated/) and diffed. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "emit_c.h"
#include "emit_activation.h"
#include "emit_conv_bn_fold.h"
#include "emit_layers.h"
#include "emit_util.h"
#include "plan.h"

#include "emit.h"

#ifndef CNNC_VERSION
#define CNNC_VERSION "unknown"
#endif

/* A C string literal: quotes, backslashes, '?' (trigraphs) and every byte
 * outside printable ASCII escaped, so any path survives. */
static void c_string(char *buf, size_t size, const char *s)
{
    size_t k = 0;
    if (size < 3) {
        buf[0] = 0;
        return;
    }
    buf[k++] = '"';
    for (; *s && k + 6 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\' || ch == '?') {
            buf[k++] = '\\';
            buf[k++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            k += (size_t)snprintf(buf + k, size - k, "\\%03o", ch);
        } else {
            buf[k++] = (char)ch;
        }
    }
    buf[k++] = '"';
    buf[k] = 0;
}

static const char *kind_enum(cnn_layer_kind k)
{
    switch (k) {
    case CNN_CONV2D: return "CNN_CONV2D";
    case CNN_MAXPOOL: return "CNN_MAXPOOL";
    case CNN_AVGPOOL: return "CNN_AVGPOOL";
    case CNN_GLOBALAVGPOOL: return "CNN_GLOBALAVGPOOL";
    case CNN_FLATTEN: return "CNN_FLATTEN";
    case CNN_DENSE: return "CNN_DENSE";
    case CNN_DROPOUT: return "CNN_DROPOUT";
    case CNN_BATCHNORM: return "CNN_BATCHNORM";
    case CNN_ACTIVATION: return "CNN_ACTIVATION";
    }
    return "?";
}

static const char *act_enum(cnn_act a)
{
    switch (a) {
    case CNN_ACT_LINEAR: return "CNN_ACT_LINEAR";
    case CNN_ACT_RELU: return "CNN_ACT_RELU";
    case CNN_ACT_SIGMOID: return "CNN_ACT_SIGMOID";
    case CNN_ACT_TANH: return "CNN_ACT_TANH";
    case CNN_ACT_SOFTMAX: return "CNN_ACT_SOFTMAX";
    case CNN_ACT_LEAKY_RELU: return "CNN_ACT_LEAKY_RELU";
    }
    return "?";
}

static const char *layout_enum(cnn_layout l)
{
    switch (l) {
    case CNN_LAYOUT_PLAIN: return "CNN_LAYOUT_PLAIN";
    case CNN_LAYOUT_HWIO: return "CNN_LAYOUT_HWIO";
    case CNN_LAYOUT_IO: return "CNN_LAYOUT_IO";
    }
    return "?";
}

static const char *init_enum(cnn_init i)
{
    switch (i) {
    case CNN_INIT_GLOROT_UNIFORM: return "CNN_INIT_GLOROT_UNIFORM";
    case CNN_INIT_ZEROS: return "CNN_INIT_ZEROS";
    case CNN_INIT_ONES: return "CNN_INIT_ONES";
    }
    return "?";
}

static const char *prep_enum(cnn_prep_kind k)
{
    switch (k) {
    case CNN_PREP_GRAYSCALE: return "CNN_PREP_GRAYSCALE";
    case CNN_PREP_EDGES: return "CNN_PREP_EDGES";
    case CNN_PREP_BRIGHTNESS: return "CNN_PREP_BRIGHTNESS";
    case CNN_PREP_RESCALE: return "CNN_PREP_RESCALE";
    }
    return "?";
}

static const char *fill_enum(cnn_fill f)
{
    switch (f) {
    case CNN_FILL_REFLECT: return "CNN_FILL_REFLECT";
    case CNN_FILL_NEAREST: return "CNN_FILL_NEAREST";
    case CNN_FILL_CONSTANT: return "CNN_FILL_CONSTANT";
    }
    return "?";
}

static const char *opt_enum(cnn_optimizer_kind k)
{
    switch (k) {
    case CNN_OPT_ADAM: return "CNN_OPT_ADAM";
    case CNN_OPT_SGD: return "CNN_OPT_SGD";
    case CNN_OPT_RMSPROP: return "CNN_OPT_RMSPROP";
    }
    return "?";
}

static const char *monitor_enum(cnn_monitor m)
{
    switch (m) {
    case CNN_MON_VAL_LOSS: return "CNN_MON_VAL_LOSS";
    case CNN_MON_VAL_ACCURACY: return "CNN_MON_VAL_ACCURACY";
    case CNN_MON_LOSS: return "CNN_MON_LOSS";
    case CNN_MON_ACCURACY: return "CNN_MON_ACCURACY";
    }
    return "?";
}

static const cnnc_layer_emitter *layer_emitter(cnn_layer_kind k)
{
    switch (k) {
    case CNN_CONV2D: return &emit_conv2d_layer;
    case CNN_MAXPOOL: return &emit_maxpool_layer;
    case CNN_AVGPOOL: return &emit_avgpool_layer;
    case CNN_GLOBALAVGPOOL: return &emit_globalavgpool_layer;
    case CNN_DENSE: return &emit_dense_layer;
    case CNN_DROPOUT: return &emit_dropout_layer;
    case CNN_BATCHNORM: return &emit_batchnorm_layer;
    case CNN_ACTIVATION: return &emit_activation_layer;
    case CNN_FLATTEN: return NULL; /* a view: no code */
    }
    return NULL;
}

/* The input of layer i as a driver expression: x, or a layer's output. */
static void in_expr(char *buf, size_t size, const cnnc_plan *pl, int i)
{
    int j = i - 1;
    while (j >= 0 && pl->layers[j].alias)
        j--;
    if (j < 0)
        snprintf(buf, size, "x");
    else
        snprintf(buf, size, "a + cap * A_%s", pl->layers[j].l->name);
}

static void out_expr(char *buf, size_t size, const cnnc_plan *pl, int i)
{
    if (pl->layers[i].alias)
        in_expr(buf, size, pl, i);
    else
        snprintf(buf, size, "a + cap * A_%s", pl->layers[i].l->name);
}

/* ---- pieces of NAME.c ----------------------------------------------------- */

static void emit_header_comment(cnnc_emitter *em, const cnnc_plan *pl, const char *file)
{
    const cnnc_ir *ir = pl->ir;
    char s[32];
    em_line(em, "/* %s: generated by cnnc %s from %s (FNV-1a 64 %s).", file, CNNC_VERSION,
            ir->source_base, ir->source_hash);
    em_line(em, " * Do not edit: change the .cnn file and run cnnc again.");
    em_line(em, " *");
    em_line(em, " * model %s: input %dx%dx%d, %d logit%s (final %s applied by the loss)", ir->name,
            ir->in_h, ir->in_w, ir->in_c, ir->n_outputs, ir->n_outputs == 1 ? "" : "s",
            emit_act_name(ir->final_act));
    em_line(em, " *");
    em_line(em, " *   %-18s %-5s %-14s %10s %12s", "layer", "line", "output", "params", "MFLOP fwd");
    for (int i = 0; i < pl->n; i++) {
        const cnn_layer *l = &ir->layers[i];
        size_t np = 0;
        for (int t = 0; t < l->n_tensors; t++)
            np += ir->tensors[l->first_tensor + t].count;
        em_line(em, " *   %-18s %-5d %-14s %10zu %12.3f", l->name, l->line,
                emit_shape_str(s, sizeof s, &l->out), np, ir->cost[i].forward_flops / 1e6);
    }
    em_line(em, " *");
    em_line(em, " * parameters: %zu (%zu trainable)", ir->n_params, ir->n_trainable);
    em_line(em, " * per image: %.3f MFLOP forward, %.3f MFLOP training, %zu activation floats",
            ir->forward_flops / 1e6, ir->train_flops / 1e6, pl->act_floats);
    int wino = 0;
    for (int i = 0; i < pl->n; i++)
        wino |= pl->layers[i].wino || pl->layers[i].wino_dx || pl->layers[i].fold_wino;
    em_line(em, " *");
    em_line(em, " * Twins: each layer's kernels come in variants chosen when this file is compiled;");
    em_line(em, " * every #else and #endif names the macro it belongs to.");
    static const char *const twins[][2] = {
        {"(default)", "the fast kernels: register-blocked and fused, with AVX-512"},
        {"", "intrinsics where CNN_AVX512_FLOAT is 1 (see cnn_model.h)"},
        {"-DCNN_PORTABLE_KERNELS", "the portable C twins of those intrinsics"},
        {"-DCNN_REFERENCE_KERNELS", "the plain loops, layer by layer: the oracle"},
        {"-DCNN_NO_WINOGRAD", "direct convolutions where Winograd F(2x2, 3x3) runs"},
        {"-DCNN_REAL=double", "everything in double (the gradient checks)"},
        {"-DCNN_TRAINER_MAIN", "adds main(): the standalone trainer (cnnc build)"},
    };
    for (size_t t = 0; t < sizeof twins / sizeof twins[0]; t++)
        if (wino || strcmp(twins[t][0], "-DCNN_NO_WINOGRAD") != 0)
            em_line(em, " *   %-24s %s", twins[t][0], twins[t][1]);
    em_line(em, " */");
}

/* The fixed work area's parts, by owner: a batchnorm's batch statistics
 * (STATS), a conv's rotated kernel for the fast dx and its Winograd U
 * (FLIP), a conv's Winograd U of the forward (WINO), a folded conv's weights
 * and bias (FOLD). The driver passes `wk + WK_...`, never a bare number. */
static void emit_fixed_offsets(cnnc_emitter *em, const cnnc_plan *pl)
{
    int any = 0;
    for (int i = 0; i < pl->n; i++) {
        const cnnc_plan_layer *L = &pl->layers[i];
        any |= L->l->kind == CNN_BATCHNORM || L->l->kind == CNN_CONV2D;
    }
    if (!any)
        return;
    em_line(em, "/* The fixed part of b->work, by owner: batchnorm statistics kept for backward");
    em_line(em, " * (STATS), a conv's rotated kernel for its fast dx (FLIP), Winograd's U of its");
    em_line(em, " * forward (WINO), its weights with the next batchnorm folded in (FOLD). */");
    em_open_block(em, "enum {");
    for (int i = 0; i < pl->n; i++) {
        const cnnc_plan_layer *L = &pl->layers[i];
        const char *n = L->l->name;
        if (L->l->kind == CNN_BATCHNORM)
            em_line(em, "WK_%s_STATS = %zu,", n, L->fixed_off);
        if (L->l->kind != CNN_CONV2D)
            continue;
        em_line(em, "WK_%s_FLIP = %zu,", n, L->flip_off);
        if (L->wino)
            em_line(em, "WK_%s_WINO = %zu,", n, L->wino_off);
        if (L->fold_bn)
            em_line(em, "WK_%s_FOLD = %zu,", n, L->fold_off);
    }
    em_line(em, "WK_END = WORK_FIXED");
    em_close_block(em, "};");
    em_blank(em);
}

static void emit_preamble(cnnc_emitter *em, const cnnc_plan *pl)
{
    const cnnc_ir *ir = pl->ir;
    em_line(em, "#include <math.h>");
    em_line(em, "#include <stdint.h>");
    em_line(em, "#include <string.h>");
    em_blank(em);
    em_line(em, "#include \"cnn_model.h\"");
    em_line(em, "#include \"cnn_rng.h\"");
    em_line(em, "#include \"%s.h\"", ir->name);
    em_blank(em);
    em_line(em, "/* OpenMP pragmas when compiled with -fopenmp, plain loops otherwise. */");
    em_line(em, "#ifdef _OPENMP");
    em_line(em, "#define OMP_STR(...) #__VA_ARGS__");
    em_line(em, "#define OMP(...) _Pragma(OMP_STR(omp __VA_ARGS__))");
    em_line(em, "#else /* no OpenMP: plain loops */");
    em_line(em, "#define OMP(...)");
    em_line(em, "#endif /* _OPENMP */");
    em_blank(em);
    em_line(em, "/* Hooks around every layer call (pass 0 forward, 1 backward), e.g. for per-layer");
    em_line(em, " * timing; a file that includes this one may define them. Nothing by default. */");
    em_line(em, "#ifndef CNN_LAYER_BEGIN");
    em_line(em, "#define CNN_LAYER_BEGIN(layer, pass)");
    em_line(em, "#define CNN_LAYER_END(layer, pass)");
    em_line(em, "#endif /* CNN_LAYER_BEGIN */");
    em_blank(em);
    em_line(em, "/* Math in the precision of cnn_real (gradient checks use double). */");
    em_line(em, "#define REAL_EXP(v) _Generic((v), float: expf, default: exp)(v)");
    em_line(em, "#define REAL_TANH(v) _Generic((v), float: tanhf, default: tanh)(v)");
    em_line(em, "#define REAL_SQRT(v) _Generic((v), float: sqrtf, default: sqrt)(v)");
    em_blank(em);

    em_line(em, "/* Per-image offsets into b->acts: layer L's output for image i is at");
    em_line(em, " * acts + batch_cap * A_L + i * (its size). */");
    em_open_block(em, "enum {");
    for (int i = 0; i < pl->n; i++) {
        const cnnc_plan_layer *L = &pl->layers[i];
        if (L->alias)
            continue;
        em_line(em, "A_%s = %zu,", L->l->name, L->act_off);
        if (L->l->kind == CNN_DROPOUT)
            em_line(em, "A_%s_mask = %zu,", L->l->name, L->mask_off);
    }
    em_line(em, "ACT_FLOATS = %zu", pl->act_floats);
    em_close_block(em, "};");
    em_blank(em);
    em_line(em, "/* b->work: WORK_FIXED floats (batchnorm statistics kept for backward, rotated");
    em_line(em, " * conv kernels), then per image: dA and dB (gradients ping-ponged between");
    em_line(em, " * layers), a slot (partial weight gradients, summed in image order: thread-count");
    em_line(em, " * independent) and a padded copy of a conv input. Offsets are times batch_cap. */");
    em_open_block(em, "enum {");
    em_line(em, "WORK_FIXED = %zu,", pl->work_fixed);
    em_line(em, "WORK_DA = 0,");
    em_line(em, "WORK_DB = %zu,", pl->grad_floats);
    em_line(em, "WORK_SLOT = %zu,", 2 * pl->grad_floats);
    em_line(em, "WORK_PAD = %zu,", 2 * pl->grad_floats + pl->slot_floats);
    em_line(em, "WORK_PER_IMAGE = %zu", 2 * pl->grad_floats + pl->slot_floats + pl->pad_floats);
    em_close_block(em, "};");
    em_blank(em);
    emit_fixed_offsets(em, pl);
    em_line(em, "enum { N_OUT = %d };", ir->n_outputs);
    em_blank(em);
    int folds = 0;
    for (int i = 0; i < pl->n; i++)
        folds |= pl->layers[i].fold_bn;
    if (folds) {
        em_line(em, "/* Inference folds batchnorms into the conv before them (emit_conv_bn_fold.c);");
        em_line(em, " * the plain kernels, the oracle, run every layer as written. */");
        em_line(em, "#ifdef CNN_REFERENCE_KERNELS");
        em_line(em, "enum { FOLD_BATCHNORM = 0 };");
        em_line(em, "#else /* not CNN_REFERENCE_KERNELS: the fast kernels */");
        em_line(em, "enum { FOLD_BATCHNORM = 1 };");
        em_line(em, "#endif /* CNN_REFERENCE_KERNELS */");
        em_blank(em);
    }
}

/* In the forward driver: the call of layer i (or a comment for a view, or
 * for a maxpool a fused kernel computes). */
static void emit_forward_call(cnnc_emitter *em, const cnnc_plan *pl, int i)
{
    char in[96], out[96], mask[96], pool_out[96];
    const cnnc_plan_layer *L = &pl->layers[i];
    const cnnc_layer_emitter *le = layer_emitter(L->l->kind);
    if (L->alias) {
        em_line(em, L->l->kind == CNN_ACTIVATION && i > 0 && pl->layers[i - 1].fuse_relu
                         ? "/* %s: applied by the batchnorm above, a view of its output */"
                         : "/* %s: a view of its input */",
                L->l->name);
        return;
    }
    if (L->fused) {
        em_line(em, "/* %s: computed by %s_pool_forward */", L->l->name, pl->layers[L->fused_by].fn);
        return;
    }
    in_expr(in, sizeof in, pl, i);
    out_expr(out, sizeof out, pl, i);
    snprintf(mask, sizeof mask, "a + cap * A_%s_mask", L->l->name);
    if (L->fuse_pool)
        out_expr(pool_out, sizeof pool_out, pl, L->pool_at);
    cnnc_args args = {in, out, mask, NULL, NULL, L->fuse_pool ? pool_out : NULL};
    em_line(em, "CNN_LAYER_BEGIN(%d, 0);", i);
    le->forward_call(em, pl, L, &args);
    em_line(em, "CNN_LAYER_END(%d, 0);", i);
}

static void emit_forward_driver(cnnc_emitter *em, const cnnc_plan *pl)
{
    char in[96], out[96], pool_out[96];
    int uses_train = 0, uses_seed = 0;
    for (int i = 0; i < pl->n; i++) {
        const cnnc_plan_layer *L = &pl->layers[i];
        if (L->l->kind == CNN_DROPOUT)
            uses_train = uses_seed = 1;
        if (L->l->kind == CNN_BATCHNORM)
            uses_train = 1;
    }
    em_line(em, "/* Forward pass over n images: every layer in order, then the logits");
    em_line(em, " * (the last layer's output before its %s). */", emit_act_name(pl->ir->final_act));
    em_function(em,
                  "static void %s_forward(cnn_buffers *b, const cnn_real *x, cnn_real *logits, int n, "
                  "int training, uint64_t seed, uint64_t step)",
                  pl->model);
    em_line(em, "cnn_real *const p = b->params;");
    em_line(em, "cnn_real *const a = b->acts;");
    em_line(em, "cnn_real *const wk = b->work;");
    em_line(em, "const size_t cap = (size_t)b->batch_cap;");
    em_line(em, "cnn_real *const slot = wk + WORK_FIXED + cap * WORK_SLOT;");
    em_line(em, "cnn_real *const pad = wk + WORK_FIXED + cap * WORK_PAD;");
    em_line(em, "(void)p;");
    em_line(em, "(void)a;");
    em_line(em, "(void)slot;");
    em_line(em, "(void)pad;");
    if (!uses_train)
        em_line(em, "(void)training;");
    if (!uses_seed) {
        em_line(em, "(void)seed;");
        em_line(em, "(void)step;");
    }
    em_line(em, "if (n > b->batch_cap) /* callers keep n <= batch_cap; never write past the buffers */");
    em_line(em, "    n = b->batch_cap;");
    em_line(em, "if (n <= 0)");
    em_line(em, "    return;");
    for (int i = 0; i < pl->n; i++) {
        const cnnc_plan_layer *L = &pl->layers[i];
        if (!L->fold_bn) {
            emit_forward_call(em, pl, i);
            continue;
        }
        in_expr(in, sizeof in, pl, i);
        out_expr(pool_out, sizeof pool_out, pl, L->fold_pool);
        em_line(em, "/* inference: %s folded into %s, one pass to %s's output */", pl->layers[i + 1].l->name,
                L->l->name, pl->layers[L->fold_pool].l->name);
        em_open_block(em, "if (FOLD_BATCHNORM && !training) {");
        em_line(em, "CNN_LAYER_BEGIN(%d, 0);", i);
        emit_conv_bn_fold_call(em, L, in, pool_out);
        em_line(em, "CNN_LAYER_END(%d, 0);", i);
        em_close_block(em, "} else {");
        em->indent++;
        for (; i <= L->fold_pool; i++)
            emit_forward_call(em, pl, i);
        i--;
        em_close_block(em, "}");
    }
    out_expr(out, sizeof out, pl, pl->n - 1);
    em_line(em, "memcpy(logits, %s, (size_t)n * N_OUT * sizeof(cnn_real));", out);
    em_close_block(em, "}");
    em_blank(em);
}

static int any_fused_update(const cnnc_plan *pl)
{
    for (int i = 0; i < pl->n; i++)
        if (pl->layers[i].fuse_update && pl->layers[i].run_backward)
            return 1;
    return 0;
}

static void emit_backward_driver(cnnc_emitter *em, const cnnc_plan *pl)
{
    char in[96], out[96], mask[96], pool_out[96];
    int any = 0;
    for (int i = 0; i < pl->n; i++)
        if (pl->layers[i].run_backward)
            any = 1;
    int fused_update = any_fused_update(pl);
    em_line(em, "/* Backward pass after a training forward on the same x: dL/dlogits in,");
    em_line(em, " * every layer in reverse; parameter gradients are ADDED into b->grads%s",
            fused_update ? "," : ". */");
    if (fused_update) {
        em_line(em, " * except that, given u, the layers with update_in_backward apply the optimizer");
        em_line(em, " * to their weights themselves (cnn_model.backward_update). */");
        em_function(em,
                    "static void %s_backward_update(cnn_buffers *b, const cnn_real *x, const cnn_real *dlogits, "
                    "int n, const cnn_update *u)",
                    pl->model);
    } else {
        em_function(em,
                    "static void %s_backward(cnn_buffers *b, const cnn_real *x, const cnn_real *dlogits, "
                    "int n)",
                    pl->model);
    }
    if (!any) {
        em_line(em, "/* nothing in this network has trainable parameters */");
        em_line(em, "(void)b;");
        em_line(em, "(void)x;");
        em_line(em, "(void)dlogits;");
        em_line(em, "(void)n;");
        em_close_block(em, "}");
        em_blank(em);
        return;
    }
    int uses_x = 0;
    for (int i = 0; i < pl->n; i++) {
        if (!pl->layers[i].run_backward)
            continue;
        in_expr(in, sizeof in, pl, i);
        if (strcmp(in, "x") == 0)
            uses_x = 1;
    }
    em_line(em, "const cnn_real *const p = b->params;");
    em_line(em, "cnn_real *const g = b->grads;");
    em_line(em, "const cnn_real *const a = b->acts;");
    em_line(em, "cnn_real *const wk = b->work;");
    em_line(em, "const size_t cap = (size_t)b->batch_cap;");
    em_line(em, "cnn_real *const dA = wk + WORK_FIXED + cap * WORK_DA;");
    em_line(em, "cnn_real *const dB = wk + WORK_FIXED + cap * WORK_DB;");
    em_line(em, "cnn_real *const slot = wk + WORK_FIXED + cap * WORK_SLOT;");
    em_line(em, "cnn_real *const pad = wk + WORK_FIXED + cap * WORK_PAD;");
    if (!uses_x)
        em_line(em, "(void)x;");
    em_line(em, "(void)p;");
    em_line(em, "(void)a;");
    em_line(em, "(void)dB;");
    em_line(em, "(void)slot;");
    em_line(em, "(void)pad;");
    em_line(em, "if (n > b->batch_cap) /* callers keep n <= batch_cap; never write past the buffers */");
    em_line(em, "    n = b->batch_cap;");
    em_line(em, "if (n <= 0)");
    em_line(em, "    return;");
    em_line(em, "memcpy(dA, dlogits, (size_t)n * N_OUT * sizeof(cnn_real));");
    const char *cur = "dA", *other = "dB";
    for (int i = pl->n - 1; i >= 0; i--) {
        const cnnc_plan_layer *L = &pl->layers[i];
        if (L->alias) {
            em_line(em, "/* %s: a view, its gradient is its input's */", L->l->name);
            continue;
        }
        if (!L->run_backward) {
            em_line(em, "/* %s and below: no parameters, nothing more to do */", L->l->name);
            break;
        }
        if (L->fused) { /* its gradient stays in `cur` for the conv or batchnorm */
            em_line(em, "/* %s: in %s_pool_backward */", L->l->name, pl->layers[L->fused_by].fn);
            continue;
        }
        const cnnc_layer_emitter *le = layer_emitter(L->l->kind);
        in_expr(in, sizeof in, pl, i);
        out_expr(out, sizeof out, pl, i);
        snprintf(mask, sizeof mask, "a + cap * A_%s_mask", L->l->name);
        if (L->fuse_pool)
            out_expr(pool_out, sizeof pool_out, pl, L->pool_at);
        cnnc_args args = {in, out, mask, cur, L->needs_dx || L->fuse_pool ? other : NULL,
                          L->fuse_pool ? pool_out : NULL};
        em_line(em, "CNN_LAYER_BEGIN(%d, 1);", i);
        le->backward_call(em, pl, L, &args);
        em_line(em, "CNN_LAYER_END(%d, 1);", i);
        if (L->needs_dx) {
            const char *t = cur;
            cur = other;
            other = t;
        }
    }
    em_close_block(em, "}");
    em_blank(em);
    if (fused_update) {
        em_line(em, "static void %s_backward(cnn_buffers *b, const cnn_real *x, const cnn_real *dlogits, int n)",
                pl->model);
        em_open_block(em, "{");
        em_line(em, "%s_backward_update(b, x, dlogits, n, NULL);", pl->model);
        em_close_block(em, "}");
        em_blank(em);
    }
}

static int emit_loss(cnnc_emitter *em, const cnnc_plan *pl)
{
    const cnnc_ir *ir = pl->ir;
    if (ir->config.loss == CNN_LOSS_BINARY_CE) {
        if (ir->n_outputs != 1 || ir->final_act != CNN_ACT_SIGMOID)
            return emit_error("internal: binary cross-entropy needs one sigmoid output");
        em_line(em, "/* Binary cross-entropy from one logit z per image, mean over n:");
        em_line(em, " * max(z, 0) - z y + log1p(exp(-|z|)), never overflowing; dL/dz = (sigmoid(z) - y) / n. */");
        em_function(em,
                      "static double %s_loss(const cnn_real *logits, const int *labels, cnn_real *dlogits, "
                      "int n)",
                      pl->model);
        em_line(em, "if (n <= 0)");
        em_line(em, "    return 0;");
        em_line(em, "double total = 0;");
        em_open_block(em, "for (int i = 0; i < n; i++) {");
        em_line(em, "const double z = (double)logits[i];");
        em_line(em, "const double y = labels[i] != 0 ? 1.0 : 0.0;");
        em_line(em, "total += (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));");
        em_open_block(em, "if (dlogits) {");
        em_line(em, "const double s = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));");
        em_line(em, "dlogits[i] = (cnn_real)((s - y) / n);");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_line(em, "return total / n;");
        em_close_block(em, "}");
    } else {
        if (ir->final_act != CNN_ACT_SOFTMAX)
            return emit_error("internal: categorical cross-entropy needs a softmax output");
        em_line(em, "/* Sparse categorical cross-entropy from N_OUT logits per image, mean over n:");
        em_line(em, " * logsumexp(z) - z[label]; dL/dz = (softmax(z) - onehot(label)) / n.");
        em_line(em, " * A label outside [0, N_OUT) makes the loss NaN (the trainer stops on NaN). */");
        em_function(em,
                      "static double %s_loss(const cnn_real *logits, const int *labels, cnn_real *dlogits, "
                      "int n)",
                      pl->model);
        em_line(em, "if (n <= 0)");
        em_line(em, "    return 0;");
        em_line(em, "double total = 0;");
        em_open_block(em, "for (int i = 0; i < n; i++) {");
        em_line(em, "const cnn_real *z = logits + (size_t)i * N_OUT;");
        em_line(em, "const int label = labels[i];");
        em_line(em, "double m = z[0];");
        em_line(em, "for (int k = 1; k < N_OUT; k++)");
        em_line(em, "    m = z[k] > m ? z[k] : m;");
        em_line(em, "double s = 0;");
        em_line(em, "for (int k = 0; k < N_OUT; k++)");
        em_line(em, "    s += exp(z[k] - m);");
        em_line(em, "const double lse = m + log(s);");
        em_line(em, "total += label >= 0 && label < N_OUT ? lse - z[label] : NAN;");
        em_line(em, "if (dlogits)");
        em_line(em, "    for (int k = 0; k < N_OUT; k++)");
        em_line(em, "        dlogits[(size_t)i * N_OUT + k] = (cnn_real)((exp(z[k] - m) / s - (k == label)) / n);");
        em_close_block(em, "}");
        em_line(em, "return total / n;");
        em_close_block(em, "}");
    }
    em_blank(em);
    return 0;
}

/* Whether tensor t is a dense weight that backward_update updates itself. */
static int updated_in_backward(const cnnc_plan *pl, int t)
{
    for (int i = 0; i < pl->n; i++)
        if (pl->layers[i].fuse_update && pl->layers[i].run_backward && pl->layers[i].l->first_tensor == t)
            return 1;
    return 0;
}

static void emit_descriptor(cnnc_emitter *em, const cnnc_plan *pl)
{
    const cnnc_ir *ir = pl->ir;
    char s[2 * CNN_MAX_PATH + 64], f1[48], f2[48], f3[48], d1[48], d2[48], d3[48];
    const char *m = pl->model;

    em_line(em, "static size_t %s_work_floats(int batch)", m);
    em_open_block(em, "{");
    em_line(em, "return (size_t)WORK_FIXED + (size_t)(batch > 0 ? batch : 0) * WORK_PER_IMAGE;");
    em_close_block(em, "}");
    em_blank(em);

    em_open_block(em, "static const cnn_layer %s_layers[%d] = {", m, pl->n);
    for (int i = 0; i < pl->n; i++) {
        const cnn_layer *l = &ir->layers[i];
        c_string(s, sizeof s, l->name);
        em_line(em, "{.name = %s, .line = %d, .kind = %s, .act = %s, .alpha = %s,", s, l->line,
                kind_enum(l->kind), act_enum(l->act), emit_float_lit(f1, sizeof f1, l->alpha));
        em_line(em, " .in = {%d, %d, %d, %d}, .out = {%d, %d, %d, %d}, .filters = %d,", l->in.h, l->in.w,
                l->in.c, l->in.rank, l->out.h, l->out.w, l->out.c, l->out.rank, l->filters);
        em_line(em, " .kh = %d, .kw = %d, .sh = %d, .sw = %d, .same = %d,", l->kh, l->kw, l->sh, l->sw,
                l->same);
        em_line(em, " .pad_top = %d, .pad_left = %d, .pad_bottom = %d, .pad_right = %d, .bias = %d,",
                l->pad_top, l->pad_left, l->pad_bottom, l->pad_right, l->bias);
        em_line(em, " .rate = %s, .momentum = %s, .epsilon = %s,", emit_float_lit(f1, sizeof f1, l->rate),
                emit_float_lit(f2, sizeof f2, l->momentum), emit_float_lit(f3, sizeof f3, l->epsilon));
        em_line(em, " .first_tensor = %d, .n_tensors = %d},", l->first_tensor, l->n_tensors);
    }
    em_close_block(em, "};");
    em_blank(em);

    if (ir->n_tensors > 0) {
        em_open_block(em, "static const cnn_tensor_info %s_tensors[%d] = {", m, ir->n_tensors);
        for (int t = 0; t < ir->n_tensors; t++) {
            const cnn_tensor_info *ti = &ir->tensors[t];
            c_string(s, sizeof s, ti->name);
            em_line(em, "{.name = %s, .rank = %d, .shape = {%d, %d, %d, %d}, .layout = %s,", s, ti->rank,
                    ti->shape[0], ti->shape[1], ti->shape[2], ti->shape[3], layout_enum(ti->layout));
            em_line(em, " .offset = %zu, .count = %zu, .fan_in = %d, .fan_out = %d, .init = %s, .trainable = %d%s},",
                    ti->offset, ti->count, ti->fan_in, ti->fan_out, init_enum(ti->init), ti->trainable,
                    updated_in_backward(pl, t) ? ", .update_in_backward = 1" : "");
        }
        em_close_block(em, "};");
        em_blank(em);
    }

    if (ir->n_preprocess > 0) {
        em_open_block(em, "static const cnn_prep_step %s_preprocess[%d] = {", m, ir->n_preprocess);
        for (int k = 0; k < ir->n_preprocess; k++)
            em_line(em, "{%s, %s, %s},", prep_enum(ir->preprocess[k].kind),
                    emit_double_lit(d1, sizeof d1, ir->preprocess[k].value),
                    emit_double_lit(d2, sizeof d2, ir->preprocess[k].offset));
        em_close_block(em, "};");
        em_blank(em);
    }

    const cnn_config *c = &ir->config;
    const cnn_augment *au = &ir->augment;
    em_open_block(em, "const cnn_model %s_model = {", m);
    c_string(s, sizeof s, ir->name);
    em_line(em, ".name = %s,", s);
    c_string(s, sizeof s, ir->source_base);
    em_line(em, ".source = %s,", s);
    c_string(s, sizeof s, ir->source_hash);
    em_line(em, ".source_hash = %s,", s);
    em_line(em, ".in_h = %d, .in_w = %d, .in_c = %d,", ir->in_h, ir->in_w, ir->in_c);
    em_line(em, ".n_outputs = %d,", ir->n_outputs);
    em_line(em, ".final_act = %s,", act_enum(ir->final_act));
    em_line(em, ".n_layers = %d,", pl->n);
    em_line(em, ".layers = %s_layers,", m);
    em_line(em, ".n_tensors = %d,", ir->n_tensors);
    if (ir->n_tensors > 0)
        em_line(em, ".tensors = %s_tensors,", m);
    else
        em_line(em, ".tensors = NULL,");
    em_line(em, ".n_params = %zu,", ir->n_params);
    em_line(em, ".n_trainable = %zu,", ir->n_trainable);
    em_line(em, ".act_floats = ACT_FLOATS,");
    em_line(em, ".work_floats = %s_work_floats,", m);
    em_line(em, ".forward_flops = %s,", emit_double_lit(d1, sizeof d1, ir->forward_flops));
    em_line(em, ".train_flops = %s,", emit_double_lit(d1, sizeof d1, ir->train_flops));
    em_line(em, ".forward = %s_forward,", m);
    em_line(em, ".backward = %s_backward,", m);
    if (any_fused_update(pl))
        em_line(em, ".backward_update = %s_backward_update,", m);
    em_line(em, ".loss = %s_loss,", m);
    if (ir->n_preprocess > 0)
        em_line(em, ".preprocess = %s_preprocess,", m);
    else
        em_line(em, ".preprocess = NULL,");
    em_line(em, ".n_preprocess = %d,", ir->n_preprocess);
    em_line(em, ".crop_to_aspect_ratio = %d,", ir->crop_to_aspect_ratio);
    em_line(em, ".augment = {.flip = %d, .rotate = %s, .zoom = %s, .shear = %s,", au->flip,
            emit_double_lit(d1, sizeof d1, au->rotate), emit_double_lit(d2, sizeof d2, au->zoom),
            emit_double_lit(d3, sizeof d3, au->shear));
    em_line(em, "            .translate = %s, .brightness = %s, .contrast = %s,",
            emit_double_lit(d1, sizeof d1, au->translate), emit_double_lit(d2, sizeof d2, au->brightness),
            emit_double_lit(d3, sizeof d3, au->contrast));
    em_line(em, "            .rotate_fill = %s, .zoom_fill = %s,", fill_enum(au->rotate_fill),
            fill_enum(au->zoom_fill));
    em_line(em, "            .shear_fill = %s, .translate_fill = %s},", fill_enum(au->shear_fill),
            fill_enum(au->translate_fill));
    em_open_block(em, ".defaults = {");
    if (c->data) {
        c_string(s, sizeof s, c->data);
        em_line(em, ".data = %s,", s);
    } else {
        em_line(em, ".data = NULL,");
    }
    if (c->validation) {
        c_string(s, sizeof s, c->validation);
        em_line(em, ".validation = %s,", s);
    } else {
        em_line(em, ".validation = NULL,");
    }
    em_line(em, ".validation_split = %s,", emit_double_lit(d1, sizeof d1, c->validation_split));
    em_line(em, ".seed = %lluu,", (unsigned long long)c->seed);
    em_line(em, ".batch = %d,", c->batch);
    em_line(em, ".epochs = %d,", c->epochs);
    em_line(em, ".optimizer = {.kind = %s, .lr = %s,", opt_enum(c->optimizer.kind),
            emit_double_lit(d1, sizeof d1, c->optimizer.lr));
    em_line(em, "              .beta1 = %s, .beta2 = %s, .epsilon = %s,",
            emit_double_lit(d1, sizeof d1, c->optimizer.beta1), emit_double_lit(d2, sizeof d2, c->optimizer.beta2),
            emit_double_lit(d3, sizeof d3, c->optimizer.epsilon));
    em_line(em, "              .momentum = %s, .nesterov = %d, .rho = %s},",
            emit_double_lit(d1, sizeof d1, c->optimizer.momentum), c->optimizer.nesterov,
            emit_double_lit(d2, sizeof d2, c->optimizer.rho));
    em_line(em, ".loss = %s,", c->loss == CNN_LOSS_BINARY_CE ? "CNN_LOSS_BINARY_CE" : "CNN_LOSS_CATEGORICAL_CE");
    em_line(em, ".metrics = %d,", c->metrics);
    em_line(em, ".early_stopping = %d,", c->early_stopping);
    em_line(em, ".monitor = %s,", monitor_enum(c->monitor));
    em_line(em, ".patience = %d,", c->patience);
    em_close_block(em, "},");
    em_close_block(em, "};");
    em_blank(em);
    em_line(em, "#ifdef CNN_TRAINER_MAIN");
    em_line(em, "#include \"cnn_trainer.h\"");
    em_blank(em);
    em_line(em, "int main(int argc, char **argv)");
    em_open_block(em, "{");
    em_line(em, "return cnn_trainer_main(&%s_model, argc, argv);", m);
    em_close_block(em, "}");
    em_line(em, "#endif /* CNN_TRAINER_MAIN */");
}

static int write_header(const cnnc_plan *pl, const char *dir)
{
    char path[CNNC_EM_PATH], file[CNN_MAX_NAME + 8], guard[CNN_MAX_NAME + 16];
    cnnc_emitter em;
    snprintf(file, sizeof file, "%s.h", pl->model);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return emit_error("output path too long: %s", dir);
    size_t k = 0;
    for (const char *c = pl->model; *c && k + 12 < sizeof guard; c++)
        guard[k++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
    strcpy(guard + k, "_MODEL_H");
    if (em_open(&em, path))
        return 1;
    em_line(&em, "/* %s: generated by cnnc %s from %s (FNV-1a 64 %s). Do not edit. */", file,
            CNNC_VERSION, pl->ir->source_base, pl->ir->source_hash);
    em_line(&em, "#ifndef %s", guard);
    em_line(&em, "#define %s", guard);
    em_blank(&em);
    em_line(&em, "#include \"cnn_model.h\"");
    em_blank(&em);
    em_line(&em, "/* The %s network: forward, backward, loss and everything the runtime needs. */",
            pl->model);
    em_line(&em, "extern const cnn_model %s_model;", pl->model);
    em_blank(&em);
    em_line(&em, "#endif");
    return em_close(&em);
}

static int write_source(const cnnc_plan *pl, const char *dir)
{
    char path[CNNC_EM_PATH], file[CNN_MAX_NAME + 8];
    cnnc_emitter em;
    snprintf(file, sizeof file, "%s.c", pl->model);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return emit_error("output path too long: %s", dir);
    if (em_open(&em, path))
        return 1;
    emit_header_comment(&em, pl, file);
    emit_preamble(&em, pl);
    for (int i = 0; i < pl->n; i++) {
        const cnnc_plan_layer *L = &pl->layers[i];
        const cnnc_layer_emitter *le = layer_emitter(L->l->kind);
        if (L->alias)
            continue;
        le->forward(&em, pl, L);
        if (L->run_backward)
            le->backward(&em, pl, L);
        for (int j = 0; j < i; j++)
            if (pl->layers[j].fold_bn && pl->layers[j].fold_pool == i)
                emit_conv_bn_fold_forward(&em, pl, &pl->layers[j]);
    }
    emit_forward_driver(&em, pl);
    emit_backward_driver(&em, pl);
    if (emit_loss(&em, pl)) {
        em_abort(&em);
        return 1;
    }
    emit_descriptor(&em, pl);
    return em_close(&em);
}

int emit_c(const cnnc_ir *ir, const char *dir)
{
    static cnnc_plan pl; /* large; cnnc is single-threaded */
    if (plan_build(&pl, ir))
        return 1;
    if (write_header(&pl, dir))
        return 1;
    return write_source(&pl, dir);
}

/* ---- for the export back end (emit_export.c): the same layer emitters,
 * driver expressions and fixed-area names (emit_c.h) -------------------------- */

const cnnc_layer_emitter *emit_c_layer_emitter(cnn_layer_kind k)
{
    return layer_emitter(k);
}

void emit_c_in_expr(char *buf, size_t size, const cnnc_plan *pl, int i)
{
    in_expr(buf, size, pl, i);
}

void emit_c_out_expr(char *buf, size_t size, const cnnc_plan *pl, int i)
{
    out_expr(buf, size, pl, i);
}

void emit_c_fixed_offsets(cnnc_emitter *em, const cnnc_plan *pl)
{
    emit_fixed_offsets(em, pl);
}

void emit_c_string(char *buf, size_t size, const char *s)
{
    c_string(buf, size, s);
}
