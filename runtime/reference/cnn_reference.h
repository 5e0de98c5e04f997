/* cnn_reference.h: the generic reference engine.
 *
 * Runs any cnn_model's layer table (model->layers, model->tensors) with
 * shapes read at run time: forward pass, loss, backward pass. It never calls
 * the model's generated forward/backward/loss; it only reads the
 * descriptor. It is the correctness oracle of the tests (generated code and
 * the PyTorch twin are compared with it) and the "generic engine" baseline of
 * the benchmarks: a plain, single-threaded loop nest per layer, written to be
 * obviously right rather than fast (but not deliberately slow).
 *
 * Everything is in cnn_real, so a translation unit compiled with
 * -DCNN_REAL=double gives a double-precision oracle (gradient checks).
 *
 * Semantics (the same as the generated code must implement; see
 * docs/testing.md):
 *   - Tensors are NHWC per image, batch outermost; flatten is a no-op copy.
 *   - The forward pass returns logits: the last layer's activation is skipped
 *     when it is the model's final_act (sigmoid or softmax); the loss applies
 *     it stably from the logits.
 *   - conv2d: TensorFlow padding from the layer's pad_* fields; weights read
 *     through cnn_tensor_info.layout (HWIO or OIHW), biases when .bias.
 *   - maxpool/avgpool: valid windows; the max-pool gradient goes to the
 *     first maximum in row-major window order (strict >).
 *   - relu'(0) = 0; leaky_relu: z > 0 ? z : alpha*z; softmax over channels.
 *   - dropout (training only): element e of image i of layer L (0-based
 *     index in model->layers) is kept when
 *       cnn_rng_uniform(seed, CNN_RNG_DROPOUT, step*64 + L,
 *                       (uint64_t)i * size + e) >= rate
 *     where size = h*w*c of the layer's output and e its NHWC index; kept
 *     values are multiplied by 1/(1-rate) (Keras: keep where u >= rate).
 *   - batchnorm, training: per channel mean and BIASED variance over batch,
 *     height and width (Keras); y = gamma*(x-mean)/sqrt(var+eps) + beta;
 *     running = momentum*running + (1-momentum)*batch stat (biased var, as
 *     Keras). Inference: running statistics.
 *   - loss: mean over the batch; binary cross-entropy from one logit
 *     (labels 0/1), categorical cross-entropy from n_outputs logits (labels
 *     are class indices).
 */
#ifndef CNN_REFERENCE_H
#define CNN_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_model.h"

typedef struct cnn_ref cnn_ref;

/* An engine for up to batch_cap images of model m (which must outlive it).
 * Returns NULL with a message in err (if err != NULL) when the layer table
 * is inconsistent (shapes that do not chain, bad tensors) or memory runs out. */
cnn_ref *cnn_ref_create(const cnn_model *m, int batch_cap, char *err, size_t errlen);
void cnn_ref_free(cnn_ref *r);

/* Forward pass on n <= batch_cap images x (n x in_h x in_w x in_c, NHWC).
 * Writes logits (n x m->n_outputs). training != 0: dropout masks from
 * (seed, step) and batch statistics in batchnorm, whose running statistics
 * are updated in params. Keeps what backward needs inside r. */
void cnn_ref_forward(cnn_ref *r, cnn_real *params, const cnn_real *x, cnn_real *logits,
                     int n, int training, uint64_t seed, uint64_t step);

/* Backward pass after a forward pass on the same x and params: dlogits is
 * dLoss/dlogits (n x n_outputs). Parameter gradients are ADDED into grads
 * (laid out like params; running statistics get nothing). dx (may be NULL)
 * receives dLoss/dx, the gradient with respect to the input images
 * (overwritten, n x in_h x in_w x in_c). n must equal the forward's n. */
void cnn_ref_backward(cnn_ref *r, const cnn_real *params, const cnn_real *x,
                      const cnn_real *dlogits, cnn_real *grads, cnn_real *dx, int n);

/* Mean loss over n images from logits (model's final_act decides binary or
 * categorical), and dLoss/dlogits when dlogits != NULL. Computed in double,
 * numerically stable (log-sum-exp / softplus). */
double cnn_ref_loss(const cnn_model *m, const cnn_real *logits, const int *labels,
                    cnn_real *dlogits, int n);

/* The output of layer i (0-based) of the last forward pass, n x size
 * (NHWC per image). For the last layer this is the logits (before final_act).
 * For tests and debugging. */
const cnn_real *cnn_ref_layer_output(const cnn_ref *r, int i);

/* Floats of one image's tensor of shape s. */
size_t cnn_ref_shape_size(cnn_shape s);

#endif
