/* class_weight.c: Keras's class_weight on the training loss (see
 * cnn_class_weight.h). */
#include "cnn_class_weight.h"

#include <math.h>

int cnn_class_weights_balanced(const int *count, int k, float *w)
{
    long n = 0;
    int empty = 0;
    for (int c = 0; c < k; c++)
        n += count[c];
    for (int c = 0; c < k; c++) {
        w[c] = count[c] > 0 ? (float)((double)n / ((double)k * (double)count[c])) : 0.0f;
        empty += count[c] == 0;
    }
    return empty;
}

double cnn_class_weighted_loss(const cnn_model *m, const float *logits, const int *labels, float *dlogits, int n,
                               const float *w, int k)
{
    if (n <= 0)
        return 0;
    int per = m->n_outputs;
    double mean = m->loss(logits, labels, dlogits, n); /* the unweighted gradient, (p - y) / n per image */
    if (!isfinite(mean))
        return mean;
    double total = 0;
    for (int i = 0; i < n; i++) {
        int y = labels[i];
        if (y < 0 || y >= k)
            return NAN;
        float wi = w[y];
        /* the image's own loss, by the same arithmetic as the batch's */
        total += (double)wi * m->loss(logits + (size_t)i * per, labels + i, NULL, 1);
        if (dlogits)
            for (int j = 0; j < per; j++)
                dlogits[(size_t)i * per + j] *= wi;
    }
    return total / n;
}
