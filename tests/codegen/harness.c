/* harness.c: see harness.h. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_rng.h"

void harness_init_params(const cnn_model *m, cnn_real *params, uint64_t seed)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        double l = ti->rank >= 2 ? sqrt(6.0 / (ti->fan_in + ti->fan_out)) : 0.1;
        double base = ti->init == CNN_INIT_ONES ? 1 : 0;
        for (size_t e = 0; e < ti->count; e++)
            params[ti->offset + e] =
                (cnn_real)(base + l * (2 * cnn_rng_uniform(seed, CNN_RNG_INIT, (uint64_t)t, e) - 1));
    }
}

int harness_gradient(const cnn_model *m, const cnn_real *params, const cnn_real *x, const int *labels, int n,
                     const cnn_batch_part *part, uint64_t seed, cnn_real *grad)
{
    cnn_buffers b = {0};
    b.batch_cap = n;
    b.part = part;
    b.params = malloc((m->n_params + 1) * sizeof(cnn_real));
    b.grads = grad;
    b.acts = calloc((size_t)n * m->act_floats + 1, sizeof(cnn_real));
    b.work = calloc(m->work_floats(n) + 1, sizeof(cnn_real));
    cnn_real *logits = calloc((size_t)n * m->n_outputs, sizeof(cnn_real));
    cnn_real *dlogits = calloc((size_t)n * m->n_outputs, sizeof(cnn_real));
    int rc = 1;
    if (b.params && b.acts && b.work && logits && dlogits) {
        memcpy(b.params, params, m->n_params * sizeof(cnn_real));
        memset(grad, 0, m->n_params * sizeof(cnn_real));
        m->forward(&b, x, logits, n, 1, seed, 0);
        m->loss(logits, labels, dlogits, n);
        m->backward(&b, x, dlogits, n);
        rc = 0;
    } else {
        fprintf(stderr, "%s: out of memory\n", m->name);
    }
    free(b.params);
    free(b.acts);
    free(b.work);
    free(logits);
    free(dlogits);
    return rc;
}
