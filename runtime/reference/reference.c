/* reference.c: the generic reference engine (see cnn_reference.h).
 *
 * One plain loop nest per layer kind and direction, shapes read from the
 * layer table at run time. Every buffer is allocated once in cnn_ref_create.
 * What forward keeps for backward: each layer's output, the pre-activation of
 * layers with a fused non-linear activation, dropout scale factors, and the
 * batchnorm per-channel mean and 1/sqrt(var+eps).
 *
 * Values are stored in cnn_real, but every sum is accumulated in double
 * (outputs of conv/dense, pools, batchnorm statistics, and all parameter
 * gradients, which go to a double buffer and are added into the caller's
 * grads at the end): the oracle should be more accurate than the float code
 * it checks, not merely as accurate. */
#include "cnn_reference.h"
#include "cnn_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_rng.h"

typedef struct ref_layer {
    size_t in_size, out_size;  /* floats per image */
    cnn_act act;               /* activation applied in forward (LINEAR if skipped) */
    cnn_real *out;             /* batch_cap * out_size */
    cnn_real *pre;             /* pre-activation (conv2d/dense with a non-linear act), else NULL */
    cnn_real *mask;            /* dropout: 0 or 1/(1-rate) per element */
    cnn_real *mean, *inv_std;  /* batchnorm: per channel */
    int bn_batch_stats;        /* batchnorm: forward used batch statistics */
} ref_layer;

struct cnn_ref {
    const cnn_model *m;
    int batch_cap;
    int n;          /* images of the last forward */
    int training;   /* mode of the last forward */
    ref_layer layer[CNN_MAX_LAYERS];
    cnn_real *g0, *g1; /* gradient ping-pong, batch_cap * max tensor size */
    double *acc;       /* one output pixel's or vector's sums: max channels/units */
    double *dparams;   /* parameter gradients of one backward pass, n_params */
};

size_t cnn_ref_shape_size(cnn_shape s)
{
    return (size_t)s.h * (size_t)s.w * (size_t)s.c;
}

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
        ref_layer *l = &r->layer[i];
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
        ref_layer *l = &r->layer[i];
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

/* ---- parameter access through the tensor layouts ---------------------- */

static const cnn_tensor_info *tensor(const cnn_model *m, const cnn_layer *L, int k)
{
    return &m->tensors[L->first_tensor + k];
}

/* Index in memory of conv weight (ky, kx, ci, co). */
static size_t conv_w_index(const cnn_tensor_info *t, const cnn_layer *L, int ky, int kx, int ci, int co)
{
    int nci = L->in.c, nco = L->out.c;
    if (t->layout == CNN_LAYOUT_HWIO)
        return (((size_t)ky * L->kw + kx) * nci + ci) * nco + co;
    return (((size_t)co * nci + ci) * L->kh + ky) * L->kw + kx; /* OIHW */
}

/* Distance in memory between the weights of two consecutive output channels
 * (1 for HWIO / [in][out], so the innermost loops below run over contiguous
 * memory; they keep a strided twin for PyTorch-order layouts). */
static size_t conv_co_stride(const cnn_tensor_info *t, const cnn_layer *L)
{
    return t->layout == CNN_LAYOUT_HWIO ? 1 : (size_t)L->in.c * L->kh * L->kw;
}

static size_t dense_out_stride(const cnn_tensor_info *t, size_t nin)
{
    return t->layout == CNN_LAYOUT_IO ? 1 : nin;
}

/* Index in memory of dense weight (input i, output o). */
static size_t dense_w_index(const cnn_tensor_info *t, size_t nin, size_t nout, size_t i, size_t o)
{
    if (t->layout == CNN_LAYOUT_IO)
        return i * nout + o;
    return o * nin + i; /* [out][in] */
}

/* ---- activations -------------------------------------------------------- */

/* Applies act in place over n vectors of c channels (softmax needs the
 * channel grouping; the others are element-wise). */
static void act_forward(cnn_act act, float alpha, cnn_real *v, size_t vectors, int c)
{
    size_t total = vectors * (size_t)c;
    switch (act) {
    case CNN_ACT_LINEAR:
        return;
    case CNN_ACT_RELU:
        for (size_t i = 0; i < total; i++)
            v[i] = v[i] > 0 ? v[i] : 0;
        return;
    case CNN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < total; i++)
            v[i] = v[i] > 0 ? v[i] : (cnn_real)alpha * v[i];
        return;
    case CNN_ACT_SIGMOID:
        for (size_t i = 0; i < total; i++)
            v[i] = (cnn_real)(1.0 / (1.0 + exp(-(double)v[i])));
        return;
    case CNN_ACT_TANH:
        for (size_t i = 0; i < total; i++)
            v[i] = (cnn_real)tanh((double)v[i]);
        return;
    case CNN_ACT_SOFTMAX:
        for (size_t p = 0; p < vectors; p++) {
            cnn_real *x = v + p * (size_t)c;
            double mx = x[0], sum = 0;
            for (int k = 1; k < c; k++)
                mx = x[k] > mx ? x[k] : mx;
            for (int k = 0; k < c; k++) {
                double e = exp((double)x[k] - mx);
                x[k] = (cnn_real)e;
                sum += e;
            }
            for (int k = 0; k < c; k++)
                x[k] = (cnn_real)(x[k] / sum);
        }
        return;
    }
}

/* dz = dy * act'(z), from the pre-activation z and the output y; dz may
 * alias dy. */
static void act_backward(cnn_act act, float alpha, const cnn_real *z, const cnn_real *y, const cnn_real *dy,
                         cnn_real *dz, size_t vectors, int c)
{
    size_t total = vectors * (size_t)c;
    switch (act) {
    case CNN_ACT_LINEAR:
        if (dz != dy)
            memcpy(dz, dy, total * sizeof *dz);
        return;
    case CNN_ACT_RELU:
        for (size_t i = 0; i < total; i++)
            dz[i] = z[i] > 0 ? dy[i] : 0;
        return;
    case CNN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < total; i++)
            dz[i] = z[i] > 0 ? dy[i] : (cnn_real)alpha * dy[i];
        return;
    case CNN_ACT_SIGMOID:
        for (size_t i = 0; i < total; i++)
            dz[i] = dy[i] * y[i] * (1 - y[i]);
        return;
    case CNN_ACT_TANH:
        for (size_t i = 0; i < total; i++)
            dz[i] = dy[i] * (1 - y[i] * y[i]);
        return;
    case CNN_ACT_SOFTMAX:
        for (size_t p = 0; p < vectors; p++) {
            const cnn_real *yy = y + p * (size_t)c, *g = dy + p * (size_t)c;
            cnn_real *d = dz + p * (size_t)c;
            double dot = 0;
            for (int k = 0; k < c; k++)
                dot += g[k] * yy[k];
            for (int k = 0; k < c; k++)
                d[k] = (cnn_real)(yy[k] * (g[k] - dot));
        }
        return;
    }
}

/* ---- forward, one function per layer kind ------------------------------- */

static void conv_forward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
                         cnn_real *y, int n, double *acc)
{
    const cnn_tensor_info *tw = tensor(m, L, 0);
    const cnn_real *w = params + tw->offset;
    const cnn_real *b = L->bias ? params + tensor(m, L, 1)->offset : NULL;
    int H = L->in.h, W = L->in.w, C = L->in.c, OH = L->out.h, OW = L->out.w, K = L->out.c;
    size_t ks = conv_co_stride(tw, L);
    for (int i = 0; i < n; i++) {
        const cnn_real *xi = x + (size_t)i * H * W * C;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                cnn_real *o = y + (((size_t)i * OH + oy) * OW + ox) * K;
                for (int k = 0; k < K; k++)
                    acc[k] = b ? b[k] : 0;
                for (int ky = 0; ky < L->kh; ky++) {
                    int iy = oy * L->sh + ky - L->pad_top;
                    if (iy < 0 || iy >= H)
                        continue;
                    for (int kx = 0; kx < L->kw; kx++) {
                        int ix = ox * L->sw + kx - L->pad_left;
                        if (ix < 0 || ix >= W)
                            continue;
                        const cnn_real *px = xi + ((size_t)iy * W + ix) * C;
                        for (int c = 0; c < C; c++) {
                            const cnn_real *wr = w + conv_w_index(tw, L, ky, kx, c, 0);
                            double a = px[c];
                            if (ks == 1)
                                for (int k = 0; k < K; k++)
                                    acc[k] += a * wr[k];
                            else
                                for (int k = 0; k < K; k++)
                                    acc[k] += a * wr[k * ks];
                        }
                    }
                }
                for (int k = 0; k < K; k++)
                    o[k] = (cnn_real)acc[k];
            }
    }
}

static void pool_forward(const cnn_layer *L, const cnn_real *x, cnn_real *y, int n)
{
    int H = L->in.h, W = L->in.w, C = L->in.c, OH = L->out.h, OW = L->out.w;
    double inv = 1.0 / (L->kh * L->kw);
    for (int i = 0; i < n; i++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int c = 0; c < C; c++) {
                    double acc = 0;
                    int first = 1;
                    for (int ky = 0; ky < L->kh; ky++)
                        for (int kx = 0; kx < L->kw; kx++) {
                            int iy = oy * L->sh + ky, ix = ox * L->sw + kx;
                            cnn_real v = x[(((size_t)i * H + iy) * W + ix) * C + c];
                            if (L->kind == CNN_AVGPOOL)
                                acc += v;
                            else if (first || v > acc)
                                acc = v;
                            first = 0;
                        }
                    y[(((size_t)i * OH + oy) * OW + ox) * C + c] = (cnn_real)(L->kind == CNN_AVGPOOL ? acc * inv : acc);
                }
}

static void gap_forward(const cnn_layer *L, const cnn_real *x, cnn_real *y, int n)
{
    int HW = L->in.h * L->in.w, C = L->in.c;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++) {
            double acc = 0;
            for (int p = 0; p < HW; p++)
                acc += x[((size_t)i * HW + p) * C + c];
            y[(size_t)i * C + c] = (cnn_real)(acc / HW);
        }
}

static void dense_forward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
                          cnn_real *y, int n, double *acc)
{
    const cnn_tensor_info *tw = tensor(m, L, 0);
    const cnn_real *w = params + tw->offset;
    const cnn_real *b = L->bias ? params + tensor(m, L, 1)->offset : NULL;
    size_t NI = cnn_ref_shape_size(L->in), NO = (size_t)L->out.c, ks = dense_out_stride(tw, NI);
    for (int i = 0; i < n; i++) {
        const cnn_real *xi = x + (size_t)i * NI;
        cnn_real *o = y + (size_t)i * NO;
        for (size_t k = 0; k < NO; k++)
            acc[k] = b ? b[k] : 0;
        for (size_t j = 0; j < NI; j++) {
            const cnn_real *wr = w + dense_w_index(tw, NI, NO, j, 0);
            double a = xi[j];
            if (ks == 1)
                for (size_t k = 0; k < NO; k++)
                    acc[k] += a * wr[k];
            else
                for (size_t k = 0; k < NO; k++)
                    acc[k] += a * wr[k * ks];
        }
        for (size_t k = 0; k < NO; k++)
            o[k] = (cnn_real)acc[k];
    }
}

static void dropout_forward(const cnn_layer *L, int index, ref_layer *l, const cnn_real *x, cnn_real *y, int n,
                            int training, uint64_t seed, uint64_t step)
{
    size_t size = l->out_size, total = (size_t)n * size;
    if (!training || L->rate == 0.0f) {
        for (size_t e = 0; e < total; e++)
            l->mask[e] = 1;
    } else {
        cnn_real scale = (cnn_real)(1.0 / (1.0 - (double)L->rate));
        uint64_t a = step * 64 + (uint64_t)index;
        for (size_t e = 0; e < total; e++)
            l->mask[e] = cnn_rng_uniform(seed, CNN_RNG_DROPOUT, a, (uint64_t)e) >= (double)L->rate ? scale : 0;
    }
    for (size_t e = 0; e < total; e++)
        y[e] = x[e] * l->mask[e];
}

static void batchnorm_forward(const cnn_model *m, const cnn_layer *L, ref_layer *l, cnn_real *params,
                              const cnn_real *x, cnn_real *y, int n, int training)
{
    int C = L->in.c;
    size_t per_c = (size_t)n * L->in.h * L->in.w; /* values per channel in the batch */
    const cnn_real *gamma = params + tensor(m, L, 0)->offset;
    const cnn_real *beta = params + tensor(m, L, 1)->offset;
    cnn_real *rmean = params + tensor(m, L, 2)->offset;
    cnn_real *rvar = params + tensor(m, L, 3)->offset;
    l->bn_batch_stats = training;
    for (int c = 0; c < C; c++) {
        double mean, var;
        if (training) {
            double s = 0, s2 = 0;
            for (size_t p = 0; p < per_c; p++)
                s += x[p * C + c];
            mean = s / (double)per_c;
            for (size_t p = 0; p < per_c; p++) {
                double d = x[p * C + c] - mean;
                s2 += d * d;
            }
            var = s2 / (double)per_c; /* biased, as Keras (and PyTorch's normalisation) */
            rmean[c] = (cnn_real)(L->momentum * (double)rmean[c] + (1.0 - L->momentum) * mean);
            rvar[c] = (cnn_real)(L->momentum * (double)rvar[c] + (1.0 - L->momentum) * var);
        } else {
            mean = rmean[c];
            var = rvar[c];
        }
        l->mean[c] = (cnn_real)mean;
        l->inv_std[c] = (cnn_real)(1.0 / sqrt(var + (double)L->epsilon));
    }
    for (size_t p = 0; p < per_c; p++)
        for (int c = 0; c < C; c++)
            y[p * C + c] = (cnn_real)((double)gamma[c] * ((double)x[p * C + c] - l->mean[c]) * l->inv_std[c] + beta[c]);
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
        ref_layer *l = &r->layer[i];
        cnn_real *out = l->out;
        size_t total = (size_t)n * l->out_size;
        switch (L->kind) {
        case CNN_CONV2D:
            conv_forward(m, L, params, in, out, n, r->acc);
            break;
        case CNN_MAXPOOL:
        case CNN_AVGPOOL:
            pool_forward(L, in, out, n);
            break;
        case CNN_GLOBALAVGPOOL:
            gap_forward(L, in, out, n);
            break;
        case CNN_FLATTEN:
            memcpy(out, in, total * sizeof *out);
            break;
        case CNN_DENSE:
            dense_forward(m, L, params, in, out, n, r->acc);
            break;
        case CNN_DROPOUT:
            dropout_forward(L, i, l, in, out, n, training, seed, step);
            break;
        case CNN_BATCHNORM:
            batchnorm_forward(m, L, l, params, in, out, n, training);
            break;
        case CNN_ACTIVATION:
            memcpy(out, in, total * sizeof *out);
            break;
        }
        if (l->pre)
            memcpy(l->pre, out, total * sizeof *out);
        act_forward(l->act, L->alpha, out, total / (size_t)L->out.c, L->out.c);
        in = out;
    }
    memcpy(logits, in, (size_t)n * (size_t)m->n_outputs * sizeof *logits);
}

/* ---- backward, one function per layer kind ------------------------------
 * dy: dLoss/d(layer output before... after its activation has been undone,
 * i.e. w.r.t. the pre-activation); dx: dLoss/d(layer input), overwritten;
 * NULL when nothing below needs it. */

static void conv_backward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
                          const cnn_real *dy, double *grads, cnn_real *dx, int n)
{
    const cnn_tensor_info *tw = tensor(m, L, 0);
    const cnn_real *w = params + tw->offset;
    double *dw = grads + tw->offset;
    double *db = L->bias ? grads + tensor(m, L, 1)->offset : NULL;
    int H = L->in.h, W = L->in.w, C = L->in.c, OH = L->out.h, OW = L->out.w, K = L->out.c;
    size_t ks = conv_co_stride(tw, L);
    if (dx)
        memset(dx, 0, (size_t)n * H * W * C * sizeof *dx);
    for (int i = 0; i < n; i++) {
        const cnn_real *xi = x + (size_t)i * H * W * C;
        cnn_real *dxi = dx ? dx + (size_t)i * H * W * C : NULL;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const cnn_real *g = dy + (((size_t)i * OH + oy) * OW + ox) * K;
                if (db)
                    for (int k = 0; k < K; k++)
                        db[k] += g[k];
                for (int ky = 0; ky < L->kh; ky++) {
                    int iy = oy * L->sh + ky - L->pad_top;
                    if (iy < 0 || iy >= H)
                        continue;
                    for (int kx = 0; kx < L->kw; kx++) {
                        int ix = ox * L->sw + kx - L->pad_left;
                        if (ix < 0 || ix >= W)
                            continue;
                        size_t px = ((size_t)iy * W + ix) * C;
                        for (int c = 0; c < C; c++) {
                            size_t w0 = conv_w_index(tw, L, ky, kx, c, 0);
                            double acc = 0, a = xi[px + c];
                            for (int k = 0; k < K; k++) {
                                size_t wi = w0 + (size_t)k * ks;
                                dw[wi] += a * g[k];
                                acc += (double)w[wi] * g[k];
                            }
                            if (dxi)
                                dxi[px + c] += (cnn_real)acc;
                        }
                    }
                }
            }
    }
}

static void pool_backward(const cnn_layer *L, const cnn_real *x, const cnn_real *dy, cnn_real *dx, int n)
{
    int H = L->in.h, W = L->in.w, C = L->in.c, OH = L->out.h, OW = L->out.w;
    cnn_real inv = (cnn_real)(1.0 / (L->kh * L->kw));
    memset(dx, 0, (size_t)n * H * W * C * sizeof *dx);
    for (int i = 0; i < n; i++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int c = 0; c < C; c++) {
                    cnn_real g = dy[(((size_t)i * OH + oy) * OW + ox) * C + c];
                    size_t best = 0;
                    cnn_real bestv = 0;
                    int first = 1;
                    for (int ky = 0; ky < L->kh; ky++)
                        for (int kx = 0; kx < L->kw; kx++) {
                            size_t at = (((size_t)i * H + oy * L->sh + ky) * W + ox * L->sw + kx) * C + c;
                            if (L->kind == CNN_AVGPOOL) {
                                dx[at] += g * inv;
                            } else if (first || x[at] > bestv) {
                                best = at;
                                bestv = x[at];
                            }
                            first = 0;
                        }
                    if (L->kind == CNN_MAXPOOL)
                        dx[best] += g;
                }
}

static void gap_backward(const cnn_layer *L, const cnn_real *dy, cnn_real *dx, int n)
{
    int HW = L->in.h * L->in.w, C = L->in.c;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < HW; p++)
            for (int c = 0; c < C; c++)
                dx[((size_t)i * HW + p) * C + c] = dy[(size_t)i * C + c] / (cnn_real)HW;
}

static void dense_backward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
                           const cnn_real *dy, double *grads, cnn_real *dx, int n)
{
    const cnn_tensor_info *tw = tensor(m, L, 0);
    const cnn_real *w = params + tw->offset;
    double *dw = grads + tw->offset;
    double *db = L->bias ? grads + tensor(m, L, 1)->offset : NULL;
    size_t NI = cnn_ref_shape_size(L->in), NO = (size_t)L->out.c, ks = dense_out_stride(tw, NI);
    for (int i = 0; i < n; i++) {
        const cnn_real *xi = x + (size_t)i * NI, *g = dy + (size_t)i * NO;
        if (db)
            for (size_t k = 0; k < NO; k++)
                db[k] += g[k];
        for (size_t j = 0; j < NI; j++) {
            size_t w0 = dense_w_index(tw, NI, NO, j, 0);
            double acc = 0, a = xi[j];
            for (size_t k = 0; k < NO; k++) {
                size_t wi = w0 + k * ks;
                dw[wi] += a * g[k];
                acc += (double)w[wi] * g[k];
            }
            if (dx)
                dx[(size_t)i * NI + j] = (cnn_real)acc;
        }
    }
}

static void batchnorm_backward(const cnn_model *m, const cnn_layer *L, const ref_layer *l,
                               const cnn_real *params, const cnn_real *x, const cnn_real *dy, double *grads,
                               cnn_real *dx, int n)
{
    int C = L->in.c;
    size_t per_c = (size_t)n * L->in.h * L->in.w;
    const cnn_real *gamma = params + tensor(m, L, 0)->offset;
    double *dgamma = grads + tensor(m, L, 0)->offset;
    double *dbeta = grads + tensor(m, L, 1)->offset;
    for (int c = 0; c < C; c++) {
        double mean = l->mean[c], is = l->inv_std[c];
        double sdy = 0, sdyx = 0; /* sum dy, sum dy * xhat */
        for (size_t p = 0; p < per_c; p++) {
            double g = dy[p * C + c];
            sdy += g;
            sdyx += g * (x[p * C + c] - mean) * is;
        }
        dgamma[c] += sdyx;
        dbeta[c] += sdy;
        if (!dx)
            continue;
        if (l->bn_batch_stats) {
            /* mean and variance depend on every x of the channel:
             * dx = gamma*is/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)) */
            double M = (double)per_c;
            for (size_t p = 0; p < per_c; p++) {
                double xhat = (x[p * C + c] - mean) * is;
                dx[p * C + c] = (cnn_real)(gamma[c] * is / M * (M * dy[p * C + c] - sdy - xhat * sdyx));
            }
        } else {
            for (size_t p = 0; p < per_c; p++)
                dx[p * C + c] = (cnn_real)(gamma[c] * is * dy[p * C + c]);
        }
    }
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
        const ref_layer *l = &r->layer[i];
        const cnn_real *in = i == 0 ? x : r->layer[i - 1].out;
        /* Undo the activation: g becomes dLoss/d(pre-activation). */
        const cnn_real *z = l->pre ? l->pre : (i == 0 ? x : r->layer[i - 1].out);
        act_backward(l->act, L->alpha, z, l->out, g, g, (size_t)n * l->out_size / (size_t)L->out.c, L->out.c);
        /* dx for the layer below: into `other`, or the caller's dx at layer 0. */
        cnn_real *d = i == 0 ? dx : other;
        size_t total_in = (size_t)n * l->in_size;
        switch (L->kind) {
        case CNN_CONV2D:
            conv_backward(m, L, params, in, g, r->dparams, d, n);
            break;
        case CNN_MAXPOOL:
        case CNN_AVGPOOL:
            if (d)
                pool_backward(L, in, g, d, n);
            break;
        case CNN_GLOBALAVGPOOL:
            if (d)
                gap_backward(L, g, d, n);
            break;
        case CNN_FLATTEN:
        case CNN_ACTIVATION:
            if (d)
                memcpy(d, g, total_in * sizeof *d);
            break;
        case CNN_DENSE:
            dense_backward(m, L, params, in, g, r->dparams, d, n);
            break;
        case CNN_DROPOUT:
            if (d)
                for (size_t e = 0; e < total_in; e++)
                    d[e] = g[e] * l->mask[e];
            break;
        case CNN_BATCHNORM:
            batchnorm_backward(m, L, l, params, in, g, r->dparams, d, n);
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
