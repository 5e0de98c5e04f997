/* summary.h: `cnnc summary`: the Keras-style table, FLOPs, bytes and peak
 * training memory, printed as a trainer's `NAME summary` prints them
 * (runtime/core/cnn_summary.h). */
#ifndef CNNC_SUMMARY_H
#define CNNC_SUMMARY_H

#include <stdio.h>

#include "ir.h"

/* act_floats: the activations a trainer keeps per image for backward, as
 * its descriptor says (the plan's, compiler/c/plan.h: fused layers keep
 * fewer than the IR's sum of every layer output). */
void print_summary(const cnnc_ir *ir, size_t act_floats, FILE *out);

#endif
