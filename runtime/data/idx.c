/* idx.c: MNIST-style IDX files (images idx3-ubyte, labels idx1-ubyte),
 * gzipped or not: zlib's gzread reads plain files unchanged. The labels file
 * is the images file's name with "images-idx3" replaced by "labels-idx1"
 * (train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cnn_data_impl.h"

int cnn_idx_is_images(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strstr(base, "images-idx3-ubyte") != NULL || strstr(base, "images.idx3-ubyte") != NULL;
}

static int read_all(gzFile g, void *dst, size_t n)
{
    uint8_t *p = dst;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(g, p, chunk);
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* Reads up to `want` bytes into a buffer that grows with what arrives
 * (doubling from 1 MB), never with what the header claims: a 52-byte file
 * that claims 16 GB costs 1 MB, and a gzip bomb costs what it really
 * decompresses to (which the caller bounds with `limit`, refused beyond).
 * Returns the buffer (malloc'ed; *got bytes) or NULL with *got set and
 * *oom set when memory ran out. */
static uint8_t *read_growing(gzFile g, size_t want, size_t *got, int *oom)
{
    size_t cap = want < ((size_t)1 << 20) ? want : (size_t)1 << 20, have = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    *oom = 0;
    *got = 0;
    if (!buf) {
        *oom = 1;
        return NULL;
    }
    while (have < want) {
        if (have == cap) {
            size_t nc = cap * 2 < want ? cap * 2 : want;
            uint8_t *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                *oom = 1;
                *got = have;
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        size_t chunk = cap - have;
        if (chunk > (1u << 30))
            chunk = 1u << 30;
        int k = gzread(g, buf + have, (unsigned)chunk);
        if (k <= 0)
            break;
        have += (size_t)k;
    }
    *got = have;
    if (have < want) {
        free(buf);
        return NULL;
    }
    return buf;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Open an IDX file and check its header: unsigned bytes, `rank` dimensions. */
static gzFile open_idx(const char *path, int rank, uint32_t dims[3], char *err, size_t errlen)
{
    gzFile g = gzopen(path, "rb");
    if (!g) {
        snprintf(err, errlen, "%s: cannot open", path);
        return NULL;
    }
    uint8_t h[16];
    if (read_all(g, h, 4 + 4 * (size_t)rank) != 0) {
        snprintf(err, errlen, "%s: truncated IDX header", path);
        gzclose(g);
        return NULL;
    }
    if (h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] != rank) {
        snprintf(err, errlen, "%s: not an IDX file of unsigned bytes with %d dimensions "
                 "(magic %02x %02x %02x %02x)", path, rank, h[0], h[1], h[2], h[3]);
        gzclose(g);
        return NULL;
    }
    for (int i = 0; i < rank; i++)
        dims[i] = be32(h + 4 + 4 * i);
    return g;
}

int cnn_idx_read(const char *images_path, size_t max_bytes, uint8_t **pixels, int *n, int *rows, int *cols,
                 uint8_t **labels, char *err, size_t errlen)
{
    *pixels = NULL;
    *labels = NULL;
    char lpath[CNN_MAX_PATH];
    const char *base = strrchr(images_path, '/');
    base = base ? base + 1 : images_path;
    const char *at = strstr(base, "images-idx3");
    if (!at)
        at = strstr(base, "images.idx3");
    if (!at || strlen(images_path) + 1 > sizeof lpath) {
        snprintf(err, errlen, "%s: not an IDX images file name (...-images-idx3-ubyte[.gz])",
                 images_path);
        return -1;
    }
    /* same length: "images-idx3" -> "labels-idx1" in place */
    size_t pre = (size_t)(at - images_path);
    memcpy(lpath, images_path, strlen(images_path) + 1);
    memcpy(lpath + pre, "labels", 6);
    lpath[pre + 10] = '1';

    uint32_t idims[3], ldims[3];
    gzFile g = open_idx(images_path, 3, idims, err, errlen);
    if (!g)
        return -1;
    if (idims[0] == 0 || idims[1] == 0 || idims[2] == 0 || idims[0] > INT_MAX ||
        idims[1] > 65536 || idims[2] > 65536 ||
        (double)idims[0] * idims[1] * idims[2] > 16e9) {
        snprintf(err, errlen, "%s: implausible IDX dimensions %ux%ux%u", images_path, idims[0],
                 idims[1], idims[2]);
        gzclose(g);
        return -1;
    }
    size_t bytes = (size_t)idims[0] * idims[1] * idims[2];
    if (max_bytes && bytes > max_bytes) {
        snprintf(err, errlen, "%s: %u images of %ux%u take %.0f MB, more than the memory budget of %.0f MB "
                 "(--memory)", images_path, idims[0], idims[1], idims[2], (double)bytes / 1048576.0,
                 (double)max_bytes / 1048576.0);
        gzclose(g);
        return -1;
    }
    size_t got;
    int oom;
    uint8_t *px = read_growing(g, bytes, &got, &oom);
    if (!px) {
        if (oom)
            snprintf(err, errlen, "%s: out of memory after %zu bytes", images_path, got);
        else
            snprintf(err, errlen, "%s: truncated: its header claims %u images of %ux%u (%zu bytes), the file "
                     "holds %zu bytes of images (%zu whole images)", images_path, idims[0], idims[1], idims[2],
                     bytes, got, got / ((size_t)idims[1] * idims[2]));
        gzclose(g);
        return -1;
    }
    gzclose(g);

    g = open_idx(lpath, 1, ldims, err, errlen);
    if (!g) {
        free(px);
        return -1;
    }
    if (ldims[0] != idims[0]) {
        snprintf(err, errlen, "%s has %u labels for %u images in %s", lpath, ldims[0], idims[0],
                 images_path);
        free(px);
        gzclose(g);
        return -1;
    }
    int loom;
    uint8_t *lb = read_growing(g, idims[0], &got, &loom);
    if (!lb) {
        snprintf(err, errlen, "%s: %s", lpath, loom ? "out of memory" : "truncated");
        free(px);
        gzclose(g);
        return -1;
    }
    gzclose(g);
    *pixels = px;
    *labels = lb;
    *n = (int)idims[0];
    *rows = (int)idims[1];
    *cols = (int)idims[2];
    return 0;
}
