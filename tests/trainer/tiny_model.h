/* tiny_model.h: the hand-made descriptor of the checkpoint tests and the
 * checkpoint fuzzer: tensors in both memory layouts and a non-trainable
 * pair, no network functions (none are called). */
#ifndef TINY_MODEL_H
#define TINY_MODEL_H

#include <string.h>

#include "cnn_model.h"

/* conv 3 filters 2x2 over 2 channels (HWIO in memory), bias 3, dense 5 -> 4
 * ([in][out] in memory), bias 4, and a batchnorm-like non-trainable pair. */
static cnn_tensor_info tensors[] = {
    {"conv2d_1.weight", 4, {3, 2, 2, 2}, CNN_LAYOUT_HWIO, 0, 24, 8, 12, CNN_INIT_GLOROT_UNIFORM, 1, 0},
    {"conv2d_1.bias", 1, {3, 0, 0, 0}, CNN_LAYOUT_PLAIN, 24, 3, 0, 0, CNN_INIT_ZEROS, 1, 0},
    {"dense_1.weight", 2, {4, 5, 0, 0}, CNN_LAYOUT_IO, 27, 20, 5, 4, CNN_INIT_GLOROT_UNIFORM, 1, 0},
    {"dense_1.bias", 1, {4, 0, 0, 0}, CNN_LAYOUT_PLAIN, 47, 4, 0, 0, CNN_INIT_ZEROS, 1, 0},
    {"bn_1.running_mean", 1, {2, 0, 0, 0}, CNN_LAYOUT_PLAIN, 51, 2, 0, 0, CNN_INIT_ZEROS, 0, 0},
};
enum { NP = 53, NT = 51 };

static cnn_model make_model(const char *name)
{
    cnn_model m;
    memset(&m, 0, sizeof m);
    m.name = name;
    m.source = "test.cnn";
    m.source_hash = "0123456789abcdef";
    m.in_h = 3;
    m.in_w = 3;
    m.in_c = 2;
    m.n_outputs = 4;
    m.final_act = CNN_ACT_SOFTMAX;
    m.n_tensors = 5;
    m.tensors = tensors;
    m.n_params = NP;
    m.n_trainable = NT;
    return m;
}

#endif
