/* split.c: training and validation subsets of a source, as index lists over
 * its one cache (no file is copied anywhere).
 *
 * The split is stratified and seeded: within each class the decoded files
 * (in name order) are permuted by a Fisher-Yates shuffle whose draws are
 * cnn_rng(seed, CNN_RNG_SPLIT, class, position), and the first
 * round(split * n) (halves up) go to validation, but every class keeps at
 * least one training image. Both subsets are then in entry order (class,
 * then file name). */
#include <math.h>
#include <stdlib.h>

#include "cnn_data_impl.h"
#include "cnn_rng.h"

static cnn_dataset *subset_new(cnn_source *s, int cap)
{
    cnn_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->idx = malloc(sizeof *d->idx * (size_t)(cap > 0 ? cap : 1));
    d->class_counts = calloc((size_t)s->n_classes, sizeof *d->class_counts);
    if (!d->idx || !d->class_counts) {
        free(d->idx);
        free(d->class_counts);
        free(d);
        return NULL;
    }
    d->src = s;
    s->refs++;
    return d;
}

static void subset_add(cnn_dataset *d, int entry)
{
    d->idx[d->n++] = entry;
    d->class_counts[d->src->labels[entry]]++;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int usable(const cnn_source *s, int i)
{
    return !s->reasons[i] && s->labels[i] >= 0;
}

int cnn_split(cnn_source *s, double split, uint64_t seed, cnn_dataset **train, cnn_dataset **val)
{
    *train = subset_new(s, s->n_files);
    *val = split > 0 ? subset_new(s, s->n_files) : NULL;
    int *members = malloc(sizeof *members * (size_t)(s->n_files > 0 ? s->n_files : 1));
    if (!*train || (split > 0 && !*val) || !members) {
        free(members);
        return -1;
    }
    for (int k = 0; k < s->n_classes; k++) {
        int n = 0;
        for (int i = 0; i < s->n_files; i++)
            if (usable(s, i) && s->labels[i] == k)
                members[n++] = i;
        int n_val = (int)floor(split * n + 0.5);
        if (n_val > n - 1)
            n_val = n - 1;
        if (n_val < 0)
            n_val = 0;
        for (int p = n - 1; p > 0; p--) {
            double u = cnn_rng_uniform(seed, CNN_RNG_SPLIT, (uint64_t)k, (uint64_t)p);
            int q = (int)(u * (p + 1));
            int t = members[p];
            members[p] = members[q];
            members[q] = t;
        }
        for (int p = 0; p < n; p++)
            subset_add(p < n_val ? *val : *train, members[p]);
    }
    free(members);
    if ((*train)->n > 1)
        qsort((*train)->idx, (size_t)(*train)->n, sizeof(int), cmp_int);
    if (*val && (*val)->n > 1)
        qsort((*val)->idx, (size_t)(*val)->n, sizeof(int), cmp_int);
    return 0;
}

cnn_dataset *cnn_subset_all(cnn_source *s)
{
    cnn_dataset *d = subset_new(s, s->n_files);
    if (!d)
        return NULL;
    for (int i = 0; i < s->n_files; i++)
        if (usable(s, i))
            subset_add(d, i);
    return d;
}
