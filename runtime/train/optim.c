/* optim.c: Adam, AdamW, SGD (momentum, Nesterov) and RMSprop with Keras 3's
 * update rules, decoupled weight decay and element-wise gradient clipping,
 * over one flat float array (see cnn_optim.h for the formulas). */
#include "cnn_optim.h"
#include "cnn_finite.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_words.h"

/* The scalar coefficients of one step, computed in double from the
 * configuration and the step number (cnn_optim_begin), then used as floats
 * by every element. */
typedef struct coefs {
    float alpha;          /* adam: lr * sqrt(1 - beta2^t) / (1 - beta1^t) */
    float one_b1, one_b2; /* adam: 1 - beta1, 1 - beta2 */
    float eps;            /* adam, rmsprop */
    float lr, mu;         /* sgd */
    float rho, one_rho;   /* rmsprop */
    float wd;             /* lr * weight_decay, 0 = none */
    float clip;           /* clipvalue, 0 = none */
} coefs;

struct cnn_optim {
    cnn_optimizer cfg;
    size_t n;
    uint64_t iterations;
    int n_slots;
    float *slot[2];
    coefs k;             /* of step iterations + 1, valid while begun */
    int begun;
    int nonfinite;       /* this step wrote a weight that is NaN or infinite */
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
    c.weight_decay = kind == CNN_OPT_ADAMW ? 0.004 : 0.0;
    return c;
}

const char *cnn_optim_kind_name(cnn_optimizer_kind kind)
{
    return cnn_word(cnn_optimizer_words, kind);
}

const char *cnn_optim_check(const cnn_optimizer *c)
{
    if (!(c->lr > 0.0) || !isfinite(c->lr))
        return "the learning rate must be a positive number";
    if (!(c->weight_decay >= 0.0 && c->weight_decay <= 1.0))
        return "weight_decay must be in [0, 1]";
    if (!(c->clipnorm >= 0.0 && c->clipnorm <= 1e6) || !(c->clipvalue >= 0.0 && c->clipvalue <= 1e6) ||
        !(c->global_clipnorm >= 0.0 && c->global_clipnorm <= 1e6))
        return "clipnorm, clipvalue and global_clipnorm must be in (0, 1e6] (0: off)";
    if (c->clipnorm > 0 && c->clipvalue > 0)
        return "clipnorm and clipvalue are both given; give one (Keras allows one clipping)";
    if (c->global_clipnorm > 0 && (c->clipnorm > 0 || c->clipvalue > 0))
        return c->clipnorm > 0 ? "clipnorm and global_clipnorm are both given; give one (Keras allows one clipping)"
                               : "clipvalue and global_clipnorm are both given; give one (Keras allows one clipping)";
    switch (c->kind) {
    case CNN_OPT_ADAM:
    case CNN_OPT_ADAMW:
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
    case CNN_OPT_ADAM:
    case CNN_OPT_ADAMW: return 2;
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

/* One element loop per rule, over [off, off + count) of the parameters
 * and of the slots. Each element's arithmetic is the same whichever thread
 * or block runs it, so results never depend on the thread count or on how
 * the range is cut (cnn_optim_update's blocks, or the whole step). */
static void adam_elems(const cnn_optim *o, float *restrict p, const float *restrict g, size_t off, size_t count)
{
    const float alpha = o->k.alpha, one_b1 = o->k.one_b1, one_b2 = o->k.one_b2, eps = o->k.eps;
    float *restrict m = o->slot[0] + off;
    float *restrict v = o->slot[1] + off;
#pragma omp simd
    for (size_t i = 0; i < count; i++) {
        float gi = g[i];
        m[i] += (gi - m[i]) * one_b1;
        v[i] += (gi * gi - v[i]) * one_b2;
        p[i] -= (m[i] * alpha) / (sqrtf(v[i]) + eps);
    }
}

static void sgd_elems(const cnn_optim *o, float *restrict p, const float *restrict g, size_t off, size_t count)
{
    const float lr = o->k.lr, mu = o->k.mu;
    if (o->n_slots == 0) {
#pragma omp simd
        for (size_t i = 0; i < count; i++)
            p[i] -= lr * g[i];
        return;
    }
    float *restrict m = o->slot[0] + off;
    if (o->cfg.nesterov) {
#pragma omp simd
        for (size_t i = 0; i < count; i++) {
            m[i] = mu * m[i] - lr * g[i];
            p[i] += mu * m[i] - lr * g[i];
        }
    } else {
#pragma omp simd
        for (size_t i = 0; i < count; i++) {
            m[i] = mu * m[i] - lr * g[i];
            p[i] += m[i];
        }
    }
}

static void rmsprop_elems(const cnn_optim *o, float *restrict p, const float *restrict g, size_t off,
                          size_t count)
{
    const float lr = o->k.lr, rho = o->k.rho, one_rho = o->k.one_rho, eps = o->k.eps;
    float *restrict v = o->slot[0] + off;
#pragma omp simd
    for (size_t i = 0; i < count; i++) {
        float gi = g[i];
        v[i] = rho * v[i] + one_rho * gi * gi;
        p[i] -= lr * gi / sqrtf(v[i] + eps);
    }
}

/* Keras 3's order: the gradient clipped, the weight decayed (with this
 * step's lr), then the rule. A clipped copy of g goes through a small
 * stack buffer, so g itself is never written. */
#define CLIP_BLOCK 256

static void rule_elems(const cnn_optim *o, float *p, const float *g, size_t off, size_t count);

static void update_elems(const cnn_optim *o, float *p, const float *g, size_t off, size_t count)
{
    const float wd = o->k.wd, c = o->k.clip;
    if (wd != 0.0f) {
#pragma omp simd
        for (size_t i = 0; i < count; i++)
            p[i] -= p[i] * wd;
    }
    if (c == 0.0f) {
        rule_elems(o, p, g, off, count);
        return;
    }
    float gc[CLIP_BLOCK];
    for (size_t at = 0; at < count; at += CLIP_BLOCK) {
        size_t k = count - at < CLIP_BLOCK ? count - at : CLIP_BLOCK;
#pragma omp simd
        for (size_t i = 0; i < k; i++)
            gc[i] = fminf(fmaxf(g[at + i], -c), c);
        rule_elems(o, p + at, gc, off + at, k);
    }
}

static void rule_elems(const cnn_optim *o, float *p, const float *g, size_t off, size_t count)
{
    switch (o->cfg.kind) {
    case CNN_OPT_ADAM:
    case CNN_OPT_ADAMW: adam_elems(o, p, g, off, count); break;
    case CNN_OPT_SGD: sgd_elems(o, p, g, off, count); break;
    case CNN_OPT_RMSPROP: rmsprop_elems(o, p, g, off, count); break;
    }
}

void cnn_optim_begin(cnn_optim *o)
{
    if (o->begun)
        return;
    const double t = (double)(o->iterations + 1);
    const cnn_optimizer *c = &o->cfg;
    memset(&o->k, 0, sizeof o->k);
    o->nonfinite = 0;
    o->k.wd = (float)(c->lr * c->weight_decay);
    o->k.clip = (float)c->clipvalue;
    switch (c->kind) {
    case CNN_OPT_ADAM:
    case CNN_OPT_ADAMW:
        o->k.alpha = (float)(c->lr * sqrt(1.0 - pow(c->beta2, t)) / (1.0 - pow(c->beta1, t)));
        o->k.one_b1 = (float)(1.0 - c->beta1);
        o->k.one_b2 = (float)(1.0 - c->beta2);
        o->k.eps = (float)c->epsilon;
        break;
    case CNN_OPT_SGD:
        o->k.lr = (float)c->lr;
        o->k.mu = (float)c->momentum;
        break;
    case CNN_OPT_RMSPROP:
        o->k.lr = (float)c->lr;
        o->k.rho = (float)c->rho;
        o->k.one_rho = (float)(1.0 - c->rho);
        o->k.eps = (float)c->epsilon;
        break;
    }
    o->begun = 1;
}

/* The update of [off, off + count) in blocks small enough to stay in the
 * first-level cache, each scanned for NaN and infinity right after it is
 * written: the divergence check of every weight after every step costs
 * nothing more than this (a separate scan reads the whole block from
 * memory again). Blocks start at multiples of 16 floats from off, so the
 * vector loops see the alignment a whole step would. Returns 1 when a
 * written weight is not finite. */
#define SCAN_BLOCK 2048
static int update_scan(const cnn_optim *o, float *p, const float *g, size_t off, size_t count)
{
    int bad = 0;
    for (size_t at = 0; at < count; at += SCAN_BLOCK) {
        size_t k = count - at < SCAN_BLOCK ? count - at : SCAN_BLOCK;
        update_elems(o, p + at, g + at, off + at, k);
        bad |= cnn_first_nonfinite(p + at, k) < k;
    }
    return bad;
}

void cnn_optim_update(cnn_optim *o, float *params, size_t offset, size_t count, const float *grad)
{
    if (!o->begun || offset > o->n || count > o->n - offset)
        return; /* a caller bug; never write outside the state */
    if (update_scan(o, params + offset, grad, offset, count)) {
        /* any thread may get here; all write the same value */
#pragma omp atomic write
        o->nonfinite = 1;
    }
}

/* Small arrays stay on one thread (a parallel region costs more than it
 * saves). */
#define CNN_OPTIM_PAR_MIN 65536

int cnn_optim_step_except(cnn_optim *o, float *params, const float *grads, const cnn_range *skip, int n_skip)
{
    /* The ranges to update: [0, n) minus the skipped ones (sorted, disjoint). */
    size_t from[CNN_OPTIM_MAX_SKIP + 1], to[CNN_OPTIM_MAX_SKIP + 1], total = 0, at = 0;
    int nr = 0;
    if (n_skip < 0 || n_skip > CNN_OPTIM_MAX_SKIP)
        return -1;
    for (int i = 0; i < n_skip; i++) {
        if (skip[i].offset < at || skip[i].offset > o->n || skip[i].count > o->n - skip[i].offset)
            return -1;
        if (skip[i].offset > at) {
            from[nr] = at;
            to[nr++] = skip[i].offset;
        }
        at = skip[i].offset + skip[i].count;
    }
    if (at < o->n) {
        from[nr] = at;
        to[nr++] = o->n;
    }
    for (int r = 0; r < nr; r++)
        total += to[r] - from[r];
    cnn_optim_begin(o);
    /* Each thread takes a contiguous share of every range, cut at multiples
     * of 16 floats so that vector loops see the same alignment as a whole
     * step would. */
    int bad = 0;
#pragma omp parallel if (total >= CNN_OPTIM_PAR_MIN) reduction(| : bad)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        for (int r = 0; r < nr; r++) {
            size_t len = to[r] - from[r];
            size_t share = (len / (size_t)nt + 15) / 16 * 16;
            size_t lo = from[r] + share * (size_t)t, hi = lo + share;
            if (t == nt - 1 || hi > to[r])
                hi = to[r];
            if (lo < hi)
                bad |= update_scan(o, params + lo, grads + lo, lo, hi - lo);
        }
    }
    o->nonfinite |= bad;
    o->iterations++;
    o->begun = 0;
    return 0;
}

void cnn_optim_step(cnn_optim *o, float *params, const float *grads)
{
    cnn_optim_step_except(o, params, grads, NULL, 0);
}

const cnn_optimizer *cnn_optim_config(const cnn_optim *o) { return &o->cfg; }
int cnn_optim_wrote_nonfinite(const cnn_optim *o) { return o->nonfinite; }
int cnn_optim_fusable(const cnn_optim *o) { return !(o->cfg.clipnorm > 0) && !(o->cfg.global_clipnorm > 0); }
void cnn_optim_set_lr(cnn_optim *o, double lr)
{
    o->cfg.lr = lr;
    o->begun = 0;
}
size_t cnn_optim_size(const cnn_optim *o) { return o->n; }
uint64_t cnn_optim_iterations(const cnn_optim *o) { return o->iterations; }
void cnn_optim_set_iterations(cnn_optim *o, uint64_t it)
{
    o->iterations = it;
    o->begun = 0;
}
int cnn_optim_n_slots(const cnn_optim *o) { return o->n_slots; }

const char *cnn_optim_slot_name(const cnn_optim *o, int i)
{
    if (i < 0 || i >= o->n_slots)
        return NULL;
    switch (o->cfg.kind) {
    case CNN_OPT_ADAM:
    case CNN_OPT_ADAMW: return i == 0 ? "m" : "v";
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
    o->begun = 0;
}
