/* emit_layers.h: one emitter per layer kind (emit_conv2d.c, emit_pool.c,
 * emit_dense.c, emit_batchnorm.c, emit_dropout.c, emit_activation.c),
 * each writing that kind's forward and backward functions and the calls to
 * them, as the plan (plan.h) says. The drivers (emit_c.c) pick one per
 * layer. */
#ifndef CNNC_EMIT_LAYERS_H
#define CNNC_EMIT_LAYERS_H

#include "plan.h"

extern const cnnc_layer_emitter emit_conv2d_layer;
extern const cnnc_layer_emitter emit_maxpool_layer;
extern const cnnc_layer_emitter emit_avgpool_layer;
extern const cnnc_layer_emitter emit_globalavgpool_layer;
extern const cnnc_layer_emitter emit_dense_layer;
extern const cnnc_layer_emitter emit_batchnorm_layer;
extern const cnnc_layer_emitter emit_dropout_layer;
extern const cnnc_layer_emitter emit_activation_layer;

#endif
