/* cnn_summary.h: the Keras-style model summary, printed from a model
 * descriptor by both `cnnc summary` (from a descriptor view of its IR) and
 * a trainer's `NAME summary` (from its own), so that the two agree to the
 * character. libc only: cnnc compiles it too. */
#ifndef CNN_SUMMARY_H
#define CNN_SUMMARY_H

#include <stdio.h>

#include "cnn_model.h"

/* The table (layers, output shapes, parameters, forward FLOPs), the totals
 * with their bytes, FLOPs per image, activation and parameter bytes, the
 * estimated peak training memory, the preprocessing and augmentation, and
 * the train block with its defaults. */
void cnn_summary_print(FILE *out, const cnn_model *m);

/* Estimated peak training memory in bytes at `batch` images: parameters,
 * gradients, optimizer state, the input batch, every kept activation, and
 * two gradient buffers of the largest layer output. */
double cnn_summary_peak_training_bytes(const cnn_model *m, int batch);

#endif
