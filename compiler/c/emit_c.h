/* emit_c.h: the pieces of the C model's writer (emit_c.c) that the export
 * back end (emit_export.c) reuses, so the exported inference file calls the
 * trainer's kernels the way the trainer's driver does. */
#ifndef CNNC_EMIT_C_H
#define CNNC_EMIT_C_H

#include <stddef.h>

#include "plan.h"

/* The emitter of a layer kind; NULL for flatten (a view). */
const cnnc_layer_emitter *emit_c_layer_emitter(cnn_layer_kind k);
/* Layer i's input and output as driver expressions ("x", "a + cap * A_L"). */
void emit_c_in_expr(char *buf, size_t size, const cnnc_plan *pl, int i);
void emit_c_out_expr(char *buf, size_t size, const cnnc_plan *pl, int i);
/* The enum of the fixed work area's parts (WK_<layer>_STATS|FLIP|WINO|FOLD,
 * WK_END = WORK_FIXED), which the layer calls name. */
void emit_c_fixed_offsets(cnnc_emitter *em, const cnnc_plan *pl);

#endif
