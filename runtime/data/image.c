/* image.c: the decoded image's pixel buffer and whole-file reads, below
 * the format dispatcher (image_decode.c) and the decoders (jpeg.c, png.c)
 * that fill them. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn_data_impl.h"

uint8_t *cnn_image_reserve(cnn_image *im, size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    if (im->px && im->cap >= bytes)
        return im->px;
    uint8_t *p = realloc(im->px, bytes);
    if (!p)
        return NULL;
    im->px = p;
    im->cap = bytes;
    return p;
}

int cnn_read_file_into(const char *path, uint8_t **buf, size_t *cap, size_t *n, char *err,
                       size_t errlen)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        fclose(f);
        return -1;
    }
    if (st.st_size == 0) {
        snprintf(err, errlen, "empty file (0 bytes)");
        fclose(f);
        return -1;
    }
    if ((unsigned long long)st.st_size > (1ull << 31)) {
        snprintf(err, errlen, "file too large (%lld bytes)", (long long)st.st_size);
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    if (!*buf || *cap < size) {
        uint8_t *b = realloc(*buf, size);
        if (!b) {
            snprintf(err, errlen, "out of memory reading %zu bytes", size);
            fclose(f);
            return -1;
        }
        *buf = b;
        *cap = size;
    }
    size_t got = fread(*buf, 1, size, f);
    int rerr = ferror(f);
    fclose(f);
    if (got != size || rerr) {
        snprintf(err, errlen, "read error: %s", rerr ? strerror(errno) : "short read");
        return -1;
    }
    *n = size;
    return 0;
}

int cnn_read_file(const char *path, uint8_t **buf, size_t *n, char *err, size_t errlen)
{
    size_t cap = 0;
    *buf = NULL;
    if (cnn_read_file_into(path, buf, &cap, n, err, errlen) != 0) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

void cnn_image_free(cnn_image *im)
{
    free(im->px);
    im->px = NULL;
    im->cap = 0;
}

int cnn_decode_take(const cnn_decode_hint *hint, size_t bytes, unsigned w, unsigned h, const char *what,
                    int progressive, char *err, size_t errlen)
{
    cnn_decode_budget *b = hint ? hint->budget : NULL;
    if (!b)
        return 0;
    if (bytes > b->cap) {
        snprintf(err, errlen, "%s needs %.0f MB to decode (%ux%u%s), more than the %.0f MB of --memory; "
                 "give --memory more", what, (double)bytes / 1048576.0, w, h, progressive ? ", progressive" : "",
                 (double)b->cap / 1048576.0);
        return -1;
    }
    pthread_mutex_lock(&b->mu);
    while (b->used + bytes > b->cap)
        pthread_cond_wait(&b->freed, &b->mu);
    b->used += bytes;
    pthread_mutex_unlock(&b->mu);
    *hint->taken += bytes;
    return 0;
}

void cnn_decode_give(cnn_decode_budget *b, size_t bytes)
{
    if (!b || !bytes)
        return;
    pthread_mutex_lock(&b->mu);
    b->used -= bytes;
    pthread_cond_broadcast(&b->freed);
    pthread_mutex_unlock(&b->mu);
}

int cnn_image_too_large(unsigned w, unsigned h, double max_pixels, char *err, size_t errlen)
{
    double pixels = (double)w * (double)h;
    if (pixels <= max_pixels)
        return 0;
    /* The exact counts: rounded megapixels could print as equal to the
     * limit (65535x1526 is 100.006 megapixels, over a limit of 100). */
    snprintf(err, errlen, "image too large: %ux%u is %.0f pixels, over the limit of %.0f (%g megapixels)", w, h,
             pixels, max_pixels, max_pixels / 1e6);
    return 1;
}
