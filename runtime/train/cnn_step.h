/* cnn_step.h: one training step on one batch, the same for `train`, `bench`
 * and the tests: zero the gradients, forward in training mode, the loss,
 * and when the loss is finite, backward and the optimizer.
 *
 * With fused != 0 and a model that has backward_update (cnn_model.h), the
 * tensors marked update_in_backward are updated inside the backward pass,
 * block by block while their gradient is in cache, and the optimizer then
 * updates the rest: the same parameters and optimizer state, bit for bit, as
 * fused == 0 (tested: trainer_step_fused). */
#ifndef CNN_STEP_H
#define CNN_STEP_H

#include <stdint.h>

#include "cnn_model.h"
#include "cnn_optim.h"

/* The chunks of the batch's sums (cnn_model.h, cnn_batch_part): at most
 * CNN_MAX_CHUNKS, and the processes of a run at most CNN_DIST_MAX. */
#define CNN_MAX_CHUNKS 64
#define CNN_DIST_MAX CNN_MAX_CHUNKS

/* The chunk count of a batch of `batch` images (the configured batch, so
 * that the short last batch of an epoch is cut the same way): the largest
 * power of two that divides it, at most CNN_MAX_CHUNKS. A data-parallel run
 * needs a power of two processes that divides it. */
int cnn_batch_chunks(int batch);

/* Process `rank` of `size`'s part of a batch of n images cut into `chunks`:
 * returns its chunk count (chunks / size) and writes their offsets (that
 * many + 1, relative to its first image) to chunk and its first image's
 * position in the batch to *first. Its images are [first, first + chunk[count]). */
int cnn_batch_split(int n, int chunks, int rank, int size, int *chunk, int *first);

/* With several processes (cnn_dist.h), each computes its part of the batch:
 * forward on its images, the whole batch's logits gathered, the loss of the
 * whole batch, backward on its images, the gradients summed over the
 * processes in the batch's tree; every process then makes the same update,
 * so the weights are those of one process, bit for bit.
 *
 * Returns the batch's mean loss. When it is not finite, nothing was
 * updated (the caller reports it); dlogits then holds its gradient. */
double cnn_train_step(const cnn_model *m, cnn_buffers *b, cnn_optim *o, const float *x, const int *labels,
                      float *logits, float *dlogits, int n, uint64_t seed, uint64_t step, int fused);

/* The same step with Keras's class_weight (cnn_class_weight.h): w holds a
 * weight per class for k classes; NULL is cnn_train_step. */
double cnn_train_step_weighted(const cnn_model *m, cnn_buffers *b, cnn_optim *o, const float *x, const int *labels,
                               float *logits, float *dlogits, int n, uint64_t seed, uint64_t step, int fused,
                               const float *w, int k);

/* The divergence check after a step with a finite loss: the first tensor
 * (cnn_nonfinite_tensor's order) holding a value that is NaN or infinite,
 * or -1. The optimizer checked every weight it wrote during the step
 * (cnn_optim_wrote_nonfinite), so only the parameters it does not update
 * (batchnorm running statistics, frozen layers) are scanned here; the whole
 * block only when something is found, to name the tensor. */
int cnn_step_nonfinite(const cnn_model *m, const cnn_buffers *b, const cnn_optim *o);

/* Keras's clipnorm: each trainable tensor's gradient in grads scaled by
 * clipnorm / max(||g||, clipnorm) (its L2 norm summed in double, in order).
 * cnn_train_step does it when the optimizer has clipnorm, and then never
 * fuses the update into the backward pass (cnn_optim_fusable). */
void cnn_clip_by_norm(const cnn_model *m, float *grads, double clipnorm);

/* Keras's global_clipnorm (torch.nn.utils.clip_grad_norm_ over all the
 * parameters, without its 1e-6): every trainable gradient scaled by
 * clipnorm / max(N, clipnorm), N the L2 norm of all of them together
 * (summed in double, tensor by tensor in order, each in element order).
 * Returns N. cnn_train_step does it when the optimizer has global_clipnorm,
 * and then never fuses the update into the backward pass. */
double cnn_clip_by_global_norm(const cnn_model *m, float *grads, double clipnorm);

/* The parameter ranges backward_update updates itself, sorted by offset,
 * at most `max` of them in r; returns how many there are (0 when the model
 * has no backward_update), which may exceed max. */
int cnn_fused_ranges(const cnn_model *m, cnn_range *r, int max);

#endif
