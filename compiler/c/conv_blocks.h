/* conv_blocks.h: the building blocks of conv2d's kernels (conv_blocks.c),
 * shared by the plain conv, the fused conv + maxpool, the fold and Winograd. */
#ifndef CNNC_CONV_BLOCKS_H
#define CNNC_CONV_BLOCKS_H

#include "emit_util.h"
#include "plan.h"

typedef struct conv_dims {
    int ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pt, pl;
    int padded; /* some taps can fall outside the input */
} conv_dims;

conv_dims conv_dims_of(const cnn_layer *l);

/* enum { IH, IW, IC, OH, OW, OC, KH, ..., IN_SIZE, OUT_SIZE, W_OFF, W_COUNT[, B_OFF] } */
void conv_emit_enums(cnnc_emitter *em, const cnnc_plan_layer *L, const conv_dims *d);

#define ACC_BUDGET 20 /* vector accumulators a block may keep in registers */
#define DW_ONE_PASS 28 /* ... or a weight gradient, when that makes it one pass (of 32) */

int conv_vectors(int channels);

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

/* What a fused conv + maxpool forward computes per window
 * (emit_conv_pool_forward.c): act(max) plus the argmax byte in training;
 * in inference with a batchnorm folded in, the same without the byte, the
 * weights and bias then being the folded ones (emit_conv_bn_fold.c), or, for a batchnorm after the
 * activation, scale[c] * act(.) + shift[c] at the window's max or min. */
typedef struct conv_pool_variant {
    cnn_act act;
    float alpha;
    int bias;   /* the accumulators start at bias[co] (else 0) */
    int argmax; /* store the window's argmax byte in the conv's output slot */
    int affine; /* scale[c], shift[c] after the activation */
} conv_pool_variant;

#endif
