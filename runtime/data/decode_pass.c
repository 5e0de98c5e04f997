/* decode_pass.c: the first pass, once per run: every entry of a source (or
 * the entries a list names: this process's share, share.c) is read, decoded,
 * preprocessed and stored as uint8 in its cache slot, by all decode threads at
 * once. Threads take entries from a shared counter; entry i always goes to
 * slot i, so the cache does not depend on which thread did what. A file that
 * cannot be read or decoded gets its reason (and is skipped later); only
 * system errors (memory, writing the cache file) stop the pass. */
#define _POSIX_C_SOURCE 200809L /* strdup, sysconf, posix_fadvise, nanosleep */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnn_data_impl.h"

typedef struct job {
    cnn_source *src;
    const cnn_pass *pass;
    const int *entries; /* the entries to decode, in order; NULL: 0 .. n - 1 */
    int n;
    atomic_int next;    /* position in entries */
    atomic_int failed_alloc;
    atomic_int io_error; /* errno of a failed cache write */
    atomic_int stop_ahead;
} job;

/* Into the cache slot directly, or through a staging buffer when the cache
 * is a file (cnn_cache_put: pwrite). */
static void store(job *j, int i, const uint8_t *stage)
{
    cnn_source *s = j->src;
    if (s->cache.mapped &&
        cnn_cache_put(&s->cache, (size_t)i * s->image_bytes, stage, s->image_bytes) != 0)
        atomic_store(&j->io_error, errno ? errno : EIO);
}

static void set_reason(job *j, int i, const char *why)
{
    j->src->reasons[i] = strdup(why);
    if (!j->src->reasons[i])
        atomic_store(&j->failed_alloc, 1);
}

/* A worker's buffers, reused from image to image, and its decoder's hint
 * (the pass's, with this thread's share of the decode budget). */
typedef struct scratch {
    float *fbuf, *tmp;
    uint8_t *rgb, *stage;
    uint8_t *file;
    size_t file_cap;
    cnn_image im;
    cnn_decode_hint hint;
    size_t taken;
} scratch;

/* A thread keeps its file and pixel buffers from image to image only while
 * they are this small (a photo decoded at a reduced DCT scale); larger ones
 * are freed with the budget share they were taken under, so what a thread
 * holds outside the budget is at most this much each. */
#define CNN_DECODE_KEEP ((size_t)4 << 20)

static void decode_one(job *j, int i, scratch *w)
{
    cnn_source *s = j->src;
    const cnn_pass *ps = j->pass;
    uint8_t *dst = s->cache.mapped ? w->stage : s->cache.data + (size_t)i * s->image_bytes;
    if (ps->idx_pixels) {
        cnn_image im;
        const uint8_t *g = ps->idx_pixels + (size_t)i * ps->idx_rows * ps->idx_cols;
        im.h = ps->idx_rows;
        im.w = ps->idx_cols;
        if (ps->plan->c == 1) {
            im.c = 1;
            im.px = (uint8_t *)g;
        } else {
            for (size_t k = 0; k < (size_t)im.h * im.w; k++)
                w->rgb[3 * k] = w->rgb[3 * k + 1] = w->rgb[3 * k + 2] = g[k];
            im.c = 3;
            im.px = w->rgb;
        }
        cnn_prep_to_cache(ps->plan, &im, ps->crop, dst, w->fbuf, w->tmp);
        store(j, i, w->stage);
        return;
    }
    char err[512];
    size_t n;
    if (cnn_read_file_into(s->paths[i], &w->file, &w->file_cap, &n, err, sizeof err) != 0 ||
        cnn_decode_into(w->file, n, ps->plan->c, &w->hint, ps->max_pixels, &w->im, err,
                        sizeof err) != 0)
        set_reason(j, i, err);
    else {
        cnn_prep_to_cache(ps->plan, &w->im, ps->crop, dst, w->fbuf, w->tmp);
        store(j, i, w->stage);
    }
    if (w->im.cap > CNN_DECODE_KEEP)
        cnn_image_free(&w->im);
    if (w->file_cap > CNN_DECODE_KEEP) {
        free(w->file);
        w->file = NULL;
        w->file_cap = 0;
    }
    cnn_decode_give(w->hint.budget, w->taken);
    w->taken = 0;
}

/* Files are read ahead of the decoders: a thread opens the next files and
 * asks the kernel to read them in (POSIX_FADV_WILLNEED) while the decode
 * threads work, so that with a cold page cache many reads are in flight at
 * once instead of one per decode thread, each of which would leave its core
 * idle for the disk's latency. Reading ahead never changes what is decoded. */
#define READ_AHEAD 128

static void *read_ahead(void *arg)
{
    job *j = arg;
    for (int k = 0; k < j->n && !atomic_load(&j->stop_ahead); k++) {
        while (k > atomic_load(&j->next) + READ_AHEAD && !atomic_load(&j->stop_ahead)) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        const int i = j->entries ? j->entries[k] : k;
        if (j->src->reasons[i])
            continue;
        int fd = open(j->src->paths[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never waits on a FIFO */
        if (fd >= 0) {
            posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
            close(fd);
        }
    }
    return NULL;
}

static void *worker(void *arg)
{
    job *j = arg;
    const cnn_pass *ps = j->pass;
    size_t n = (size_t)ps->plan->h * ps->plan->w * ps->plan->c;
    size_t rgb_n = ps->idx_pixels ? (size_t)ps->idx_rows * ps->idx_cols * 3 : 1;
    scratch w;
    memset(&w, 0, sizeof w);
    w.hint = ps->hint;
    w.hint.taken = &w.taken;
    w.fbuf = malloc(n * sizeof *w.fbuf);
    w.tmp = malloc(n * sizeof *w.tmp);
    w.rgb = malloc(rgb_n);
    w.stage = malloc(j->src->image_bytes);
    if (!w.fbuf || !w.tmp || !w.rgb || !w.stage) {
        atomic_store(&j->failed_alloc, 1);
    } else {
        for (;;) {
            int k = atomic_fetch_add(&j->next, 1);
            if (k >= j->n)
                break;
            const int i = j->entries ? j->entries[k] : k;
            if (!j->src->reasons[i]) /* entries that could not be listed stay skipped */
                decode_one(j, i, &w);
        }
    }
    free(w.fbuf);
    free(w.tmp);
    free(w.rgb);
    free(w.stage);
    free(w.file);
    cnn_image_free(&w.im);
    return NULL;
}

int cnn_decode_pass(cnn_source *s, const cnn_pass *pass, int threads, const int *entries, int n_entries,
                    char *err, size_t errlen)
{
    const int n = entries ? n_entries : s->n_files;
    if (threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (int)c : 1;
    }
    if (threads > n)
        threads = n > 0 ? n : 1;
    if (threads > 64)
        threads = 64;
    /* What the decode threads hold together for the images in flight stays
     * within --memory (cnn_decode_budget): each image takes its need from
     * one shared budget and waits while the others hold too much, and an
     * image needing more than all of it is refused with a message, as an
     * image over the pixel limit is. libjpeg's own limit is the same, a
     * backstop for what the estimate leaves out. */
    cnn_pass local = *pass;
    cnn_decode_budget budget;
    budget.cap = local.memory_budget > CNN_MIN_DECODER_MEMORY ? local.memory_budget : CNN_MIN_DECODER_MEMORY;
    budget.used = 0;
    pthread_mutex_init(&budget.mu, NULL);
    pthread_cond_init(&budget.freed, NULL);
    local.hint.max_memory = budget.cap;
    local.hint.budget = &budget;
    job j;
    j.src = s;
    j.pass = &local;
    j.entries = entries;
    j.n = n;
    atomic_init(&j.next, 0);
    atomic_init(&j.failed_alloc, 0);
    atomic_init(&j.io_error, 0);
    atomic_init(&j.stop_ahead, 0);
    pthread_t tid[64], ahead;
    int started = 0;
    int reading_ahead = !pass->idx_pixels && pthread_create(&ahead, NULL, read_ahead, &j) == 0;
    for (int t = 1; t < threads; t++)
        if (pthread_create(&tid[started], NULL, worker, &j) == 0)
            started++;
    worker(&j); /* this thread works too */
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    if (reading_ahead) {
        atomic_store(&j.stop_ahead, 1);
        pthread_join(ahead, NULL);
    }
    pthread_cond_destroy(&budget.freed);
    pthread_mutex_destroy(&budget.mu);
    if (atomic_load(&j.io_error)) {
        snprintf(err, errlen, "%s: cannot write the image cache file: %s", s->name,
                 strerror(atomic_load(&j.io_error)));
        return -1;
    }
    if (atomic_load(&j.failed_alloc)) {
        snprintf(err, errlen, "%s: out of memory while decoding", s->name);
        return -1;
    }
    return 0;
}
