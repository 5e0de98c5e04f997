/* shapes.c: shape inference (pass 3 of the checker). From the input and
 * the layers as written: each layer's input and output shape, 'same'
 * padding (TensorFlow's), its parameter tensors with their offsets and
 * layouts, FLOPs and activation sizes; then the head (the last layer's
 * activation) against the loss and the metrics. Every error names the layer
 * and its line. */
#include <stdio.h>
#include <string.h>

#include "check_impl.h"
#include "cnn_words.h"

static void shape_str(const cnn_shape *s, char *buf, size_t cap)
{
    if (s->rank == 1)
        snprintf(buf, cap, "a vector of %d", s->c);
    else
        snprintf(buf, cap, "%dx%dx%d", s->h, s->w, s->c);
}

/* TensorFlow 'same': total padding max((ceil(in/s)-1)*s + k - in, 0), the
 * extra pixel at the bottom/right. */
static void same_padding(int in, int k, int s, int *out, int *before, int *after)
{
    *out = (in + s - 1) / s;
    int total = (*out - 1) * s + k - in;
    if (total < 0)
        total = 0;
    *before = total / 2;
    *after = total - total / 2;
}

static int add_tensor(checker *c, cnn_layer *L, const char *suffix, int rank, const int *shape,
                      cnn_layout layout, int fan_in, int fan_out, cnn_init init, int trainable)
{
    cnnc_ir *ir = c->ir;
    if (ir->n_tensors == CNNC_MAX_TENSORS)
        return -1;
    int t = ir->n_tensors++;
    cnn_tensor_info *ti = &ir->tensors[t];
    snprintf(ir->tensor_names[t], sizeof ir->tensor_names[t], "%s.%s", L->name, suffix);
    ti->name = ir->tensor_names[t];
    ti->rank = rank;
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        ti->shape[i] = shape[i];
        count *= (size_t)shape[i];
    }
    ti->count = count;
    ti->layout = layout;
    ti->fan_in = fan_in;
    ti->fan_out = fan_out;
    ti->init = init;
    ti->trainable = trainable;
    if (L->first_tensor < 0)
        L->first_tensor = t;
    L->n_tensors++;
    return t;
}

/* Limits that keep every size in range of the generated code's int
 * arithmetic and the machine's memory. */
#define MAX_ACT_FLOATS (256.0 * 1024 * 1024)
#define MAX_PARAMS (1024.0 * 1024 * 1024)

void infer_shapes(checker *c)
{
    cnnc_ir *ir = c->ir;
    cnn_shape cur = {ir->in_h, ir->in_w, ir->in_c, 3};
    int counters[16] = {0};
    int below_has_params = 0;
    double total_params = 0;
    for (int i = 0; i < c->n_layers; i++) {
        pending_layer *p = &c->layers[i];
        cnn_layer *L = &p->L;
        char in_s[64];
        shape_str(&cur, in_s, sizeof in_s);
        /* name: conv2d_1, relu_2 ... (per statement name) */
        snprintf(ir->layer_names[ir->n_layers], CNN_MAX_NAME, "%s_%d", p->st->name, ++counters[p->kind_index]);
        L->name = ir->layer_names[ir->n_layers];
        L->in = cur;
        cnn_shape out = cur;
        int ok = 1;
        switch (L->kind) {
        case CNN_CONV2D:
        case CNN_MAXPOOL:
        case CNN_AVGPOOL: {
            const char *what = L->kind == CNN_CONV2D ? "conv2d" : p->st->name;
            if (cur.rank != 3) {
                diag_error(c->d, p->st->loc, "%s needs an image (HxWxC) but gets %s; put it before 'flatten'",
                           what, in_s);
                ok = 0;
                break;
            }
            if (L->kind == CNN_CONV2D && L->same) {
                same_padding(cur.h, L->kh, L->sh, &out.h, &L->pad_top, &L->pad_bottom);
                same_padding(cur.w, L->kw, L->sw, &out.w, &L->pad_left, &L->pad_right);
            } else {
                if (L->kh > cur.h || L->kw > cur.w) {
                    const ast_value *sz = p->st->items ? &p->st->items->value : NULL;
                    if (L->kind == CNN_CONV2D && p->st->items && p->st->items->next)
                        sz = &p->st->items->next->value;
                    diag_error(c->d, sz && sz->kind != AV_WORD ? sz->loc : p->st->loc,
                               L->kind == CNN_CONV2D
                                   ? "the %dx%d kernel is larger than its input %s: the output shrinks to zero; "
                                     "use padding=same or a smaller kernel, or remove a pooling layer above"
                                   : "the %dx%d window of %s is larger than its input %s; use a smaller pool "
                                     "or remove a pooling layer above",
                               L->kh, L->kw, L->kind == CNN_CONV2D ? in_s : what, in_s);
                    ok = 0;
                    break;
                }
                out.h = (cur.h - L->kh) / L->sh + 1;
                out.w = (cur.w - L->kw) / L->sw + 1;
            }
            if (L->kind == CNN_CONV2D)
                out.c = L->filters;
            break;
        }
        case CNN_GLOBALAVGPOOL:
            if (cur.rank != 3) {
                diag_error(c->d, p->st->loc, "globalavgpool needs an image (HxWxC) but gets %s", in_s);
                ok = 0;
            }
            out = (cnn_shape){1, 1, cur.c, 1};
            break;
        case CNN_FLATTEN:
            if (cur.rank == 1)
                diag_warning(c->d, p->st->loc, "flatten of %s does nothing", in_s);
            out = (cnn_shape){1, 1, cur.h * cur.w * cur.c, 1};
            break;
        case CNN_DENSE:
            if (cur.rank != 1) {
                diag_error(c->d, p->st->loc,
                           "dense needs a vector but gets the %s image; add 'flatten' (or 'globalavgpool') before it",
                           in_s);
                ok = 0;
            }
            out = (cnn_shape){1, 1, L->filters, 1};
            break;
        default: /* dropout, batchnorm, activations keep the shape */
            break;
        }
        if (!ok) {
            /* Keep going with a plausible shape so later layers are still checked,
             * but stop at the first shape error to avoid a cascade. */
            return;
        }
        double act = (double)out.h * out.w * out.c;
        if (act > MAX_ACT_FLOATS) {
            diag_error(c->d, p->st->loc, "the output of %s is too large (%.0f values per image; at most %.0f)",
                       L->name, act, MAX_ACT_FLOATS);
            return;
        }
        L->out = out;

        /* parameters and cost */
        cnnc_layer_cost *cost = &ir->cost[ir->n_layers];
        cost->act_floats = (size_t)act;
        cost->needs_dinput = below_has_params;
        if (L->kind == CNN_CONV2D) {
            int ci = cur.c, co = L->filters;
            double w = (double)L->kh * L->kw * ci * co;
            total_params += w + (L->bias ? co : 0);
            if (total_params > MAX_PARAMS) {
                diag_error(c->d, p->st->loc, "the network has more than %.0f parameters", MAX_PARAMS);
                return;
            }
            int shape[4] = {co, ci, L->kh, L->kw};
            add_tensor(c, L, "weight", 4, shape, CNN_LAYOUT_HWIO, L->kh * L->kw * ci, L->kh * L->kw * co,
                       CNN_INIT_GLOROT_UNIFORM, !L->frozen);
            if (L->bias)
                add_tensor(c, L, "bias", 1, &co, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ZEROS, !L->frozen);
            double macs = (double)out.h * out.w * co * L->kh * L->kw * ci;
            cost->forward_flops = 2 * macs;
            /* the weight gradient unless frozen, the input gradient when a layer below trains */
            cost->backward_flops = 2 * macs * ((L->frozen ? 0 : 1) + (below_has_params ? 1 : 0));
            below_has_params |= !L->frozen;
        } else if (L->kind == CNN_DENSE) {
            int in = cur.c, units = L->filters;
            total_params += (double)in * units + units;
            if (total_params > MAX_PARAMS) {
                diag_error(c->d, p->st->loc, "the network has more than %.0f parameters", MAX_PARAMS);
                return;
            }
            int shape[2] = {units, in};
            add_tensor(c, L, "weight", 2, shape, CNN_LAYOUT_IO, in, units, CNN_INIT_GLOROT_UNIFORM, !L->frozen);
            add_tensor(c, L, "bias", 1, &units, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ZEROS, !L->frozen);
            double macs = (double)in * units;
            cost->forward_flops = 2 * macs;
            cost->backward_flops = 2 * macs * ((L->frozen ? 0 : 1) + (below_has_params ? 1 : 0));
            below_has_params |= !L->frozen;
        } else if (L->kind == CNN_BATCHNORM) {
            int ch = out.c;
            total_params += 4.0 * ch;
            add_tensor(c, L, "weight", 1, &ch, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ONES, !L->frozen);
            add_tensor(c, L, "bias", 1, &ch, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ZEROS, !L->frozen);
            add_tensor(c, L, "running_mean", 1, &ch, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ZEROS, 0);
            add_tensor(c, L, "running_var", 1, &ch, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ONES, 0);
            below_has_params |= !L->frozen;
        }
        ir->layers[ir->n_layers++] = *L;
        ir->layers[ir->n_layers - 1].name = ir->layer_names[ir->n_layers - 1];
        cur = out;
    }
    if (below_has_params == 0 && total_params > 0)
        diag_warning(c->d, c->layers_loc,
                     "every layer with weights is frozen (trainable=false): training changes no weight");
    /* Offsets: trainable tensors first, in layer order, then the others (running
     * statistics, frozen layers' tensors), in layer order. */
    size_t off = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int t = 0; t < ir->n_tensors; t++)
            if (ir->tensors[t].trainable == pass) {
                ir->tensors[t].offset = off;
                off += ir->tensors[t].count;
                if (pass == 1)
                    ir->n_trainable = off;
            }
    ir->n_params = off;
    for (int i = 0; i < ir->n_layers; i++) {
        ir->forward_flops += ir->cost[i].forward_flops;
        ir->train_flops += ir->cost[i].forward_flops + ir->cost[i].backward_flops;
        ir->act_floats += ir->cost[i].act_floats;
    }
}

/* The head: the last layer's activation decides the loss (or must match it). */
void check_head(checker *c)
{
    cnnc_ir *ir = c->ir;
    if (ir->n_layers == 0 || ir->n_layers != c->n_layers)
        return; /* shape errors already reported */
    const pending_layer *p = &c->layers[c->n_layers - 1];
    const cnn_layer *L = &ir->layers[ir->n_layers - 1];
    cnn_config *cfg = &ir->config;
    char out_s[64];
    shape_str(&L->out, out_s, sizeof out_s);
    int has_act = L->kind == CNN_CONV2D || L->kind == CNN_DENSE || L->kind == CNN_ACTIVATION;
    if (!has_act) {
        diag_error(c->d, p->st->loc,
                   "the network must end in its output activation, not '%s': add 'dense 1 sigmoid' (two classes) "
                   "or 'dense N softmax' (N classes)", p->st->name);
        return;
    }
    if (L->out.rank != 1) {
        diag_error(c->d, p->st->loc,
                   "the network ends in the %s image, but a classifier ends in a vector: add 'flatten' (or "
                   "'globalavgpool') and 'dense 1 sigmoid' or 'dense N softmax'", out_s);
        return;
    }
    int units = L->out.c;
    if (L->act != CNN_ACT_SIGMOID && L->act != CNN_ACT_SOFTMAX) {
        diag_error(c->d, p->act_loc,
                   "the last layer's activation is %s; a classifier ends in 'sigmoid' (1 unit, "
                   "binary_crossentropy) or 'softmax' (N units, categorical_crossentropy)%s",
                   cnn_act_words[L->act], units == 1 ? ": write 'sigmoid'" : ": write 'softmax'");
        return;
    }
    if (L->act == CNN_ACT_SOFTMAX && units < 2) {
        diag_error(c->d, p->act_loc,
                   "softmax over 1 unit is always 1; for two classes use 'dense 1 sigmoid', or give softmax "
                   "one unit per class");
        return;
    }
    if (L->act == CNN_ACT_SIGMOID && units != 1) {
        diag_error(c->d, p->act_loc,
                   "sigmoid with %d units would be multi-label classification, which cnnc does not do; use "
                   "'softmax' for %d classes, or 1 sigmoid unit for two", units, units);
        return;
    }
    ir->final_act = L->act;
    ir->n_outputs = units;
    cnn_loss_kind natural = L->act == CNN_ACT_SIGMOID ? CNN_LOSS_BINARY_CE : CNN_LOSS_CATEGORICAL_CE;
    if (c->loss_given && cfg->loss != natural) {
        if (cfg->loss == CNN_LOSS_BINARY_CE)
            diag_error(c->d, c->loss_loc,
                       "binary_crossentropy needs one sigmoid unit, but the network ends in softmax over %d "
                       "units (line %d); use categorical_crossentropy, or end with 'dense 1 sigmoid'",
                       units, L->line);
        else
            diag_error(c->d, c->loss_loc,
                       "categorical_crossentropy needs a softmax output, but the network ends in one sigmoid "
                       "unit (line %d); use binary_crossentropy, or end with 'dense N softmax'", L->line);
        return;
    }
    cfg->loss = natural;
    int classes = units == 1 ? 2 : units;
    if (cfg->class_weight == CNN_CW_EXPLICIT && cfg->n_class_weights != classes)
        diag_error(c->d, c->class_weight_loc,
                   "class_weight gives %d weight%s, but the network has %d classes (%s): give one weight per "
                   "class, in the order of the sorted class folders", cfg->n_class_weights,
                   cfg->n_class_weights == 1 ? "" : "s", classes,
                   units == 1 ? "one sigmoid unit" : "its softmax units");
    if (natural != CNN_LOSS_BINARY_CE && (cfg->metrics & ~CNN_METRIC_ACCURACY))
        diag_error(c->d, c->metrics_loc,
                   "precision, recall and auc need a binary model (one sigmoid unit); this one has %d "
                   "softmax classes: use 'metrics accuracy'", units);
}

