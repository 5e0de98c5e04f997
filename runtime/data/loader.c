/* loader.c: float batches from the uint8 cache, prepared by a background
 * thread while the caller trains on the previous batch.
 *
 * Batch b of an epoch holds positions [b*batch, (b+1)*batch) of the epoch's
 * order: a Fisher-Yates shuffle driven by (seed, epoch, position) when
 * training, the subset order otherwise. Image i's augmentation is drawn from
 * (seed, epoch, i). Neither depends on timing, so skipping the first k
 * batches of an epoch (a resumed run) gives the same later batches.
 *
 * A ring of NSLOT batch buffers: batch b is written into slot b % NSLOT.
 * The consumer holds the batch it was last given until it asks for the next,
 * so the producer may run up to NSLOT - 1 batches ahead of it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_data_impl.h"
#include "cnn_rng.h"

#define NSLOT 3

struct cnn_loader {
    const cnn_dataset *d;
    cnn_prep_plan plan;
    cnn_augment aug;
    int augment;                 /* training and some augmentation is on */
    int training;
    uint64_t seed;
    int batch, n, n_batches;
    size_t image_floats;

    int *order;                  /* the epoch's order; written only while the producer is idle */
    float *x[NSLOT];
    int *labels[NSLOT], *indices[NSLOT];
    int count[NSLOT];
    int slot_batch[NSLOT];       /* which batch the slot holds, -1 when none */
    int slot_gen[NSLOT];
    float *tmp, *tmp2;           /* producer scratch, image_floats each */

    pthread_mutex_t mu;
    pthread_cond_t wake_producer, wake_consumer;
    pthread_t thread;
    int epoch;
    int gen;                     /* bumped by every cnn_loader_begin */
    atomic_int gen_now;          /* the same, read without the lock to abandon work early */
    int produced;                /* next batch the producer will make */
    int limit;                   /* the producer may make batches < limit */
    int next_take;               /* next batch the consumer will take */
    int busy;                    /* producer is filling a slot */
    int stop;
};

static void fill(cnn_loader *l, int b, int s, int g)
{
    int first = b * l->batch;
    int cnt = l->n - first < l->batch ? l->n - first : l->batch;
    for (int p = 0; p < cnt; p++) {
        if (atomic_load_explicit(&l->gen_now, memory_order_relaxed) != g)
            return; /* a new epoch began: this batch is no longer wanted */
        int i = l->order[first + p];
        float *dst = l->x[s] + (size_t)p * l->image_floats;
        const uint8_t *px = cnn_dataset_pixels(l->d, i);
        if (l->augment) {
            cnn_aug_params ap;
            cnn_prep_from_cache(&l->plan, px, l->tmp, l->tmp2);
            cnn_aug_draw(&l->aug, l->plan.h, l->plan.w, l->plan.lo, l->plan.hi, l->seed,
                         (uint64_t)l->epoch, (uint64_t)i, &ap);
            cnn_aug_apply(&l->aug, &ap, l->tmp, dst, l->plan.h, l->plan.w, l->plan.c, l->plan.lo,
                          l->plan.hi);
        } else {
            cnn_prep_from_cache(&l->plan, px, dst, l->tmp);
        }
        l->labels[s][p] = cnn_dataset_label(l->d, i);
        l->indices[s][p] = i;
    }
    l->count[s] = cnt;
}

static void *producer(void *arg)
{
    cnn_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        if (l->produced < l->n_batches && l->produced < l->limit) {
            int b = l->produced, g = l->gen, s = b % NSLOT;
            l->busy = 1;
            pthread_mutex_unlock(&l->mu);
            fill(l, b, s, g);
            pthread_mutex_lock(&l->mu);
            l->busy = 0;
            if (g == l->gen) {
                l->slot_batch[s] = b;
                l->slot_gen[s] = g;
                l->produced++;
                pthread_cond_broadcast(&l->wake_consumer);
            } else {
                pthread_cond_broadcast(&l->wake_consumer); /* begin() waits for idle */
            }
            continue;
        }
        pthread_cond_wait(&l->wake_producer, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
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
    l->seed = seed;
    l->batch = batch;
    l->n = cnn_dataset_size(d);
    l->n_batches = (l->n + batch - 1) / batch;
    l->image_floats = (size_t)m->in_h * m->in_w * m->in_c;
    int ok = 1;
    l->order = malloc(sizeof *l->order * (size_t)(l->n > 0 ? l->n : 1));
    l->tmp = malloc(l->image_floats * sizeof(float));
    l->tmp2 = malloc(l->image_floats * sizeof(float));
    ok = l->order && l->tmp && l->tmp2;
    for (int s = 0; s < NSLOT && ok; s++) {
        /* every buffer allocated once, here: first touch is slow on these VMs */
        l->x[s] = cnn_big_alloc((size_t)batch * l->image_floats * sizeof(float));
        l->labels[s] = malloc(sizeof(int) * (size_t)batch);
        l->indices[s] = malloc(sizeof(int) * (size_t)batch);
        ok = l->x[s] && l->labels[s] && l->indices[s];
        l->slot_batch[s] = -1;
        l->slot_gen[s] = -1;
    }
    if (!ok) {
        snprintf(err, errlen, "out of memory (loader buffers for batch %d)", batch);
        goto fail;
    }
    /* no epoch yet: the producer waits for cnn_loader_begin */
    l->gen = 0;
    atomic_init(&l->gen_now, 0);
    l->produced = l->n_batches;
    l->next_take = l->n_batches;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->wake_producer, NULL);
    pthread_cond_init(&l->wake_consumer, NULL);
    if (pthread_create(&l->thread, NULL, producer, l) != 0) {
        snprintf(err, errlen, "cannot start the batch producer thread");
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->wake_producer);
        pthread_cond_destroy(&l->wake_consumer);
        goto fail;
    }
    return l;
fail:
    free(l->order);
    free(l->tmp);
    free(l->tmp2);
    for (int s = 0; s < NSLOT; s++) {
        cnn_big_free(l->x[s], (size_t)batch * l->image_floats * sizeof(float));
        free(l->labels[s]);
        free(l->indices[s]);
    }
    free(l);
    return NULL;
}

int cnn_loader_batches(const cnn_loader *l)
{
    return l->n_batches;
}

void cnn_loader_begin(cnn_loader *l, int epoch, int skip_batches)
{
    pthread_mutex_lock(&l->mu);
    l->gen++;
    atomic_store(&l->gen_now, l->gen);
    /* no new work until the new epoch is set up (else the producer, done with
     * an abandoned batch, would start the next one of the old order under the
     * new generation), then wait for the batch in progress to be dropped */
    l->produced = l->n_batches;
    l->limit = 0;
    while (l->busy)
        pthread_cond_wait(&l->wake_consumer, &l->mu);
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
    l->produced = skip_batches;
    l->next_take = skip_batches;
    l->limit = skip_batches + NSLOT;
    pthread_cond_broadcast(&l->wake_producer);
    pthread_mutex_unlock(&l->mu);
}

int cnn_loader_next(cnn_loader *l, const float **x, const int **labels, const int **indices)
{
    pthread_mutex_lock(&l->mu);
    int b = l->next_take;
    if (b >= l->n_batches) {
        pthread_mutex_unlock(&l->mu);
        if (x) *x = NULL;
        if (labels) *labels = NULL;
        if (indices) *indices = NULL;
        return 0;
    }
    /* taking b releases b - 1: the producer may now fill up to b + NSLOT - 1 */
    l->limit = b + NSLOT;
    pthread_cond_broadcast(&l->wake_producer);
    int s = b % NSLOT;
    while (!(l->slot_batch[s] == b && l->slot_gen[s] == l->gen))
        pthread_cond_wait(&l->wake_consumer, &l->mu);
    l->next_take = b + 1;
    int cnt = l->count[s];
    pthread_mutex_unlock(&l->mu);
    if (x) *x = l->x[s];
    if (labels) *labels = l->labels[s];
    if (indices) *indices = l->indices[s];
    return cnt;
}

void cnn_loader_free(cnn_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    l->gen++;
    atomic_store(&l->gen_now, l->gen);
    pthread_cond_broadcast(&l->wake_producer);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->wake_producer);
    pthread_cond_destroy(&l->wake_consumer);
    free(l->order);
    free(l->tmp);
    free(l->tmp2);
    for (int s = 0; s < NSLOT; s++) {
        cnn_big_free(l->x[s], (size_t)l->batch * l->image_floats * sizeof(float));
        free(l->labels[s]);
        free(l->indices[s]);
    }
    free(l);
}
