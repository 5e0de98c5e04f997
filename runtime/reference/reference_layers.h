/* reference_layers.h: the reference engine's arithmetic, one function per
 * layer kind and direction (reference_layers.c), and what forward keeps of
 * each layer for backward. Only reference.c, which checks the layer table,
 * owns the buffers and calls these in layer order, includes it.
 *
 * Tensors are NHWC per image, n images, batch outermost; shapes come from
 * the cnn_layer; weights are read through their cnn_tensor_info.layout.
 * Sums are accumulated in double; acc is scratch for one output pixel's or
 * vector's sums (as many doubles as the widest layer has channels or units).
 * Backward: dy is dLoss/d(pre-activation), the layer's activation already
 * undone by cnn_ref_act_backward; parameter gradients are ADDED into grads
 * (doubles laid out like params); dx, dLoss/d(layer input), is overwritten,
 * and is NULL when nothing below needs it. */
#ifndef CNN_REFERENCE_LAYERS_H
#define CNN_REFERENCE_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_model.h"

typedef struct cnn_ref_layer {
    size_t in_size, out_size;  /* floats per image */
    cnn_act act;               /* activation applied in forward (LINEAR if skipped) */
    cnn_real *out;             /* batch_cap * out_size */
    cnn_real *pre;             /* pre-activation (conv2d/dense with a non-linear act), else NULL */
    cnn_real *mask;            /* dropout: 0 or 1/(1-rate) per element */
    cnn_real *mean, *inv_std;  /* batchnorm: per channel */
    int bn_batch_stats;        /* batchnorm: forward used batch statistics */
} cnn_ref_layer;

/* Applies act in place over `vectors` vectors of c channels. */
void cnn_ref_act_forward(cnn_act act, float alpha, cnn_real *v, size_t vectors, int c);
/* dz = dy * act'(z), from the pre-activation z and the output y; dz may
 * alias dy. */
void cnn_ref_act_backward(cnn_act act, float alpha, const cnn_real *z, const cnn_real *y, const cnn_real *dy,
                          cnn_real *dz, size_t vectors, int c);

void cnn_ref_conv_forward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
                          cnn_real *y, int n, double *acc);
/* maxpool and avgpool */
void cnn_ref_pool_forward(const cnn_layer *L, const cnn_real *x, cnn_real *y, int n);
void cnn_ref_gap_forward(const cnn_layer *L, const cnn_real *x, cnn_real *y, int n);
void cnn_ref_dense_forward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
                           cnn_real *y, int n, double *acc);
/* index: the layer's 0-based position (it keys the dropout mask). */
void cnn_ref_dropout_forward(const cnn_layer *L, int index, cnn_ref_layer *l, const cnn_real *x, cnn_real *y, int n,
                             int training, uint64_t seed, uint64_t step);
/* Training: batch statistics, running statistics in params updated. */
void cnn_ref_batchnorm_forward(const cnn_model *m, const cnn_layer *L, cnn_ref_layer *l, cnn_real *params,
                               const cnn_real *x, cnn_real *y, int n, int training);

void cnn_ref_conv_backward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
                           const cnn_real *dy, double *grads, cnn_real *dx, int n);
/* dx must not be NULL. */
void cnn_ref_pool_backward(const cnn_layer *L, const cnn_real *x, const cnn_real *dy, cnn_real *dx, int n);
/* dx must not be NULL. */
void cnn_ref_gap_backward(const cnn_layer *L, const cnn_real *dy, cnn_real *dx, int n);
void cnn_ref_dense_backward(const cnn_model *m, const cnn_layer *L, const cnn_real *params, const cnn_real *x,
                            const cnn_real *dy, double *grads, cnn_real *dx, int n);
void cnn_ref_batchnorm_backward(const cnn_model *m, const cnn_layer *L, const cnn_ref_layer *l,
                                const cnn_real *params, const cnn_real *x, const cnn_real *dy, double *grads,
                                cnn_real *dx, int n);

#endif
