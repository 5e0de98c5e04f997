/* winograd4_blocks.h: the building blocks of Winograd F(4x4, 3x3)
 * (winograd4_blocks.c), shared by cnnc export's one-image pass
 * (emit_conv_winograd4.c) and the trainer's conv + maxpool forward
 * (emit_conv_pool_forward.c). */
#ifndef CNNC_WINOGRAD4_BLOCKS_H
#define CNNC_WINOGRAD4_BLOCKS_H

#include "conv_blocks.h"

/* A pass's shape and what its output step applies. */
typedef struct w4_geo {
    const cnn_layer *l, *pool; /* pool NULL: the conv's outputs themselves */
    int src_h, src_w, padded;  /* the source: the input, or its padded copy */
    int yh, yw;                /* the pass's output: the maxpool's, or the conv's */
    int lh, lw;                /* conv outputs needed */
    int ty, tx, tyf, txf;      /* tiles; whole tiles */
    int nv, nt, nb, rest;      /* output vectors per product pass; the blocks of whole tiles */
    int ec, ne;                /* edge tiles: of the last column (one per whole row), all */
    cnn_act act;
    float alpha;
    int bias, affine;
    const char *dst;           /* the C name of the output's base pointer */
    /* The trainer's pooled pass: the window step of v in training (with
     * v->argmax, each window's code into `am`) and of `untrained`
     * otherwise; both NULL: the export's (act, bias, affine above). */
    const conv_pool_variant *v, *untrained;
} w4_geo;

/* The shape of conv l's pass (with the 2x2 maxpool `pool` after it, or
 * alone), with the output step's activation, bias and affine map, and the
 * output named `dst`. */
w4_geo w4_geometry(const cnn_layer *l, const cnn_layer *pool, cnn_act act, float alpha, int bias, int affine,
                   const char *dst);
/* The trainer's conv + maxpool pass of conv L (its act, alpha and bias),
 * the pool `pool`, pooled values into `yi`. */
w4_geo w4_trainer_geometry(const cnnc_plan_layer *L, const cnn_layer *pool);
/* Floats of U, [36][IC][OC]. */
size_t w4_u_floats(const cnn_layer *l);
/* Whether the pass can run: whole vectors of channels, a 3x3 stride-1
 * kernel and at least one whole 4x4 tile. */
int w4_applies(const w4_geo *g);
/* Floats of its per-image scratch after the padded copy: V, M and an edge
 * tile's input. */
size_t w4_scratch_floats(const w4_geo *g);

/* U = G g G^T of every kernel of `wgt` ([3][3][cin][cout]) into `wu`
 * ([36][cin][cout]), emitted: computed by the generated code from the
 * weights at each call, in double and rounded once; w4_weights is its C
 * twin. */
void w4_emit_weights(cnnc_emitter *em, const char *wu, const char *wgt, const char *cin, const char *cout);
/* The same U computed here, by the same operations in C (cnnc export's
 * constants): the trainer and the exported file round it alike. */
void w4_weights(const float *wgt, int cin, int cout, float *wu);
/* The enums the tile loops use: WIC, WOC, SRC_H, SRC_W, YH, YW, TYF, TXF, NT, EC. */
void w4_emit_enums(cnnc_emitter *em, const w4_geo *g);
/* The work pointers of one image: V `wv` at the C expression `base`, then M
 * `wm`, then (with edge tiles) an edge tile's input `et`. */
void w4_emit_scratch(cnnc_emitter *em, const w4_geo *g, const char *base);
/* Every tile of one image: blocks of whole tiles, then the edge tiles.
 * The emitted code reads the source `xs`, U `wu` (and `bias`, `scale`,
 * `shift` as the pass needs), works in `wv`, `wm` and `et`, and writes
 * g->dst (and `am`, the argmax codes). */
void w4_emit_tiles(cnnc_emitter *em, const w4_geo *g);

#endif
