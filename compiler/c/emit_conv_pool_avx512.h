/* emit_conv_pool_avx512.h: the AVX-512 kernels of the fused conv + maxpool
 * backward (emit_conv_pool_avx512.c). */
#ifndef CNNC_EMIT_CONV_POOL_AVX512_H
#define CNNC_EMIT_CONV_POOL_AVX512_H

#include "conv_blocks.h"

/* The AVX-512 weight gradient of a fused conv + maxpool that needs no dx and
 * whose kernel rows are shorter than a vector (emit_conv_pool_avx512.c):
 * whether it applies, and its code (in the backward image loop, under
 * #if CNN_AVX512_FLOAT, with the dense path as the #else). */
int conv_pool_dw_permute_applies(const cnn_layer *l, const cnn_layer *pool, int needs_dx);
void conv_pool_emit_dw_permute(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool);
/* The AVX-512 windows backward with dx (emit_conv_pool_avx512.c): whether
 * it applies; per pooled row, the transposed gradient and argmax offsets
 * (dT, aT, and db into s), then per channel its live windows' lists (ld,
 * la, nl) for the dW walk, then dx per window with its patch in registers
 * (with dT, xb, xd, flip; it prefetches the next row's inputs). */
int conv_pool_dx_patch_applies(const cnn_layer *l, const cnn_layer *pool);
void conv_pool_emit_row_lists(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool);
void conv_pool_emit_live_list(cnnc_emitter *em, const cnn_layer *pool);
void conv_pool_emit_dx_patch(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool);

#endif
