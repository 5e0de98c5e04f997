/* model_builder.c: see model_builder.h. */
#include "model_builder.h"

#include <stdio.h>
#include <string.h>

static const char *intern(tmodel *t, const char *s)
{
    char *d = t->names[t->n_names++];
    snprintf(d, sizeof t->names[0], "%s", s);
    return d;
}

void tm_begin(tmodel *t, int h, int w, int c, int hwio)
{
    memset(t, 0, sizeof *t);
    t->m.name = "test";
    t->m.source = "test.cnn";
    t->m.source_hash = "0000000000000000";
    t->m.in_h = h;
    t->m.in_w = w;
    t->m.in_c = c;
    t->m.layers = t->layers;
    t->m.tensors = t->tensors;
    t->hwio = hwio;
    t->cur = (cnn_shape){h, w, c, 3};
}

static cnn_layer *add(tmodel *t, cnn_layer_kind kind, const char *base)
{
    cnn_layer *L = &t->layers[t->m.n_layers];
    char name[48];
    snprintf(name, sizeof name, "%s_%d", base, t->m.n_layers + 1);
    L->name = intern(t, name);
    L->line = t->m.n_layers + 1;
    L->kind = kind;
    L->act = CNN_ACT_LINEAR;
    L->alpha = 0.3f;
    L->in = t->cur;
    L->out = t->cur;
    L->first_tensor = -1;
    t->m.n_layers++;
    return L;
}

static void add_tensor(tmodel *t, cnn_layer *L, const char *suffix, int rank, const int *shape, cnn_layout layout,
                       int fan_in, int fan_out, cnn_init init, int trainable)
{
    cnn_tensor_info *ti = &t->tensors[t->m.n_tensors];
    char name[64];
    snprintf(name, sizeof name, "%s.%s", L->name, suffix);
    ti->name = intern(t, name);
    ti->rank = rank;
    ti->count = 1;
    for (int k = 0; k < rank; k++) {
        ti->shape[k] = shape[k];
        ti->count *= (size_t)shape[k];
    }
    ti->layout = layout;
    ti->fan_in = fan_in;
    ti->fan_out = fan_out;
    ti->init = init;
    ti->trainable = trainable;
    if (L->first_tensor < 0)
        L->first_tensor = t->m.n_tensors;
    L->n_tensors++;
    t->m.n_tensors++;
}

static void same_pad(int in, int k, int s, int *out, int *lo, int *hi)
{
    int o = (in + s - 1) / s;
    int total = (o - 1) * s + k - in;
    if (total < 0)
        total = 0;
    *out = o;
    *lo = total / 2;
    *hi = total - total / 2;
}

void tm_conv(tmodel *t, int filters, int kh, int kw, int sh, int sw, int same, int bias, cnn_act act)
{
    cnn_layer *L = add(t, CNN_CONV2D, "conv2d");
    L->act = act;
    L->filters = filters;
    L->kh = kh;
    L->kw = kw;
    L->sh = sh;
    L->sw = sw;
    L->same = same;
    L->bias = bias;
    if (same) {
        same_pad(L->in.h, kh, sh, &L->out.h, &L->pad_top, &L->pad_bottom);
        same_pad(L->in.w, kw, sw, &L->out.w, &L->pad_left, &L->pad_right);
    } else {
        L->out.h = (L->in.h - kh) / sh + 1;
        L->out.w = (L->in.w - kw) / sw + 1;
    }
    L->out.c = filters;
    L->out.rank = 3;
    int ws[4] = {filters, L->in.c, kh, kw};
    add_tensor(t, L, "weight", 4, ws, t->hwio ? CNN_LAYOUT_HWIO : CNN_LAYOUT_PLAIN, kh * kw * L->in.c,
               kh * kw * filters, CNN_INIT_GLOROT_UNIFORM, 1);
    if (bias)
        add_tensor(t, L, "bias", 1, &filters, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ZEROS, 1);
    t->cur = L->out;
}

void tm_pool(tmodel *t, cnn_layer_kind kind, int kh, int kw, int sh, int sw)
{
    cnn_layer *L = add(t, kind, kind == CNN_MAXPOOL ? "maxpool" : "avgpool");
    L->kh = kh;
    L->kw = kw;
    L->sh = sh;
    L->sw = sw;
    L->out.h = (L->in.h - kh) / sh + 1;
    L->out.w = (L->in.w - kw) / sw + 1;
    t->cur = L->out;
}

void tm_gap(tmodel *t)
{
    cnn_layer *L = add(t, CNN_GLOBALAVGPOOL, "globalavgpool");
    L->out = (cnn_shape){1, 1, L->in.c, 1};
    t->cur = L->out;
}

void tm_flatten(tmodel *t)
{
    cnn_layer *L = add(t, CNN_FLATTEN, "flatten");
    L->out = (cnn_shape){1, 1, L->in.h * L->in.w * L->in.c, 1};
    t->cur = L->out;
}

void tm_dense(tmodel *t, int units, int bias, cnn_act act)
{
    cnn_layer *L = add(t, CNN_DENSE, "dense");
    int nin = L->in.h * L->in.w * L->in.c;
    L->act = act;
    L->filters = units;
    L->bias = bias;
    L->out = (cnn_shape){1, 1, units, 1};
    int ws[2] = {units, nin};
    add_tensor(t, L, "weight", 2, ws, t->hwio ? CNN_LAYOUT_IO : CNN_LAYOUT_PLAIN, nin, units,
               CNN_INIT_GLOROT_UNIFORM, 1);
    if (bias)
        add_tensor(t, L, "bias", 1, &units, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ZEROS, 1);
    t->cur = L->out;
}

void tm_dropout(tmodel *t, float rate)
{
    cnn_layer *L = add(t, CNN_DROPOUT, "dropout");
    L->rate = rate;
}

void tm_batchnorm(tmodel *t, float momentum, float epsilon)
{
    cnn_layer *L = add(t, CNN_BATCHNORM, "batchnorm");
    L->momentum = momentum;
    L->epsilon = epsilon;
    int c = L->in.c;
    add_tensor(t, L, "weight", 1, &c, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ONES, 1);
    add_tensor(t, L, "bias", 1, &c, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ZEROS, 1);
    add_tensor(t, L, "running_mean", 1, &c, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ZEROS, 0);
    add_tensor(t, L, "running_var", 1, &c, CNN_LAYOUT_PLAIN, 0, 0, CNN_INIT_ONES, 0);
}

void tm_act(tmodel *t, cnn_act act, float alpha)
{
    static const char *names[] = {"linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu"};
    cnn_layer *L = add(t, CNN_ACTIVATION, names[act]);
    L->act = act;
    L->alpha = alpha;
}

const cnn_model *tm_end(tmodel *t)
{
    size_t off = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (int k = 0; k < t->m.n_tensors; k++)
            if (t->tensors[k].trainable == pass) {
                t->tensors[k].offset = off;
                off += t->tensors[k].count;
            }
    t->m.n_params = off;
    t->m.n_trainable = 0;
    for (int k = 0; k < t->m.n_tensors; k++)
        if (t->tensors[k].trainable)
            t->m.n_trainable += t->tensors[k].count;
    const cnn_layer *last = &t->layers[t->m.n_layers - 1];
    t->m.n_outputs = last->out.h * last->out.w * last->out.c;
    t->m.final_act = last->act == CNN_ACT_SOFTMAX ? CNN_ACT_SOFTMAX : CNN_ACT_SIGMOID;
    return &t->m;
}
