/* ir.h: the checked model, the only thing emitters and the summary see.
 *
 * check.c builds it from the AST: every name resolved, every default filled
 * in, every shape, padding, offset and parameter count computed. Emitters
 * never look at the AST and never re-derive a shape. The layer, tensor,
 * preprocessing and config types are the runtime's own (runtime/include/cnn_model.h),
 * so what the compiler checked is exactly what the generated descriptor says.
 *
 * The last layer's sigmoid or softmax (fused into dense/conv2d, or a
 * standalone activation layer) is `final_act`: the generated forward pass
 * stops before it and returns logits; the loss applies it stably.
 */
#ifndef CNNC_IR_H
#define CNNC_IR_H

#include "cnn_model.h"

#define CNNC_MAX_TENSORS (CNN_MAX_LAYERS * 4)

typedef struct cnnc_layer_cost {
    double forward_flops;   /* per image; a multiply-add is 2 */
    double backward_flops;  /* weight gradient, plus input gradient when a lower layer needs it */
    int needs_dinput;       /* 0 for the first layer: nothing below needs dL/dx */
    size_t act_floats;      /* floats of this layer's output per image */
} cnnc_layer_cost;

typedef struct cnnc_ir {
    char name[CNN_MAX_NAME];         /* `model NAME` */
    char source_base[CNN_MAX_PATH];  /* file name of the .cnn without directories */
    char source_hash[17];            /* FNV-1a 64 of the source text, 16 hex digits */

    int in_h, in_w, in_c;

    int n_layers;
    cnn_layer layers[CNN_MAX_LAYERS];     /* .name points into layer_names */
    char layer_names[CNN_MAX_LAYERS][CNN_MAX_NAME];
    cnnc_layer_cost cost[CNN_MAX_LAYERS];

    int n_tensors;
    cnn_tensor_info tensors[CNNC_MAX_TENSORS]; /* .name points into tensor_names */
    char tensor_names[CNNC_MAX_TENSORS][CNN_MAX_NAME + 16];
    size_t n_params, n_trainable;

    int n_outputs;          /* last layer's units: 1 (binary) or n classes */
    cnn_act final_act;      /* CNN_ACT_SIGMOID or CNN_ACT_SOFTMAX */

    int n_preprocess;
    cnn_prep_step preprocess[CNN_MAX_PREPROCESS];
    int crop_to_aspect_ratio;
    cnn_augment augment;

    cnn_config config;      /* .data/.validation/.init point into the buffers below or are NULL */
    char data[CNN_MAX_PATH];
    char validation[CNN_MAX_PATH];
    char init[CNN_MAX_PATH];
    double class_weights[CNN_MAX_CLASS_WEIGHTS]; /* config.class_weights points here */

    double forward_flops, train_flops; /* per image, summed over layers */
    size_t act_floats;                 /* per image, all layer outputs */
} cnnc_ir;

#endif
