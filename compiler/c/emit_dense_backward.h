/* emit_dense_backward.h: the dense layer's fast backward (emit_dense_backward.c). */
#ifndef CNNC_EMIT_DENSE_BACKWARD_H
#define CNNC_EMIT_DENSE_BACKWARD_H

#include "plan.h"

/* static void NAME_LAYER_backward(...): dz, then W in 16-row tiles (dx of
 * the rows, their dW, with u their update), db. */
void dense_emit_backward_fast(cnnc_emitter *em, const cnnc_plan_layer *L);

#endif
