/* finite.c: NaN and infinity scans (see cnn_finite.h). */
#include "cnn_finite.h"

#include <stdint.h>
#include <string.h>

/* A float is NaN or infinite exactly when its exponent bits are all ones.
 * The scan ORs a flag over blocks with integer operations only, which the
 * compiler vectorizes (a float comparison loop would not be, without
 * -ffast-math, which would also fold isfinite() to true); only a block
 * with a hit is searched element by element. */
size_t cnn_first_nonfinite(const float *x, size_t n)
{
    enum { BLOCK = 1024 };
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t m = n - b < BLOCK ? n - b : BLOCK;
        uint32_t bad = 0;
        for (size_t i = 0; i < m; i++) {
            uint32_t u;
            memcpy(&u, &x[b + i], sizeof u);
            bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
        }
        if (!bad)
            continue;
        for (size_t i = 0; i < m; i++) {
            uint32_t u;
            memcpy(&u, &x[b + i], sizeof u);
            if ((u & 0x7f800000u) == 0x7f800000u)
                return b + i;
        }
    }
    return n;
}

int cnn_nonfinite_tensor(const cnn_model *m, const float *params)
{
    size_t at = cnn_first_nonfinite(params, m->n_params);
    if (at == m->n_params)
        return -1;
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (at >= ti->offset && at < ti->offset + ti->count)
            return t;
    }
    /* padding between tensors, if any: name the tensor after it */
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].offset > at)
            return t;
    return m->n_tensors - 1;
}
