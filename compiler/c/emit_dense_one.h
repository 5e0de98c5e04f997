/* emit_dense_one.h: cnnc export's one-image dense kernel (emit_dense_one.c). */
#ifndef CNNC_EMIT_DENSE_ONE_H
#define CNNC_EMIT_DENSE_ONE_H

#include "plan.h"

/* A large layer with whole vectors of at most 128 outputs: W streamed once.
 * Whether it applies, the function NAME_LAYER_forward_one(p, in, out[, nzk]),
 * and its call. */
int emit_dense_one_applies(const cnnc_plan_layer *L);
/* With dense_one: whether the sparse variant applies (the input comes out
 * of a relu, is the flatten of an image with channels in whole vectors,
 * fewer than 2^24 inputs, every weight of the layer finite in the parameter
 * block `params`), and the floats of scratch it takes (its list of
 * rows, at `pad`; 0 for the plain kernel). */
int emit_dense_one_sparse_applies(const cnnc_plan *pl, const cnnc_plan_layer *L, const float *params);
size_t emit_dense_one_pad_floats(const cnnc_plan_layer *L);
/* The sparse variant reads W's rows in channel-major order ([C][P][OUT] for
 * the flatten of a P-pixel, C-channel image), so that a channel that is 0
 * over the whole image is a block of W never read: its W from the parameter
 * block `params` into `dst` (the same place in a copy of the block). */
void emit_dense_one_sparse_order(const cnnc_plan *pl, const cnnc_plan_layer *L, const float *params, float *dst);
void emit_dense_forward_one(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L);
void emit_dense_forward_one_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *in, const char *out);

#endif
