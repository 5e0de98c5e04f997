/* test_metrics.c: accuracy, precision, recall, AUC (Keras's 200
 * thresholds), per-class accuracy and the confusion matrix on small cases
 * worked out by hand. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cnn_metrics.h"

static int failures;

static void close_to(const char *what, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol)) {
        printf("FAIL %s: got %.9g, want %.9g\n", what, got, want);
        failures++;
    }
}

static float logit(double p) { return (float)log(p / (1 - p)); }

static void test_binary(void)
{
    /* probabilities and labels:
     *   p:   0.9 0.8 0.3 0.6 0.2 0.1 0.7 0.4
     *   y:   1   1   1   0   0   0   1   0
     * predicted (p > 0.5): 1 1 0 1 0 0 1 0
     * tp = 3 (0.9, 0.8, 0.7), fn = 1 (0.3), fp = 1 (0.6), tn = 3
     * accuracy 6/8, precision 3/4, recall 3/4.
     * ROC AUC: pairs (pos, neg) ranked correctly: positives 0.9 0.8 0.7 0.3,
     * negatives 0.6 0.4 0.2 0.1: 0.9,0.8,0.7 beat all 4 (12), 0.3 beats 0.2,0.1
     * (2): 14/16 = 0.875 (no ties, and the 200 thresholds separate every pair,
     * so Keras's interpolated AUC equals the exact one). */
    double p[8] = {0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.7, 0.4};
    int y[8] = {1, 1, 1, 0, 0, 0, 1, 0};
    float z[8];
    for (int i = 0; i < 8; i++)
        z[i] = logit(p[i]);
    cnn_metrics mt;
    cnn_metrics_init(&mt, 1, CNN_ACT_SIGMOID);
    /* two batches, mean losses 0.5 (5 images) and 0.2 (3 images) */
    cnn_metrics_add(&mt, z, y, 5, 0.5);
    cnn_metrics_add(&mt, z + 5, y + 5, 3, 0.2);
    close_to("loss (weighted by batch size)", cnn_metrics_loss(&mt), (0.5 * 5 + 0.2 * 3) / 8, 1e-12);
    close_to("binary accuracy", cnn_metrics_accuracy(&mt), 0.75, 1e-12);
    close_to("precision", cnn_metrics_precision(&mt), 0.75, 1e-12);
    close_to("recall", cnn_metrics_recall(&mt), 0.75, 1e-12);
    close_to("auc", cnn_metrics_auc(&mt), 0.875, 1e-9);
    close_to("class 0 accuracy", cnn_metrics_class_accuracy(&mt, 0), 0.75, 1e-12);
    close_to("class 1 accuracy", cnn_metrics_class_accuracy(&mt, 1), 0.75, 1e-12);
    long want[4] = {3, 1, 1, 3};
    for (int i = 0; i < 4; i++)
        if (mt.confusion[i] != want[i]) {
            printf("FAIL binary confusion[%d] = %ld, want %ld\n", i, mt.confusion[i], want[i]);
            failures++;
        }
    close_to("value(auc)", cnn_metrics_value(&mt, "auc"), 0.875, 1e-9);

    /* Ties inside one threshold bucket: Keras interpolates. All positives at
     * 0.7, all negatives at 0.7 too: the ROC goes straight from (1,1) to
     * (0,0): AUC 0.5. */
    cnn_metrics_reset(&mt);
    float t[4] = {logit(0.7), logit(0.7), logit(0.7), logit(0.7)};
    int ty[4] = {1, 0, 1, 0};
    cnn_metrics_add(&mt, t, ty, 4, NAN);
    close_to("auc with ties", cnn_metrics_auc(&mt), 0.5, 1e-9);
    close_to("precision with ties", cnn_metrics_precision(&mt), 0.5, 1e-12);
    if (!isnan(cnn_metrics_loss(&mt)) && mt.loss_sum != 0) {
        printf("FAIL NAN loss was accumulated\n");
        failures++;
    }
    /* A NaN or infinite batch loss is never averaged away: one good batch
     * then a NaN one is NaN, then an infinite one is infinite. */
    cnn_metrics_reset(&mt);
    cnn_metrics_add(&mt, t, ty, 4, 0.25);
    cnn_metrics_add(&mt, t, ty, 4, NAN);
    if (!isnan(cnn_metrics_loss(&mt))) {
        printf("FAIL a NaN batch loss was dropped from the mean: %g\n", cnn_metrics_loss(&mt));
        failures++;
    }
    cnn_metrics_reset(&mt);
    cnn_metrics_add(&mt, t, ty, 4, 0.25);
    cnn_metrics_add(&mt, t, ty, 4, INFINITY);
    if (!isinf(cnn_metrics_loss(&mt))) {
        printf("FAIL an infinite batch loss was dropped from the mean: %g\n", cnn_metrics_loss(&mt));
        failures++;
    }
    /* No positive predictions: precision 0 (Keras's divide_no_nan). */
    cnn_metrics_reset(&mt);
    float lo[2] = {logit(0.1), logit(0.2)};
    int ly[2] = {1, 0};
    cnn_metrics_add(&mt, lo, ly, 2, 0.1);
    close_to("precision without positives", cnn_metrics_precision(&mt), 0.0, 0);
    close_to("recall", cnn_metrics_recall(&mt), 0.0, 0);
    close_to("auc", cnn_metrics_auc(&mt), 0.0, 1e-9);
    cnn_metrics_free(&mt);
}

static void test_categorical(void)
{
    /* 3 classes, 6 images; logits' arg-max: 0, 1, 2, 2, 0, 1 (the 5th has a
     * tie between 0 and 2: the first wins); labels 0, 1, 2, 1, 2, 1. */
    float z[6][3] = {{3, 1, 0}, {0, 2, 1}, {0, 0, 5}, {1, 2, 3}, {4, 0, 4}, {-1, 0, -2}};
    int y[6] = {0, 1, 2, 1, 2, 1};
    cnn_metrics mt;
    cnn_metrics_init(&mt, 3, CNN_ACT_SOFTMAX);
    cnn_metrics_add(&mt, &z[0][0], y, 6, 1.0);
    close_to("categorical accuracy", cnn_metrics_accuracy(&mt), 4.0 / 6, 1e-12);
    close_to("class 0", cnn_metrics_class_accuracy(&mt, 0), 1.0, 0);
    close_to("class 1", cnn_metrics_class_accuracy(&mt, 1), 2.0 / 3, 1e-12);
    close_to("class 2", cnn_metrics_class_accuracy(&mt, 2), 0.5, 0);
    long want[9] = {1, 0, 0, 0, 2, 1, 1, 0, 1};
    for (int i = 0; i < 9; i++)
        if (mt.confusion[i] != want[i]) {
            printf("FAIL confusion[%d] = %ld, want %ld\n", i, mt.confusion[i], want[i]);
            failures++;
        }
    if (!isnan(cnn_metrics_auc(&mt))) {
        printf("FAIL auc defined for a softmax model\n");
        failures++;
    }
    double probs[3];
    cnn_probabilities(z[0], 3, CNN_ACT_SOFTMAX, probs);
    double e = exp(3) + exp(1) + exp(0);
    close_to("softmax p0", probs[0], exp(3) / e, 1e-12);
    close_to("softmax p2", probs[2], 1 / e, 1e-12);
    float big[2] = {1000.0f, 999.0f};
    cnn_probabilities(big, 2, CNN_ACT_SOFTMAX, probs);
    close_to("stable softmax", probs[0], 1 / (1 + exp(-1)), 1e-12);
    float b1 = -800.0f;
    cnn_probabilities(&b1, 1, CNN_ACT_SIGMOID, probs);
    close_to("stable sigmoid", probs[1], 0.0, 1e-300);
    const char *names[8];
    int n = cnn_metrics_names(CNN_METRIC_ACCURACY | CNN_METRIC_AUC, names);
    if (n != 3 || strcmp(names[0], "loss") || strcmp(names[1], "accuracy") || strcmp(names[2], "auc")) {
        printf("FAIL metric names\n");
        failures++;
    }
    const char *cls[3] = {"cat", "dog", "bird"};
    char buf[4096];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    cnn_metrics_print_report(f, &mt, cls, "the test set");
    fclose(f);
    /* both headings name the data evaluated (never "training" for a test set) */
    if (!strstr(buf, "dog") || !strstr(buf, "66.67%") || !strstr(buf, "Per-class accuracy on the test set:") ||
        !strstr(buf, "Confusion matrix on the test set (") || strstr(buf, "training")) {
        printf("FAIL report:\n%s\n", buf);
        failures++;
    }
    cnn_metrics_free(&mt);
}

int main(void)
{
    test_binary();
    test_categorical();
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("metrics tests passed\n");
    return 0;
}
