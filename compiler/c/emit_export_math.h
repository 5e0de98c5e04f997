/* emit_export_math.h: the C library the layer kernels call, as freestanding
 * static functions for NAME_infer.c (emit_export_math.c). */
#ifndef CNNC_EMIT_EXPORT_MATH_H
#define CNNC_EMIT_EXPORT_MATH_H

#include "emitter.h"

/* cnnx_memcpy/cnnx_memset (and the memcpy/memset macros the kernels'
 * calls resolve to), cnnx_exp (double, ~0.5 ulp), cnnx_expf, cnnx_tanhf,
 * cnnx_sqrtf (correctly rounded), and the REAL_EXP/REAL_TANH/REAL_SQRT macros. */
void emit_export_math(cnnc_emitter *em);

#endif
