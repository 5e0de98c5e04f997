/* grad_fast.c: in float, as the trainer runs them, the fast kernels give the
 * gradients of the plain ones (the oracle).
 *
 * The gradient checks run in double, where the fast kernels have no
 * intrinsics (CNN_AVX512_FLOAT needs float): this test is what holds the
 * AVX-512 kernels (compiler/c/emit_conv_pool_avx512.c) to the oracle, and,
 * compiled with -DCNN_PORTABLE_KERNELS, their portable twins in float.
 *
 * Compiled with one generated NAME.c twice: the fast kernels
 * (-DMODEL=NAME_model) and the plain ones (-DCNN_REFERENCE_KERNELS, the
 * model renamed to NAME_model_ref, -DMODEL_REF=NAME_model_ref). Weights
 * from a seed (Glorot-uniform bounds), inputs uniform in [0, 1), one
 * training forward, the loss's dlogits and backward in each; every tensor's
 * gradient is compared norm-wise: |g_fast - g_plain| <= 5e-5 |g_plain|
 * (float sums of up to ~10^5 terms in a different order: measured 3e-7 to
 * 4e-6, the largest on fruit's dense_2 through dense_1's forward sums; a
 * wrong permute index or patch index fails it: checked by mutation), and
 * must not be all zero
 * (the test would compare nothing).
 *
 * Usage: grad_fast [batch]        exit 0 when they agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_model.h"
#include "cnn_rng.h"
#include "harness.h"

#if !defined(MODEL) || !defined(MODEL_REF)
#error "compile with -DMODEL=NAME_model -DMODEL_REF=NAME_model_ref"
#endif
extern const cnn_model MODEL, MODEL_REF;

#define SEED 4242u
#define TOLERANCE 5e-5

int main(int argc, char **argv)
{
    const cnn_model *m = &MODEL, *ref = &MODEL_REF;
    int n = argc > 1 ? atoi(argv[1]) : 3;
    if (n < 1)
        n = 3;
    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c;
    cnn_real *params = malloc((m->n_params + 1) * sizeof(cnn_real));
    cnn_real *x = malloc(((size_t)n * in_size + 1) * sizeof(cnn_real));
    cnn_real *gf = malloc((m->n_params + 1) * sizeof(cnn_real));
    cnn_real *gr = malloc((m->n_params + 1) * sizeof(cnn_real));
    int *labels = malloc((size_t)n * sizeof(int));
    if (!params || !x || !gf || !gr || !labels) {
        fprintf(stderr, "grad_fast: out of memory\n");
        return 1;
    }
    harness_init_params(m, params, SEED);
    for (size_t e = 0; e < (size_t)n * in_size; e++)
        x[e] = (cnn_real)cnn_rng_uniform(SEED, 77, 0, e);
    int classes = m->n_outputs == 1 ? 2 : m->n_outputs;
    for (int i = 0; i < n; i++)
        labels[i] = i % classes;

    if (harness_gradient(m, params, x, labels, n, NULL, SEED, gf) ||
        harness_gradient(ref, params, x, labels, n, NULL, SEED, gr))
        return 1;
    int bad = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (!ti->trainable)
            continue;
        double diff = 0, norm = 0;
        for (size_t e = ti->offset; e < ti->offset + ti->count; e++) {
            double d = (double)gf[e] - (double)gr[e];
            diff += d * d;
            norm += (double)gr[e] * gr[e];
        }
        diff = sqrt(diff);
        norm = sqrt(norm);
        int ok = norm > 0 && diff <= TOLERANCE * norm;
        printf("%-24s |fast - plain| / |plain| = %.3g%s\n", ti->name, norm > 0 ? diff / norm : 0.0,
               norm > 0 ? "" : " (the gradient is all zero)");
        bad |= !ok;
    }
    free(params);
    free(x);
    free(gf);
    free(gr);
    free(labels);
    if (bad)
        fprintf(stderr, "grad_fast: %s: the fast kernels' gradients differ from the plain ones\n", m->name);
    return bad;
}
