/* cnn_class_weight.h: Keras's class_weight on the training loss.
 *
 * Each image's loss is multiplied by the weight of its class, and the batch
 * loss is the mean over the batch's images:
 *     loss = sum_i w[y_i] * l_i / n
 * as Keras's class_weight (a per-sample weight, then the "sum over batch
 * size" reduction): the weights are not normalised by their sum, as
 * PyTorch's CrossEntropyLoss(weight=w) would do (sum_i w[y_i] l_i /
 * sum_i w[y_i]). dL/dlogits is each image's unweighted gradient times its
 * weight. Validation losses and metrics are not weighted (Keras weights
 * only the training data it is given class_weight for). */
#ifndef CNN_CLASS_WEIGHT_H
#define CNN_CLASS_WEIGHT_H

#include <stddef.h>

#include "cnn_model.h"

/* "balanced": w[c] = n / (k * count[c]), scikit-learn's and Keras users'
 * formula, n the images of the k classes. A class with no image gets 0.
 * Returns the number of such classes. */
int cnn_class_weights_balanced(const int *count, int k, float *w);

/* The class-weighted mean loss of n images and its gradient (dlogits may be
 * NULL): m->loss for the gradient, scaled per image, and m->loss of each
 * image alone for the weighted sum. w holds a weight per class (labels
 * index it; a label outside [0, k) makes the loss NaN, as m->loss does). */
double cnn_class_weighted_loss(const cnn_model *m, const float *logits, const int *labels, float *dlogits, int n,
                               const float *w, int k);

#endif
