/* bench_reference.c: times the generic reference engine (runtime/reference/reference.c)
 * on one model, for scripts/compare.py's "generic engine" row.
 *
 * Compiled together with a model's generated C (which defines the
 * descriptor BENCH_MODEL, e.g. -DBENCH_MODEL=fruit_model) and libcnnrt. Only
 * the descriptor's layer table is used: the reference engine interprets it
 * with shapes read at run time and never calls the generated kernels.
 *
 * usage: bench_reference [--batch N] [--seconds S] [--json]
 *
 * Two phases on random images in [0, 1) and random labels, the same work as
 * `NAME bench`: inference (forward, training off) and a whole training step
 * (forward with training on, loss, backward, the model's optimizer from
 * libcnnrt). Each phase runs one untimed warm-up step, then steps until S
 * seconds have passed (at least one timed step); its rate is that of the
 * median step, as `NAME bench` reports (robust to a busy machine). The
 * reference engine is single-threaded by design (see cnn_reference.h), so
 * "threads" is 1. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnn_init.h"
#include "cnn_model.h"
#include "cnn_optim.h"
#include "cnn_reference.h"
#include "cnn_rng.h"

#ifndef BENCH_MODEL
#error "compile with -DBENCH_MODEL=NAME_model and the model's generated C file"
#endif
extern const cnn_model BENCH_MODEL;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_reference [--batch N] [--seconds S] [--json]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const cnn_model *m = &BENCH_MODEL;
    int batch = m->defaults.batch > 0 ? m->defaults.batch : 32, json = 0;
    double secs = 2.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            batch = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            secs = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            return usage();
        }
    }
    if (batch < 1 || !(secs >= 0))
        return usage();

    char err[256] = "";
    size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    cnn_ref *r = cnn_ref_create(m, batch, err, sizeof err);
    cnn_real *params = malloc(m->n_params * sizeof *params);
    cnn_real *grads = malloc(m->n_params * sizeof *grads);
    cnn_real *x = malloc((size_t)batch * img * sizeof *x);
    cnn_real *logits = malloc((size_t)batch * m->n_outputs * sizeof *logits);
    cnn_real *dlogits = malloc((size_t)batch * m->n_outputs * sizeof *dlogits);
    int *labels = malloc((size_t)batch * sizeof *labels);
    cnn_optimizer oc = m->defaults.optimizer;
    cnn_optim *opt = cnn_optim_create(&oc, m->n_trainable);
    if (!r || !params || !grads || !x || !logits || !dlogits || !labels || !opt) {
        fprintf(stderr, "bench_reference: %s\n", r ? "out of memory" : err);
        return 1;
    }
    /* The same inputs as `NAME bench` (seed, streams 100 and 101). */
    uint64_t seed = m->defaults.seed;
    for (size_t i = 0; i < (size_t)batch * img; i++)
        x[i] = (cnn_real)cnn_rng_uniform(seed, 100, 0, i);
    int n_classes = m->n_outputs == 1 ? 2 : m->n_outputs;
    for (int i = 0; i < batch; i++)
        labels[i] = (int)(cnn_rng_u64(seed, 101, 0, (uint64_t)i) % (uint64_t)n_classes);
    cnn_init_params(m, params, seed);

    double rate[2] = {0, 0}; /* images/s: inference, training step */
    uint64_t step = 0;
    size_t cap = 1024;
    double *times = malloc(cap * sizeof *times);
    if (!times) {
        fprintf(stderr, "bench_reference: out of memory\n");
        return 1;
    }
    for (int p = 0; p < 2; p++) {
        double t_end = 0;
        size_t n_times = 0;
        for (int warm = 1;; warm = 0) {
            double t0 = now_s();
            if (p == 0) {
                cnn_ref_forward(r, params, x, logits, batch, 0, seed, step);
            } else {
                memset(grads, 0, m->n_params * sizeof *grads);
                cnn_ref_forward(r, params, x, logits, batch, 1, seed, step);
                cnn_ref_loss(m, logits, labels, dlogits, batch);
                cnn_ref_backward(r, params, x, dlogits, grads, NULL, batch);
                cnn_optim_step(opt, params, grads);
                step++;
            }
            double t1 = now_s();
            if (warm) {
                t_end = t1 + secs;
                continue;
            }
            if (n_times == cap) {
                double *more = realloc(times, 2 * cap * sizeof *times);
                if (!more)
                    break; /* enough samples for a median */
                times = more;
                cap *= 2;
            }
            times[n_times++] = t1 - t0;
            if (t1 >= t_end)
                break;
        }
        qsort(times, n_times, sizeof *times, cmp_double);
        double med = n_times % 2 ? times[n_times / 2] : 0.5 * (times[n_times / 2 - 1] + times[n_times / 2]);
        rate[p] = med > 0 ? batch / med : 0;
    }
    free(times);
    /* Fold the outputs into the result so no phase can be optimized away. */
    volatile cnn_real sink = logits[0] + params[0];
    (void)sink;

    if (json)
        printf("{\"engine\": \"reference\", \"model\": \"%s\", \"batch\": %d, \"threads\": 1, "
               "\"train_images_per_s\": %.3f, \"infer_images_per_s\": %.3f, "
               "\"forward_flops_per_image\": %.0f, \"train_flops_per_image\": %.0f}\n",
               m->name, batch, rate[1], rate[0], m->forward_flops, m->train_flops);
    else
        printf("reference engine, %s, batch %d, 1 thread: training %.2f images/s, inference %.2f images/s\n",
               m->name, batch, rate[1], rate[0]);
    cnn_ref_free(r);
    cnn_optim_free(opt);
    free(params);
    free(grads);
    free(x);
    free(logits);
    free(dlogits);
    free(labels);
    return 0;
}
