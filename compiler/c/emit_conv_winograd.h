/* emit_conv_winograd.h: Winograd F(2x2, 3x3) kernels (emit_conv_winograd.c). */
#ifndef CNNC_EMIT_CONV_WINOGRAD_H
#define CNNC_EMIT_CONV_WINOGRAD_H

#include "conv_blocks.h"

/* Winograd F(2x2, 3x3) for a 3x3 stride-1 conv (emit_conv_winograd.c),
 * channels in whole vectors. The forward, with the 2x2 maxpool after it
 * (pool) or alone (pool NULL: even output sizes): whether it applies, the
 * floats of its U in the fixed work area and of its per-image scratch after
 * the padded copy, and the image loop, in a function as
 * conv_pool_emit_images's (or a plain conv forward's, with enum WINO_AT, the
 * scratch's offset in the image's pad, and PW); with `untrained`, one loop
 * for both variants that branches on `training` at the output step. Before the image loop, U
 * from the kernel wgt [3][3][cin][cout] into the C expression `wu`. And the
 * dx of the backward (even input sizes): per image, from the zero-padded dz
 * (zw wide) into dxi, with the scratch at the C expression `scratch`, U of
 * the rotated kernel in `wu`. */
int conv_winograd_applies(const cnn_layer *l, const cnn_layer *pool);
size_t conv_winograd_fixed_floats(const cnn_layer *l);
size_t conv_winograd_scratch_floats(const cnn_layer *l, const cnn_layer *pool);
void conv_winograd_emit_weights(cnnc_emitter *em, const char *wu, const char *wgt, const char *cin,
                                const char *cout);
/* The same U computed here, from the weights `wgt` ([3][3][cin][cout]) into
 * `wu` ([16][cin][cout]): what `cnnc export` stores as constants. */
void conv_winograd_weights(const float *wgt, int cin, int cout, float *wu);
void conv_winograd_emit_images(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P,
                               const conv_pool_variant *v, const conv_pool_variant *untrained);
/* The product step of any F(m x m, 3x3) for the tile block that starts at
 * output channel `ob`: mp[t][ob ..] = sum over ic of vp[t][ic] * up[ic][ob ..]
 * for nt tiles and nv vectors of channels, nt x nv accumulators, each
 * summing over the input channels in order (plain C; the AVX-512 kernels
 * sum in the same order). */
void conv_winograd_emit_product_block(cnnc_emitter *em, int nt, int nv);
int conv_winograd_dx_applies(const cnn_layer *l);
size_t conv_winograd_dx_scratch_floats(const cnn_layer *l);
void conv_winograd_emit_dx(cnnc_emitter *em, const cnn_layer *l, const char *dzpad, int zw, const char *dxi,
                           const char *scratch);

#endif
