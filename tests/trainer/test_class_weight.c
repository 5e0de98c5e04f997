/* test_class_weight: Keras's class_weight on the loss (runtime/train/
 * class_weight.c) with the generated losses of a binary (gc_conv) and a
 * softmax (gc_frozen, 3 classes) network. Prints one JSON object per case
 * (logits, labels, weights, loss, dlogits) for class_weight_ref.py, which
 * recomputes them with PyTorch; checks the balanced weights here. */
#include <math.h>
#include <stdio.h>

#include "cnn_class_weight.h"
#include "cnn_rng.h"

extern const cnn_model gc_conv_model, gc_frozen_model;

static int failures;

static void one_case(const cnn_model *m, int n, const float *w, int k, uint64_t seed)
{
    float logits[64 * 3], dlogits[64 * 3];
    int labels[64];
    int per = m->n_outputs;
    for (int i = 0; i < n * per; i++)
        logits[i] = (float)(6.0 * cnn_rng_uniform(seed, 1, 0, (uint64_t)i) - 3.0);
    for (int i = 0; i < n; i++)
        labels[i] = (int)(cnn_rng_uniform(seed, 2, 0, (uint64_t)i) * k) % k;
    double loss = cnn_class_weighted_loss(m, logits, labels, dlogits, n, w, k);
    printf("{\"model\": \"%s\", \"outputs\": %d, \"loss\": %.17g, \"weights\": [", m->name, per, loss);
    for (int c = 0; c < k; c++)
        printf("%s%.9g", c ? ", " : "", (double)w[c]);
    printf("], \"labels\": [");
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? ", " : "", labels[i]);
    printf("], \"logits\": [");
    for (int i = 0; i < n * per; i++)
        printf("%s%.9g", i ? ", " : "", (double)logits[i]);
    printf("], \"dlogits\": [");
    for (int i = 0; i < n * per; i++)
        printf("%s%.9g", i ? ", " : "", (double)dlogits[i]);
    printf("]}\n");
    /* all weights 1: exactly the unweighted loss */
    float ones[3] = {1, 1, 1}, d2[64 * 3];
    double plain = m->loss(logits, labels, d2, n), same = cnn_class_weighted_loss(m, logits, labels, dlogits, n,
                                                                                     ones, k);
    if (fabs(plain - same) > 1e-12 * fabs(plain)) {
        fprintf(stderr, "weights of 1 change the loss: %.17g vs %.17g\n", same, plain);
        failures++;
    }
    for (int i = 0; i < n * per; i++)
        if (d2[i] != dlogits[i]) {
            fprintf(stderr, "weights of 1 change dlogits[%d]\n", i);
            failures++;
            break;
        }
}

int main(void)
{
    /* balanced: n / (k * count), scikit-learn's compute_class_weight("balanced") */
    int count[3] = {10, 30, 60}, one_empty[3] = {5, 0, 15};
    float w[3];
    cnn_class_weights_balanced(count, 3, w);
    if (fabsf(w[0] - 100.0f / 30) > 1e-6f || fabsf(w[1] - 100.0f / 90) > 1e-6f || fabsf(w[2] - 100.0f / 180) > 1e-6f) {
        fprintf(stderr, "balanced weights %g %g %g\n", (double)w[0], (double)w[1], (double)w[2]);
        failures++;
    }
    if (cnn_class_weights_balanced(one_empty, 3, w) != 1 || w[1] != 0.0f || fabsf(w[0] - 20.0f / 15) > 1e-6f) {
        fprintf(stderr, "a class without images: %g %g %g\n", (double)w[0], (double)w[1], (double)w[2]);
        failures++;
    }
    float wb[2] = {0.25f, 3.0f}, ws[3] = {2.0f, 0.5f, 1.25f};
    one_case(&gc_conv_model, 13, wb, 2, 7);
    one_case(&gc_conv_model, 1, wb, 2, 8);
    one_case(&gc_frozen_model, 17, ws, 3, 9);
    one_case(&gc_frozen_model, 5, ws, 3, 10);
    return failures ? 1 : 0;
}
