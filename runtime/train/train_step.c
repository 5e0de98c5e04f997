/* train_step.c: one training step (see cnn_step.h). */
#include <math.h>
#include <string.h>

#include "cnn_dist.h"
#include "cnn_finite.h"
#include "cnn_step.h"
#include "cnn_class_weight.h"

int cnn_fused_ranges(const cnn_model *m, cnn_range *r, int max)
{
    int k = 0;
    if (!m->backward_update)
        return 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (!ti->update_in_backward || !ti->trainable)
            continue;
        if (k++ >= max)
            continue; /* counted, not listed: the caller sees k > max */
        /* insertion by offset: tables list tensors in layer order already */
        int j = k - 1;
        while (j > 0 && r[j - 1].offset > ti->offset) {
            r[j] = r[j - 1];
            j--;
        }
        r[j].offset = ti->offset;
        r[j].count = ti->count;
    }
    return k;
}

/* The trainable tensors whose gradients an optimizer step reads. */
static int clipped(const cnn_model *m, const cnn_tensor_info *ti)
{
    return ti->trainable && ti->offset + ti->count <= m->n_trainable;
}

/* The sum of squares of g[0, n), in element order, on one thread: the same
 * sum whatever the thread count. */
static double sum_squares(const float *g, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * (double)g[i];
    return sum;
}

static void scale_by(float *g, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        g[i] *= scale;
}

void cnn_clip_by_norm(const cnn_model *m, float *grads, double clipnorm)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (!clipped(m, ti))
            continue;
        double norm = sqrt(sum_squares(grads + ti->offset, ti->count));
        if (norm <= clipnorm)
            continue; /* Keras: g * clipnorm / max(norm, clipnorm) is g */
        scale_by(grads + ti->offset, ti->count, (float)(clipnorm / norm));
    }
}

int cnn_step_nonfinite(const cnn_model *m, const cnn_buffers *b, const cnn_optim *o)
{
    const size_t rest = m->n_params - m->n_trainable;
    if (!cnn_optim_wrote_nonfinite(o) && cnn_first_nonfinite(b->params + m->n_trainable, rest) == rest)
        return -1;
    return cnn_nonfinite_tensor(m, b->params);
}

double cnn_clip_by_global_norm(const cnn_model *m, float *grads, double clipnorm)
{
    double sum = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (clipped(m, &m->tensors[t]))
            sum += sum_squares(grads + m->tensors[t].offset, m->tensors[t].count);
    double norm = sqrt(sum);
    if (norm <= clipnorm)
        return norm; /* Keras: g * clipnorm / max(norm, clipnorm) is g */
    /* Keras: a norm that is not finite makes every gradient NaN (the run's
     * divergence check then stops it), never a silent zero step */
    const float scale = isfinite(norm) ? (float)(clipnorm / norm) : NAN;
    for (int t = 0; t < m->n_tensors; t++)
        if (clipped(m, &m->tensors[t]))
            scale_by(grads + m->tensors[t].offset, m->tensors[t].count, scale);
    return norm;
}

typedef struct update_ctx {
    cnn_optim *o;
    float *params;
} update_ctx;

static void apply_update(const cnn_update *u, size_t offset, size_t count, const float *grad)
{
    const update_ctx *c = u->ctx;
    cnn_optim_update(c->o, c->params, offset, count, grad);
}

int cnn_batch_chunks(int batch)
{
    int c = 1;
    while (c < CNN_MAX_CHUNKS && batch > 0 && batch % (2 * c) == 0)
        c *= 2;
    return c;
}

int cnn_batch_split(int n, int chunks, int rank, int size, int *chunk, int *first)
{
    const int per = chunks / size;
    const int lo = (int)((long long)n * rank / size);
    for (int k = 0; k <= per; k++)
        chunk[k] = (int)((long long)(rank * per + k) * n / chunks) - lo;
    *first = lo;
    return per;
}

double cnn_train_step(const cnn_model *m, cnn_buffers *b, cnn_optim *o, const float *x, const int *labels,
                      float *logits, float *dlogits, int n, uint64_t seed, uint64_t step, int fused)
{
    return cnn_train_step_weighted(m, b, o, x, labels, logits, dlogits, n, seed, step, fused, NULL, 0);
}

double cnn_train_step_weighted(const cnn_model *m, cnn_buffers *b, cnn_optim *o, const float *x, const int *labels,
                               float *logits, float *dlogits, int n, uint64_t seed, uint64_t step, int fused,
                               const float *class_weight, int n_classes)
{
    /* This process's part of the batch: its consecutive chunks (cnn_model.h,
     * cnn_batch_part). With one process, all of them. */
    const int size = cnn_dist_size(), rank = cnn_dist_rank();
    int chunk[CNN_MAX_CHUNKS + 1], first;
    cnn_batch_part part;
    part.n_chunks = cnn_batch_split(n, cnn_batch_chunks(b->batch_cap), rank, size, chunk, &first);
    part.chunk = chunk;
    part.first = first;
    part.n_global = n;
    part.reduce = size > 1 ? cnn_dist_reduce_cb : NULL;
    part.ctx = NULL;
    const int mine = chunk[part.n_chunks];
    const size_t in_floats = (size_t)m->in_h * m->in_w * m->in_c, nout = (size_t)m->n_outputs;
    if (size > 1)
        fused = 0; /* the fused update would use this process's gradient alone */

    cnn_range skip[CNN_OPTIM_MAX_SKIP];
    const double clipnorm = cnn_optim_config(o)->clipnorm, global_clipnorm = cnn_optim_config(o)->global_clipnorm;
    int n_skip = fused && cnn_optim_fusable(o) ? cnn_fused_ranges(m, skip, CNN_OPTIM_MAX_SKIP) : 0;
    if (n_skip > CNN_OPTIM_MAX_SKIP)
        n_skip = 0; /* more fused tensors than the optimizer can skip: the plain step, never a double update */

    /* Zero the gradients the backward pass adds into; a fused range is
     * scratch and needs no zeroing (7 MB less to write for fruit.cnn). */
    size_t at = 0;
    for (int i = 0; i < n_skip; i++) {
        memset(b->grads + at, 0, (skip[i].offset - at) * sizeof(float));
        at = skip[i].offset + skip[i].count;
    }
    memset(b->grads + at, 0, (m->n_trainable - at) * sizeof(float));

    b->part = &part;
    m->forward(b, x + (size_t)first * in_floats, logits + (size_t)first * nout, mine, 1, seed, step);
    if (size > 1) { /* every process gets the whole batch's logits: the loss and metrics of one process */
        int off[CNN_DIST_MAX], len[CNN_DIST_MAX];
        for (int r = 0; r < size; r++) {
            off[r] = (int)((long long)n * r / size * (long long)nout);
            len[r] = (int)((long long)n * (r + 1) / size * (long long)nout) - off[r];
        }
        cnn_dist_allgather_floats(logits, off, len);
    }
    double loss = class_weight ? cnn_class_weighted_loss(m, logits, labels, dlogits, n, class_weight, n_classes)
                               : m->loss(logits, labels, dlogits, n);
    if (!isfinite(loss)) {
        b->part = NULL;
        return loss;
    }
    const float *xm = x + (size_t)first * in_floats, *dm = dlogits + (size_t)first * nout;
    if (n_skip > 0) {
        update_ctx c = {o, b->params};
        cnn_update u = {apply_update, &c, {cnn_optim_slot_const(o, 0), cnn_optim_slot_const(o, 1)}};
        cnn_optim_begin(o);
        m->backward_update(b, xm, dm, mine, &u);
        cnn_optim_step_except(o, b->params, b->grads, skip, n_skip);
    } else {
        m->backward(b, xm, dm, mine);
        cnn_dist_tree_sum(b->grads, m->n_trainable); /* the processes' roots, in the same tree */
        if (clipnorm > 0)
            cnn_clip_by_norm(m, b->grads, clipnorm);
        else if (global_clipnorm > 0)
            cnn_clip_by_global_norm(m, b->grads, global_clipnorm);
        cnn_optim_step(o, b->params, b->grads);
    }
    b->part = NULL;
    return loss;
}
