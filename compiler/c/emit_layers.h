/* emit_layers.h: the C back end's internal API.
 *
 * emit_c.c lays the network out in memory (the plan below: where every
 * layer's output lives in b->acts, what scratch it needs in b->work, which
 * backward passes must run) and writes the drivers and the descriptor. One
 * file per layer kind (emit_conv2d.c, emit_pool.c, ...) writes that kind's
 * forward and backward functions and the calls to them.
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
#ifndef CNNC_EMIT_LAYERS_H
#define CNNC_EMIT_LAYERS_H

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
                                   F(2x2, 3x3) (emit_conv_winograd.c); the folded inference pass and the
                                   backward's dx decide for themselves */
    size_t wino_off;            /* with wino: its U in the fixed work area */
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

extern const cnnc_layer_emitter emit_conv2d_layer;
extern const cnnc_layer_emitter emit_maxpool_layer;
extern const cnnc_layer_emitter emit_avgpool_layer;
extern const cnnc_layer_emitter emit_globalavgpool_layer;
extern const cnnc_layer_emitter emit_dense_layer;
extern const cnnc_layer_emitter emit_batchnorm_layer;
extern const cnnc_layer_emitter emit_dropout_layer;
extern const cnnc_layer_emitter emit_activation_layer;

/* conv2d's scratch (emit_conv2d.c): per-image padded copies (and, with a
 * fused maxpool `pool`, its row band or whole dz), and the fixed rotated
 * kernel of its fast input gradient. */
size_t emit_conv2d_pad_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool);
size_t emit_conv2d_flip_floats(const cnn_layer *l, int needs_dx, const cnn_layer *pool);

/* Whether conv2d `l` (forward activation `act`) and the layer after it,
 * `next` (NULL at the end), run as one fused conv + activation + maxpool in
 * the fast kernels (emit_conv_pool.c). */
int emit_conv2d_fuses_pool(const cnn_layer *l, cnn_act act, int needs_dx, const cnn_layer *next);

/* The fused pair (emit_conv_pool.c). Fast path: CONV_pool_forward and
 * CONV_pool_backward compute conv + activation + maxpool and the chain
 * back; the conv's activation slot keeps only each window's argmax.
 * Under CNN_REFERENCE_KERNELS the same two functions run the plain conv and
 * pool functions one after the other (the oracle), emitted with the pool. */
void emit_conv_pool_fast(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                         const cnnc_plan_layer *pool, int backward);
void emit_conv_pool_oracle(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv,
                           const cnnc_plan_layer *pool);

/* Whether conv2d i and the batchnorm after it fold into one fused conv +
 * activation + maxpool pass in inference (emit_conv_bn_fold.c): then the
 * maxpool's index and whether the batchnorm applies after the conv's relu.
 * Needs the plan's fuse_relu and act of both layers. */
int emit_conv_bn_fold(const cnnc_plan *pl, int i, int *pool_at, int *affine);
/* Floats of the fixed work area it needs (the folded weights and bias, then
 * Winograd's U when the pass runs by Winograd), and of the per-image scratch
 * of its pass. */
size_t emit_conv_bn_fold_fixed_floats(const cnnc_plan *pl, const cnnc_plan_layer *conv);
size_t emit_conv_bn_fold_pad_floats(const cnnc_plan *pl, const cnnc_plan_layer *conv);
/* CONV_folded_forward, and its call from the forward driver. */
void emit_conv_bn_fold_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv);
void emit_conv_bn_fold_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *conv, const char *in,
                            const char *pooled);

/* Whether a dense layer's weights are updated inside its backward pass
 * (cnn_model.backward_update): large ones, whose gradient would otherwise
 * travel to memory and back (emit_dense.c). */
int emit_dense_fuses_update(size_t in_size, size_t out_size);
/* The per-image slot a dense layer's fast forward needs (its partial sums). */
size_t emit_dense_slot_floats(size_t in_size, size_t out_size);
/* Whether batchnorm `bn` and the maxpool `pool` after it (after its fused
 * relu, if any) run as one normalize + activation + maxpool pass in the
 * fast kernels (emit_bn_pool.c). */
int emit_bn_fuses_pool(const cnn_layer *bn, const cnn_layer *pool);

/* A fused maxpool (conv + pool, batchnorm + pool) keeps one byte per pooled
 * value: the window position of the maximum, or NO_GRAD when the window
 * passes no gradient back (relu of a maximum <= 0). */
#define NO_GRAD 255

/* In a backward loop over pooled rows `py`, with `am` the image's argmax
 * bytes: kfr[POW * channels], row py's bytes as reals. One row-long loop:
 * gcc 12 converts 16 bytes at a time through 128-bit pieces that are stored
 * and reloaded as one vector (a failed store forwarding per window), but a
 * row at a time in full-width registers. */
void emit_argmax_row(cnnc_emitter *em, const char *channels);

/* The fused batchnorm + maxpool (emit_bn_pool.c): BN_pool_forward and
 * BN_pool_backward; the batchnorm's activation slot keeps, per pooled value,
 * the normalized input at the window's maximum and the argmax byte. Under
 * CNN_REFERENCE_KERNELS the same entry points run the plain batchnorm and
 * pool functions one after the other (the oracle), emitted with the pool. */
void emit_bn_pool_fast(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *bn,
                       const cnnc_plan_layer *pool, int backward);
void emit_bn_pool_oracle(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *bn,
                         const cnnc_plan_layer *pool);

/* Pieces of the batchnorm functions (emit_batchnorm.c) that the fused pass
 * shares: its enum constants, and the block that computes scale[C] and
 * shift[C] (training: the batch statistics, kept in the work area for
 * backward, and the running statistics' update; inference: the running
 * statistics). The statistics of the fast kernels take one memory pass,
 * the plain ones two; BOTH emits both under #ifndef CNN_REFERENCE_KERNELS. */
enum { EMIT_BN_STATS_PLAIN, EMIT_BN_STATS_FAST, EMIT_BN_STATS_BOTH };
void emit_bn_enums(cnnc_emitter *em, const cnnc_plan_layer *L);
void emit_bn_scale_shift(cnnc_emitter *em, const cnnc_plan_layer *L, int kernels);

/* ---- shared helpers (emit_c.c) ---------------------------------------- */

/* The comment that opens a layer function: name, .cnn line, statement, shapes. */
void emit_layer_comment(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                        const char *direction);

/* A float constant as a C expression of type cnn_real, exact for float. */
const char *emit_real(char *buf, size_t size, double v);

/* Writes the per-image loop head "for (int i = 0; i < n; i++) {" preceded by
 * the OpenMP pragma; the caller closes the block. */
void emit_image_loop(cnnc_emitter *em);

/* Starting a team costs microseconds on an idle machine, and on a loaded one
 * (more runnable threads than cores) a scheduler time slice per region: the
 * waiting thread spins, then sleeps until the other one runs. Loops with less
 * than this much work per batch (FMAs or floats touched) run on the calling
 * thread. Results do not change: every loop is thread-count independent. */
#define EMIT_PAR_MIN_WORK ((size_t)1 << 17)

/* " if(n >= K)" (with a leading space) for an OpenMP parallel pragma over work
 * proportional to n, so that batches under EMIT_PAR_MIN_WORK stay serial;
 * "" when even one image is enough work. */
const char *emit_par_if(char *buf, size_t size, size_t work_per_image);

/* emit_image_loop with the emit_par_if clause. */
void emit_image_loop_work(cnnc_emitter *em, size_t work_per_image);

/* ---- activations (emit_activation.c) ------------------------------------ */

const char *emit_act_name(cnn_act act);

/* C expression of f(z) for an element-wise activation (not softmax); `z` is a
 * plain variable (it may be evaluated twice). Linear gives `z` itself. The
 * generated file defines REAL_EXP / REAL_TANH, which follow cnn_real. */
const char *emit_act_expr(char *buf, size_t size, cnn_act act, float alpha, const char *z);

/* Whether a loop computing f(z) may carry `omp simd`: not when f calls libm
 * (exp, tanh), which clang then refuses to vectorize, with a warning. */
int emit_act_simd_ok(cnn_act act);

/* C expression of dL/dz from the output `y` and `dy` = dL/dy (not softmax). */
const char *emit_act_grad_expr(char *buf, size_t size, cnn_act act, float alpha, const char *y,
                               const char *dy);

/* Statements: softmax of `len` contiguous values at `src` into `dst` (which
 * may be `src`): max subtracted first, so it never overflows. */
void emit_softmax_row(cnnc_emitter *em, const char *src, const char *dst, const char *len);

/* Statements: dz = y * (dy - sum(dy * y)) over `len` values; dz may be dy. */
void emit_softmax_grad_row(cnnc_emitter *em, const char *y, const char *dy, const char *dz,
                           const char *len);

/* In a layer's per-image backward: dz_i[e] = dL/dz from y_i and dy_i, in
 * place over `size` values (`channels` per softmax row). Nothing for linear. */
void emit_act_grad_image(cnnc_emitter *em, cnn_act act, float alpha, const char *y,
                         const char *dz, size_t size, size_t channels);

/* ---- the plan and the drivers' pieces, for the export back end
 * (emit_c.c; emit_export.c reuses them) ------------------------------------ */

/* Lays the network out (the plan above); 0, or a message and 1. */
int emit_plan_build(cnnc_plan *pl, const cnnc_ir *ir);
/* The emitter of a layer kind; NULL for flatten (a view). */
const cnnc_layer_emitter *emit_layer_emitter(cnn_layer_kind k);
/* Layer i's input and output as driver expressions ("x", "a + cap * A_L"). */
void emit_in_expr(char *buf, size_t size, const cnnc_plan *pl, int i);
void emit_out_expr(char *buf, size_t size, const cnnc_plan *pl, int i);
/* s as a C string literal, every byte outside printable ASCII escaped. */
void emit_c_string(char *buf, size_t size, const char *s);

#endif
