/* emit_dense_forward.h: the dense layer's fast forward (emit_dense_forward.c). */
#ifndef CNNC_EMIT_DENSE_FORWARD_H
#define CNNC_EMIT_DENSE_FORWARD_H

#include "plan.h"

/* static void NAME_LAYER_forward(p, in, out, [slot,] n): image tiles, or
 * the k range in parts for a large layer. */
void dense_emit_forward_fast(cnnc_emitter *em, const cnnc_plan_layer *L);

#endif
