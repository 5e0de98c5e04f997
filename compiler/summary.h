/* summary.h: `cnnc summary`, the Keras-style table plus what only a
 * compiler knows in advance (FLOPs, bytes, peak training memory). */
#ifndef CNNC_SUMMARY_H
#define CNNC_SUMMARY_H

#include <stdio.h>

#include "ir.h"

void print_summary(const cnnc_ir *ir, FILE *out);

/* Estimated peak training memory in bytes at `batch` images: parameters,
 * gradients, optimizer state, the input batch, every kept activation, and
 * two gradient buffers of the largest layer output. */
double summary_peak_training_bytes(const cnnc_ir *ir, int batch);

#endif
