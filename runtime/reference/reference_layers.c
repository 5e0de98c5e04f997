/* reference_layers.c: the reference engine's arithmetic, one plain loop nest
 * per layer kind and direction (see reference_layers.h); reference.c checks
 * the layer table, owns the buffers and runs these layer by layer. Every
 * sum is accumulated in double. */
#include "reference_layers.h"
#include "cnn_reference.h"

#include <math.h>
#include <string.h>

#include "cnn_rng.h"

size_t cnn_ref_shape_size(cnn_shape s)
{
    return (size_t)s.h * (size_t)s.w * (size_t)s.c;
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

/* acc[k] += a * w[k * ks] for k < n: one input value into every output's
 * double accumulator, over a row of weights with stride ks (1: contiguous). */
static void acc_add(double *acc, double a, const cnn_real *w, size_t n, size_t ks)
{
    if (ks == 1)
        for (size_t k = 0; k < n; k++)
            acc[k] += a * w[k];
    else
        for (size_t k = 0; k < n; k++)
            acc[k] += a * w[k * ks];
}

/* ---- activations -------------------------------------------------------- */

/* Applies act in place over n vectors of c channels (softmax needs the
 * channel grouping; the others are element-wise). */
void cnn_ref_act_forward(cnn_act act, float alpha, cnn_real *v, size_t vectors, int c)
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
void cnn_ref_act_backward(cnn_act act, float alpha, const cnn_real *z, const cnn_real *y, const cnn_real *dy,
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

void cnn_ref_conv_forward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
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
                            acc_add(acc, a, wr, (size_t)K, ks);
                        }
                    }
                }
                for (int k = 0; k < K; k++)
                    o[k] = (cnn_real)acc[k];
            }
    }
}

void cnn_ref_pool_forward(const cnn_layer *L, const cnn_real *x, cnn_real *y, int n)
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

void cnn_ref_gap_forward(const cnn_layer *L, const cnn_real *x, cnn_real *y, int n)
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

void cnn_ref_dense_forward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
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
            acc_add(acc, a, wr, NO, ks);
        }
        for (size_t k = 0; k < NO; k++)
            o[k] = (cnn_real)acc[k];
    }
}

void cnn_ref_dropout_forward(const cnn_layer *L, int index, cnn_ref_layer *l, const cnn_real *x, cnn_real *y, int n,
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

void cnn_ref_batchnorm_forward(const cnn_model *m, const cnn_layer *L, cnn_ref_layer *l, cnn_real *params,
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

/* ---- backward, one function per layer kind ------------------------------
 * dy: dLoss/d(layer output before... after its activation has been undone,
 * i.e. w.r.t. the pre-activation); dx: dLoss/d(layer input), overwritten;
 * NULL when nothing below needs it. */

void cnn_ref_conv_backward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
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

void cnn_ref_pool_backward(const cnn_layer *L, const cnn_real *x, const cnn_real *dy, cnn_real *dx, int n)
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

void cnn_ref_gap_backward(const cnn_layer *L, const cnn_real *dy, cnn_real *dx, int n)
{
    int HW = L->in.h * L->in.w, C = L->in.c;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < HW; p++)
            for (int c = 0; c < C; c++)
                dx[((size_t)i * HW + p) * C + c] = dy[(size_t)i * C + c] / (cnn_real)HW;
}

void cnn_ref_dense_backward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
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

void cnn_ref_batchnorm_backward(const cnn_model *m, const cnn_layer *L, const cnn_ref_layer *l,
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
