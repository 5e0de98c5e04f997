/* cnn_optim.h: optimizers over one flat parameter array.
 *
 * An optimizer knows nothing about layers: it updates params[0, n) from
 * grads[0, n) (the trainable prefix of the parameter block, see
 * cnn_model.h). Update rules and defaults are Keras 3's:
 *
 *   Adam     t = iterations + 1
 *            alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
 *            m += (g - m) * (1 - beta1);  v += (g*g - v) * (1 - beta2)
 *            p -= alpha * m / (sqrt(v) + epsilon)      ("epsilon hat": epsilon
 *            is added to sqrt(v) unscaled, inside the bias-corrected step,
 *            so it differs from PyTorch's eps by a factor sqrt(1 - beta2^t))
 *   SGD      momentum == 0:  p -= lr * g
 *            otherwise:      m = momentum * m - lr * g
 *                            p += m                      (plain)
 *                            p += momentum * m - lr * g  (nesterov)
 *   RMSprop  v = rho * v + (1 - rho) * g*g
 *            p -= lr * g / sqrt(v + epsilon)            (epsilon inside the sqrt)
 *   AdamW    Adam with weight_decay 0.004 by default (Keras 3's AdamW)
 *
 * Before the rule, in Keras 3's order (BaseOptimizer._backend_apply_gradients):
 *   clipping  clipvalue: g = clip(g, -clipvalue, clipvalue) per element;
 *             clipnorm: each tensor's g *= clipnorm / max(||g||, clipnorm)
 *             (per tensor, as Keras's clipnorm; done by the training step,
 *             which knows the tensors: cnn_clip_by_norm, cnn_step.h);
 *             global_clipnorm: every g *= global_clipnorm / max(N, global_clipnorm),
 *             N the L2 norm of all the trainable gradients together
 *             (Keras's global_clipnorm, torch.nn.utils.clip_grad_norm_;
 *             cnn_clip_by_global_norm). One of the three at most.
 *   decay     p -= p * (lr * weight_decay)         (decoupled, every optimizer,
 *             this step's lr: Keras 3's weight_decay, PyTorch's AdamW)
 *
 * Arithmetic is float per element (as Keras and PyTorch do in float32);
 * scalar coefficients are computed in double once per step. Each element is
 * updated independently, so results never depend on the thread count.
 *
 * State ("slots") is one or two float arrays of n floats each plus an
 * iteration counter; checkpoints save and restore them through the
 * accessors below. Slot names are stable (they are checkpoint keys):
 *   Adam "m", "v"; SGD with momentum "momentum"; RMSprop "velocity".
 */
#ifndef CNN_OPTIM_H
#define CNN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_model.h"

typedef struct cnn_optim cnn_optim;

/* A new optimizer for n parameters with all state zero; NULL when out of
 * memory or cfg is invalid (lr <= 0, beta outside [0,1), ...). The
 * configuration is copied. */
cnn_optim *cnn_optim_create(const cnn_optimizer *cfg, size_t n);
void cnn_optim_free(cnn_optim *o);

/* One update of params[0, n) from grads[0, n); increments iterations. */
void cnn_optim_step(cnn_optim *o, float *params, const float *grads);

/* A step in pieces, for a backward pass that updates some tensors itself
 * while their gradient is in cache (cnn_model.backward_update):
 *   cnn_optim_begin(o);                        coefficients of this step
 *   cnn_optim_update(o, params, off, k, g);    from any thread, any number of
 *                                              disjoint ranges; g holds k floats
 *   cnn_optim_step_except(o, params, grads, skip, n_skip);
 *                                              every other range, then
 *                                              iterations + 1
 * Each element gets exactly the arithmetic of cnn_optim_step, so a step in
 * pieces equals a whole one bit for bit. cnn_optim_update does nothing
 * before cnn_optim_begin or outside [0, n). step_except returns -1 (and
 * changes nothing) unless the skipped ranges are sorted, disjoint, inside
 * [0, n) and at most CNN_OPTIM_MAX_SKIP. */
typedef struct cnn_range {
    size_t offset, count;
} cnn_range;
#define CNN_OPTIM_MAX_SKIP 64
void cnn_optim_begin(cnn_optim *o);
void cnn_optim_update(cnn_optim *o, float *params, size_t offset, size_t count, const float *grad);
int cnn_optim_step_except(cnn_optim *o, float *params, const float *grads, const cnn_range *skip, int n_skip);

/* Whether the last step (its pieces included, since cnn_optim_begin) wrote
 * a weight that is NaN or infinite: every weight the optimizer updates is
 * checked as it is written, so a caller that checks the weights after each
 * step needs to scan only those the optimizer does not update. */
int cnn_optim_wrote_nonfinite(const cnn_optim *o);

/* Keras's defaults for an optimizer kind (lr included). */
cnn_optimizer cnn_optim_defaults(cnn_optimizer_kind kind);
/* "adam", "sgd", "rmsprop" */
const char *cnn_optim_kind_name(cnn_optimizer_kind kind);
/* Checks a configuration; returns NULL when valid, else a static message. */
const char *cnn_optim_check(const cnn_optimizer *cfg);

/* The configuration in use (a copy owned by o) and the learning rate. */
const cnn_optimizer *cnn_optim_config(const cnn_optim *o);
/* Whether some tensors may be updated inside the backward pass
 * (cnn_model.backward_update): not with clipnorm, which needs a tensor's
 * whole gradient before its update, nor global_clipnorm, which needs every
 * gradient. The one place this is decided. */
int cnn_optim_fusable(const cnn_optim *o);
void cnn_optim_set_lr(cnn_optim *o, double lr);

size_t cnn_optim_size(const cnn_optim *o);          /* n */
uint64_t cnn_optim_iterations(const cnn_optim *o);  /* steps taken */
void cnn_optim_set_iterations(cnn_optim *o, uint64_t it);
int cnn_optim_n_slots(const cnn_optim *o);          /* 0, 1 or 2 */
const char *cnn_optim_slot_name(const cnn_optim *o, int i);
float *cnn_optim_slot(cnn_optim *o, int i);         /* n floats */
const float *cnn_optim_slot_const(const cnn_optim *o, int i);
/* Zero every slot and the iteration counter. */
void cnn_optim_reset(cnn_optim *o);

#endif
