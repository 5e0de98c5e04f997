/* plan.h: the plan, the C back end's one authority. plan_build (plan.c)
 * decides, once per network, where every layer's output lives in b->acts,
 * what scratch it needs in b->work, which backward passes run, and every
 * kernel choice: which layers fuse, which run by Winograd (forward, dx, the
 * inference fold), which fused conv + maxpool backward walks its windows
 * and which AVX-512 variant it takes. The emitters only read it: sizing and
 * writing can never disagree.
 *
 * Memory (per image sizes; `cap` is b->batch_cap, `n` the images of a call):
 *   acts: layer-major. Layer L's outputs for image i start at
 *         acts + cap * A_L + i * OUT_SIZE, so one layer's batch is one
 *         contiguous [n][OUT_SIZE] matrix (the dense layers want that).
 *   work: [fixed][cap x per-image]. The fixed part holds what batchnorm keeps
 *         from forward for backward (batch mean and 1/std) and the rotated
 *         conv kernels of the fast input gradients. The per-image part holds
 *         two gradient buffers (dA, dB: the backward driver ping-pongs
 *         dL/d(activation) between them), one slot per image for partial
 *         weight gradients and statistics, which are then summed in image
 *         order (results never depend on the number of threads), and a
 *         padded copy of the image's conv input (or dz) for the fast kernels.
 */
#ifndef CNNC_PLAN_H
#define CNNC_PLAN_H

#include <stddef.h>

#include "emitter.h"
#include "ir.h"

typedef struct cnnc_plan_layer {
    int index;                  /* position in ir->layers (0-based) */
    const cnn_layer *l;
    const cnnc_layer_cost *cost;
    char fn[2 * CNN_MAX_NAME + 2]; /* function prefix: MODEL_LAYER */
    char stmt[160];             /* the layer as a .cnn statement, for comments */
    cnn_act act;                /* activation applied in forward: the final sigmoid/softmax removed */
    int alias;                  /* output is a view of the input (flatten, the final activation) */
    size_t in_size, out_size;   /* floats per image */
    size_t act_off;             /* per-image offset of the output in acts (of the input when alias) */
    size_t mask_off;            /* dropout: its mask in acts */
    int has_params;             /* trainable parameters */
    int needs_dx;               /* some layer below has trainable parameters */
    int run_backward;           /* has_params || needs_dx, and not an alias */
    size_t t_off[4];            /* offsets of its tensors in the parameter block */
    size_t t_count[4];
    size_t fixed_off;           /* batchnorm: its part of the fixed work area */
    size_t flip_off;            /* conv2d: its rotated kernel in the fixed work area */
    size_t slot_floats;         /* per-image slot its passes need */
    size_t pad_floats;          /* per-image padded copy its fast kernels need */
    int fuse_pool;              /* conv2d, batchnorm: its fast kernels also compute the maxpool after it */
    int wino;                   /* conv2d: its forward (with the fused pool or alone) runs by Winograd's
                                   F(2x2, 3x3) (emit_conv_winograd.c) */
    int wino4_pool;             /* with wino and fuse_pool: the trainer's forward (training and inference)
                                   runs by F(4x4, 3x3) (winograd4_blocks.c), each 4x4 tile 2x2 windows;
                                   its U [36][IC][OC] at wino_off, computed at each call */
    int wino_dx;                /* conv2d without a fused pool: the backward's fast dx runs by Winograd */
    int pool_dw_windows;        /* conv2d with fuse_pool: the backward's dW walks the windows that pass a
                                   gradient (dW^T in the scratch) instead of the dense dz band */
    int pool_dx_windows;        /* ... and with needs_dx, dx goes from those windows too */
    int pool_dx_patch;          /* ... the AVX-512 windows backward, dx a window at a time with its patch
                                   in registers (emit_conv_pool_avx512.c) */
    int pool_dw_permute;        /* conv2d with fuse_pool, no dx, dense band: the AVX-512 dW by permutes */
    size_t wino_off;            /* with wino: its U in the fixed work area */
    int wino_stored;            /* with wino, cnnc export only: U is the constant cnnx_wino_LAYER computed by
                                   cnnc (emit_export.c), not recomputed from the weights at each call */
    int dense_one;              /* dense, cnnc export only: the one-image kernel (emit_dense_one.c) computes
                                   its forward */
    int wino4;                  /* conv2d, cnnc export only: its inference pass (alone, with the fused
                                   maxpool, or the batchnorm fold's) runs by Winograd's F(4x4, 3x3)
                                   (emit_conv_winograd4.c), its U the constant cnnx_wino4_LAYER */
    int dense_one_sparse;       /* with dense_one: it reads only the rows of W whose input is not 0 */
    int conv_few;               /* conv2d with fuse_pool, cnnc export only: the few-input-channel Winograd
                                   kernel (emit_conv_few.c) computes it and the pool, U stored as constants */
    int pool_at;                /* with fuse_pool: that maxpool's index (after batchnorm's fused relu) */
    int fused;                  /* maxpool: computed by the conv2d or batchnorm before it (fast kernels) */
    int fused_by;               /* with fused: that layer's index */
    int fuse_relu;              /* batchnorm: applies the standalone relu after it (a view then) */
    int fuse_update;            /* dense: its weights have update_in_backward (the optimizer runs in
                                   its backward pass, argument `u` of the driver) */
    int fold_bn;                /* conv2d: in inference, the batchnorm after it is folded in and the
                                   maxpool at fold_pool fused (emit_conv_bn_fold.c) */
    int fold_pool;
    int fold_affine;            /* the batchnorm comes after the conv's relu: applied to pooled values */
    int fold_wino;              /* the folded pass runs by Winograd (its U after the folded weights) */
    size_t fold_off;            /* its folded weights and bias in the fixed work area (not affine) */
    size_t fold_pad_floats;     /* the per-image scratch of its folded pass */
} cnnc_plan_layer;

typedef struct cnnc_plan {
    const cnnc_ir *ir;
    const char *model;          /* ir->name */
    int n;
    cnnc_plan_layer layers[CNN_MAX_LAYERS];
    size_t act_floats;          /* per image, what the descriptor says */
    size_t work_fixed;          /* floats, independent of the batch */
    size_t grad_floats;         /* per image: each of dA and dB */
    size_t slot_floats;         /* per image */
    size_t pad_floats;          /* per image */
} cnnc_plan;

/* Arguments of one layer call, as C expressions of the driver. */
typedef struct cnnc_args {
    const char *in;             /* the layer's input (x for the first layer) */
    const char *out;            /* its output in acts */
    const char *mask;           /* dropout mask in acts */
    const char *dy;             /* dL/d(output), overwritten (dL/d(pre-activation)) */
    const char *dx;             /* dL/d(input), written; NULL when nothing needs it */
    const char *pool_out;       /* conv2d with fuse_pool: the maxpool's output */
} cnnc_args;

/* What every layer kind provides. The definitions are static functions named
 * L->fn + "_forward" / "_backward", opened by a comment naming the .cnn line. */
typedef struct cnnc_layer_emitter {
    void (*forward)(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L);
    void (*forward_call)(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                         const cnnc_args *a);
    void (*backward)(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L);
    void (*backward_call)(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                          const cnnc_args *a);
} cnnc_layer_emitter;

/* Lays out `ir` and decides every kernel. Returns 0, or prints
 * "cnnc: error: ..." and returns 1. */
int plan_build(cnnc_plan *pl, const cnnc_ir *ir);

/* cnnc export's own kernel choices for the one-image inference pass, the
 * weights `params` being constants (wino_stored, wino4, conv_few,
 * dense_one, dense_one_sparse), and the per-image scratch they need in
 * pad_floats. */
void plan_export(cnnc_plan *pl, const float *params);

/* Whether the model has backward_update: some layer that runs backward
 * applies the optimizer to its weights itself (fuse_update). */
int plan_backward_update(const cnnc_plan *pl);

#endif
