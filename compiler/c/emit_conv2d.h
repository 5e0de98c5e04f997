/* emit_conv2d.h: what the plan asks of the plain conv2d kernels (emit_conv2d.c). */
#ifndef CNNC_EMIT_CONV2D_H
#define CNNC_EMIT_CONV2D_H

#include "ir.h"

/* conv2d's scratch (emit_conv2d.c): per-image padded copies (and, with a
 * fused maxpool `pool`, its row band or whole dz), and the fixed rotated
 * kernel of its fast input gradient; with `wino_dx` (the plan's choice) the
 * scratch and U of the Winograd dx too. */
size_t emit_conv2d_pad_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool, int wino_dx);
size_t emit_conv2d_flip_floats(const cnn_layer *l, int needs_dx, int wino_dx);

#endif
