/* emit_descriptor.h: the model descriptor and the header file
 * (emit_descriptor.c), which the drivers (emit_c.c) write last. */
#ifndef CNNC_EMIT_DESCRIPTOR_H
#define CNNC_EMIT_DESCRIPTOR_H

#include "plan.h"

/* The end of NAME.c: NAME_work_floats, the layer, tensor and preprocessing
 * tables, `const cnn_model NAME_model`, and main() under CNN_TRAINER_MAIN.
 * NAME_forward, NAME_backward[_update] and NAME_loss must be defined above. */
void emit_descriptor(cnnc_emitter *em, const cnnc_plan *pl);

/* DIR/NAME.h, which declares NAME_model. Returns 0, or prints
 * "cnnc: error: ..." and returns 1. */
int emit_descriptor_header(const cnnc_plan *pl, const char *dir);

/* s as a C string literal: quotes, backslashes, '?' and every byte outside
 * printable ASCII escaped. */
void emit_c_string(char *buf, size_t size, const char *s);

#endif
