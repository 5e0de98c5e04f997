/* optim.c: Adam, SGD (momentum, Nesterov) and RMSprop with Keras 3's update
 * rules over one flat float array (see cnn_optim.h for the formulas). */
#include "cnn_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cnn_optim {
    cnn_optimizer cfg;
    size_t n;
    uint64_t iterations;
    int n_slots;
    float *slot[2];
};

cnn_optimizer cnn_optim_defaults(cnn_optimizer_kind kind)
{
    cnn_optimizer c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.epsilon = 1e-7;
    c.rho = 0.9;
    c.momentum = 0.0;
    c.nesterov = 0;
    c.lr = kind == CNN_OPT_SGD ? 0.01 : 0.001;
    return c;
}

const char *cnn_optim_kind_name(cnn_optimizer_kind kind)
{
    switch (kind) {
    case CNN_OPT_ADAM: return "adam";
    case CNN_OPT_SGD: return "sgd";
    case CNN_OPT_RMSPROP: return "rmsprop";
    }
    return "?";
}

const char *cnn_optim_check(const cnn_optimizer *c)
{
    if (!(c->lr > 0.0) || !isfinite(c->lr))
        return "the learning rate must be a positive number";
    switch (c->kind) {
    case CNN_OPT_ADAM:
        if (!(c->beta1 >= 0.0 && c->beta1 < 1.0)) return "adam beta1 must be in [0, 1)";
        if (!(c->beta2 >= 0.0 && c->beta2 < 1.0)) return "adam beta2 must be in [0, 1)";
        if (!(c->epsilon > 0.0)) return "adam epsilon must be positive";
        return NULL;
    case CNN_OPT_SGD:
        if (!(c->momentum >= 0.0 && c->momentum < 1.0)) return "sgd momentum must be in [0, 1)";
        return NULL;
    case CNN_OPT_RMSPROP:
        if (!(c->rho >= 0.0 && c->rho < 1.0)) return "rmsprop rho must be in [0, 1)";
        if (!(c->epsilon > 0.0)) return "rmsprop epsilon must be positive";
        return NULL;
    }
    return "unknown optimizer";
}

static int slots_for(const cnn_optimizer *c)
{
    switch (c->kind) {
    case CNN_OPT_ADAM: return 2;
    case CNN_OPT_SGD: return c->momentum != 0.0 ? 1 : 0;
    case CNN_OPT_RMSPROP: return 1;
    }
    return 0;
}

cnn_optim *cnn_optim_create(const cnn_optimizer *cfg, size_t n)
{
    if (cnn_optim_check(cfg))
        return NULL;
    cnn_optim *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->cfg = *cfg;
    o->n = n;
    o->n_slots = slots_for(cfg);
    for (int i = 0; i < o->n_slots; i++) {
        /* calloc: state starts at zero, as in Keras and PyTorch. */
        o->slot[i] = calloc(n ? n : 1, sizeof(float));
        if (!o->slot[i]) {
            cnn_optim_free(o);
            return NULL;
        }
    }
    return o;
}

void cnn_optim_free(cnn_optim *o)
{
    if (!o)
        return;
    for (int i = 0; i < 2; i++)
        free(o->slot[i]);
    free(o);
}

/* Element-wise loops: each element's arithmetic is the same whichever
 * thread runs it, so the result is independent of the thread count. Small
 * arrays stay on one thread (a parallel region costs more than it saves). */
#define CNN_OPTIM_PAR_MIN 65536

static void adam_step(cnn_optim *o, float *restrict p, const float *restrict g)
{
    const double t = (double)(o->iterations + 1);
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2;
    const float alpha = (float)(o->cfg.lr * sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t)));
    const float one_b1 = (float)(1.0 - b1), one_b2 = (float)(1.0 - b2);
    const float eps = (float)o->cfg.epsilon;
    float *restrict m = o->slot[0];
    float *restrict v = o->slot[1];
    const long n = (long)o->n;
#pragma omp parallel for simd schedule(static) if (n >= CNN_OPTIM_PAR_MIN)
    for (long i = 0; i < n; i++) {
        float gi = g[i];
        m[i] += (gi - m[i]) * one_b1;
        v[i] += (gi * gi - v[i]) * one_b2;
        p[i] -= (m[i] * alpha) / (sqrtf(v[i]) + eps);
    }
}

static void sgd_step(cnn_optim *o, float *restrict p, const float *restrict g)
{
    const float lr = (float)o->cfg.lr;
    const long n = (long)o->n;
    if (o->n_slots == 0) {
#pragma omp parallel for simd schedule(static) if (n >= CNN_OPTIM_PAR_MIN)
        for (long i = 0; i < n; i++)
            p[i] -= lr * g[i];
        return;
    }
    const float mu = (float)o->cfg.momentum;
    float *restrict m = o->slot[0];
    if (o->cfg.nesterov) {
#pragma omp parallel for simd schedule(static) if (n >= CNN_OPTIM_PAR_MIN)
        for (long i = 0; i < n; i++) {
            m[i] = mu * m[i] - lr * g[i];
            p[i] += mu * m[i] - lr * g[i];
        }
    } else {
#pragma omp parallel for simd schedule(static) if (n >= CNN_OPTIM_PAR_MIN)
        for (long i = 0; i < n; i++) {
            m[i] = mu * m[i] - lr * g[i];
            p[i] += m[i];
        }
    }
}

static void rmsprop_step(cnn_optim *o, float *restrict p, const float *restrict g)
{
    const float lr = (float)o->cfg.lr;
    const float rho = (float)o->cfg.rho, one_rho = (float)(1.0 - o->cfg.rho);
    const float eps = (float)o->cfg.epsilon;
    float *restrict v = o->slot[0];
    const long n = (long)o->n;
#pragma omp parallel for simd schedule(static) if (n >= CNN_OPTIM_PAR_MIN)
    for (long i = 0; i < n; i++) {
        float gi = g[i];
        v[i] = rho * v[i] + one_rho * gi * gi;
        p[i] -= lr * gi / sqrtf(v[i] + eps);
    }
}

void cnn_optim_step(cnn_optim *o, float *params, const float *grads)
{
    switch (o->cfg.kind) {
    case CNN_OPT_ADAM: adam_step(o, params, grads); break;
    case CNN_OPT_SGD: sgd_step(o, params, grads); break;
    case CNN_OPT_RMSPROP: rmsprop_step(o, params, grads); break;
    }
    o->iterations++;
}

const cnn_optimizer *cnn_optim_config(const cnn_optim *o) { return &o->cfg; }
void cnn_optim_set_lr(cnn_optim *o, double lr) { o->cfg.lr = lr; }
size_t cnn_optim_size(const cnn_optim *o) { return o->n; }
uint64_t cnn_optim_iterations(const cnn_optim *o) { return o->iterations; }
void cnn_optim_set_iterations(cnn_optim *o, uint64_t it) { o->iterations = it; }
int cnn_optim_n_slots(const cnn_optim *o) { return o->n_slots; }

const char *cnn_optim_slot_name(const cnn_optim *o, int i)
{
    if (i < 0 || i >= o->n_slots)
        return NULL;
    switch (o->cfg.kind) {
    case CNN_OPT_ADAM: return i == 0 ? "m" : "v";
    case CNN_OPT_SGD: return "momentum";
    case CNN_OPT_RMSPROP: return "velocity";
    }
    return NULL;
}

float *cnn_optim_slot(cnn_optim *o, int i)
{
    return i >= 0 && i < o->n_slots ? o->slot[i] : NULL;
}

const float *cnn_optim_slot_const(const cnn_optim *o, int i)
{
    return i >= 0 && i < o->n_slots ? o->slot[i] : NULL;
}

void cnn_optim_reset(cnn_optim *o)
{
    for (int i = 0; i < o->n_slots; i++)
        memset(o->slot[i], 0, (o->n ? o->n : 1) * sizeof(float));
    o->iterations = 0;
}
