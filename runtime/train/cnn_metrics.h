/* cnn_metrics.h: loss and classification metrics over an epoch or a
 * dataset, accumulated batch by batch in a fixed order (so the result never
 * depends on the thread count).
 *
 * Definitions follow Keras 3:
 *   accuracy   binary: sigmoid(logit) > 0.5 agrees with the label;
 *              softmax: the first arg-max of the logits equals the label.
 *   precision  tp / (tp + fp) at threshold 0.5 (binary models), 0 if none.
 *   recall     tp / (tp + fn) at threshold 0.5, 0 if none.
 *   auc        ROC AUC over 200 thresholds {-1e-7, 1/199, ..., 198/199,
 *              1+1e-7}, a prediction counting as positive when p > threshold,
 *              trapezoidal ("interpolation") summation, as keras.metrics.AUC().
 *   loss       the mean over images of the model's loss (batch means weighted
 *              by batch size, as Keras's loss tracker).
 * Per-class accuracy is the fraction of class-k images predicted as k
 * (the diagonal of the confusion matrix over its row); rows of the confusion
 * matrix are true classes, columns predicted classes.
 */
#ifndef CNN_METRICS_H
#define CNN_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "cnn_model.h"

#define CNN_AUC_THRESHOLDS 200

typedef struct cnn_metrics {
    int n_classes;      /* 2 for a binary (one sigmoid unit) model */
    int binary;
    double loss_sum;    /* sum over batches of mean loss * batch size */
    long n;             /* images */
    long correct;
    long *confusion;    /* n_classes x n_classes, [true][predicted] */
    long tp[CNN_AUC_THRESHOLDS], fp[CNN_AUC_THRESHOLDS];
    long pos, neg;      /* binary: images with label 1 / 0 */
} cnn_metrics;

/* n_outputs and final_act as in the model (1 + sigmoid: binary). Returns 0,
 * or -1 when out of memory. */
int cnn_metrics_init(cnn_metrics *mt, int n_outputs, cnn_act final_act);
void cnn_metrics_free(cnn_metrics *mt);
void cnn_metrics_reset(cnn_metrics *mt);

/* Adds a batch: n images' logits (n x n_outputs), labels, and the batch's
 * mean loss (pass NAN to leave the loss out). */
void cnn_metrics_add(cnn_metrics *mt, const float *logits, const int *labels, int n,
                     double mean_loss);

/* Probabilities of an image's classes from its logits: binary models give
 * two values {1-p, p}, softmax models n_outputs. probs needs n_classes. */
void cnn_probabilities(const float *logits, int n_outputs, cnn_act final_act, double *probs);
/* The predicted class of one image (binary: p > 0.5; softmax: first arg-max). */
int cnn_predicted_class(const float *logits, int n_outputs, cnn_act final_act);

double cnn_metrics_loss(const cnn_metrics *mt);
double cnn_metrics_accuracy(const cnn_metrics *mt);
double cnn_metrics_precision(const cnn_metrics *mt);
double cnn_metrics_recall(const cnn_metrics *mt);
double cnn_metrics_auc(const cnn_metrics *mt);
double cnn_metrics_class_accuracy(const cnn_metrics *mt, int k); /* NAN when no image of k */

/* The selected metrics (CNN_METRIC_* bits) in history order, with Keras names:
 * loss, accuracy, precision, recall, auc. Returns the count (<= 5). */
int cnn_metrics_names(int metrics, const char **names);
/* The value of a named metric ("loss", "accuracy", ...). */
double cnn_metrics_value(const cnn_metrics *mt, const char *name);

/* Per-class accuracy and the confusion matrix as aligned text tables. `what`
 * names the data they were computed on ("validation", a path) in both
 * headings; NULL leaves it out. */
void cnn_metrics_print_report(FILE *f, const cnn_metrics *mt, const char *const *class_names,
                              const char *what);

#endif
