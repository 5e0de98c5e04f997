/* cnn_dist_overlap.h: the gradient sum of a data-parallel training step
 * (cnn_dist.h) started while the backward pass still runs: the layers
 * nearest the output finish their gradients first, and their sum can go on
 * while the layers below compute (docs/distributed.md, "Overlap"). */
#ifndef CNN_DIST_OVERLAP_H
#define CNN_DIST_OVERLAP_H

#include "cnn_model.h"

/* Before the backward pass of a step with several processes: grads are the
 * gradients it adds into (m->n_trainable floats). */
void cnn_dist_overlap_begin(const cnn_model *m, float *grads);
/* The generated drivers' layer hook (cnn_model.h, cnn_layer_hook), from the
 * thread that runs the step: at the end of a layer's backward, the
 * gradients of that layer and those above it are final; once they reach a
 * bucket's size their sum starts, and every hook advances the sums in
 * flight. Does nothing outside begin .. end. */
void cnn_dist_overlap_hook(int layer, int pass, int end);
/* After the backward pass: sums the gradients whose sum did not start
 * early and completes the others. Every gradient is then the sum over the
 * processes, bit for bit cnn_dist_tree_sum's. */
void cnn_dist_overlap_end(void);

#endif
