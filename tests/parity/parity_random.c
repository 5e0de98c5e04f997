/* parity_random.c: the generated model against the reference engine.
 *
 * Compiled together with cnnc's NAME.c (-DPARITY_MODEL=NAME_model), in
 * double (-DCNN_REAL=double, the reference engine compiled in too) or in
 * float32. On the same weights (Glorot from a seed, biases, gammas, betas
 * and running statistics moved off 0/1) and the same random inputs it
 * compares:
 *   - a training-mode forward on 3 images of a batch of 4 (batch statistics,
 *     dropout masks of step 5): logits, the running statistics it updates;
 *   - the loss and dLoss/dlogits of the model's own loss function;
 *   - the backward pass: every parameter gradient;
 *   - an inference-mode forward on 4 images.
 * Element-wise: |gen - ref| <= RTOL * max(|ref|, 1e-2 * max|ref| over the
 * tensor); a tensor that is zero in exact arithmetic (max |ref| below 1e-9 of
 * the largest gradient, e.g. a bias cancelled by batchnorm) must stay below
 * 1e-6 of it (in float32: below 1e-5 is zero, and must stay below 1e-4). RTOL is 1e-5 in double.
 * In float32, where both sides round differently, the comparison is
 * norm-wise (floor = max |ref|) with RTOL 1e-4.
 * Prints one line per compared quantity on failure; exits 0 or 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_init.h"
#include "cnn_reference.h"
#include "cnn_rng.h"

extern const cnn_model PARITY_MODEL;

#define SEED 4242u
#define BATCH 4
#define N_TRAIN 3

static int is_double(void) { return sizeof(cnn_real) == sizeof(double); }

static int failures, compared;
static double worst;
static char worst_what[160] = "-";

/* Compares n values; label names the quantity. zero_scale > 0 enables the
 * zero-tensor rule. */
static void compare(const char *label, const cnn_real *gen, const cnn_real *ref, size_t n, double zero_scale)
{
    double rtol = is_double() ? 1e-5 : 1e-4, floor_frac = is_double() ? 1e-2 : 1.0;
    double mx = 0;
    for (size_t j = 0; j < n; j++) {
        if (!isfinite((double)gen[j]) || !isfinite((double)ref[j])) {
            printf("FAIL %s[%zu]: not finite (generated %g, reference %g)\n", label, j, (double)gen[j],
                   (double)ref[j]);
            failures++;
            return;
        }
        mx = fmax(mx, fabs((double)ref[j]));
    }
    compared++;
    /* zero in exact arithmetic: below 1e-9 of the largest gradient in double,
     * 1e-5 in float32 (where even the reference holds rounding noise) */
    if (zero_scale > 0 && mx <= (is_double() ? 1e-9 : 1e-5) * zero_scale) {
        double g = 0;
        for (size_t j = 0; j < n; j++)
            g = fmax(g, fabs((double)gen[j]));
        if (g > (is_double() ? 1e-6 : 1e-4) * zero_scale) {
            printf("FAIL %s: exact value is zero, generated has %.3g (largest gradient %.3g)\n", label, g,
                   zero_scale);
            failures++;
        }
        return;
    }
    double floor = fmax(floor_frac * mx, 1e-300), bad = 0;
    size_t at = 0;
    for (size_t j = 0; j < n; j++) {
        double e = fabs((double)gen[j] - (double)ref[j]) / fmax(fabs((double)ref[j]), floor);
        if (e > bad) {
            bad = e;
            at = j;
        }
    }
    if (bad > worst) {
        worst = bad;
        snprintf(worst_what, sizeof worst_what, "%s", label);
    }
    if (bad > rtol) {
        printf("FAIL %s: relative error %.3g at [%zu]: generated %.10g reference %.10g\n", label, bad, at,
               (double)gen[at], (double)ref[at]);
        failures++;
    }
}

int main(void)
{
    const cnn_model *m = &PARITY_MODEL;
    char err[256];
    cnn_ref *r = cnn_ref_create(m, BATCH, err, sizeof err);
    if (!r) {
        printf("FAIL %s: the reference engine rejects the descriptor: %s\n", m->name, err);
        return 1;
    }
    size_t np = m->n_params, in_size = (size_t)m->in_h * m->in_w * m->in_c, no = (size_t)m->n_outputs;
    cnn_real *init = malloc(np * sizeof(cnn_real));
    cnn_real *pg = malloc(np * sizeof(cnn_real)), *pr = malloc(np * sizeof(cnn_real));
    cnn_real *gg = malloc(np * sizeof(cnn_real)), *gr = malloc(np * sizeof(cnn_real));
    cnn_real *x = malloc(BATCH * in_size * sizeof(cnn_real));
    cnn_real *lg = malloc(BATCH * no * sizeof(cnn_real)), *lr = malloc(BATCH * no * sizeof(cnn_real));
    cnn_real *dg = malloc(BATCH * no * sizeof(cnn_real)), *dr = malloc(BATCH * no * sizeof(cnn_real));
    int labels[BATCH];
    cnn_buffers b;
    memset(&b, 0, sizeof b);
    b.batch_cap = BATCH;
    b.params = pg;
    b.grads = gg;
    b.acts = calloc(BATCH * m->act_floats + 1, sizeof(cnn_real));
    b.work = calloc(m->work_floats(BATCH) + 1, sizeof(cnn_real));

    cnn_init_params(m, init, SEED);
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (ti->init == CNN_INIT_GLOROT_UNIFORM)
            continue;
        for (size_t j = 0; j < ti->count; j++) {
            double u = cnn_rng_uniform(SEED, 300, (uint64_t)t, j);
            init[ti->offset + j] = strstr(ti->name, "running_var") ? (cnn_real)(0.5 + u)
                                                                   : init[ti->offset + j] + (cnn_real)(0.4 * (u - 0.5));
            /* every other gamma negative: a negative scale reverses a maxpool's order
             * (the fused batchnorm + pool and the inference fold must take the minimum) */
            if (ti->init == CNN_INIT_ONES && ti->trainable && j % 2) /* a batchnorm's weight */
                init[ti->offset + j] = -init[ti->offset + j];
        }
    }
    for (size_t j = 0; j < BATCH * in_size; j++)
        x[j] = (cnn_real)(2 * cnn_rng_uniform(SEED, 301, 0, j) - 1);
    for (int i = 0; i < BATCH; i++)
        labels[i] = (int)(cnn_rng_u64(SEED, 302, 0, (uint64_t)i) % (uint64_t)(no > 1 ? no : 2));

    /* training step */
    memcpy(pg, init, np * sizeof(cnn_real));
    memcpy(pr, init, np * sizeof(cnn_real));
    m->forward(&b, x, lg, N_TRAIN, 1, SEED, 5);
    cnn_ref_forward(r, pr, x, lr, N_TRAIN, 1, SEED, 5);
    compare("train logits", lg, lr, N_TRAIN * no, 0);
    compare("parameters after the training forward (running statistics)", pg, pr, np, 0);
    double lossg = m->loss(lg, labels, dg, N_TRAIN);
    double lossr = cnn_ref_loss(m, lr, labels, dr, N_TRAIN);
    cnn_real lgv = (cnn_real)lossg, lrv = (cnn_real)lossr;
    compare("loss", &lgv, &lrv, 1, 0);
    compare("dloss/dlogits", dg, dr, N_TRAIN * no, 0);
    memset(gg, 0, np * sizeof(cnn_real));
    memset(gr, 0, np * sizeof(cnn_real));
    m->backward(&b, x, dg, N_TRAIN);
    cnn_ref_backward(r, pr, x, dr, gr, NULL, N_TRAIN);
    double gmax = 0;
    for (size_t j = 0; j < m->n_trainable; j++)
        gmax = fmax(gmax, fabs((double)gr[j]));
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (!ti->trainable)
            continue;
        char label[160];
        snprintf(label, sizeof label, "gradient of %s", ti->name);
        compare(label, gg + ti->offset, gr + ti->offset, ti->count, gmax);
    }

    /* inference */
    memcpy(pg, init, np * sizeof(cnn_real));
    memcpy(pr, init, np * sizeof(cnn_real));
    m->forward(&b, x, lg, BATCH, 0, SEED, 0);
    cnn_ref_forward(r, pr, x, lr, BATCH, 0, SEED, 0);
    compare("inference logits", lg, lr, BATCH * no, 0);
    compare("parameters after an inference forward", pg, pr, np, 0);

    printf("%s (%s): %d quantities compared, worst relative error %.2e (%s), %d failure(s)\n", m->name,
           is_double() ? "double" : "float32", compared, worst, worst_what, failures);
    cnn_ref_free(r);
    free(init);
    free(pg);
    free(pr);
    free(gg);
    free(gr);
    free(x);
    free(lg);
    free(lr);
    free(dg);
    free(dr);
    free(b.acts);
    free(b.work);
    return failures ? 1 : 0;
}
