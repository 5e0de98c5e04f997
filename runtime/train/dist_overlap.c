/* dist_overlap.c: the gradient sum of a step started during the backward
 * pass (cnn_dist_overlap.h). Each gradient element is summed over the
 * processes in the same tree whichever range it is summed with, so a step
 * that sums its gradients in several buckets gives the bits of one sum. */
#include "cnn_dist.h"
#include "cnn_dist_overlap.h"

/* A bucket starts once this many floats of finished gradients wait (256
 * KiB): below it a message's latency outweighs what could overlap. */
#define MIN_BUCKET 65536
#define MAX_BUCKETS 4

static struct {
    int on;
    const cnn_model *m;
    float *grads;
    size_t from;         /* the gradients [from, n_trainable) are summed or being summed */
    int h[MAX_BUCKETS];  /* the buckets in flight (-1: complete) */
    int n;
    size_t ready[CNN_MAX_LAYERS + 1]; /* per layer: its gradients and those above start here */
} st;

/* ready[l]: the first float of the gradients of layers l and above, when
 * they form the end of the trained block (the parameter block lists the
 * tensors in layer order); else n_trainable: nothing starts early after
 * that layer. */
static void find_ready(const cnn_model *m)
{
    const int nl = m->n_layers < CNN_MAX_LAYERS ? m->n_layers : CNN_MAX_LAYERS;
    for (int l = 0; l <= CNN_MAX_LAYERS; l++)
        st.ready[l] = m->n_trainable;
    for (int l = 0; l < nl; l++) {
        size_t lo = m->n_trainable, below_hi = 0;
        for (int k = 0; k < m->n_layers; k++)
            for (int t = m->layers[k].first_tensor; t < m->layers[k].first_tensor + m->layers[k].n_tensors; t++) {
                const cnn_tensor_info *ti = &m->tensors[t];
                if (!ti->trainable || ti->offset + ti->count > m->n_trainable)
                    continue;
                if (k >= l && ti->offset < lo)
                    lo = ti->offset;
                if (k < l && ti->offset + ti->count > below_hi)
                    below_hi = ti->offset + ti->count;
            }
        if (below_hi <= lo)
            st.ready[l] = lo;
    }
}

void cnn_dist_overlap_begin(const cnn_model *m, float *grads)
{
    if (st.m != m) {
        find_ready(m);
        st.m = m;
    }
    st.grads = grads;
    st.from = m->n_trainable;
    st.n = 0;
    st.on = 1;
}

static void progress(void)
{
    for (int i = 0; i < st.n; i++)
        if (st.h[i] >= 0 && cnn_dist_sum_test(st.h[i]))
            st.h[i] = -1;
}

void cnn_dist_overlap_hook(int layer, int pass, int end)
{
    if (!st.on || pass != 1)
        return;
    progress();
    if (!end || layer < 0 || layer >= CNN_MAX_LAYERS || st.n == MAX_BUCKETS)
        return;
    const size_t lo = st.ready[layer];
    if (lo < st.from && st.from - lo >= MIN_BUCKET) {
        st.h[st.n++] = cnn_dist_sum_start(st.grads + lo, st.from - lo);
        st.from = lo;
    }
}

void cnn_dist_overlap_end(void)
{
    if (!st.on)
        return;
    st.on = 0;
    cnn_dist_tree_sum(st.grads, st.from);
    for (int i = 0; i < st.n; i++)
        cnn_dist_sum_wait(st.h[i]);
    st.n = 0;
}
