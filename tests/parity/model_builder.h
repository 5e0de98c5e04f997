/* model_builder.h: hand-built cnn_model descriptors for tests of the
 * reference engine and of init, independent of the compiler's front end.
 * Shapes, TensorFlow 'same' padding, tensors, offsets and fans are computed
 * here the way docs/language.md defines them. The descriptor has no generated
 * functions (forward/backward/loss are NULL). */
#ifndef CNN_MODEL_BUILDER_H
#define CNN_MODEL_BUILDER_H

#include "cnn_model.h"

typedef struct tmodel {
    cnn_model m;
    cnn_layer layers[CNN_MAX_LAYERS];
    cnn_tensor_info tensors[CNN_MAX_LAYERS * 4];
    char names[CNN_MAX_LAYERS * 5][96];
    int n_names;
    int hwio;            /* memory layouts: HWIO/IO (1) or PyTorch order (0) */
    cnn_shape cur;       /* output shape of the last layer added */
} tmodel;

void tm_begin(tmodel *t, int h, int w, int c, int hwio);
void tm_conv(tmodel *t, int filters, int kh, int kw, int sh, int sw, int same, int bias, cnn_act act);
void tm_pool(tmodel *t, cnn_layer_kind kind, int kh, int kw, int sh, int sw);
void tm_gap(tmodel *t);
void tm_flatten(tmodel *t);
void tm_dense(tmodel *t, int units, int bias, cnn_act act);
void tm_dropout(tmodel *t, float rate);
void tm_batchnorm(tmodel *t, float momentum, float epsilon);
void tm_act(tmodel *t, cnn_act act, float alpha);
/* Lays out the parameter block (trainable tensors in layer order, then
 * running statistics) and sets n_outputs and final_act (from the last
 * layer's activation: sigmoid or softmax). Returns &t->m. */
const cnn_model *tm_end(tmodel *t);

#endif
