/* metrics.c: loss, accuracy, precision, recall, ROC AUC (Keras's 200
 * thresholds), per-class accuracy and the confusion matrix. */
#include "cnn_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_words.h"

static double auc_threshold(int i)
{
    /* keras.metrics.AUC: [0 - eps] + [(i+1)/(T-1) for i in range(T-2)] + [1 + eps] */
    if (i == 0)
        return -1e-7;
    if (i == CNN_AUC_THRESHOLDS - 1)
        return 1.0 + 1e-7;
    return (double)i / (CNN_AUC_THRESHOLDS - 1);
}

int cnn_metrics_init(cnn_metrics *mt, int n_outputs, cnn_act final_act)
{
    memset(mt, 0, sizeof *mt);
    mt->binary = n_outputs == 1 && final_act == CNN_ACT_SIGMOID;
    mt->n_classes = mt->binary ? 2 : n_outputs;
    mt->confusion = calloc((size_t)mt->n_classes * (size_t)mt->n_classes, sizeof(long));
    return mt->confusion ? 0 : -1;
}

void cnn_metrics_free(cnn_metrics *mt)
{
    free(mt->confusion);
    mt->confusion = NULL;
}

void cnn_metrics_reset(cnn_metrics *mt)
{
    long *c = mt->confusion;
    int k = mt->n_classes, b = mt->binary;
    memset(mt, 0, sizeof *mt);
    mt->confusion = c;
    mt->n_classes = k;
    mt->binary = b;
    memset(c, 0, (size_t)k * (size_t)k * sizeof(long));
}

static double sigmoid(double z)
{
    /* Stable for large |z|. */
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

void cnn_probabilities(const float *logits, int n_outputs, cnn_act final_act, double *probs)
{
    if (n_outputs == 1 && final_act == CNN_ACT_SIGMOID) {
        double p = sigmoid(logits[0]);
        probs[0] = 1.0 - p;
        probs[1] = p;
        return;
    }
    double mx = logits[0];
    for (int k = 1; k < n_outputs; k++)
        if (logits[k] > mx)
            mx = logits[k];
    double s = 0;
    for (int k = 0; k < n_outputs; k++) {
        probs[k] = exp((double)logits[k] - mx);
        s += probs[k];
    }
    for (int k = 0; k < n_outputs; k++)
        probs[k] /= s;
}

int cnn_predicted_class(const float *logits, int n_outputs, cnn_act final_act)
{
    if (n_outputs == 1 && final_act == CNN_ACT_SIGMOID)
        return sigmoid(logits[0]) > 0.5;
    int best = 0;
    for (int k = 1; k < n_outputs; k++)
        if (logits[k] > logits[best])
            best = k;
    return best;
}

void cnn_metrics_add(cnn_metrics *mt, const float *logits, const int *labels, int n,
                     double mean_loss)
{
    int no = mt->binary ? 1 : mt->n_classes;
    cnn_act act = mt->binary ? CNN_ACT_SIGMOID : CNN_ACT_SOFTMAX;
    /* A NaN or infinite batch loss makes the mean NaN or infinite: it is
     * never dropped while its images are still counted (that would average
     * a diverged batch away, and read as the best loss ever). */
    mt->loss_sum += mean_loss * n;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * no;
        int y = labels[i];
        int pred = cnn_predicted_class(z, no, act);
        if (y < 0 || y >= mt->n_classes)
            continue; /* never happens with a checked dataset; do not index out of range */
        mt->correct += pred == y;
        mt->confusion[(size_t)y * mt->n_classes + pred]++;
        if (mt->binary) {
            double p = sigmoid(z[0]);
            if (y)
                mt->pos++;
            else
                mt->neg++;
            for (int t = 0; t < CNN_AUC_THRESHOLDS; t++) {
                if (p > auc_threshold(t)) {
                    if (y)
                        mt->tp[t]++;
                    else
                        mt->fp[t]++;
                }
            }
        }
    }
    mt->n += n;
}

double cnn_metrics_loss(const cnn_metrics *mt)
{
    return mt->n ? mt->loss_sum / (double)mt->n : NAN;
}

double cnn_metrics_accuracy(const cnn_metrics *mt)
{
    return mt->n ? (double)mt->correct / (double)mt->n : NAN;
}

/* Index of the 0.5 threshold among the AUC thresholds is not exact (99/199
 * and 100/199 straddle it), so precision and recall use the confusion matrix:
 * with two classes, predicted 1 means p > 0.5. */
double cnn_metrics_precision(const cnn_metrics *mt)
{
    if (!mt->binary)
        return NAN;
    long tp = mt->confusion[3], fp = mt->confusion[1];
    return tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
}

double cnn_metrics_recall(const cnn_metrics *mt)
{
    if (!mt->binary)
        return NAN;
    long tp = mt->confusion[3], fn = mt->confusion[2];
    return tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
}

double cnn_metrics_auc(const cnn_metrics *mt)
{
    if (!mt->binary)
        return NAN;
    /* ROC curve through the thresholds in increasing order: x = fp rate,
     * y = tp rate, both falling as the threshold rises; trapezoids as Keras. */
    double auc = 0.0;
    for (int t = 0; t + 1 < CNN_AUC_THRESHOLDS; t++) {
        double x0 = mt->neg ? (double)mt->fp[t] / (double)mt->neg : 0.0;
        double x1 = mt->neg ? (double)mt->fp[t + 1] / (double)mt->neg : 0.0;
        double y0 = mt->pos ? (double)mt->tp[t] / (double)mt->pos : 0.0;
        double y1 = mt->pos ? (double)mt->tp[t + 1] / (double)mt->pos : 0.0;
        auc += (x0 - x1) * (y0 + y1) / 2.0;
    }
    return auc;
}

double cnn_metrics_class_accuracy(const cnn_metrics *mt, int k)
{
    long row = 0;
    for (int j = 0; j < mt->n_classes; j++)
        row += mt->confusion[(size_t)k * mt->n_classes + j];
    return row ? (double)mt->confusion[(size_t)k * mt->n_classes + k] / (double)row : NAN;
}

int cnn_metrics_names(int metrics, const char **names)
{
    int n = 0;
    names[n++] = "loss";
    for (int i = 0; cnn_metric_words[i]; i++)
        if (metrics & (1 << i))
            names[n++] = cnn_metric_words[i];
    return n;
}

double cnn_metrics_value(const cnn_metrics *mt, const char *name)
{
    /* in cnn_metric_words' order */
    static double (*const value[])(const cnn_metrics *) = {cnn_metrics_accuracy, cnn_metrics_precision,
                                                           cnn_metrics_recall, cnn_metrics_auc};
    if (!strcmp(name, "loss"))
        return cnn_metrics_loss(mt);
    int i = cnn_word_index(cnn_metric_words, name);
    return i < 0 ? NAN : value[i](mt);
}

static int name_width(const cnn_metrics *mt, const char *const *names)
{
    int w = 5;
    for (int k = 0; k < mt->n_classes; k++) {
        int l = names && names[k] ? (int)strlen(names[k]) : 3;
        if (l > w)
            w = l;
    }
    return w > 24 ? 24 : w;
}

static void print_name(FILE *f, const char *const *names, int k, int w)
{
    if (names && names[k])
        fprintf(f, "%-*.*s", w, w, names[k]);
    else
        fprintf(f, "%-*d", w, k);
}

void cnn_metrics_print_report(FILE *f, const cnn_metrics *mt, const char *const *names, const char *what)
{
    int K = mt->n_classes, w = name_width(mt, names);
    if (what)
        fprintf(f, "Per-class accuracy on %s:\n", what);
    else
        fprintf(f, "Per-class accuracy:\n");
    for (int k = 0; k < K; k++) {
        long row = 0;
        for (int j = 0; j < K; j++)
            row += mt->confusion[(size_t)k * K + j];
        fprintf(f, "  ");
        print_name(f, names, k, w);
        double a = cnn_metrics_class_accuracy(mt, k);
        if (isnan(a))
            fprintf(f, "      -   (0 images)\n");
        else
            fprintf(f, "  %6.2f%%  (%ld of %ld)\n", 100.0 * a,
                    mt->confusion[(size_t)k * K + k], row);
    }
    /* Column width fits the largest count and the column label (class index). */
    long mx = 0;
    for (int i = 0; i < K * K; i++)
        if (mt->confusion[i] > mx)
            mx = mt->confusion[i];
    int cw = 1;
    for (long v = mx; v >= 10; v /= 10)
        cw++;
    if (cw < 3)
        cw = 3;
    if (what)
        fprintf(f, "Confusion matrix on %s (rows: true class, columns: predicted class):\n", what);
    else
        fprintf(f, "Confusion matrix (rows: true class, columns: predicted class):\n");
    fprintf(f, "  %*s    ", w, "");
    for (int j = 0; j < K; j++)
        fprintf(f, " %*d", cw, j);
    fprintf(f, "\n");
    for (int k = 0; k < K; k++) {
        fprintf(f, "  ");
        print_name(f, names, k, w);
        fprintf(f, " %2d:", k);
        for (int j = 0; j < K; j++)
            fprintf(f, " %*ld", cw, mt->confusion[(size_t)k * K + j]);
        fprintf(f, "\n");
    }
}
