/* dense_blocks.h: the building blocks of the dense layer's kernels
 * (dense_blocks.c), shared by the plain path, the fast forward and
 * backward and the one-image export kernel; and what the plan asks of
 * them. A dense kernel is [in][out] in memory. */
#ifndef CNNC_DENSE_BLOCKS_H
#define CNNC_DENSE_BLOCKS_H

#include <stddef.h>

#include "plan.h"

#define DENSE_FUSE_MIN 16384 /* weights: from 64 KB on, the optimizer runs inside backward */
#define DX_MAX_OUT 1024 /* the transposed 16-row slab and the dW tile live on the stack */

/* Whether a dense layer's weights are updated inside its backward pass
 * (cnn_model.backward_update): large ones, whose gradient would otherwise
 * travel to memory and back (emit_dense_backward.c). */
int emit_dense_fuses_update(size_t in_size, size_t out_size);
/* The per-image slot a dense layer's fast forward needs (its partial sums). */
size_t emit_dense_slot_floats(size_t in_size, size_t out_size);

/* Rows (images, or rows of W) per register tile: as many as the
 * accumulators allow, at most 8. */
int dense_per_tile(size_t out);
/* Rows of W per dW tile in backward: a power of two, so that they divide
 * the 16-row tiles. */
int dense_dw_rows(size_t out);
/* Parts of the k range in forward (1: the image-tiled scheme). */
int dense_k_parts(size_t in);

/* What one register tile works on; the o-tile (width and first output) is
 * added by dense_for_otiles. */
typedef struct tile_args {
    int rows;            /* images (forward) or rows of W (dW) */
    const char *row0;    /* expression of the first */
    const char *dst;     /* forward: where the sums go, [n][OUT] ("out" or "part") */
    const char *first;   /* forward: condition of the first k block, whose sums start at `start` */
    const char *start;   /* forward: "B0" (the bias) or "ZERO" */
    int prefetch;        /* forward: fetch what comes next (pw, pwn, px, pxn of the forward's image tiles) */
} tile_args;

/* o-tiles (up to 64 outputs each): `body` in a rolled loop over full tiles,
 * then once for the rest, with o0 the tile's first output. */
void dense_for_otiles(cnnc_emitter *em, size_t out,
                      void (*body)(cnnc_emitter *, const tile_args *, int ot, const char *o0),
                      const tile_args *t);

/* enum { IN, OUT, W_OFF[, B_OFF] } */
void dense_emit_enums(cnnc_emitter *em, const cnnc_plan_layer *L);

/* The signature of a dense backward, both paths: with update_in_backward the
 * optimizer comes as `u` (NULL: plain backward), and p is not restrict
 * because u writes the weights through the runtime. */
void dense_backward_signature(cnnc_emitter *em, const cnnc_plan_layer *L);

/* dz = dy * act'(y), in place (nothing for a linear layer); then dz names dy. */
void dense_emit_dz(cnnc_emitter *em, const cnnc_plan_layer *L);
/* db from dz, in the batch's chunk tree (nothing without a bias). */
void dense_emit_db(cnnc_emitter *em, const cnnc_plan_layer *L);
/* dx = dz W^T, image by image, each dx[k] summing over o in order; the
 * caller has declared wgt. */
void dense_emit_dx_rows(cnnc_emitter *em, const cnnc_plan_layer *L);
/* The activation of image i's row yi, once its sums are complete. */
void dense_emit_activation(cnnc_emitter *em, const cnnc_plan_layer *L);

#endif
