/* emit_dense.h: what the plan asks of the dense kernels (emit_dense.c). */
#ifndef CNNC_EMIT_DENSE_H
#define CNNC_EMIT_DENSE_H

#include <stddef.h>

#include "plan.h"

/* Whether a dense layer's weights are updated inside its backward pass
 * (cnn_model.backward_update): large ones, whose gradient would otherwise
 * travel to memory and back (emit_dense.c). */
int emit_dense_fuses_update(size_t in_size, size_t out_size);
/* The per-image slot a dense layer's fast forward needs (its partial sums). */
size_t emit_dense_slot_floats(size_t in_size, size_t out_size);

/* cnnc export's one-image forward (a large layer with whole vectors of at
 * most 128 outputs: W streamed once, emit_dense.c): whether it applies, the
 * function NAME_LAYER_forward_one(p, in, out), and its call. */
int emit_dense_one_applies(const cnnc_plan_layer *L);
void emit_dense_forward_one(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L);
void emit_dense_forward_one_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *in, const char *out);

#endif
