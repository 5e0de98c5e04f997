/* emit_conv2d.h: the pieces of conv2d's fast kernels that the fused
 * conv + maxpool (emit_conv_pool.c) shares with the plain conv2d
 * (emit_conv2d.c). Internal to the C back end. */
#ifndef CNNC_EMIT_CONV2D_H
#define CNNC_EMIT_CONV2D_H

#include "emit_layers.h"

typedef struct conv_dims {
    int ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl;
    int padded; /* some taps can fall outside the input */
} conv_dims;

conv_dims conv_dims_of(const cnn_layer *l);

/* enum { IH, IW, IC, OH, OW, OC, KH, ..., IN_SIZE, OUT_SIZE, W_OFF, W_COUNT[, B_OFF] } */
void conv_emit_enums(cnnc_emitter *em, const cnnc_plan_layer *L, const conv_dims *d);

#define ACC_BUDGET 20 /* vector accumulators a block may keep in registers */
#define DW_ONE_PASS 28 /* ... or a weight gradient, when that makes it one pass (of 32) */

/* Accumulators are arrays of one vector (16 floats) each, so every simd loop
 * runs exactly once and the compiler keeps them in registers (a 64-wide
 * array would stay a 4-iteration loop over memory at -O2). */
#define VEC 16

int conv_vectors(int channels);

/* Channels in vector c of `channels` (VEC, or fewer in the last one). */
int conv_chunk_width(int channels, int c);

/* One register-blocked convolution of an image (or of some of its rows). */
typedef struct conv_block {
    const char *src, *wgt, *bias, *dst; /* C expressions; bias NULL: start at 0 */
    int src_w, cin, cout, kh, kw, sh, sw, oh, ow;
    cnn_act act;
    float alpha;
    const char *rows;    /* the loop over output rows `oy`; NULL: all of them */
    const char *dst_row; /* the row of dst that output row oy goes to; NULL: oy */
} conv_block;

/* dst[row][ow][cout] = act(bias + valid conv of src with wgt). */
void conv_emit_block(cnnc_emitter *em, const conv_block *b);

/* The zero-padded copy of one image: rows [top, top+h) and columns
 * [left, left+w) of a ph x pw x c buffer hold the image, the rest is 0. */
void conv_emit_pad_copy(cnnc_emitter *em, const char *from, const char *to, int h, int w, int c,
                        int top, int left, int ph, int pw);

/* The padded input's size; equal to the input's when the layer has no padding. */
void conv_padded_dims(const cnn_layer *l, int *ph, int *pw);

/* Floats of the padded copy of one input image; 0 when none is needed. */
size_t conv_padded_copy_floats(const cnn_layer *l);

/* Stride 1: dx is the forward kernel over the padded dz, rotated. */
int conv_fast_dx(const cnn_layer *l);

/* In a per-image loop: `xs`, the image's input as the kernels read it (the
 * padded copy at the start of the image's `pad`, or `xi` itself). */
void conv_emit_source(cnnc_emitter *em, const cnn_layer *l);

/* Where the weight gradient reads dz: output rows [oy_begin, oy_end),
 * columns [0, ox_end) (C expressions), the row of output row `oy` at `row`. */
typedef struct conv_dz {
    const char *oy_begin, *oy_end, *ox_end, *row;
    int accumulate; /* add to dwi instead of overwriting it */
} conv_dz;

/* In a per-image loop with xs, dwi: dW of the image for the dz rows of z. */
void conv_emit_dw(cnnc_emitter *em, const cnn_layer *l, const conv_dz *z);

/* Before the per-image loop, with wgt: the rotated kernel of the fast dx into `flip`. */
void conv_emit_flip(cnnc_emitter *em);

/* After the per-image loop: the slots summed in image order into g. */
void conv_emit_slot_sum(cnnc_emitter *em, const cnn_layer *l);

/* Per-image scratch of a conv fused with `pool` beyond its padded input copy:
 * the forward row band, the backward band or the whole padded dz. */
size_t conv_pool_scratch_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool);

/* Per-image scratch of a fused conv + pool forward alone (the folded
 * inference pass): its padded input, and the row band when the windows do
 * not pool in registers. */
size_t conv_pool_forward_floats(const cnn_layer *l, const cnn_layer *pool);

/* What a fused conv + maxpool forward computes per window (emit_conv_pool.c):
 * act(max) plus the argmax byte in training; in inference with a batchnorm
 * folded in, the same without the byte, the weights and bias then being the
 * folded ones (emit_conv_bn_fold.c), or, for a batchnorm after the
 * activation, scale[c] * act(.) + shift[c] at the window's max or min. */
typedef struct conv_pool_variant {
    cnn_act act;
    float alpha;
    int bias;   /* the accumulators start at bias[co] (else 0) */
    int argmax; /* store the window's argmax byte in the conv's output slot */
    int affine; /* scale[c], shift[c] after the activation */
} conv_pool_variant;

/* enum { POH, POW, PKH, PKW, POOL_SIZE, PAD_SIZE, PW, SCRATCH } of the pair */
void conv_pool_emit_enums(cnnc_emitter *em, const cnnc_plan_layer *conv, const cnnc_plan_layer *pool);

/* The image loop of the fused forward, in a function with the parameters
 * in, out (with argmax), pooled, pad, n and the locals wgt, bias, scale,
 * shift that the variant reads. */
void conv_pool_emit_images(cnnc_emitter *em, const cnnc_plan_layer *conv, const cnnc_plan_layer *pool,
                           const conv_pool_variant *v);

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
void conv_winograd_emit_images(cnnc_emitter *em, const cnnc_plan_layer *L, const cnnc_plan_layer *P,
                               const conv_pool_variant *v, const conv_pool_variant *untrained);
int conv_winograd_dx_applies(const cnn_layer *l);
size_t conv_winograd_dx_scratch_floats(const cnn_layer *l);
void conv_winograd_emit_dx(cnnc_emitter *em, const cnn_layer *l, const char *dzpad, int zw, const char *dxi,
                           const char *scratch);
#endif
