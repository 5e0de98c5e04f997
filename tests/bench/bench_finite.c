/* bench_finite.c: what the trainer's per-step divergence check costs,
 * against the training step it follows (cnn_train_step, whose optimizer
 * checks each weight it writes), all timed in the same run on one model:
 * the check after the step (cnn_step_nonfinite: the optimizer's flag and a
 * scan of the parameters it does not update) and, for comparison, a
 * separate scan of every weight (cnn_nonfinite_tensor), which is what the
 * in-optimizer check replaces. Compiled with a model's generated C
 * (-DBENCH_MODEL=NAME_model) and libcnnrt.
 *
 * usage: bench_finite [--steps N]   (default 30; median of each) */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_finite.h"
#include "cnn_init.h"
#include "cnn_optim.h"
#include "cnn_progress.h"
#include "cnn_step.h"
#include "cnn_train.h"

#ifndef BENCH_MODEL
#error "compile with -DBENCH_MODEL=NAME_model and the model's generated C file"
#endif
extern const cnn_model BENCH_MODEL;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const cnn_model *m = &BENCH_MODEL;
    int steps = argc > 2 && !strcmp(argv[1], "--steps") ? atoi(argv[2]) : 30;
    if (steps < 1 || steps > 100000)
        steps = 30;
    int batch = m->defaults.batch > 0 ? m->defaults.batch : 32;
    cnn_buffers b;
    size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    float *x = malloc((size_t)batch * img * sizeof *x);
    float *logits = malloc((size_t)batch * m->n_outputs * sizeof *logits);
    float *dlogits = malloc((size_t)batch * m->n_outputs * sizeof *dlogits);
    int *labels = malloc((size_t)batch * sizeof *labels);
    double *ts = malloc((size_t)steps * sizeof *ts), *tc = malloc((size_t)steps * sizeof *tc),
           *tf = malloc((size_t)steps * sizeof *tf);
    cnn_optim *o = cnn_optim_create(&m->defaults.optimizer, m->n_trainable);
    if (cnn_buffers_alloc(m, batch, &b) || !x || !logits || !dlogits || !labels || !ts || !tc || !tf || !o) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    cnn_init_params(m, b.params, 1);
    for (size_t i = 0; i < (size_t)batch * img; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    int classes = m->n_outputs == 1 ? 2 : m->n_outputs;
    for (int i = 0; i < batch; i++)
        labels[i] = i % classes;
    int bad = 0;
    for (int s = -1; s < steps; s++) { /* step -1: warm-up */
        double t0 = cnn_now();
        cnn_train_step(m, &b, o, x, labels, logits, dlogits, batch, 1, (uint64_t)(s + 1), 1);
        double t1 = cnn_now();
        bad |= cnn_step_nonfinite(m, &b, o) >= 0;
        double t2 = cnn_now();
        bad |= cnn_nonfinite_tensor(m, b.params) >= 0;
        double t3 = cnn_now();
        if (s >= 0) {
            ts[s] = t1 - t0;
            tc[s] = t2 - t1;
            tf[s] = t3 - t2;
        }
    }
    qsort(ts, (size_t)steps, sizeof *ts, cmp_double);
    qsort(tc, (size_t)steps, sizeof *tc, cmp_double);
    qsort(tf, (size_t)steps, sizeof *tf, cmp_double);
    double step = ts[steps / 2], check = tc[steps / 2], full = tf[steps / 2];
    printf("%s: %zu weights, batch %d, %d threads, median of %d steps: training step %.3f ms, check after it "
           "%.4f ms (%.2f%% of the step), a separate scan of every weight %.4f ms (%.2f%%)%s\n",
           m->name, m->n_params, batch, omp_get_max_threads(), steps, step * 1e3, check * 1e3,
           100.0 * check / step, full * 1e3, 100.0 * full / step, bad ? "; the weights diverged" : "");
    cnn_buffers_free(&b);
    cnn_optim_free(o);
    free(x);
    free(logits);
    free(dlogits);
    free(labels);
    free(ts);
    free(tc);
    free(tf);
    return 0;
}
