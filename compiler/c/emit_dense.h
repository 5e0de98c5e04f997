/* emit_dense.h: what the plan asks of the dense kernels (emit_dense.c). */
#ifndef CNNC_EMIT_DENSE_H
#define CNNC_EMIT_DENSE_H

#include <stddef.h>

/* Whether a dense layer's weights are updated inside its backward pass
 * (cnn_model.backward_update): large ones, whose gradient would otherwise
 * travel to memory and back (emit_dense.c). */
int emit_dense_fuses_update(size_t in_size, size_t out_size);
/* The per-image slot a dense layer's fast forward needs (its partial sums). */
size_t emit_dense_slot_floats(size_t in_size, size_t out_size);

#endif
