/* infer_fold.c: inference with batchnorms folded into the conv before them
 * (compiler/c/emit_conv_bn_fold.c) gives the logits of the layers as written.
 *
 * Compiled with one generated NAME.c twice: the fast kernels
 * (-DMODEL=NAME_model), which fold, and the plain ones
 * (-DCNN_REFERENCE_KERNELS, the model renamed to NAME_model_ref,
 * -DMODEL_REF=NAME_model_ref), which run every layer. Parameters: the
 * weights from a seed, every batchnorm's gamma, beta and running statistics
 * drawn too, every other gamma negative (a negative scale reverses the
 * pool's order: the fold must take the window's minimum there). Inputs
 * uniform in [-1, 1). Compares the inference logits, norm-wise: in double
 * the two paths differ by rounding only (1e-10), in float by 1e-4. Also
 * checks that inference leaves the parameters unchanged, and that the model
 * has a conv2d followed by a batchnorm (or the test would test nothing).
 *
 * Usage: infer_fold [batch]        exit 0 when they agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_model.h"
#include "cnn_rng.h"

#if !defined(MODEL) || !defined(MODEL_REF)
#error "compile with -DMODEL=NAME_model -DMODEL_REF=NAME_model_ref"
#endif
extern const cnn_model MODEL, MODEL_REF;

#define SEED 777u

static int run(const cnn_model *m, const cnn_real *params, const cnn_real *x, int n, cnn_real *logits,
               cnn_real *after)
{
    cnn_buffers b = {0};
    b.batch_cap = n;
    b.params = malloc((m->n_params + 1) * sizeof(cnn_real));
    b.grads = calloc(m->n_params + 1, sizeof(cnn_real));
    b.acts = calloc((size_t)n * m->act_floats + 1, sizeof(cnn_real));
    b.work = calloc(m->work_floats(n) + 1, sizeof(cnn_real));
    if (!b.params || !b.grads || !b.acts || !b.work) {
        fprintf(stderr, "infer_fold: out of memory\n");
        return 1;
    }
    memcpy(b.params, params, m->n_params * sizeof(cnn_real));
    m->forward(&b, x, logits, n, 0, SEED, 0);
    memcpy(after, b.params, m->n_params * sizeof(cnn_real));
    free(b.params);
    free(b.grads);
    free(b.acts);
    free(b.work);
    return 0;
}

int main(int argc, char **argv)
{
    const cnn_model *m = &MODEL;
    int n = argc > 1 ? atoi(argv[1]) : 5;
    if (n < 1)
        n = 5;
    int folds = 0;
    for (int i = 0; i + 1 < m->n_layers; i++)
        folds += m->layers[i].kind == CNN_CONV2D && m->layers[i + 1].kind == CNN_BATCHNORM;
    if (!folds) {
        fprintf(stderr, "infer_fold: %s has no conv2d followed by a batchnorm: nothing to test\n", m->name);
        return 1;
    }

    size_t np = m->n_params, in_size = (size_t)m->in_h * m->in_w * m->in_c, no = (size_t)m->n_outputs;
    cnn_real *params = malloc(np * sizeof(cnn_real));
    cnn_real *x = malloc((size_t)n * in_size * sizeof(cnn_real));
    cnn_real *lf = malloc((size_t)n * no * sizeof(cnn_real)), *lr = malloc((size_t)n * no * sizeof(cnn_real));
    cnn_real *pf = malloc(np * sizeof(cnn_real)), *pr = malloc(np * sizeof(cnn_real));
    if (!params || !x || !lf || !lr || !pf || !pr) {
        fprintf(stderr, "infer_fold: out of memory\n");
        return 1;
    }
    for (int li = 0; li < m->n_layers; li++) {
        const cnn_layer *l = &m->layers[li];
        for (int k = 0; k < l->n_tensors; k++) {
            int t = l->first_tensor + k;
            const cnn_tensor_info *ti = &m->tensors[t];
            for (size_t j = 0; j < ti->count; j++) {
                double u = cnn_rng_uniform(SEED, 1, (uint64_t)t, j), v;
                if (l->kind != CNN_BATCHNORM)
                    v = (2 * u - 1) * 0.5; /* weights and biases */
                else if (k == 0)
                    v = (j % 2 ? -1 : 1) * (0.5 + u); /* gamma */
                else if (k == 3)
                    v = 0.2 + u; /* running variance */
                else
                    v = 2 * u - 1; /* beta, running mean */
                params[ti->offset + j] = (cnn_real)v;
            }
        }
    }
    for (size_t j = 0; j < (size_t)n * in_size; j++)
        x[j] = (cnn_real)(2 * cnn_rng_uniform(SEED, 2, 0, j) - 1);

    if (run(m, params, x, n, lf, pf) || run(&MODEL_REF, params, x, n, lr, pr))
        return 1;
    int bad = 0;
    if (memcmp(pf, params, np * sizeof(cnn_real)) || memcmp(pr, params, np * sizeof(cnn_real))) {
        printf("FAIL: an inference forward changed the parameters\n");
        bad = 1;
    }
    double diff = 0, ref = 0;
    for (size_t j = 0; j < (size_t)n * no; j++) {
        if (!isfinite((double)lf[j])) {
            printf("FAIL: logit %zu is not finite\n", j);
            return 1;
        }
        diff += ((double)lf[j] - lr[j]) * ((double)lf[j] - lr[j]);
        ref += (double)lr[j] * lr[j];
    }
    double rel = sqrt(diff) / fmax(sqrt(ref), 1e-30);
    double tol = sizeof(cnn_real) == sizeof(double) ? 1e-10 : 1e-4;
    printf("%s (%s): %d conv2d + batchnorm pair(s), %d images: inference logits folded vs as written, "
           "relative error %.2e (tolerance %.0e)\n",
           m->name, sizeof(cnn_real) == sizeof(double) ? "double" : "float", folds, n, rel, tol);
    if (!(rel <= tol)) {
        printf("FAIL: the folded inference differs from the layers as written\n");
        bad = 1;
    }
    free(params);
    free(x);
    free(lf);
    free(lr);
    free(pf);
    free(pr);
    return bad;
}
