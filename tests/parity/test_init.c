/* test_init.c: Keras-style initialisation (runtime/core/init.c).
 *   - Glorot-uniform values lie in (-l, l), l = sqrt(6/(fan_in+fan_out)),
 *     with fans kh*kw*ci and kh*kw*co for conv kernels, in and out for dense;
 *     their mean is near 0 and their variance near l^2/3;
 *   - biases, beta and running_mean are 0, gamma and running_var are 1;
 *   - the same seed gives the same block, another seed a different one;
 *   - values do not depend on the memory layout (HWIO vs OIHW, IO vs OI),
 *     and cnn_tensor_memory_index is a permutation that maps PyTorch order
 *     to the layout as documented. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_init.h"
#include "model_builder.h"

static int failures;

#define CHECK(cond, ...)                                          \
    do {                                                          \
        if (!(cond)) {                                            \
            failures++;                                           \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);  \
            fprintf(stderr, __VA_ARGS__);                         \
            fputc('\n', stderr);                                  \
        }                                                         \
    } while (0)

static const cnn_model *build(tmodel *t, int hwio)
{
    tm_begin(t, 32, 32, 3, hwio);
    tm_conv(t, 16, 3, 3, 1, 1, 0, 1, CNN_ACT_RELU);   /* fans 27, 144 */
    tm_batchnorm(t, 0.99f, 1e-3f);
    tm_conv(t, 32, 5, 3, 2, 2, 1, 0, CNN_ACT_RELU);   /* fans 240, 480 */
    tm_flatten(t);
    tm_dense(t, 64, 1, CNN_ACT_RELU);
    tm_dense(t, 10, 1, CNN_ACT_SOFTMAX);
    return tm_end(t);
}

static void test_values(void)
{
    tmodel t;
    const cnn_model *m = build(&t, 1);
    cnn_real *p = malloc(m->n_params * sizeof(cnn_real));
    memset(p, 0xff, m->n_params * sizeof(cnn_real)); /* NaN everywhere: init must write every float */
    cnn_init_params(m, p, 123);
    for (int k = 0; k < m->n_tensors; k++) {
        const cnn_tensor_info *ti = &m->tensors[k];
        const cnn_real *v = p + ti->offset;
        if (ti->init == CNN_INIT_GLOROT_UNIFORM) {
            double limit = sqrt(6.0 / (ti->fan_in + ti->fan_out)), s = 0, s2 = 0, lo = 1e9, hi = -1e9;
            for (size_t j = 0; j < ti->count; j++) {
                CHECK(v[j] > -limit && v[j] < limit, "%s[%zu] = %g outside +-%g", ti->name, j, v[j], limit);
                s += v[j];
                s2 += (double)v[j] * v[j];
                lo = fmin(lo, v[j]);
                hi = fmax(hi, v[j]);
            }
            double mean = s / ti->count, var = s2 / ti->count - mean * mean, want = limit * limit / 3;
            /* standard error of the mean is limit/sqrt(3*count); allow 5 of them */
            CHECK(fabs(mean) < 5 * limit / sqrt(3.0 * ti->count), "%s mean %g", ti->name, mean);
            CHECK(fabs(var - want) < 0.15 * want, "%s variance %g, want %g", ti->name, var, want);
            CHECK(lo < -0.9 * limit && hi > 0.9 * limit, "%s range [%g, %g] does not fill +-%g", ti->name, lo, hi,
                  limit);
            printf("%-22s glorot fan_in %5d fan_out %5d limit %.5f mean %+.5f var/want %.3f\n", ti->name, ti->fan_in,
                   ti->fan_out, limit, mean, var / want);
        } else {
            double want = ti->init == CNN_INIT_ONES ? 1.0 : 0.0;
            for (size_t j = 0; j < ti->count; j++)
                CHECK(v[j] == want, "%s[%zu] = %g, want %g", ti->name, j, v[j], want);
        }
    }
    /* the fans Keras uses */
    CHECK(m->tensors[0].fan_in == 27 && m->tensors[0].fan_out == 144, "conv fans");
    free(p);
}

static void test_determinism_and_layouts(void)
{
    tmodel a, b;
    const cnn_model *ma = build(&a, 1), *mb = build(&b, 0);
    size_t n = ma->n_params;
    cnn_real *p1 = malloc(n * sizeof(cnn_real)), *p2 = malloc(n * sizeof(cnn_real));
    cnn_real *p3 = malloc(n * sizeof(cnn_real)), *q = malloc(n * sizeof(cnn_real));
    cnn_init_params(ma, p1, 123);
    cnn_init_params(ma, p2, 123);
    cnn_init_params(ma, p3, 124);
    CHECK(memcmp(p1, p2, n * sizeof(cnn_real)) == 0, "same seed, different parameters");
    size_t same = 0;
    for (size_t j = 0; j < n; j++)
        same += p1[j] == p3[j];
    CHECK(same < n / 100 + 200, "seeds 123 and 124 agree on %zu of %zu floats", same, n); /* zeros/ones agree */

    /* the other layout holds the same values in PyTorch order */
    cnn_init_params(mb, q, 123);
    for (int k = 0; k < ma->n_tensors; k++) {
        const cnn_tensor_info *ta = &ma->tensors[k], *tb = &mb->tensors[k];
        char *seen = calloc(ta->count, 1);
        int mism = 0, dup = 0;
        for (size_t j = 0; j < ta->count; j++) {
            size_t ia = cnn_tensor_memory_index(ta, j), ib = cnn_tensor_memory_index(tb, j);
            CHECK(ib == j, "PyTorch-order tensor must map to itself");
            if (ia >= ta->count || seen[ia]++)
                dup++;
            else if (p1[ta->offset + ia] != q[tb->offset + ib])
                mism++;
        }
        CHECK(!dup && !mism, "%s: %d not a permutation, %d values differ between layouts", ta->name, dup, mism);
        free(seen);
    }
    /* HWIO as documented: element (co, ci, ky, kx) of OIHW sits at [ky][kx][ci][co] */
    const cnn_tensor_info *tw = &ma->tensors[0]; /* 16 x 3 x 3 x 3 */
    size_t j = ((5 * 3 + 2) * 3 + 1) * 3 + 0; /* co 5, ci 2, ky 1, kx 0 */
    CHECK(cnn_tensor_memory_index(tw, j) == ((1 * 3 + 0) * 3 + 2) * 16 + 5, "HWIO index");
    /* IO: element (o, i) of [out][in] sits at [i][o] */
    const cnn_tensor_info *td = NULL;
    for (int k = 0; k < ma->n_tensors; k++)
        if (ma->tensors[k].layout == CNN_LAYOUT_IO) {
            td = &ma->tensors[k];
            break;
        }
    CHECK(td && cnn_tensor_memory_index(td, (size_t)7 * td->shape[1] + 11) == (size_t)11 * td->shape[0] + 7,
          "IO index");
    free(p1);
    free(p2);
    free(p3);
    free(q);
}

int main(void)
{
    test_values();
    test_determinism_and_layouts();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("init: all checks passed\n");
    return 0;
}
