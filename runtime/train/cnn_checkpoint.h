/* cnn_checkpoint.h: the resumable training state of a run, in one
 * safetensors file (runs/NAME/checkpoint.safetensors, the previous one kept
 * as checkpoint.safetensors.prev), written atomically after every epoch.
 *
 * Tensors: every model tensor under its PyTorch name and layout (so the
 * checkpoint also loads into the PyTorch twin with strict=False), and the
 * optimizer's slots as "optimizer.<slot>" (flat, n_trainable floats).
 * Metadata: format, model name, architecture hash, settings, data hashes,
 * seed, epochs done, optimizer steps, early-stopping state, history rows
 * (CSV), class names, and the file's CRC-32.
 *
 * Randomness needs no saved generator state: every draw is keyed by (seed,
 * epoch, index) or (seed, step) (cnn_rng.h), so seed + epoch + step are the
 * whole RNG state.
 */
#ifndef CNN_CHECKPOINT_H
#define CNN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_model.h"
#include "cnn_optim.h"

#define CNN_CHECKPOINT_FORMAT "cnnc-checkpoint-1"

typedef struct cnn_train_state {
    int epoch;               /* epochs completed */
    uint64_t step;           /* optimizer steps taken (the dropout key) */
    uint64_t seed;
    double best_value;       /* early stopping / best.safetensors: best monitored value so far */
    int best_epoch;          /* 1-based epoch of best_value, 0 = none */
    int wait;                /* epochs since the best */
    char *history;           /* CSV rows so far (header included), malloc'ed, may be NULL */
    char *settings;          /* on load: the checkpoint's settings, malloc'ed */
    char *lr_changes;        /* learning-rate changes on resumes after a divergence, one line each;
                                malloc'ed, may be NULL */
    char *schedule;          /* the learning-rate schedule's state (cnn_schedule.h), malloc'ed, may be NULL;
                                range-checked by the trainer, which knows the schedule */
} cnn_train_state;

/* The largest epoch count a run can have (the --epochs limit). */
#define CNN_MAX_EPOCHS 1000000

/* A hash of what makes two models the same network: name, input, tensors
 * (names, shapes, offsets), layers (kinds, shapes). 16 hex digits in out[17]. */
void cnn_model_arch_hash(const cnn_model *m, char out[17]);

/* Settings that must not change across a resume, as "key=value" lines
 * (seed, batch, optimizer, lr, ...): written by the trainer, compared on
 * resume with a message naming the first difference. */

/* Writes the checkpoint atomically, keeping the previous one as PATH.prev.
 * classes: the class names joined by '\n' (may be NULL). */
int cnn_checkpoint_save(const char *path, const cnn_model *m, const float *params,
                        const cnn_optim *o, const cnn_train_state *s, const char *settings,
                        uint64_t train_hash, uint64_t val_hash, const char *classes,
                        char *err, size_t errlen);

/* Loads a checkpoint into params, o and s (s->history malloc'ed) after
 * checking, in this order, that it is readable and intact (CRC), that it is
 * a cnnc checkpoint of this model (architecture hash), that the settings
 * are the same (all but the learning rate when lr_may_change), that the
 * training and validation data are the same, that the training state is in
 * range (epoch, best_epoch, wait, best_value, step against the optimizer's
 * iterations) and that every weight and optimizer value is finite.
 * Each refusal says which and what to do. Returns 0, or -1 with err set;
 * *corrupt is set to 1 when the file itself is unreadable, corrupt, out of
 * range or not finite (the caller may then try PATH.prev), 0 when it is
 * intact but refused. */
int cnn_checkpoint_load(const char *path, const cnn_model *m, float *params, cnn_optim *o,
                        cnn_train_state *s, const char *settings, int lr_may_change, uint64_t train_hash,
                        uint64_t val_hash, int *corrupt, char *err, size_t errlen);

/* 1 when a weight (params) or an optimizer value is NaN or infinite, with
 * the tensor's name in what; 0 when all are finite. cnn_checkpoint_save
 * refuses to write such a state. */
int cnn_checkpoint_nonfinite(const cnn_model *m, const float *params, const cnn_optim *o, char *what,
                             size_t n);

void cnn_train_state_free(cnn_train_state *s);

#endif
