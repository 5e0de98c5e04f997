/* parity_io.c: see parity_io.h. */
#include "parity_io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_init.h"

typedef struct pio_tensor {
    char name[160];
    int rank, shape[4];
    size_t count;
    cnn_real *data; /* written as F32 or F64, as cnn_real is */
} pio_tensor;

struct pio_file {
    pio_tensor *t;
    int n, cap;
    char meta[4096];
    size_t meta_len;
};

int pio_meta(pio_file *f, const char *key, const char *value)
{
    int k = snprintf(f->meta + f->meta_len, sizeof f->meta - f->meta_len, "%s\"%s\":\"%s\"",
                     f->meta_len ? "," : "", key, value);
    if (k < 0 || (size_t)k >= sizeof f->meta - f->meta_len)
        return -1;
    f->meta_len += (size_t)k;
    return 0;
}

pio_file *pio_create(void)
{
    return calloc(1, sizeof(pio_file));
}

void pio_free(pio_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++)
        free(f->t[i].data);
    free(f->t);
    free(f);
}

static pio_tensor *new_tensor(pio_file *f, const char *name, int rank, const int *shape)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 64;
        pio_tensor *t = realloc(f->t, (size_t)cap * sizeof *t);
        if (!t)
            return NULL;
        f->t = t;
        f->cap = cap;
    }
    pio_tensor *t = &f->t[f->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    t->count = 1;
    for (int k = 0; k < rank; k++) {
        t->shape[k] = shape[k];
        t->count *= (size_t)shape[k];
    }
    t->data = malloc((t->count ? t->count : 1) * sizeof(cnn_real));
    if (!t->data)
        return NULL;
    f->n++;
    return t;
}

int pio_add(pio_file *f, const char *name, int rank, const int *shape, const cnn_real *data)
{
    pio_tensor *t = new_tensor(f, name, rank, shape);
    if (!t)
        return -1;
    for (size_t j = 0; j < t->count; j++)
        t->data[j] = data[j];
    return 0;
}

int pio_add_params(pio_file *f, const char *prefix, const cnn_model *m, const cnn_real *params, int trainable_only)
{
    for (int k = 0; k < m->n_tensors; k++) {
        const cnn_tensor_info *ti = &m->tensors[k];
        if (trainable_only && !ti->trainable)
            continue;
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, ti->name);
        pio_tensor *t = new_tensor(f, name, ti->rank, ti->shape);
        if (!t)
            return -1;
        for (size_t j = 0; j < t->count; j++)
            t->data[j] = params[ti->offset + cnn_tensor_memory_index(ti, j)];
    }
    return 0;
}

int pio_write(pio_file *f, const char *path)
{
    /* header: {"name":{"dtype":"F32","shape":[...],"data_offsets":[b,e]},...} */
    const char *dtype = sizeof(cnn_real) == 8 ? "F64" : "F32";
    size_t es = sizeof(cnn_real);
    size_t cap = 256 + sizeof f->meta + (size_t)f->n * 256, len = 0, off = 0;
    char *h = malloc(cap);
    if (!h)
        return -1;
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{%s}", f->meta);
    for (int i = 0; i < f->n; i++) {
        pio_tensor *t = &f->t[i];
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, dtype);
        for (int k = 0; k < t->rank; k++)
            len += (size_t)snprintf(h + len, cap - len, "%s%d", k ? "," : "", t->shape[k]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", off, off + t->count * es);
        off += t->count * es;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        free(h);
        return -1;
    }
    unsigned char n8[8];
    for (int k = 0; k < 8; k++)
        n8[k] = (unsigned char)((uint64_t)len >> (8 * k));
    int ok = fwrite(n8, 1, 8, fp) == 8 && fwrite(h, 1, len, fp) == len;
    /* little-endian hosts only (x86-64, arm64): bytes as they are */
    for (int i = 0; ok && i < f->n; i++)
        ok = fwrite(f->t[i].data, es, f->t[i].count, fp) == f->t[i].count;
    ok &= fclose(fp) == 0;
    free(h);
    if (!ok)
        fprintf(stderr, "%s: write failed\n", path);
    return ok ? 0 : -1;
}
