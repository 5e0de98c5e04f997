/* emit_export_prep.h: `NAME predict`'s preprocessing after decoding, as
 * freestanding C for NAME_infer.c (emit_export_prep.c). */
#ifndef CNNC_EMIT_EXPORT_PREP_H
#define CNNC_EMIT_EXPORT_PREP_H

#include "emitter.h"
#include "ir.h"

/* Whether the preprocessing needs the scratch image `tmp` (an edges step). */
int emit_export_prep_needs_tmp(const cnnc_ir *ir);

/* static void cnnx_preprocess(const unsigned char *px, int w, int h, int ch,
 *                             float *x, float *fbuf, float *tmp, float *rows, unsigned char *u8):
 * an 8-bit image of ch channels (1, 3, 4) to the H x W x C input, exactly as
 * `NAME predict` after decoding (runtime/data/png.c's channel conversion,
 * runtime/data/preprocess.c's crop, resize, cached steps, uint8 rounding and
 * per-batch steps). Uses cnnx_sqrtf (emit_export_math.h) for edges. */
void emit_export_prep(cnnc_emitter *em, const cnnc_ir *ir);

#endif
