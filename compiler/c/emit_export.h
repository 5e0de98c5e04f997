/* emit_export.h: the pieces of `cnnc export` (emit_export.c on top): the
 * freestanding replacements for the C library the layer kernels call
 * (emit_export_math.c) and the port of predict's preprocessing
 * (emit_export_prep.c). Each writes static functions into NAME_infer.c. */
#ifndef CNNC_EMIT_EXPORT_H
#define CNNC_EMIT_EXPORT_H

#include "emitter.h"
#include "ir.h"

/* cnnx_memcpy/cnnx_memset (and the memcpy/memset macros the kernels'
 * calls resolve to), cnnx_exp (double, ~0.5 ulp), cnnx_expf, cnnx_tanhf,
 * cnnx_sqrtf (correctly rounded), and the REAL_EXP/REAL_TANH/REAL_SQRT macros. */
void emit_export_math(cnnc_emitter *em);

/* Whether the preprocessing needs the scratch image `tmp` (an edges step). */
int emit_export_prep_needs_tmp(const cnnc_ir *ir);

/* static void cnnx_preprocess(const unsigned char *px, int w, int h, int ch,
 *                             float *x, float *fbuf, float *tmp, float *rows, unsigned char *u8):
 * an 8-bit image of ch channels (1, 3, 4) to the H x W x C input, exactly as
 * `NAME predict` after decoding (runtime/data/png.c's channel conversion,
 * runtime/data/preprocess.c's crop, resize, cached steps, uint8 rounding and
 * per-batch steps). */
void emit_export_prep(cnnc_emitter *em, const cnnc_ir *ir);

#endif
