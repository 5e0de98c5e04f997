/* cnn_schedule.h: learning-rate schedules, one value per epoch (as
 * PyTorch's torch.optim.lr_scheduler stepped once an epoch). With lr the
 * optimizer's rate and e the 0-based epoch:
 *
 *   step     lr * factor^floor(e / every)                 (PyTorch StepLR)
 *   cosine   e < warmup:  lr * (e + 1) / warmup           (a linear warm-up that
 *                                                          reaches lr in its last epoch)
 *            then with t = e - warmup, T = decay_epochs:
 *            lr * (alpha + (1 - alpha) * (1 + cos(pi * min(t, T) / T)) / 2)
 *                                                         (Keras CosineDecay, PyTorch
 *                                                          CosineAnnealingLR with
 *                                                          eta_min = alpha * lr; it stays
 *                                                          at alpha * lr after T)
 *   plateau  Keras's ReduceLROnPlateau, at the end of each epoch on the
 *            monitored value v (losses minimised, accuracies maximised):
 *              if cooldown_left > 0: cooldown_left -= 1, wait = 0
 *              if v improves on best by more than min_delta: best = v, wait = 0
 *              else if cooldown_left == 0: wait += 1, and when wait >= patience
 *                and lr > min_lr: lr = max(lr * factor, min_lr),
 *                cooldown_left = cooldown, wait = 0
 *            The new rate applies from the next epoch.
 *
 * Rates are computed in double; the optimizer takes them per step. The
 * state that is not a function of the epoch (the plateau's lr, best, wait
 * and cooldown, the cosine's resolved decay_epochs) goes into the
 * checkpoint as text and is range-checked when read back. */
#ifndef CNN_SCHEDULE_H
#define CNN_SCHEDULE_H

#include <stddef.h>

#include "cnn_model.h"

typedef struct cnn_schedule {
    cnn_schedule_cfg cfg;
    double base_lr;
    int decay_epochs;       /* cosine: resolved (the run's epochs - warmup when cfg says 0), at least 1 */
    double lr;              /* plateau: the current rate */
    double best;            /* plateau */
    int wait, cooldown_left;
} cnn_schedule;

/* A fresh schedule for a run of `epochs` epochs at base rate lr. */
void cnn_schedule_init(cnn_schedule *s, const cnn_schedule_cfg *cfg, double lr, int epochs);
/* The rate of 0-based epoch e. */
double cnn_schedule_lr(const cnn_schedule *s, int e);
/* The end of an epoch with monitored value v (plateau only; others ignore
 * it). Returns 1 when the rate was reduced. */
int cnn_schedule_epoch_end(cnn_schedule *s, double v);
/* A new base rate (a resume after a divergence): the plateau restarts from it. */
void cnn_schedule_set_base(cnn_schedule *s, double lr);

/* "kind=... " text of the settings a resume must not change ("" for none). */
void cnn_schedule_settings(const cnn_schedule_cfg *cfg, char *buf, size_t n);
/* The state as checkpoint metadata text, and back: restore checks every
 * field's range (rates finite in (0, 10], wait and cooldown within their
 * settings, best a number or the infinity of a fresh state) and returns 0,
 * or -1 with a message naming the field. */
void cnn_schedule_state(const cnn_schedule *s, char *buf, size_t n);
int cnn_schedule_restore(cnn_schedule *s, const char *text, char *err, size_t errlen);
/* "step decay every 10 epochs by 0.5" and the like, for the run line ("" for none). */
void cnn_schedule_describe(const cnn_schedule_cfg *cfg, char *buf, size_t n);
/* A kind with Keras's (and the language's) defaults: step every 1 epoch,
 * factor 0.1; cosine over the rest of the run, no warm-up, alpha 0;
 * plateau on val_loss, factor 0.1, patience 10, min_delta 1e-4. */
cnn_schedule_cfg cnn_schedule_defaults(cnn_schedule_kind kind);
/* Checks a configuration (the language's ranges); NULL when valid. */
const char *cnn_schedule_check(const cnn_schedule_cfg *cfg);
/* Whether the monitored value is an accuracy (maximised). */
int cnn_schedule_maximizes(cnn_monitor m);

#endif
