/* share.c: the first pass over the processes of a data-parallel run
 * (cnn_data_share): which process decodes which entries, and the exchange
 * that leaves every process with the cache, the skip reasons and so the class
 * table, skip list and split that one process would have.
 *
 * The entries are cut into blocks of consecutive entries; block b is decoded
 * by process b mod P (an interleave, so that no process gets all of a class
 * whose photos are larger than the others'). Blocks are about 4 MiB of cache,
 * and small enough that every process has several. A process decodes its
 * blocks with its threads (decode_pass.c), then each block goes from its
 * owner to every other process (one broadcast per block, under 2 GB each),
 * straight into the cache in memory, or through a one-block buffer and
 * cnn_cache_put into a memory-mapped cache file: no process holds the cache
 * twice. Slot i holds entry i's bytes whichever process decoded it, so the
 * cache is byte for byte the one-process cache. */
#define _POSIX_C_SOURCE 200809L /* strdup, clock_gettime */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnn_data_impl.h"
#include "cnn_util.h"

#define SHARE_BLOCK_BYTES ((size_t)4 << 20)
#define SHARE_MIN_BLOCKS 8 /* per process, when there are entries enough */

int cnn_share_block(size_t image_bytes, int n_files, int size)
{
    size_t per = image_bytes ? SHARE_BLOCK_BYTES / image_bytes : 1;
    size_t most = size > 0 ? (size_t)(n_files > 0 ? n_files : 0) / ((size_t)SHARE_MIN_BLOCKS * (size_t)size) : 1;
    if (per > most)
        per = most;
    return per < 1 ? 1 : per > (size_t)1 << 20 ? 1 << 20 : (int)per;
}

int cnn_share_owner(int i, int block, int size)
{
    return (int)((i / block) % size);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* What every process must agree on before sharing the work: the entries
 * (paths relative to the source, labels, which could not be listed), the
 * classes and the cached image size. */
static uint64_t fingerprint(const cnn_source *s)
{
    uint64_t h = CNN_FNV1A64_OFFSET;
    int64_t head[3] = {s->n_files, s->n_classes, (int64_t)s->image_bytes};
    h = cnn_fnv1a64(h, head, sizeof head);
    for (int k = 0; k < s->n_classes; k++)
        h = cnn_fnv1a64(h, s->class_names[k], strlen(s->class_names[k]) + 1);
    const size_t root = strlen(s->name);
    for (int i = 0; i < s->n_files; i++) {
        const char *p = s->paths[i];
        if (strncmp(p, s->name, root) == 0)
            p += root;
        while (*p == '/')
            p++;
        int32_t v[2] = {s->labels[i], s->reasons[i] != NULL};
        h = cnn_fnv1a64(h, p, strlen(p) + 1);
        h = cnn_fnv1a64(h, v, sizeof v);
    }
    return h;
}

/* The exchanges below return 0; -1 with err when this process took part in
 * every broadcast but could not keep what arrived (the processes then agree
 * to fail together); LEFT when it could not take part at all (out of memory
 * for a buffer): it fails at once, and the trainer ends the job (a process
 * that fails ends every process, runtime/train/cnn_dist.h). */
#define LEFT (-2)

/* Every block from its owner to the others. */
static int exchange_cache(cnn_source *s, const cnn_data_share *sh, int block, char *err, size_t errlen)
{
    uint8_t *stage = NULL;
    if (s->cache.mapped && !(stage = malloc((size_t)block * s->image_bytes))) {
        cnn_set_err(err, errlen, "%s: out of memory for the image exchange", s->name);
        return LEFT;
    }
    int rc = 0;
    for (int first = 0, b = 0; first < s->n_files; first += block, b++) {
        const int owner = b % sh->size, n = s->n_files - first < block ? s->n_files - first : block;
        const size_t off = (size_t)first * s->image_bytes, bytes = (size_t)n * s->image_bytes;
        if (!s->cache.mapped || owner == sh->rank) {
            sh->bcast(s->cache.data + off, bytes, owner);
            continue;
        }
        sh->bcast(stage, bytes, owner);
        if (rc == 0 && cnn_cache_put(&s->cache, off, stage, bytes) != 0) {
            /* keep taking part in the broadcasts: the others are waiting in them */
            cnn_set_err(err, errlen, "%s: cannot write the image cache file: %s", s->name, strerror(errno));
            rc = -1;
        }
    }
    free(stage);
    return rc;
}

/* k ints from every process, to every process (size x k ints, malloc'd),
 * or NULL when out of memory (LEFT: the caller fails at once). */
static int32_t *gather_ints(const cnn_data_share *sh, const int32_t *v, int k)
{
    int32_t *all = malloc((size_t)sh->size * (size_t)k * sizeof *all);
    if (all)
        sh->allgather_bytes(v, all, (size_t)k * sizeof *v);
    return all;
}

/* The reasons of the entries this process could not read, to every process:
 * (entry index, reason, NUL) records, one broadcast per process that has any. */
static int exchange_reasons(cnn_source *s, const cnn_data_share *sh, const int *mine, int n_mine, char *err,
                            size_t errlen)
{
    size_t len = 0;
    for (int k = 0; k < n_mine; k++)
        if (s->reasons[mine[k]])
            len += sizeof(int32_t) + strlen(s->reasons[mine[k]]) + 1;
    uint64_t mylen = len, *lens = malloc((size_t)sh->size * sizeof *lens);
    if (!lens) {
        cnn_set_err(err, errlen, "%s: out of memory", s->name);
        return LEFT;
    }
    sh->allgather_bytes(&mylen, lens, sizeof mylen);
    int rc = 0;
    for (int r = 0; r < sh->size; r++) {
        if (lens[r] == 0)
            continue;
        char *buf = malloc(lens[r]);
        if (!buf) {
            cnn_set_err(err, errlen, "%s: out of memory", s->name);
            free(lens);
            return LEFT;
        }
        if (r == sh->rank) {
            char *p = buf;
            for (int k = 0; k < n_mine; k++) {
                const char *why = s->reasons[mine[k]];
                if (!why)
                    continue;
                int32_t i = mine[k];
                memcpy(p, &i, sizeof i);
                p += sizeof i;
                memcpy(p, why, strlen(why) + 1);
                p += strlen(why) + 1;
            }
        }
        sh->bcast(buf, lens[r], r);
        if (r != sh->rank)
            for (size_t at = 0; at < lens[r] && rc == 0;) {
                int32_t i;
                memcpy(&i, buf + at, sizeof i);
                at += sizeof i;
                const char *why = buf + at;
                at += strlen(why) + 1;
                if (i < 0 || i >= s->n_files || s->reasons[i]) {
                    cnn_set_err(err, errlen, "%s: rank %d sent a skip reason for entry %d, not one of its own",
                                s->name, r, (int)i);
                    rc = -1;
                } else if (!(s->reasons[i] = strdup(why))) {
                    cnn_set_err(err, errlen, "%s: out of memory", s->name);
                    rc = -1;
                }
            }
        free(buf);
    }
    free(lens);
    return rc;
}

int cnn_share_pass(cnn_source *s, const cnn_pass *pass, int threads, const cnn_data_share *sh,
                   cnn_share_report *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    uint64_t fp = fingerprint(s), *fps = malloc((size_t)sh->size * sizeof *fps);
    if (!fps) {
        cnn_set_err(err, errlen, "%s: out of memory", s->name);
        return -1;
    }
    sh->allgather_bytes(&fp, fps, sizeof fp);
    int same = 1;
    for (int r = 1; r < sh->size; r++)
        same &= fps[r] == fps[0];
    free(fps);
    if (!same) /* each decodes all of its own files; the run's start-up check names the difference */
        return cnn_decode_pass(s, pass, threads, NULL, 0, err, errlen);

    const int block = cnn_share_block(s->image_bytes, s->n_files, sh->size);
    int *mine = malloc(((size_t)s->n_files + 1) * sizeof *mine);
    s->read_by = malloc(((size_t)s->n_files + 1) * sizeof *s->read_by);
    int n_mine = 0, rc = 0;
    int32_t decode_ms = 0;
    if (!mine || !s->read_by) {
        cnn_set_err(err, errlen, "%s: out of memory", s->name);
        rc = -1;
    } else {
        for (int i = 0; i < s->n_files; i++) {
            const int owner = cnn_share_owner(i, block, sh->size);
            s->read_by[i] = s->reasons[i] ? -1 : owner; /* entries that could not be listed: by no one */
            if (owner == sh->rank && !s->reasons[i])
                mine[n_mine++] = i;
        }
        double t = now_s();
        rc = cnn_decode_pass(s, pass, threads, mine, n_mine, err, errlen);
        decode_ms = (int32_t)((now_s() - t) * 1e3 + 0.5);
    }
    /* Every process learns whether every other could do its part (memory,
     * the cache file), how many files each decoded and how long it took. */
    const int32_t done[2] = {rc == 0 ? n_mine : -1, decode_ms};
    int32_t *counts = gather_ints(sh, done, 2);
    if (!counts) {
        free(mine);
        cnn_set_err(err, errlen, "%s: out of memory", s->name);
        return -1;
    }
    int failed = -1;
    for (int r = 0; r < sh->size && failed < 0; r++)
        if (counts[2 * r] < 0)
            failed = r;
    if (failed >= 0) {
        if (rc == 0)
            cnn_set_err(err, errlen, "%s: the first pass failed on rank %d (its message says why)", s->name,
                        failed);
        free(counts);
        free(mine);
        return -1;
    }
    double t0 = now_s();
    rc = exchange_cache(s, sh, block, err, errlen);
    if (rc != LEFT) {
        char why[512] = "";
        int rr = exchange_reasons(s, sh, mine, n_mine, why, sizeof why);
        if (rr != 0 && (rc == 0 || rr == LEFT)) {
            cnn_set_err(err, errlen, "%s", why);
            rc = rr;
        }
    }
    free(mine);
    /* A failure to keep what arrived is this process's own: the processes
     * agree before going on, so that all of them fail or none. */
    const int32_t fine = rc == 0;
    int32_t *ok = rc == LEFT ? NULL : gather_ints(sh, &fine, 1);
    for (int r = 0; ok && r < sh->size && rc == 0; r++)
        if (!ok[r]) {
            cnn_set_err(err, errlen, "%s: the image exchange failed on rank %d (its message says why)", s->name, r);
            rc = -1;
        }
    if (!ok && rc == 0) {
        cnn_set_err(err, errlen, "%s: out of memory", s->name);
        rc = -1;
    }
    free(ok);
    if (rc != 0) {
        free(counts);
        return -1;
    }
    rep->shared = 1;
    rep->block = block;
    rep->decoded = counts;
    rep->exchange_s = now_s() - t0;
    return 0;
}
