/* loader.c: float batches from the uint8 cache, made when the trainer asks
 * for them, by the trainer's own OpenMP threads, one image per thread at a
 * time.
 *
 * Batch b of an epoch holds positions [b*batch, (b+1)*batch) of the epoch's
 * order: a Fisher-Yates shuffle driven by (seed, epoch, position) when
 * training, the subset order otherwise. Image i's augmentation is drawn from
 * (seed, epoch, i). Neither depends on timing or on which thread prepares
 * it, so skipping the first k batches of an epoch (a resumed run) gives the
 * same later batches, with any thread count.
 *
 * Why not a background thread: the trainer's OpenMP threads fill every
 * core, and their barriers spin. A producer thread beside them takes a core
 * from one compute thread while the other spins at the next barrier for it,
 * so the step could lose up to twice the producer's time. Made in the same
 * threads between steps, a batch costs its preparation time divided by the
 * thread count, nothing more. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_data_impl.h"
#include "cnn_rng.h"

struct cnn_loader {
    const cnn_dataset *d;
    cnn_prep_plan plan;
    cnn_augment aug;
    int augment;                 /* training and some augmentation is on */
    int direct;                  /* augmentation samples the cache: at most a rescale follows it */
    float scale, offset;         /* that rescale (1, 0 without one) */
    int training;
    uint64_t seed;
    int batch, n, n_batches;
    size_t image_floats;

    int *order;                  /* the epoch's order */
    float *x;                    /* the batch handed out */
    int *labels, *indices;
    int epoch, next;             /* next batch to make */
    int n_scratch;               /* threads with scratch: at most this many fill a batch */
    float **tmp, **tmp2;         /* per thread, image_floats each (tmp: or the augmentation's scratch if larger) */
};

/* Image p of batch b into the batch buffer, with thread t's scratch. */
static void fill_one(cnn_loader *l, int first, int p, int t)
{
    int i = l->order[first + p];
    float *dst = l->x + (size_t)p * l->image_floats;
    const uint8_t *px = cnn_dataset_pixels(l->d, i);
    if (l->augment) {
        cnn_aug_params ap;
        cnn_aug_draw(&l->aug, l->plan.h, l->plan.w, l->plan.lo, l->plan.hi, l->seed, (uint64_t)l->epoch,
                     (uint64_t)i, &ap);
        if (!l->direct || cnn_aug_from_cache(&l->aug, &ap, px, dst, l->plan.h, l->plan.w, l->plan.c, l->scale,
                                             l->offset, l->plan.lo, l->plan.hi, l->tmp[t]) != 0) {
            cnn_prep_from_cache(&l->plan, px, l->tmp[t], l->tmp2[t]);
            cnn_aug_apply(&l->aug, &ap, l->tmp[t], dst, l->plan.h, l->plan.w, l->plan.c, l->plan.lo, l->plan.hi);
        }
    } else {
        cnn_prep_from_cache(&l->plan, px, dst, l->tmp[t]);
    }
    l->labels[p] = cnn_dataset_label(l->d, i);
    l->indices[p] = i;
}

static int any_augmentation(const cnn_augment *a)
{
    return a->flip || cnn_aug_geometric(a) || a->brightness > 0 || a->contrast > 0;
}

cnn_loader *cnn_loader_create(const cnn_model *m, const cnn_dataset *d, int batch,
                              int training, uint64_t seed, char *err, size_t errlen)
{
    if (batch <= 0) {
        snprintf(err, errlen, "batch size %d must be positive", batch);
        return NULL;
    }
    cnn_loader *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory (loader)");
        return NULL;
    }
    l->d = d;
    cnn_prep_plan_init(&l->plan, m);
    l->aug = m->augment;
    l->training = training;
    l->augment = training && any_augmentation(&m->augment);
    l->scale = 1.0f;
    l->offset = 0.0f;
    int k = l->plan.n_cached;
    l->direct = k == l->plan.n_steps;
    if (k + 1 == l->plan.n_steps && l->plan.steps[k].kind == CNN_PREP_RESCALE) {
        /* as cnn_prep_from_cache rounds them */
        l->scale = (float)l->plan.steps[k].value;
        l->offset = (float)l->plan.steps[k].offset;
        l->direct = 1;
    }
    l->seed = seed;
    l->batch = batch;
    l->n = cnn_dataset_size(d);
    l->n_batches = (l->n + batch - 1) / batch;
    l->next = l->n_batches; /* no epoch yet */
    l->image_floats = (size_t)m->in_h * m->in_w * m->in_c;
    l->n_scratch = omp_get_max_threads();
    if (l->n_scratch < 1)
        l->n_scratch = 1;
    l->order = malloc(sizeof *l->order * (size_t)(l->n > 0 ? l->n : 1));
    /* allocated once, here: first touch of memory is slow on these VMs */
    l->x = cnn_big_alloc((size_t)batch * l->image_floats * sizeof(float));
    l->labels = malloc(sizeof(int) * (size_t)batch);
    l->indices = malloc(sizeof(int) * (size_t)batch);
    l->tmp = calloc((size_t)l->n_scratch, sizeof *l->tmp);
    l->tmp2 = calloc((size_t)l->n_scratch, sizeof *l->tmp2);
    int ok = l->order && l->x && l->labels && l->indices && l->tmp && l->tmp2;
    /* tmp also holds cnn_aug_from_cache's scratch */
    size_t tmp_bytes = l->image_floats * sizeof(float), aug_bytes = cnn_aug_scratch_bytes(l->plan.h, l->plan.w, l->plan.c);
    if (aug_bytes > tmp_bytes)
        tmp_bytes = aug_bytes;
    for (int t = 0; ok && t < l->n_scratch; t++) {
        l->tmp[t] = malloc(tmp_bytes);
        l->tmp2[t] = malloc(l->image_floats * sizeof(float));
        ok = l->tmp[t] && l->tmp2[t];
    }
    if (!ok) {
        snprintf(err, errlen, "out of memory (loader buffers for batch %d)", batch);
        cnn_loader_free(l);
        return NULL;
    }
    return l;
}

int cnn_loader_batches(const cnn_loader *l)
{
    return l->n_batches;
}

void cnn_loader_begin(cnn_loader *l, int epoch, int skip_batches)
{
    l->epoch = epoch;
    for (int i = 0; i < l->n; i++)
        l->order[i] = i;
    if (l->training) {
        for (int p = l->n - 1; p > 0; p--) {
            double u = cnn_rng_uniform(l->seed, CNN_RNG_SHUFFLE, (uint64_t)epoch, (uint64_t)p);
            int q = (int)(u * (p + 1));
            int t = l->order[p];
            l->order[p] = l->order[q];
            l->order[q] = t;
        }
    }
    if (skip_batches < 0)
        skip_batches = 0;
    if (skip_batches > l->n_batches)
        skip_batches = l->n_batches;
    l->next = skip_batches;
}

int cnn_loader_next(cnn_loader *l, const float **x, const int **labels, const int **indices)
{
    int b = l->next;
    if (b >= l->n_batches) {
        if (x) *x = NULL;
        if (labels) *labels = NULL;
        if (indices) *indices = NULL;
        return 0;
    }
    l->next = b + 1;
    int first = b * l->batch;
    int cnt = l->n - first < l->batch ? l->n - first : l->batch;
    int threads = l->n_scratch < cnt ? l->n_scratch : cnt;
    /* each image is a pure function of (seed, epoch, index): the split
     * between threads changes nothing in the result */
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int p = 0; p < cnt; p++)
        fill_one(l, first, p, omp_get_thread_num());
    if (x) *x = l->x;
    if (labels) *labels = l->labels;
    if (indices) *indices = l->indices;
    return cnt;
}

void cnn_loader_free(cnn_loader *l)
{
    if (!l)
        return;
    free(l->order);
    cnn_big_free(l->x, (size_t)l->batch * l->image_floats * sizeof(float));
    free(l->labels);
    free(l->indices);
    for (int t = 0; t < l->n_scratch; t++) {
        if (l->tmp) free(l->tmp[t]);
        if (l->tmp2) free(l->tmp2[t]);
    }
    free(l->tmp);
    free(l->tmp2);
    free(l);
}
