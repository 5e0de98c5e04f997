/* reference.c: the generic reference engine (see cnn_reference.h): checks
 * the layer table, allocates every buffer once in cnn_ref_create, runs the
 * layers' arithmetic (reference_layers.c) in order forward and backward, and
 * computes the loss. What forward keeps for backward: each layer's output,
 * the pre-activation of layers with a fused non-linear activation, dropout
 * scale factors, and the batchnorm per-channel mean and 1/sqrt(var+eps).
 *
 * Values are stored in cnn_real, but every sum is accumulated in double
 * (outputs of conv/dense, pools, batchnorm statistics, and all parameter
 * gradients, which go to a double buffer and are added into the caller's
 * grads at the end): the oracle should be more accurate than the float code
 * it checks, not merely as accurate. */
#include "cnn_reference.h"
#include "reference_layers.h"
#include "cnn_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cnn_ref {
    const cnn_model *m;
    int batch_cap;
    int n;          /* images of the last forward */
    int training;   /* mode of the last forward */
    cnn_ref_layer layer[CNN_MAX_LAYERS];
    cnn_real *g0, *g1; /* gradient ping-pong, batch_cap * max tensor size */
    double *acc;       /* one output pixel's or vector's sums: max channels/units */
    double *dparams;   /* parameter gradients of one backward pass, n_params */
};

static int same_shape(cnn_shape a, cnn_shape b)
{
    return a.h == b.h && a.w == b.w && a.c == b.c;
}

/* The layer's activation as applied by forward: the final sigmoid/softmax is
 * left to the loss. */
static cnn_act applied_act(const cnn_model *m, int i)
{
    const cnn_layer *L = &m->layers[i];
    if (L->kind != CNN_CONV2D && L->kind != CNN_DENSE && L->kind != CNN_ACTIVATION)
        return CNN_ACT_LINEAR;
    if (i == m->n_layers - 1 && L->act == m->final_act)
        return CNN_ACT_LINEAR;
    return L->act;
}

/* Checks that layer L's tensors exist and have the expected element counts. */
static int check_tensors(const cnn_model *m, const cnn_layer *L, int want, const size_t *counts,
                         char *err, size_t errlen)
{
    if (L->n_tensors != want || (want > 0 && (L->first_tensor < 0 || L->first_tensor + want > m->n_tensors))) {
        cnn_set_err(err, errlen, "layer %s: expected %d tensors, descriptor has %d at %d", L->name, want,
                L->n_tensors, L->first_tensor);
        return -1;
    }
    for (int k = 0; k < want; k++) {
        const cnn_tensor_info *t = &m->tensors[L->first_tensor + k];
        if (t->count != counts[k] || t->offset + t->count > m->n_params) {
            cnn_set_err(err, errlen, "layer %s: tensor %s has %zu floats at %zu, expected %zu within %zu", L->name,
                    t->name, t->count, t->offset, counts[k], m->n_params);
            return -1;
        }
    }
    return 0;
}

static int check_layer(const cnn_model *m, int i, char *err, size_t errlen)
{
    const cnn_layer *L = &m->layers[i];
    cnn_shape in = L->in, out = L->out;
    if (in.h <= 0 || in.w <= 0 || in.c <= 0 || out.h <= 0 || out.w <= 0 || out.c <= 0) {
        cnn_set_err(err, errlen, "layer %s: empty shape", L->name);
        return -1;
    }
    size_t counts[4];
    switch (L->kind) {
    case CNN_CONV2D: {
        int oh = (in.h + L->pad_top + L->pad_bottom - L->kh) / L->sh + 1;
        int ow = (in.w + L->pad_left + L->pad_right - L->kw) / L->sw + 1;
        if (L->kh <= 0 || L->kw <= 0 || L->sh <= 0 || L->sw <= 0 || oh != out.h || ow != out.w ||
            out.c != L->filters) {
            cnn_set_err(err, errlen, "layer %s: conv output %dx%dx%d does not follow from its input", L->name,
                    out.h, out.w, out.c);
            return -1;
        }
        counts[0] = (size_t)L->kh * L->kw * in.c * out.c;
        counts[1] = (size_t)out.c;
        return check_tensors(m, L, L->bias ? 2 : 1, counts, err, errlen);
    }
    case CNN_MAXPOOL:
    case CNN_AVGPOOL:
        if (L->kh <= 0 || L->kw <= 0 || L->sh <= 0 || L->sw <= 0 || out.c != in.c ||
            out.h != (in.h - L->kh) / L->sh + 1 || out.w != (in.w - L->kw) / L->sw + 1) {
            cnn_set_err(err, errlen, "layer %s: pool output does not follow from its input", L->name);
            return -1;
        }
        return check_tensors(m, L, 0, counts, err, errlen);
    case CNN_GLOBALAVGPOOL:
        if (out.h != 1 || out.w != 1 || out.c != in.c) {
            cnn_set_err(err, errlen, "layer %s: globalavgpool output must be 1x1x%d", L->name, in.c);
            return -1;
        }
        return check_tensors(m, L, 0, counts, err, errlen);
    case CNN_FLATTEN:
        if (cnn_ref_shape_size(in) != cnn_ref_shape_size(out)) {
            cnn_set_err(err, errlen, "layer %s: flatten changes the size", L->name);
            return -1;
        }
        return check_tensors(m, L, 0, counts, err, errlen);
    case CNN_DENSE:
        if (out.c != L->filters || cnn_ref_shape_size(out) != (size_t)out.c) {
            cnn_set_err(err, errlen, "layer %s: dense output must be %d units", L->name, L->filters);
            return -1;
        }
        counts[0] = cnn_ref_shape_size(in) * (size_t)out.c;
        counts[1] = (size_t)out.c;
        return check_tensors(m, L, L->bias ? 2 : 1, counts, err, errlen);
    case CNN_DROPOUT:
        if (!same_shape(in, out) || !(L->rate >= 0.0f && L->rate < 1.0f)) {
            cnn_set_err(err, errlen, "layer %s: dropout needs equal shapes and a rate in [0, 1)", L->name);
            return -1;
        }
        return check_tensors(m, L, 0, counts, err, errlen);
    case CNN_BATCHNORM:
        if (!same_shape(in, out)) {
            cnn_set_err(err, errlen, "layer %s: batchnorm changes the shape", L->name);
            return -1;
        }
        for (int k = 0; k < 4; k++)
            counts[k] = (size_t)in.c;
        return check_tensors(m, L, 4, counts, err, errlen);
    case CNN_ACTIVATION:
        if (!same_shape(in, out)) {
            cnn_set_err(err, errlen, "layer %s: activation changes the shape", L->name);
            return -1;
        }
        return check_tensors(m, L, 0, counts, err, errlen);
    }
    cnn_set_err(err, errlen, "layer %s: unknown kind %d", L->name, (int)L->kind);
    return -1;
}

void cnn_ref_free(cnn_ref *r)
{
    if (!r)
        return;
    for (int i = 0; i < CNN_MAX_LAYERS; i++) {
        cnn_ref_layer *l = &r->layer[i];
        free(l->out);
        free(l->pre);
        free(l->mask);
        free(l->mean);
        free(l->inv_std);
    }
    free(r->g0);
    free(r->g1);
    free(r->acc);
    free(r->dparams);
    free(r);
}

static cnn_real *alloc_reals(size_t n)
{
    return calloc(n ? n : 1, sizeof(cnn_real));
}

cnn_ref *cnn_ref_create(const cnn_model *m, int batch_cap, char *err, size_t errlen)
{
    if (!m || m->n_layers < 1 || m->n_layers > CNN_MAX_LAYERS || batch_cap < 1) {
        cnn_set_err(err, errlen, "reference engine: no layers, too many layers, or batch < 1");
        return NULL;
    }
    cnn_shape input = {m->in_h, m->in_w, m->in_c, 3};
    for (int i = 0; i < m->n_layers; i++) {
        cnn_shape prev = i == 0 ? input : m->layers[i - 1].out;
        if (!same_shape(m->layers[i].in, prev)) {
            cnn_set_err(err, errlen, "layer %s: input %dx%dx%d does not match the previous output %dx%dx%d",
                    m->layers[i].name, m->layers[i].in.h, m->layers[i].in.w, m->layers[i].in.c, prev.h, prev.w,
                    prev.c);
            return NULL;
        }
        if (check_layer(m, i, err, errlen))
            return NULL;
    }
    if (cnn_ref_shape_size(m->layers[m->n_layers - 1].out) != (size_t)m->n_outputs) {
        cnn_set_err(err, errlen, "model %s: last layer has %zu values, n_outputs is %d", m->name,
                cnn_ref_shape_size(m->layers[m->n_layers - 1].out), m->n_outputs);
        return NULL;
    }

    cnn_ref *r = calloc(1, sizeof *r);
    if (!r) {
        cnn_set_err(err, errlen, "out of memory");
        return NULL;
    }
    r->m = m;
    r->batch_cap = batch_cap;
    size_t bc = (size_t)batch_cap, biggest = cnn_ref_shape_size(input), widest = 1;
    int ok = 1;
    for (int i = 0; i < m->n_layers; i++) {
        const cnn_layer *L = &m->layers[i];
        cnn_ref_layer *l = &r->layer[i];
        l->in_size = cnn_ref_shape_size(L->in);
        l->out_size = cnn_ref_shape_size(L->out);
        l->act = applied_act(m, i);
        if (l->out_size > biggest)
            biggest = l->out_size;
        if ((size_t)L->out.c > widest)
            widest = (size_t)L->out.c;
        if ((size_t)L->in.c > widest)
            widest = (size_t)L->in.c;
        ok &= (l->out = alloc_reals(bc * l->out_size)) != NULL;
        if ((L->kind == CNN_CONV2D || L->kind == CNN_DENSE) && l->act != CNN_ACT_LINEAR)
            ok &= (l->pre = alloc_reals(bc * l->out_size)) != NULL;
        if (L->kind == CNN_DROPOUT)
            ok &= (l->mask = alloc_reals(bc * l->out_size)) != NULL;
        if (L->kind == CNN_BATCHNORM) {
            ok &= (l->mean = alloc_reals((size_t)L->in.c)) != NULL;
            ok &= (l->inv_std = alloc_reals((size_t)L->in.c)) != NULL;
        }
    }
    ok &= (r->g0 = alloc_reals(bc * biggest)) != NULL;
    ok &= (r->g1 = alloc_reals(bc * biggest)) != NULL;
    ok &= (r->acc = calloc(widest, sizeof(double))) != NULL;
    ok &= (r->dparams = calloc(m->n_params ? m->n_params : 1, sizeof(double))) != NULL;
    if (!ok) {
        cnn_ref_free(r);
        cnn_set_err(err, errlen, "out of memory");
        return NULL;
    }
    return r;
}

const cnn_real *cnn_ref_layer_output(const cnn_ref *r, int i)
{
    return i >= 0 && i < r->m->n_layers ? r->layer[i].out : NULL;
}

void cnn_ref_forward(cnn_ref *r, cnn_real *params, const cnn_real *x, cnn_real *logits, int n, int training,
                     uint64_t seed, uint64_t step)
{
    const cnn_model *m = r->m;
    if (n > r->batch_cap)
        n = r->batch_cap; /* callers keep n <= batch_cap; never write past the buffers */
    r->n = n;
    r->training = training;
    const cnn_real *in = x;
    for (int i = 0; i < m->n_layers; i++) {
        const cnn_layer *L = &m->layers[i];
        cnn_ref_layer *l = &r->layer[i];
        cnn_real *out = l->out;
        size_t total = (size_t)n * l->out_size;
        switch (L->kind) {
        case CNN_CONV2D:
            cnn_ref_conv_forward(m, L, params, in, out, n, r->acc);
            break;
        case CNN_MAXPOOL:
        case CNN_AVGPOOL:
            cnn_ref_pool_forward(L, in, out, n);
            break;
        case CNN_GLOBALAVGPOOL:
            cnn_ref_gap_forward(L, in, out, n);
            break;
        case CNN_FLATTEN:
            memcpy(out, in, total * sizeof *out);
            break;
        case CNN_DENSE:
            cnn_ref_dense_forward(m, L, params, in, out, n, r->acc);
            break;
        case CNN_DROPOUT:
            cnn_ref_dropout_forward(L, i, l, in, out, n, training, seed, step);
            break;
        case CNN_BATCHNORM:
            cnn_ref_batchnorm_forward(m, L, l, params, in, out, n, training);
            break;
        case CNN_ACTIVATION:
            memcpy(out, in, total * sizeof *out);
            break;
        }
        if (l->pre)
            memcpy(l->pre, out, total * sizeof *out);
        cnn_ref_act_forward(l->act, L->alpha, out, total / (size_t)L->out.c, L->out.c);
        in = out;
    }
    memcpy(logits, in, (size_t)n * (size_t)m->n_outputs * sizeof *logits);
}

void cnn_ref_backward(cnn_ref *r, const cnn_real *params, const cnn_real *x, const cnn_real *dlogits,
                      cnn_real *grads, cnn_real *dx, int n)
{
    const cnn_model *m = r->m;
    (void)n; /* the forward's n is what the kept activations hold */
    n = r->n;
    cnn_real *g = r->g0, *other = r->g1;
    memcpy(g, dlogits, (size_t)n * (size_t)m->n_outputs * sizeof *g);
    memset(r->dparams, 0, m->n_params * sizeof *r->dparams);
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const cnn_layer *L = &m->layers[i];
        const cnn_ref_layer *l = &r->layer[i];
        const cnn_real *in = i == 0 ? x : r->layer[i - 1].out;
        /* Undo the activation: g becomes dLoss/d(pre-activation). */
        const cnn_real *z = l->pre ? l->pre : (i == 0 ? x : r->layer[i - 1].out);
        cnn_ref_act_backward(l->act, L->alpha, z, l->out, g, g, (size_t)n * l->out_size / (size_t)L->out.c, L->out.c);
        /* dx for the layer below: into `other`, or the caller's dx at layer 0. */
        cnn_real *d = i == 0 ? dx : other;
        size_t total_in = (size_t)n * l->in_size;
        switch (L->kind) {
        case CNN_CONV2D:
            cnn_ref_conv_backward(m, L, params, in, g, r->dparams, d, n);
            break;
        case CNN_MAXPOOL:
        case CNN_AVGPOOL:
            if (d)
                cnn_ref_pool_backward(L, in, g, d, n);
            break;
        case CNN_GLOBALAVGPOOL:
            if (d)
                cnn_ref_gap_backward(L, g, d, n);
            break;
        case CNN_FLATTEN:
        case CNN_ACTIVATION:
            if (d)
                memcpy(d, g, total_in * sizeof *d);
            break;
        case CNN_DENSE:
            cnn_ref_dense_backward(m, L, params, in, g, r->dparams, d, n);
            break;
        case CNN_DROPOUT:
            if (d)
                for (size_t e = 0; e < total_in; e++)
                    d[e] = g[e] * l->mask[e];
            break;
        case CNN_BATCHNORM:
            cnn_ref_batchnorm_backward(m, L, l, params, in, g, r->dparams, d, n);
            break;
        }
        cnn_real *t = g;
        g = other;
        other = t;
    }
    for (size_t j = 0; j < m->n_params; j++)
        grads[j] += (cnn_real)r->dparams[j]; /* running statistics get 0 */
}

/* ---- loss ----------------------------------------------------------------- */

double cnn_ref_loss(const cnn_model *m, const cnn_real *logits, const int *labels, cnn_real *dlogits, int n)
{
    double total = 0;
    int K = m->n_outputs;
    for (int i = 0; i < n; i++) {
        const cnn_real *z = logits + (size_t)i * K;
        if (m->final_act == CNN_ACT_SIGMOID) {
            /* softplus form: max(z,0) - z*y + log(1 + exp(-|z|)) */
            double zz = z[0], y = labels[i] ? 1.0 : 0.0;
            total += (zz > 0 ? zz : 0) - zz * y + log1p(exp(-fabs(zz)));
            if (dlogits)
                dlogits[i] = (cnn_real)((1.0 / (1.0 + exp(-zz)) - y) / n);
        } else {
            double mx = z[0], sum = 0;
            for (int k = 1; k < K; k++)
                mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < K; k++)
                sum += exp((double)z[k] - mx);
            double lse = mx + log(sum);
            total += lse - (double)z[labels[i]];
            if (dlogits)
                for (int k = 0; k < K; k++)
                    dlogits[(size_t)i * K + k] =
                        (cnn_real)((exp((double)z[k] - lse) - (k == labels[i] ? 1.0 : 0.0)) / n);
        }
    }
    return n > 0 ? total / n : 0.0;
}
