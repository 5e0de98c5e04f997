/* gradcheck_util.h: finite-difference checks of the reference engine
 * (compiled in double). Central differences of the mean loss with step h;
 * a coordinate where the left and right one-sided slopes disagree sits on a
 * kink (relu at 0, a max-pool tie) and is skipped and counted. */
#ifndef CNN_GRADCHECK_UTIL_H
#define CNN_GRADCHECK_UTIL_H

#include <stdint.h>

#include "cnn_model.h"

typedef struct gc_result {
    int checked, skipped, failed;
    double worst; /* largest |analytic - numeric| / (max(|a|,|n|) + floor) */
} gc_result;

/* Checks every trainable tensor (up to max_per_tensor sampled coordinates
 * each) and the input gradient, on n random images, in training (batch
 * statistics, dropout) or inference mode. Prints failures. */
gc_result gradcheck_model(const cnn_model *m, int n, int training, uint64_t seed, int max_per_tensor);

#endif
