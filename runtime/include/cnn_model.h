/* cnn_model.h: the seam between cnnc's generated code and the runtime.
 *
 * A generated model file (generated/NAME.c) defines exactly one
 * `const cnn_model NAME_model` and nothing else with external linkage.
 * The runtime (libcnnrt) knows a network only through this descriptor:
 * its layer table (for the reference engine and summaries), its tensors
 * (views into one flat parameter block), its train-block defaults, and the
 * specialized forward/backward/loss functions.
 *
 * This header is included by the compiler too, so the enums below are the
 * single definition of layer kinds, activations, optimizers and losses.
 *
 * Scalar type: CNN_REAL is float unless a translation unit defines it
 * (gradient checks compile the same generated code with -DCNN_REAL=double).
 */
#ifndef CNN_MODEL_H
#define CNN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifndef CNN_REAL
#define CNN_REAL float
#endif
typedef CNN_REAL cnn_real;

/* CNN_AVX512_FLOAT: 1 where generated kernels may use their AVX-512 float
 * intrinsics: cnn_real is float, the compiler targets AVX-512F, and
 * CNN_PORTABLE_KERNELS is not defined. Each such kernel has a portable twin
 * in plain C for every other case (and the tests run both). */
#define CNN_REAL_IS_float 1
#define CNN_REAL_IS_double 0
#define CNN_CAT_(a, b) a##b
#define CNN_CAT(a, b) CNN_CAT_(a, b)
#if defined(__AVX512F__) && !defined(CNN_PORTABLE_KERNELS) && CNN_CAT(CNN_REAL_IS_, CNN_REAL)
#define CNN_AVX512_FLOAT 1
#include <immintrin.h>

/* Transposes the 16x16 floats of r in place (r[i][j] <-> r[j][i]): pairs of
 * rows interleaved, then pairs of pairs, then 128-bit lanes twice; 64
 * shuffles. For kernels that turn [window][channel] data into per-channel
 * rows (emit_conv_pool_avx512.c); integers go through it cast to __m512. */
static inline void cnn_transpose16_ps(__m512 *r)
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) { /* rows i, i + 1 interleaved: 2x2 blocks */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* 4x4 blocks in each 128-bit lane */
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 16; i += 8) /* the lanes of rows i..i+7: 8x8 blocks */
        for (int j = 0; j < 4; j++) {
            t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
            t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xDD);
        }
    for (int j = 0; j < 8; j++) { /* and across the two halves */
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xDD);
    }
}
#else
#define CNN_AVX512_FLOAT 0
#endif

#define CNN_MAX_LAYERS 64
#define CNN_MAX_PREPROCESS 8
#define CNN_MAX_NAME 64
#define CNN_MAX_PATH 1024

/* ---- layers --------------------------------------------------------- */

typedef enum cnn_layer_kind {
    CNN_CONV2D,
    CNN_MAXPOOL,
    CNN_AVGPOOL,
    CNN_GLOBALAVGPOOL,
    CNN_FLATTEN,
    CNN_DENSE,
    CNN_DROPOUT,
    CNN_BATCHNORM,
    CNN_ACTIVATION /* a standalone activation layer: relu, sigmoid, ... */
} cnn_layer_kind;

typedef enum cnn_act {
    CNN_ACT_LINEAR,
    CNN_ACT_RELU,
    CNN_ACT_SIGMOID,
    CNN_ACT_TANH,
    CNN_ACT_SOFTMAX,
    CNN_ACT_LEAKY_RELU
} cnn_act;

/* An activation tensor of one image, NHWC without the N. After flatten,
 * dense and globalavgpool a tensor is 1x1xC (rank 1 in Keras terms). */
typedef struct cnn_shape {
    int h, w, c;
    int rank; /* 3 for images, 1 for vectors (Keras's (None, C)) */
} cnn_shape;

typedef struct cnn_layer {
    const char *name;   /* Keras-style unique name: conv2d_1, dense_2, relu_1 ... */
    int line;           /* line of the .cnn statement */
    cnn_layer_kind kind;
    cnn_act act;        /* fused activation (conv2d, dense) or the layer's own (CNN_ACTIVATION) */
    float alpha;        /* leaky_relu slope (0.3 default, as Keras's layer) */
    cnn_shape in, out;
    int filters;        /* conv2d filters / dense units */
    int kh, kw;         /* conv kernel or pool window */
    int sh, sw;         /* strides */
    int same;           /* padding=same (conv) */
    int pad_top, pad_left, pad_bottom, pad_right; /* TensorFlow 'same' padding, 0 for valid */
    int bias;           /* conv2d/dense with a bias vector */
    float rate;         /* dropout rate */
    float momentum, epsilon; /* batchnorm, Keras convention: running = m*running + (1-m)*batch */
    int first_tensor;   /* index into cnn_model.tensors of its first tensor, -1 if none */
    int n_tensors;      /* weight [, bias] or gamma, beta, running_mean, running_var */
    int frozen;         /* trainable=false: its tensors are not trained (not in the trainable
                           prefix, no gradient computed); a frozen batchnorm normalizes with its
                           running statistics in training too, and leaves them unchanged (Keras) */
} cnn_layer;

/* ---- tensors (views into the flat parameter block) ------------------- */
/* The block holds the trainable tensors first (in layer order), then the
 * others (batchnorm running statistics and frozen layers' tensors, in
 * layer order): optimizers run over [0, n_trainable). */

typedef enum cnn_layout {
    CNN_LAYOUT_PLAIN,   /* memory order == on-disk (PyTorch) order */
    CNN_LAYOUT_HWIO,    /* conv kernel: memory [kh][kw][ci][co]; on disk OIHW */
    CNN_LAYOUT_IO       /* dense kernel: memory [in][out]; on disk [out][in] */
} cnn_layout;

typedef enum cnn_init {
    CNN_INIT_GLOROT_UNIFORM, /* U(-l, l), l = sqrt(6 / (fan_in + fan_out)) */
    CNN_INIT_ZEROS,
    CNN_INIT_ONES
} cnn_init;

typedef struct cnn_tensor_info {
    const char *name;   /* PyTorch state_dict key: "conv2d_1.weight" */
    int rank;
    int shape[4];       /* PyTorch shape (OIHW, [out][in], [n]) */
    cnn_layout layout;  /* how memory differs from that shape */
    size_t offset;      /* floats from the start of the parameter block */
    size_t count;       /* floats */
    int fan_in, fan_out;
    cnn_init init;
    int trainable;      /* 0 for batchnorm running statistics and a frozen layer's tensors */
    int update_in_backward; /* backward_update applies the optimizer to it itself */
} cnn_tensor_info;

/* ---- preprocessing and augmentation (what the data pipeline does) ---- */

typedef enum cnn_prep_kind {
    CNN_PREP_GRAYSCALE,
    CNN_PREP_EDGES,
    CNN_PREP_BRIGHTNESS, /* value = delta as a fraction of the full range */
    CNN_PREP_RESCALE     /* value = scale, offset = offset */
} cnn_prep_kind;

typedef struct cnn_prep_step {
    cnn_prep_kind kind;
    double value, offset;
} cnn_prep_step;

typedef enum cnn_fill { CNN_FILL_REFLECT, CNN_FILL_NEAREST, CNN_FILL_CONSTANT } cnn_fill;

enum { CNN_FLIP_NONE = 0, CNN_FLIP_HORIZONTAL = 1, CNN_FLIP_VERTICAL = 2 }; /* bit mask */

typedef struct cnn_augment {
    int flip;               /* CNN_FLIP_* bits */
    double rotate;          /* fraction of a full turn, 0 = off */
    double zoom;            /* 0 = off */
    double shear;
    double translate;
    double brightness;      /* fraction of the full range */
    double contrast;
    cnn_fill rotate_fill, zoom_fill, shear_fill, translate_fill;
} cnn_augment;

/* ---- the train block --------------------------------------------------- */

typedef enum cnn_optimizer_kind { CNN_OPT_ADAM, CNN_OPT_SGD, CNN_OPT_RMSPROP, CNN_OPT_ADAMW } cnn_optimizer_kind;
typedef enum cnn_loss_kind { CNN_LOSS_BINARY_CE, CNN_LOSS_CATEGORICAL_CE } cnn_loss_kind;
typedef enum cnn_monitor { CNN_MON_VAL_LOSS, CNN_MON_VAL_ACCURACY, CNN_MON_LOSS, CNN_MON_ACCURACY } cnn_monitor;

enum { CNN_METRIC_ACCURACY = 1, CNN_METRIC_PRECISION = 2, CNN_METRIC_RECALL = 4, CNN_METRIC_AUC = 8 };

typedef struct cnn_optimizer {
    cnn_optimizer_kind kind;
    double lr;
    double beta1, beta2, epsilon; /* adam (epsilon also rmsprop) */
    double momentum; int nesterov; /* sgd */
    double rho;                    /* rmsprop */
    double weight_decay;           /* decoupled (Keras 3, AdamW): p -= p * lr * weight_decay; 0 = none */
    double clipnorm;               /* each tensor's gradient scaled to an L2 norm of at most this; 0 = off */
    double clipvalue;              /* each gradient element clipped to [-clipvalue, clipvalue]; 0 = off */
    double global_clipnorm;        /* all gradients together scaled to a global L2 norm of at most this; 0 = off */
} cnn_optimizer;

/* A learning-rate schedule (the train block's step_decay, cosine_decay or
 * reduce_lr_on_plateau; runtime/train/cnn_schedule.h has the formulas). */
typedef enum cnn_schedule_kind {
    CNN_SCHED_NONE,
    CNN_SCHED_STEP,    /* lr * factor^floor(epoch / every) */
    CNN_SCHED_COSINE,  /* linear warm-up, then cosine decay to alpha * lr */
    CNN_SCHED_PLATEAU  /* Keras's ReduceLROnPlateau */
} cnn_schedule_kind;

typedef struct cnn_schedule_cfg {
    cnn_schedule_kind kind;
    int every;                 /* step: epochs per decay */
    double factor;             /* step and plateau: the multiplier */
    int decay_epochs;          /* cosine: epochs of the decay after the warm-up; 0 = the rest of the run */
    int warmup;                /* cosine: epochs of linear warm-up */
    double alpha;              /* cosine: the final lr as a fraction of lr */
    cnn_monitor monitor;       /* plateau */
    int patience, cooldown;    /* plateau */
    double min_delta, min_lr;  /* plateau */
} cnn_schedule_cfg;

/* Keras's class_weight: each training image's loss is multiplied by its
 * class's weight (runtime/train/cnn_class_weight.h). */
typedef enum cnn_class_weight_mode {
    CNN_CW_NONE,
    CNN_CW_BALANCED,   /* n / (k * count_k) over the training split, as scikit-learn's "balanced" */
    CNN_CW_EXPLICIT    /* class_weights[0 .. n_class_weights), in class-index order */
} cnn_class_weight_mode;
#define CNN_MAX_CLASS_WEIGHTS 256

typedef struct cnn_config {
    const char *data;          /* NULL when the .cnn gives none */
    const char *validation;    /* NULL: split instead */
    double validation_split;
    uint64_t seed;
    int batch, epochs;
    cnn_optimizer optimizer;
    cnn_loss_kind loss;
    int metrics;               /* CNN_METRIC_* bits */
    int early_stopping;        /* 0 = off */
    cnn_monitor monitor;
    int patience;
    const char *init;          /* start from these weights (safetensors), NULL: fresh initialization */
    int init_partial;          /* skip (and name) tensors the file lacks or has in another shape */
    cnn_schedule_cfg schedule; /* kind CNN_SCHED_NONE: a constant lr */
    cnn_class_weight_mode class_weight;
    int n_class_weights;       /* CNN_CW_EXPLICIT */
    const double *class_weights;
} cnn_config;

/* ---- the part of a batch one process holds ------------------------------
 *
 * Every sum over a batch's images runs in one order, a fixed function of the
 * batch: its n images are cut into C chunks (a power of two fixed by the
 * configured batch; chunk j holds images [j n / C, (j + 1) n / C)), each
 * chunk sums its images in order from zero, and the chunks' sums are added
 * in a fixed binary tree. In a data-parallel run (docs/distributed.md) each
 * of P processes (P a power of two dividing C) holds C / P consecutive
 * chunks, a whole subtree: the generated code sums its own images up to
 * that subtree's root, and `reduce` adds the processes' roots in the same
 * tree, so every result is the one process's, bit for bit. */
typedef struct cnn_batch_part {
    int n_chunks;       /* this process's chunks: a power of two */
    const int *chunk;   /* n_chunks + 1 offsets into this process's images: chunk k is [chunk[k], chunk[k + 1]) */
    int first;          /* the batch position of this process's first image (dropout masks) */
    int n_global;       /* images in the whole batch (means over the batch) */
    /* Turns count sums over this process's images into the whole batch's,
     * in place, on every process (batchnorm's statistics in training);
     * NULL when this process holds the whole batch. */
    void (*reduce)(void *ctx, cnn_real *v, size_t count);
    void *ctx;
} cnn_batch_part;

/* ---- buffers the driver allocates once and passes to every call -------- */

typedef struct cnn_buffers {
    cnn_real *params;   /* n_params: trainable tensors first, then running stats */
    cnn_real *grads;    /* n_params (only [0, n_trainable) is used); backward ADDS into it */
    cnn_real *acts;     /* batch_cap * act_floats: what forward keeps for backward */
    cnn_real *work;     /* work_floats(batch_cap): scratch owned by the generated code */
    int batch_cap;
    /* NULL: the n images of a call are the whole batch, one chunk. Else the
     * part of the batch the calls' images are (forward and backward of one
     * step take the same part). */
    const cnn_batch_part *part;
} cnn_buffers;

/* The optimizer's update of one range of the parameter block, for a
 * backward pass that applies it itself (cnn_model.backward_update):
 * apply(u, offset, count, grad) updates params [offset, offset + count) from
 * grad[0, count), this batch's gradient of exactly those parameters. Called
 * from inside the model's parallel regions, for disjoint ranges. */
typedef struct cnn_update {
    void (*apply)(const struct cnn_update *u, size_t offset, size_t count, const cnn_real *grad);
    void *ctx;
    /* The optimizer's per-parameter arrays that apply reads and writes
     * (Adam: m and v), indexed like the parameters; NULL past the rule's
     * count. Only for prefetching: a backward that walks the weights in
     * tiles fetches the next tile's state while it computes this one. */
    const float *state[2];
} cnn_update;

/* A hint to fetch the cache line at p (for writing if w is 1); nothing
 * where the compiler has no __builtin_prefetch. */
#if defined(__GNUC__)
#define CNN_PREFETCH(p, w) __builtin_prefetch((p), (w))
#else
#define CNN_PREFETCH(p, w) ((void)(p), (void)(w))
#endif

typedef struct cnn_model {
    const char *name;            /* model name from the .cnn */
    const char *source;          /* the .cnn file name as given to cnnc (no directories) */
    const char *source_hash;     /* 16 hex digits, FNV-1a 64 of the .cnn text */
    int in_h, in_w, in_c;
    int n_outputs;               /* logits per image: 1 for binary, n_classes for softmax */
    cnn_act final_act;           /* CNN_ACT_SIGMOID or CNN_ACT_SOFTMAX: applied by the loss, not in forward */
    int n_layers;
    const cnn_layer *layers;
    int n_tensors;
    const cnn_tensor_info *tensors;
    size_t n_params;             /* floats in the parameter block */
    size_t n_trainable;          /* the first n_trainable floats are trained */
    size_t act_floats;           /* per image */
    size_t (*work_floats)(int batch);
    double forward_flops;        /* per image, multiply-add = 2 */
    double train_flops;          /* per image: forward + backward */

    /* Forward pass on n <= b->batch_cap images x (n x in_h x in_w x in_c, NHWC,
     * already preprocessed). Writes logits (n x n_outputs): the last layer's
     * value BEFORE its sigmoid/softmax. training != 0 enables dropout (masks
     * from seed and step) and batch statistics in batchnorm (and updates the
     * running statistics in b->params). */
    void (*forward)(cnn_buffers *b, const cnn_real *x, cnn_real *logits, int n,
                    int training, uint64_t seed, uint64_t step);
    /* Backward pass after a training forward on the same x: dlogits (n x
     * n_outputs) is dLoss/dlogits; gradients are ADDED into b->grads. */
    void (*backward)(cnn_buffers *b, const cnn_real *x, const cnn_real *dlogits, int n);
    /* Optional (NULL when no tensor has update_in_backward): backward, but
     * the tensors with update_in_backward are updated through u while their
     * gradient is computed, block by block (the fast kernels never store
     * it): b->grads over their ranges is scratch, its content before the
     * call ignored (it need not be zeroed) and unspecified after.
     * Every other gradient is ADDED into b->grads as backward does; the
     * caller then updates the other ranges. Large dense weights use it: the
     * gradient of 1.8 M weights then never travels to memory and back. */
    void (*backward_update)(cnn_buffers *b, const cnn_real *x, const cnn_real *dlogits, int n,
                            const cnn_update *u);
    /* Mean loss over n images from logits, and dLoss/dlogits (mean over n)
     * when dlogits != NULL. Labels are class indices. Stable from logits. */
    double (*loss)(const cnn_real *logits, const int *labels, cnn_real *dlogits, int n);

    const cnn_prep_step *preprocess;
    int n_preprocess;
    int crop_to_aspect_ratio;
    cnn_augment augment;
    cnn_config defaults;         /* the train block, with defaults filled in */
    const double *layer_flops;   /* n_layers: each layer's forward FLOPs per image (the summary's column) */
} cnn_model;

/* ---- per-layer timing in trainer builds ---------------------------------
 *
 * Generated drivers wrap every layer call in CNN_LAYER_BEGIN(layer, pass) /
 * CNN_LAYER_END(layer, pass) (pass 0 forward, 1 backward), empty by default.
 * A trainer (compiled with CNN_TRAINER_MAIN) routes them to the runtime, so
 * `NAME bench` can time each layer; the hook returns at once unless bench
 * is measuring. Model libraries without CNN_TRAINER_MAIN are unaffected. */
#if defined(CNN_TRAINER_MAIN) && !defined(CNN_LAYER_BEGIN)
void cnn_layer_hook(int layer, int pass, int end);
#define CNN_LAYER_BEGIN(layer, pass) cnn_layer_hook((layer), (pass), 0)
#define CNN_LAYER_END(layer, pass) cnn_layer_hook((layer), (pass), 1)
#endif

#endif
