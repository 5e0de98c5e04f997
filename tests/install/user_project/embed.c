/* embed.c: a program that embeds the network of tiny.cnn (tiny.h, from
 * cnnc) without the trainer: it allocates the buffers the model descriptor
 * asks for, fills the weights with a constant, runs one inference forward
 * pass on a grey image and prints the logit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiny.h"

static cnn_real *floats(size_t n)
{
    size_t bytes = ((n ? n : 1) * sizeof(cnn_real) + 63) / 64 * 64;
    cnn_real *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

int main(void)
{
    const cnn_model *m = &tiny_model;
    cnn_buffers b = {.batch_cap = 1};
    b.params = floats(m->n_params);
    b.grads = floats(m->n_params);
    b.acts = floats(m->act_floats);
    b.work = floats(m->work_floats ? m->work_floats(1) : 0);
    cnn_real *x = floats((size_t)m->in_h * m->in_w * m->in_c);
    cnn_real logits[1];
    if (!b.params || !b.grads || !b.acts || !b.work || !x || m->n_outputs != 1)
        return 1;
    for (size_t i = 0; i < m->n_trainable; i++)
        b.params[i] = 0.01f;
    for (int i = 0; i < m->in_h * m->in_w * m->in_c; i++)
        x[i] = 0.5f;
    m->forward(&b, x, logits, 1, 0, 1, 0);
    printf("%s: %d x %d x %d input, %zu parameters, logit %.6f\n", m->name, m->in_h, m->in_w, m->in_c,
           m->n_params, (double)logits[0]);
    return isfinite(logits[0]) ? 0 : 1;
}
