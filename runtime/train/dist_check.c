/* dist_check.c: what a data-parallel run checks before its first step
 * (cnn_dist_check.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn_dist.h"
#include "cnn_dist_check.h"
#include "cnn_step.h"
#include "cnn_util.h"

/* One image's identity: its path in the folder, its label and its file's
 * size (IDX images: the path alone, the file's size is in the hash of the
 * first one). */
static uint64_t image_id(const cnn_dataset *d, int i)
{
    const char *rel = cnn_dataset_relpath(d, i);
    uint64_t h = cnn_fnv1a64(CNN_FNV1A64_OFFSET, rel, strlen(rel));
    int label = cnn_dataset_label(d, i);
    h = cnn_fnv1a64(h, &label, sizeof label);
    struct stat sb;
    const char *path = cnn_dataset_path(d, i);
    if (strncmp(path, "IDX:", 4) != 0 && stat(path, &sb) == 0) {
        int64_t size = (int64_t)sb.st_size;
        h = cnn_fnv1a64(h, &size, sizeof size);
    }
    return h;
}

/* 0 when every rank holds the same images as rank 0; else writes the first
 * difference to err (on every rank) and returns 1. */
static int same_data(const cnn_dataset *d, const char *what, char *err, size_t errlen)
{
    const int size = cnn_dist_size(), rank = cnn_dist_rank();
    int n = d ? cnn_dataset_size(d) : 0;
    int *counts = malloc((size_t)size * sizeof *counts);
    if (!counts) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    cnn_dist_allgather_bytes(&n, counts, sizeof n);
    for (int r = 1; r < size; r++)
        if (counts[r] != counts[0]) {
            snprintf(err, errlen, "rank %d's %s data has %d images, rank 0's %d: every rank needs the same "
                     "data folder (docs/distributed.md)", r, what, counts[r], counts[0]);
            free(counts);
            return 1;
        }
    free(counts);
    uint64_t *ids = malloc(((size_t)n + 1) * sizeof *ids), *ref = malloc(((size_t)n + 1) * sizeof *ref);
    if (!ids || !ref) {
        free(ids);
        free(ref);
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    for (int i = 0; i < n; i++)
        ids[i] = ref[i] = image_id(d, i);
    cnn_dist_bcast(ref, (size_t)n * sizeof *ref, 0);
    int bad = -1;
    for (int i = 0; i < n && bad < 0; i++)
        if (ids[i] != ref[i])
            bad = i;
    /* the lowest rank with a difference reports it, to everyone */
    int msg[2] = {bad >= 0 ? rank : size, bad}, *all = malloc((size_t)size * sizeof msg);
    if (!all) {
        free(ids);
        free(ref);
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    cnn_dist_allgather_bytes(msg, all, sizeof msg);
    int who = size, at = -1;
    for (int r = 0; r < size; r++)
        if (all[2 * r] < who) {
            who = all[2 * r];
            at = all[2 * r + 1];
        }
    free(all);
    free(ids);
    free(ref);
    if (who == size)
        return 0;
    char name[1024] = "";
    if (rank == who)
        snprintf(name, sizeof name, "%s", cnn_dataset_relpath(d, at));
    cnn_dist_bcast(name, sizeof name, who);
    char name0[1024] = "";
    if (rank == 0)
        snprintf(name0, sizeof name0, "%s", cnn_dataset_relpath(d, at));
    cnn_dist_bcast(name0, sizeof name0, 0);
    snprintf(err, errlen, "rank %d's %s data differs from rank 0's at image %d: %s on rank %d, %s on rank 0 (another "
             "file, label or file size): every rank needs the same data folder (docs/distributed.md)", who, what,
             at + 1, name, who, name0);
    return 1;
}

int cnn_dist_check_run(int batch, const cnn_dataset *train, const cnn_dataset *val, char *err, size_t errlen)
{
    const int size = cnn_dist_size();
    if (size == 1)
        return 0;
    const int chunks = cnn_batch_chunks(batch);
    if ((size & (size - 1)) != 0 || chunks % size != 0) {
        snprintf(err, errlen, "%d processes: a data-parallel run needs a power of two that divides %d, the "
                 "chunk count of batch %d (the largest power of two dividing the batch, at most %d; "
                 "docs/distributed.md)", size, chunks, batch, CNN_MAX_CHUNKS);
        return 1;
    }
    if (same_data(train, "training", err, errlen))
        return 1;
    return val ? same_data(val, "validation", err, errlen) : 0;
}
