/* step_fused.c: the optimizer fused into backward (cnn_model.backward_update)
 * changes nothing: a training step with it gives the same parameters and
 * optimizer state, bit for bit, as backward + a whole optimizer step.
 *
 * Compiled (float, OpenMP) with one generated NAME.c twice: the fast kernels
 * (-DMODEL=NAME_model) and the plain ones (-DCNN_REFERENCE_KERNELS, the model
 * renamed to NAME_model_ref, -DMODEL_REF=NAME_model_ref). For every
 * optimizer (Adam, SGD, SGD with momentum, Nesterov, RMSprop), a few steps of
 * runtime/train/cnn_step.h's cnn_train_step from the same start:
 *   fast, fused       == fast, unfused       (2 threads)
 *   fast, fused, 1 thread == 2 threads
 *   plain, fused      == plain, unfused      (the oracle's own fused entry)
 * The model must have a fused tensor, or the test fails (it would test
 * nothing).
 *
 * Usage: step_fused [batch] [steps]        exit 0 when all identical. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_model.h"
#include "cnn_optim.h"
#include "cnn_rng.h"
#include "harness.h"
#include "cnn_step.h"

#if !defined(MODEL) || !defined(MODEL_REF)
#error "compile with -DMODEL=NAME_model -DMODEL_REF=NAME_model_ref"
#endif
extern const cnn_model MODEL, MODEL_REF;

typedef struct result {
    float *params, *slot[2];
    double loss;
} result;

static void result_free(result *r)
{
    free(r->params);
    free(r->slot[0]);
    free(r->slot[1]);
}

static int run(const cnn_model *m, const cnn_optimizer *cfg, int fused, int threads, int n, int steps, result *r)
{
    memset(r, 0, sizeof *r);
    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c;
    cnn_buffers b = {0};
    b.batch_cap = n;
    b.params = calloc(m->n_params + 1, sizeof(float));
    b.grads = calloc(m->n_params + 1, sizeof(float));
    b.acts = calloc((size_t)n * m->act_floats + 1, sizeof(float));
    b.work = calloc(m->work_floats(n) + 1, sizeof(float));
    float *x = calloc((size_t)n * in_size, sizeof(float));
    float *logits = calloc((size_t)n * m->n_outputs, sizeof(float));
    float *dlogits = calloc((size_t)n * m->n_outputs, sizeof(float));
    int *labels = calloc((size_t)n, sizeof(int));
    cnn_optim *o = cnn_optim_create(cfg, m->n_trainable);
    int rc = 1;
    if (!b.params || !b.grads || !b.acts || !b.work || !x || !logits || !dlogits || !labels || !o)
        goto out;
    harness_init_params(m, b.params, 7);
    /* stale values in the gradient buffer: a fused range must not read them */
    for (size_t e = 0; e < m->n_params; e++)
        b.grads[e] = 1e3f;
    for (size_t e = 0; e < (size_t)n * in_size; e++)
        x[e] = (float)cnn_rng_uniform(7, 77, 0, e);
    int classes = m->n_outputs == 1 ? 2 : m->n_outputs;
    for (int i = 0; i < n; i++)
        labels[i] = i % classes;

    omp_set_num_threads(threads);
    for (int s = 0; s < steps; s++)
        r->loss = cnn_train_step(m, &b, o, x, labels, logits, dlogits, n, 42, (uint64_t)s, fused);
    r->params = b.params;
    b.params = NULL;
    for (int k = 0; k < cnn_optim_n_slots(o); k++) {
        r->slot[k] = malloc(m->n_trainable * sizeof(float));
        if (!r->slot[k])
            goto out;
        memcpy(r->slot[k], cnn_optim_slot(o, k), m->n_trainable * sizeof(float));
    }
    rc = 0;
out:
    cnn_optim_free(o);
    free(b.params);
    free(b.grads);
    free(b.acts);
    free(b.work);
    free(x);
    free(logits);
    free(dlogits);
    free(labels);
    return rc;
}

/* 0 when a and b agree bit for bit; else prints the first difference. */
static int same(const cnn_model *m, const char *what, const result *a, const result *b)
{
    if (memcmp(&a->loss, &b->loss, sizeof a->loss) != 0) {
        fprintf(stderr, "%s: loss %.9g vs %.9g\n", what, a->loss, b->loss);
        return 1;
    }
    for (int k = -1; k < 2; k++) {
        const float *x = k < 0 ? a->params : a->slot[k], *y = k < 0 ? b->params : b->slot[k];
        if (!x && !y)
            continue;
        if (!x || !y)
            return 1;
        for (size_t e = 0; e < m->n_trainable; e++)
            if (memcmp(&x[e], &y[e], sizeof x[e]) != 0) {
                const char *name = "?";
                for (int t = 0; t < m->n_tensors; t++)
                    if (e >= m->tensors[t].offset && e < m->tensors[t].offset + m->tensors[t].count)
                        name = m->tensors[t].name;
                fprintf(stderr, "%s: %s[%zu] (%s) %.9g vs %.9g\n", what, k < 0 ? "params" : "slot", e, name,
                        (double)x[e], (double)y[e]);
                return 1;
            }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5;
    int steps = argc > 2 ? atoi(argv[2]) : 3;
    cnn_range r[CNN_OPTIM_MAX_SKIP];
    const cnn_model *fast = &MODEL, *ref = &MODEL_REF;
    int nf = cnn_fused_ranges(fast, r, CNN_OPTIM_MAX_SKIP);
    if (nf > CNN_OPTIM_MAX_SKIP) {
        fprintf(stderr, "step_fused: %s has %d fused tensors, more than this test lists\n", fast->name, nf);
        return 1;
    }
    if (nf == 0 || cnn_fused_ranges(ref, r, CNN_OPTIM_MAX_SKIP) != nf) {
        fprintf(stderr, "step_fused: %s has no tensor updated in backward: nothing to test\n", fast->name);
        return 1;
    }
    struct {
        const char *name;
        cnn_optimizer cfg;
    } opts[9];
    opts[0].name = "adam";
    opts[0].cfg = cnn_optim_defaults(CNN_OPT_ADAM);
    opts[1].name = "sgd";
    opts[1].cfg = cnn_optim_defaults(CNN_OPT_SGD);
    opts[2].name = "sgd momentum";
    opts[2].cfg = cnn_optim_defaults(CNN_OPT_SGD);
    opts[2].cfg.momentum = 0.9;
    opts[3].name = "sgd nesterov";
    opts[3].cfg = opts[2].cfg;
    opts[3].cfg.nesterov = 1;
    opts[4].name = "rmsprop";
    opts[4].cfg = cnn_optim_defaults(CNN_OPT_RMSPROP);
    /* clipvalue and weight decay are element-wise: fused per block as well;
     * clipnorm needs a tensor's whole gradient and global_clipnorm every
     * gradient, so the step does not fuse */
    opts[5].name = "adamw clipvalue";
    opts[5].cfg = cnn_optim_defaults(CNN_OPT_ADAMW);
    opts[5].cfg.clipvalue = 1e-4;
    opts[6].name = "adamw clipnorm";
    opts[6].cfg = cnn_optim_defaults(CNN_OPT_ADAMW);
    opts[6].cfg.clipnorm = 0.01;
    opts[7].name = "sgd weight_decay clipnorm";
    opts[7].cfg = cnn_optim_defaults(CNN_OPT_SGD);
    opts[7].cfg.weight_decay = 0.01;
    opts[7].cfg.clipnorm = 0.05;
    opts[8].name = "adam global_clipnorm";
    opts[8].cfg = cnn_optim_defaults(CNN_OPT_ADAM);
    opts[8].cfg.global_clipnorm = 0.01;

    int bad = 0;
    for (int k = 0; k < 9; k++) {
        result f2, u2, f1, rf, ru;
        char what[96];
        if (run(fast, &opts[k].cfg, 1, 2, n, steps, &f2) || run(fast, &opts[k].cfg, 0, 2, n, steps, &u2) ||
            run(fast, &opts[k].cfg, 1, 1, n, steps, &f1) || run(ref, &opts[k].cfg, 1, 2, n, steps, &rf) ||
            run(ref, &opts[k].cfg, 0, 2, n, steps, &ru)) {
            fprintf(stderr, "step_fused: out of memory\n");
            return 1;
        }
        if (!isfinite(f2.loss)) {
            fprintf(stderr, "step_fused: %s: the loss is not finite\n", opts[k].name);
            bad = 1;
        }
        snprintf(what, sizeof what, "%s %s fast fused vs unfused", fast->name, opts[k].name);
        bad |= same(fast, what, &f2, &u2);
        snprintf(what, sizeof what, "%s %s fast fused, 2 vs 1 threads", fast->name, opts[k].name);
        bad |= same(fast, what, &f2, &f1);
        snprintf(what, sizeof what, "%s %s plain fused vs unfused", fast->name, opts[k].name);
        bad |= same(ref, what, &rf, &ru);
        /* and the test is not vacuous: the steps moved the fused weights (those
         * of inputs that relu keeps at zero for every image rightly stay) */
        result init;
        if (run(fast, &opts[k].cfg, 1, 2, n, 0, &init))
            return 1;
        for (int i = 0; i < nf; i++) {
            size_t moved = 0;
            for (size_t e = r[i].offset; e < r[i].offset + r[i].count; e++)
                moved += f2.params[e] != init.params[e];
            if (moved < r[i].count / 10) {
                fprintf(stderr, "step_fused: %s: only %zu of %zu fused weights changed\n", opts[k].name, moved,
                        r[i].count);
                bad = 1;
            }
        }
        result_free(&init);
        result_free(&f2);
        result_free(&u2);
        result_free(&f1);
        result_free(&rf);
        result_free(&ru);
    }
    if (!bad)
        printf("step_fused %s: %d fused range(s), batch %d, %d steps, 9 optimizer settings: fused == unfused, bit for bit\n",
               fast->name, nf, n, steps);
    return bad;
}
