/* init.c: Keras-style parameter initialisation (see cnn_init.h). */
#include "cnn_init.h"

#include <math.h>

#include "cnn_rng.h"

size_t cnn_tensor_memory_index(const cnn_tensor_info *t, size_t j)
{
    switch (t->layout) {
    case CNN_LAYOUT_HWIO: {
        /* on disk [co][ci][kh][kw], in memory [kh][kw][ci][co] */
        size_t co_n = (size_t)t->shape[0], ci_n = (size_t)t->shape[1];
        size_t kh_n = (size_t)t->shape[2], kw_n = (size_t)t->shape[3];
        size_t kx = j % kw_n, ky = j / kw_n % kh_n, ci = j / (kw_n * kh_n) % ci_n, co = j / (kw_n * kh_n * ci_n);
        return ((ky * kw_n + kx) * ci_n + ci) * co_n + co;
    }
    case CNN_LAYOUT_IO: {
        /* on disk [out][in], in memory [in][out] */
        size_t out_n = (size_t)t->shape[0], in_n = (size_t)t->shape[1];
        return (j % in_n) * out_n + j / in_n;
    }
    case CNN_LAYOUT_PLAIN:
        break;
    }
    return j;
}

void cnn_init_params(const cnn_model *m, cnn_real *params, uint64_t seed)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        cnn_real *p = params + ti->offset;
        double limit = 0;
        if (ti->init == CNN_INIT_GLOROT_UNIFORM && ti->fan_in + ti->fan_out > 0)
            limit = sqrt(6.0 / (double)(ti->fan_in + ti->fan_out));
        for (size_t j = 0; j < ti->count; j++) {
            double v;
            switch (ti->init) {
            case CNN_INIT_GLOROT_UNIFORM:
                v = (2.0 * cnn_rng_uniform(seed, CNN_RNG_INIT, (uint64_t)t, (uint64_t)j) - 1.0) * limit;
                break;
            case CNN_INIT_ONES:
                v = 1.0;
                break;
            case CNN_INIT_ZEROS:
            default:
                v = 0.0;
                break;
            }
            p[cnn_tensor_memory_index(ti, j)] = (cnn_real)v;
        }
    }
}
