/* tree_unit.c: where every chunk of the batch holds one image (a batch of
 * 32 in 32 chunks, as the trainer cuts it), the dense layers' dW sums the
 * chunk tree's lowest level in registers (emit_dense_backward.c, dw_pairs).
 * That path must give the generic loop's gradients bit for bit: the
 * trainer's results, the thread tests and the MPI tests all assume one
 * arithmetic whichever path runs.
 *
 * Compiled with one generated NAME.c twice: as generated (-DMODEL=NAME_model)
 * and with -DCNN_GENERIC_TREE (the model renamed, -DMODEL_GENERIC=...), which
 * keeps the generic loop. Weights from a seed (Glorot-uniform bounds), inputs
 * uniform in [0, 1) with a quarter of them exactly 0 (zero products, whose
 * sign the two paths must treat alike), one training forward and backward
 * each, for batches of 4, 8 and 32 in as many chunks (the one-image path),
 * 2 in 2 and 12 in 4 chunks (the generic loop in both); every gradient compared
 * with memcmp, and not all zero (the test would compare nothing).
 *
 * Usage: tree_unit        exit 0 when they agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_model.h"
#include "cnn_rng.h"
#include "harness.h"

#if !defined(MODEL) || !defined(MODEL_GENERIC)
#error "compile with -DMODEL=NAME_model -DMODEL_GENERIC=NAME_model_generic"
#endif
extern const cnn_model MODEL, MODEL_GENERIC;

#define SEED 5151u

/* One batch through both builds; 0 when every gradient is bitwise equal. */
static int compare(const cnn_model *m, const cnn_model *gen, const cnn_real *params, int n, int chunks)
{
    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c;
    cnn_real *x = malloc(((size_t)n * in_size + 1) * sizeof(cnn_real));
    cnn_real *gu = malloc((m->n_params + 1) * sizeof(cnn_real));
    cnn_real *gg = malloc((m->n_params + 1) * sizeof(cnn_real));
    int *labels = malloc((size_t)n * sizeof(int));
    if (!x || !gu || !gg || !labels) {
        fprintf(stderr, "tree_unit: out of memory\n");
        return 1;
    }
    for (size_t e = 0; e < (size_t)n * in_size; e++) {
        double u = cnn_rng_uniform(SEED, 77, (uint64_t)n, e);
        x[e] = u < 0.25 ? 0 : (cnn_real)u;
    }
    int classes = m->n_outputs == 1 ? 2 : m->n_outputs;
    for (int i = 0; i < n; i++)
        labels[i] = i % classes;
    int chunk[65];
    for (int k = 0; k <= chunks; k++)
        chunk[k] = (int)((long long)k * n / chunks);
    cnn_batch_part part = {.n_chunks = chunks, .chunk = chunk, .first = 0, .n_global = n};
    int bad = harness_gradient(m, params, x, labels, n, &part, SEED, gu) ||
              harness_gradient(gen, params, x, labels, n, &part, SEED, gg);
    for (int t = 0; !bad && t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (!ti->trainable)
            continue;
        size_t differ = 0, nonzero = 0;
        for (size_t e = ti->offset; e < ti->offset + ti->count; e++) {
            differ += memcmp(&gu[e], &gg[e], sizeof(cnn_real)) != 0;
            nonzero += gg[e] != 0;
        }
        printf("batch %2d in %2d chunks: %-22s %zu of %zu differ%s\n", n, chunks, ti->name, differ, ti->count,
               nonzero ? "" : " (the gradient is all zero)");
        bad |= differ > 0 || nonzero == 0;
    }
    free(x);
    free(gu);
    free(gg);
    free(labels);
    return bad;
}

int main(void)
{
    const cnn_model *m = &MODEL, *gen = &MODEL_GENERIC;
    cnn_real *params = malloc((m->n_params + 1) * sizeof(cnn_real));
    if (!params) {
        fprintf(stderr, "tree_unit: out of memory\n");
        return 1;
    }
    harness_init_params(m, params, SEED);
    static const int runs[][2] = {{4, 4}, {8, 8}, {32, 32}, {2, 2}, {12, 4}};
    int bad = 0;
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++)
        bad |= compare(m, gen, params, runs[r][0], runs[r][1]);
    free(params);
    if (bad)
        fprintf(stderr, "tree_unit: %s: the one-image-a-chunk paths differ from the generic loop\n", m->name);
    return bad;
}
