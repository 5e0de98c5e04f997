/* check_impl.h: the checker's state and its passes, shared by the driver
 * (check.c), the block checkers (check_layers.c, check_images.c,
 * check_train.c, on statements.c) and shape inference (shapes.c). Internal
 * to the front end. */
#ifndef CNNC_CHECK_IMPL_H
#define CNNC_CHECK_IMPL_H

#include "ast.h"
#include "diag.h"
#include "ir.h"

/* ---- checker state -------------------------------------------------------- */

typedef struct pending_layer {
    const ast_stmt *st;
    int kind_index;     /* its statement among the layer statements: names count per kind */
    cnn_layer L;        /* settings; shapes are filled by infer_shapes */
    cnnc_loc act_loc;   /* where the activation was written (for head errors) */
} pending_layer;

typedef struct checker {
    cnnc_diag *d;
    cnnc_ir *ir;
    pending_layer layers[CNN_MAX_LAYERS];
    int n_layers;
    int have_input;
    cnnc_loc input_loc;
    int loss_given;
    cnnc_loc loss_loc;
    int metrics_given;
    cnnc_loc metrics_loc, layers_loc;
    cnnc_loc schedule_loc;       /* the learning-rate schedule statement */
    cnnc_loc class_weight_loc;
    const char *schedule_name;
    int split_given;
    cnnc_loc validation_loc, split_loc;
} checker;

/* Pass 2, the layers block: one layer statement checked and, when valid,
 * recorded in c->layers (check_layers.c). */
void check_layer_stmt(checker *c, const ast_stmt *st);

/* The preprocess and augment blocks, into the IR (check_images.c). */
void check_preprocess(checker *c, const ast_stmt *block);
void check_augment(checker *c, const ast_stmt *block);

/* The train block, into ir->config (check_train.c). */
void check_train(checker *c, const ast_stmt *block);

/* Pass 3: every layer's input and output shapes, padding, parameter tensors
 * and costs, from the input and the recorded layers (shapes.c). */
void infer_shapes(checker *c);

/* The head: the last layer's activation against the loss and metrics. */
void check_head(checker *c);

#endif
