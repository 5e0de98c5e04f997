/* gradcheck.c: finite-difference gradient check of a generated model.
 *
 * Compiled together with one generated NAME.c, both with -DCNN_REAL=double,
 * and -DMODEL=NAME_model. For every trainable tensor it compares the
 * gradient of backward() with a central difference of forward() + loss(),
 * at sampled elements (all of them for small tensors):
 *     |analytic - numeric| <= RTOL * max(|analytic|, |numeric|, FLOOR)
 * Parameters, inputs and labels are random (fixed seed); biases and
 * batchnorm parameters are random too (every other gamma negative), so
 * that no pre-activation sits exactly on a ReLU kink. A mismatch is re-measured with a 100x smaller
 * step: if the two differences disagree, the loss is not smooth there (a
 * ReLU or max-pool switch inside the step) and the element is skipped; more
 * than 5% skipped fails the test. Training mode, so dropout and batchnorm's
 * batch statistics are part of what is checked (the dropout mask depends
 * only on seed and step, so it is the same for every evaluation).
 *
 * Also checked: backward() adds into grads (a second call doubles them),
 * every trainable tensor gets some non-zero gradient, and inference-mode
 * forward runs and gives finite logits.
 *
 * Usage: gradcheck [batch [samples per tensor]]    exit 0 when all checks pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_model.h"
#include "cnn_rng.h"

#ifndef MODEL
#error "compile with -DMODEL=NAME_model"
#endif
extern const cnn_model MODEL;

#define RTOL 1e-5
#define FLOOR 1e-4
#define STEP 1e-5
#define SEED 20240601u

static const cnn_model *m = &MODEL;
static cnn_buffers buf;
static cnn_real *x, *logits, *dlogits;
static int *labels;
static int n;
static size_t max_samples = 24; /* per tensor; argv[2] */

static double loss_at(void)
{
    m->forward(&buf, x, logits, n, 1, SEED, 7);
    return m->loss(logits, labels, NULL, n);
}

static double numeric(size_t k, double h)
{
    cnn_real keep = buf.params[k];
    buf.params[k] = keep + h;
    double up = loss_at();
    buf.params[k] = keep - h;
    double down = loss_at();
    buf.params[k] = keep;
    return (up - down) / (2 * h);
}

static int close_enough(double a, double b)
{
    double s = fmax(fmax(fabs(a), fabs(b)), FLOOR);
    return fabs(a - b) <= RTOL * s;
}

static double uniform(uint64_t a, uint64_t b, double lo, double hi)
{
    return lo + (hi - lo) * cnn_rng_uniform(SEED, CNN_RNG_INIT, a, b);
}

static void init_params(void)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        const char *dot = strrchr(ti->name, '.');
        const char *what = dot ? dot + 1 : ti->name;
        double lo = -0.5, hi = 0.5;
        if (ti->rank >= 2) { /* kernels: Glorot's range, a little wider */
            double l = sqrt(6.0 / (ti->fan_in + ti->fan_out));
            lo = -1.5 * l;
            hi = 1.5 * l;
        } else if (strcmp(what, "running_var") == 0 || (ti->init == CNN_INIT_ONES)) {
            lo = 0.5; /* gamma and variances away from zero */
            hi = 1.5;
        }
        /* every other batchnorm gamma negative: a per-channel scale < 0
         * reverses which element of a pool window is the largest (the fused
         * batchnorm + maxpool must take the maximum after normalizing) */
        int flip = ti->init == CNN_INIT_ONES && strcmp(what, "running_var") != 0; /* gamma */
        for (size_t e = 0; e < ti->count; e++)
            buf.params[ti->offset + e] =
                (cnn_real)((flip && e % 2 ? -1 : 1) * uniform((uint64_t)t, e, lo, hi));
    }
}

int main(int argc, char **argv)
{
    n = argc > 1 ? atoi(argv[1]) : 3;
    if (n < 1)
        n = 1;
    if (argc > 2 && atoi(argv[2]) > 0)
        max_samples = (size_t)atoi(argv[2]);
    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c;
    buf.batch_cap = n;
    buf.params = calloc(m->n_params + 1, sizeof(cnn_real));
    buf.grads = calloc(m->n_params + 1, sizeof(cnn_real));
    buf.acts = calloc((size_t)n * m->act_floats + 1, sizeof(cnn_real));
    buf.work = calloc(m->work_floats(n) + 1, sizeof(cnn_real));
    x = calloc((size_t)n * in_size, sizeof(cnn_real));
    logits = calloc((size_t)n * m->n_outputs, sizeof(cnn_real));
    dlogits = calloc((size_t)n * m->n_outputs, sizeof(cnn_real));
    labels = calloc((size_t)n, sizeof(int));
    cnn_real *first = calloc(m->n_params + 1, sizeof(cnn_real));
    if (!buf.params || !buf.grads || !buf.acts || !buf.work || !x || !logits || !dlogits || !labels ||
        !first) {
        fprintf(stderr, "gradcheck: out of memory\n");
        return 1;
    }
    if (sizeof(cnn_real) != sizeof(double)) {
        fprintf(stderr, "gradcheck: compile with -DCNN_REAL=double\n");
        return 1;
    }
    init_params();
    for (size_t e = 0; e < (size_t)n * in_size; e++)
        x[e] = (cnn_real)uniform(1000, e, -1, 1);
    int classes = m->n_outputs == 1 ? 2 : m->n_outputs;
    for (int i = 0; i < n; i++)
        labels[i] = (int)(cnn_rng_u64(SEED, CNN_RNG_SPLIT, 0, (uint64_t)i) % (uint64_t)classes);

    /* analytic gradients */
    m->forward(&buf, x, logits, n, 1, SEED, 7);
    double loss0 = m->loss(logits, labels, dlogits, n);
    m->backward(&buf, x, dlogits, n);
    memcpy(first, buf.grads, m->n_params * sizeof(cnn_real));
    printf("%s: batch %d, loss %.6f, %zu trainable parameters\n", m->name, n, loss0, m->n_trainable);
    if (!isfinite(loss0)) {
        fprintf(stderr, "FAIL: loss is not finite\n");
        return 1;
    }

    int failures = 0, checked = 0, skipped = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (!ti->trainable)
            continue;
        double maxg = 0, worst = 0;
        for (size_t e = 0; e < ti->count; e++)
            maxg = fmax(maxg, fabs(first[ti->offset + e]));
        if (!(maxg > 0)) {
            fprintf(stderr, "FAIL: %s: every gradient is zero\n", ti->name);
            failures++;
        }
        size_t samples = ti->count <= max_samples ? ti->count : max_samples;
        int t_fail = 0, t_skip = 0;
        for (size_t s = 0; s < samples; s++) {
            size_t e = ti->count <= max_samples ? s : (size_t)(cnn_rng_u64(SEED, 99, (uint64_t)t, s) % ti->count);
            size_t k = ti->offset + e;
            double a = first[k];
            double num = numeric(k, STEP);
            checked++;
            if (close_enough(a, num)) {
                double s2 = fmax(fmax(fabs(a), fabs(num)), FLOOR);
                worst = fmax(worst, fabs(a - num) / s2);
                continue;
            }
            double num2 = numeric(k, STEP / 100);
            if (close_enough(a, num2))
                continue; /* the first step was too coarse */
            if (!close_enough(num, num2)) {
                /* the loss is not smooth within the step: a kink */
                t_skip++;
                skipped++;
                continue;
            }
            if (t_fail < 5)
                fprintf(stderr, "FAIL: %s[%zu]: analytic %.10g, numeric %.10g (h/100: %.10g)\n", ti->name, e,
                        a, num, num2);
            t_fail++;
            failures++;
        }
        printf("  %-28s %6zu values, %2zu checked, max |g| %.3e, worst rel err %.2e%s\n", ti->name,
               ti->count, samples, maxg, worst, t_skip ? " (kinks skipped)" : "");
    }
    if (skipped * 20 > checked) {
        fprintf(stderr, "FAIL: %d of %d checks fell on kinks\n", skipped, checked);
        failures++;
    }

    /* backward adds: a second call doubles the gradients (up to rounding
     * relative to the largest gradient: some are exactly zero in theory,
     * e.g. a bias before batchnorm, and come out as rounding noise) */
    m->forward(&buf, x, logits, n, 1, SEED, 7);
    m->loss(logits, labels, dlogits, n);
    m->backward(&buf, x, dlogits, n);
    double gmax = 0;
    for (size_t k = 0; k < m->n_trainable; k++)
        gmax = fmax(gmax, fabs(first[k]));
    for (size_t k = 0; k < m->n_trainable; k++) {
        double want = 2 * (double)first[k];
        if (fabs((double)buf.grads[k] - want) > 1e-12 * fmax(fabs(want), gmax)) {
            fprintf(stderr, "FAIL: backward does not add into grads at %zu: %.17g after two calls, %.17g after one\n",
                    k, (double)buf.grads[k], (double)first[k]);
            failures++;
            break;
        }
    }

    /* inference mode runs and is finite */
    m->forward(&buf, x, logits, n, 0, 0, 0);
    for (size_t e = 0; e < (size_t)n * m->n_outputs; e++)
        if (!isfinite(logits[e])) {
            fprintf(stderr, "FAIL: inference logits are not finite\n");
            failures++;
            break;
        }

    printf("%s: %d checks, %d on kinks, %d failures\n", m->name, checked, skipped, failures);
    return failures ? 1 : 0;
}
