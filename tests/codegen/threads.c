/* threads.c: training with 1, 2 and 3 threads gives bitwise-identical results.
 *
 * Compiled (float, OpenMP) with one generated NAME.c and -DMODEL=NAME_model.
 * Runs a few training steps (forward with dropout and batch statistics,
 * loss, backward, plain SGD) from the same start with each thread count and
 * compares every parameter (running statistics included), the loss and the
 * inference logits byte for byte. The batch is odd so that threads get
 * unequal shares.
 *
 * Usage: threads [batch] [steps]        exit 0 when identical. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_model.h"
#include "cnn_rng.h"
#include "harness.h"

#ifndef MODEL
#error "compile with -DMODEL=NAME_model"
#endif
extern const cnn_model MODEL;
static const cnn_model *m = &MODEL;

typedef struct result {
    cnn_real *params, *logits;
    double loss;
} result;

static int run(int threads, int n, int steps, result *r)
{
    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c;
    cnn_buffers b = {0};
    b.batch_cap = n;
    b.params = calloc(m->n_params + 1, sizeof(cnn_real));
    b.grads = calloc(m->n_params + 1, sizeof(cnn_real));
    b.acts = calloc((size_t)n * m->act_floats + 1, sizeof(cnn_real));
    b.work = calloc(m->work_floats(n) + 1, sizeof(cnn_real));
    cnn_real *x = calloc((size_t)n * in_size, sizeof(cnn_real));
    cnn_real *dlogits = calloc((size_t)n * m->n_outputs, sizeof(cnn_real));
    int *labels = calloc((size_t)n, sizeof(int));
    r->logits = calloc((size_t)n * m->n_outputs, sizeof(cnn_real));
    if (!b.params || !b.grads || !b.acts || !b.work || !x || !dlogits || !labels || !r->logits)
        return 1;
    harness_init_params(m, b.params, 7);
    for (size_t e = 0; e < (size_t)n * in_size; e++)
        x[e] = (cnn_real)cnn_rng_uniform(7, 77, 0, e);
    int classes = m->n_outputs == 1 ? 2 : m->n_outputs;
    for (int i = 0; i < n; i++)
        labels[i] = i % classes;

    omp_set_num_threads(threads);
    for (int s = 0; s < steps; s++) {
        memset(b.grads, 0, m->n_params * sizeof(cnn_real));
        m->forward(&b, x, r->logits, n, 1, 42, (uint64_t)s);
        r->loss = m->loss(r->logits, labels, dlogits, n);
        m->backward(&b, x, dlogits, n);
        for (size_t k = 0; k < m->n_trainable; k++)
            b.params[k] -= (cnn_real)0.05 * b.grads[k];
    }
    m->forward(&b, x, r->logits, n, 0, 0, 0);
    r->params = b.params;
    free(b.grads);
    free(b.acts);
    free(b.work);
    free(x);
    free(dlogits);
    free(labels);
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5;
    int steps = argc > 2 ? atoi(argv[2]) : 3;
    result one, other;
    if (run(1, n, steps, &one)) {
        fprintf(stderr, "threads: out of memory\n");
        return 1;
    }
    if (!isfinite(one.loss)) {
        fprintf(stderr, "FAIL: loss is not finite\n");
        return 1;
    }
    int failures = 0;
    for (int threads = 2; threads <= 3; threads++) {
        if (run(threads, n, steps, &other)) {
            fprintf(stderr, "threads: out of memory\n");
            return 1;
        }
        int same_p = memcmp(one.params, other.params, m->n_params * sizeof(cnn_real)) == 0;
        int same_l = memcmp(one.logits, other.logits, (size_t)n * m->n_outputs * sizeof(cnn_real)) == 0;
        int same_loss = memcmp(&one.loss, &other.loss, sizeof one.loss) == 0;
        printf("%s: %d steps of batch %d, 1 vs %d threads: params %s, logits %s, loss %s\n", m->name, steps, n,
               threads, same_p ? "identical" : "DIFFER", same_l ? "identical" : "DIFFER",
               same_loss ? "identical" : "DIFFERS");
        if (!same_p || !same_l || !same_loss)
            failures++;
        free(other.params);
        free(other.logits);
    }
    return failures ? 1 : 0;
}
