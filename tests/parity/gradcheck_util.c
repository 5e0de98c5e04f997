/* gradcheck_util.c: see gradcheck_util.h. */
#include "gradcheck_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_init.h"
#include "cnn_reference.h"
#include "cnn_rng.h"

#define GC_STEP 1e-5
#define GC_RTOL 1e-6
#define GC_ATOL 1e-9

typedef struct gc_ctx {
    const cnn_model *m;
    cnn_ref *r;
    cnn_real *params, *x, *logits;
    int *labels;
    int n, training;
    uint64_t seed;
} gc_ctx;

static double eval_loss(gc_ctx *c)
{
    cnn_ref_forward(c->r, c->params, c->x, c->logits, c->n, c->training, c->seed, 7);
    return cnn_ref_loss(c->m, c->logits, c->labels, NULL, c->n);
}

/* Compares the analytic derivative a of the loss w.r.t. *v with central
 * differences; returns 0 ok, 1 kink (skipped), 2 mismatch. */
static int check_coord(gc_ctx *c, cnn_real *v, double a, double *ratio, double *num)
{
    cnn_real saved = *v;
    *v = saved + GC_STEP;
    double fp = eval_loss(c);
    *v = saved - GC_STEP;
    double fm = eval_loss(c);
    *v = saved;
    double f0 = eval_loss(c);
    double right = (fp - f0) / GC_STEP, left = (f0 - fm) / GC_STEP;
    double d = (fp - fm) / (2 * GC_STEP);
    *num = d;
    double scale = fmax(fabs(a), fabs(d));
    *ratio = fabs(a - d) / (scale + GC_ATOL / GC_RTOL);
    if (fabs(a - d) <= GC_RTOL * scale + GC_ATOL)
        return 0;
    if (fabs(left - right) > 1e-3 * (fabs(left) + fabs(right)) + 1e-6)
        return 1;
    return 2;
}

static void tally(gc_result *res, int st, double ratio, const char *what, size_t j, double a, double num)
{
    if (st == 1) {
        res->skipped++;
        return;
    }
    res->checked++;
    if (st == 0 && ratio > res->worst)
        res->worst = ratio;
    if (st == 2) {
        res->failed++;
        if (res->failed <= 10)
            fprintf(stderr, "  gradcheck FAIL %s[%zu]: analytic %.10g numeric %.10g\n", what, j, a, num);
    }
}

gc_result gradcheck_model(const cnn_model *m, int n, int training, uint64_t seed, int max_per_tensor)
{
    gc_result res = {0, 0, 0, 0.0};
    char err[256];
    gc_ctx c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.n = n;
    c.training = training;
    c.seed = seed;
    c.r = cnn_ref_create(m, n, err, sizeof err);
    if (!c.r) {
        fprintf(stderr, "  cnn_ref_create: %s\n", err);
        res.failed = 1;
        return res;
    }
    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c;
    c.params = calloc(m->n_params, sizeof(cnn_real));
    cnn_real *grads = calloc(m->n_params, sizeof(cnn_real));
    c.x = malloc((size_t)n * in_size * sizeof(cnn_real));
    cnn_real *dx = malloc((size_t)n * in_size * sizeof(cnn_real));
    c.logits = malloc((size_t)n * m->n_outputs * sizeof(cnn_real));
    cnn_real *dlogits = malloc((size_t)n * m->n_outputs * sizeof(cnn_real));
    c.labels = malloc((size_t)n * sizeof(int));

    /* Glorot weights, then every trainable value moved a little so biases,
     * gammas and betas are not 0/1 (their gradients would be special). */
    cnn_init_params(m, c.params, seed);
    for (size_t j = 0; j < m->n_trainable; j++)
        c.params[j] += (cnn_real)(0.2 * (cnn_rng_uniform(seed, 100, 0, j) - 0.5));
    for (size_t j = 0; j < (size_t)n * in_size; j++)
        c.x[j] = (cnn_real)(2 * cnn_rng_uniform(seed, 100, 1, j) - 1);
    for (int i = 0; i < n; i++)
        c.labels[i] = (int)(cnn_rng_u64(seed, 100, 2, (uint64_t)i) % (uint64_t)(m->n_outputs > 1 ? m->n_outputs : 2));

    cnn_ref_forward(c.r, c.params, c.x, c.logits, n, training, seed, 7);
    cnn_ref_loss(m, c.logits, c.labels, dlogits, n);
    cnn_ref_backward(c.r, c.params, c.x, dlogits, grads, dx, n);

    double ratio, num;
    char what[96];
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (!ti->trainable)
            continue;
        size_t count = ti->count, k = (size_t)max_per_tensor < count ? (size_t)max_per_tensor : count;
        for (size_t s = 0; s < k; s++) {
            size_t j = k == count ? s : (size_t)(cnn_rng_u64(seed, 101, (uint64_t)t, s) % count);
            size_t at = ti->offset + j;
            double a = grads[at];
            int st = check_coord(&c, &c.params[at], a, &ratio, &num);
            snprintf(what, sizeof what, "%s", ti->name);
            tally(&res, st, ratio, what, j, a, num);
        }
    }
    size_t total_x = (size_t)n * in_size, k = (size_t)max_per_tensor < total_x ? (size_t)max_per_tensor : total_x;
    for (size_t s = 0; s < k; s++) {
        size_t j = k == total_x ? s : (size_t)(cnn_rng_u64(seed, 102, 0, s) % total_x);
        int st = check_coord(&c, &c.x[j], dx[j], &ratio, &num);
        tally(&res, st, ratio, "input", j, dx[j], num);
    }
    cnn_ref_free(c.r);
    free(c.params);
    free(grads);
    free(c.x);
    free(dx);
    free(c.logits);
    free(dlogits);
    free(c.labels);
    return res;
}
