/* cache.c: the block that holds every decoded image as uint8.
 *
 * Under the memory budget it is ordinary memory. Over it (70,000 images at
 * 128x128x3 are 3.4 GB) it is a file mapped into memory: created in the
 * cache folder and unlinked at once, so it never outlives the run (not even a
 * crash), and the kernel can write its pages out instead of the run being
 * killed for memory. Pages are touched as images are decoded, never before. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, ftruncate, mmap */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cnn_data_impl.h"

int cnn_cache_alloc(cnn_cache *c, size_t bytes, size_t budget, const char *dir,
                    char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (bytes == 0)
        bytes = 1;
    if (bytes <= budget) {
        c->data = malloc(bytes);
        if (c->data) {
            c->bytes = bytes;
            return 0;
        }
        /* no room in memory: fall through to a file */
    }
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    char path[CNN_MAX_PATH];
    snprintf(path, sizeof path, "%s/cnn-cache-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create the image cache file in %s: %s", dir, strerror(errno));
        return -1;
    }
    unlink(path);
    /* Reserve the blocks now: a full disk is an error here, not a SIGBUS
     * when a page of the mapping is first written. */
    int rc = posix_fallocate(fd, 0, (off_t)bytes);
    if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
        snprintf(err, errlen, "cannot reserve %zu bytes for the image cache file in %s: %s", bytes,
                 dir, strerror(rc));
        close(fd);
        return -1;
    }
    if (rc != 0 && ftruncate(fd, (off_t)bytes) != 0) {
        snprintf(err, errlen, "cannot size the image cache file (%zu bytes) in %s: %s", bytes, dir,
                 strerror(errno));
        close(fd);
        return -1;
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the image cache file (%zu bytes): %s", bytes, strerror(errno));
        return -1;
    }
    c->data = p;
    c->bytes = bytes;
    c->mapped = 1;
    return 0;
}

void cnn_cache_release(cnn_cache *c)
{
    if (!c->data)
        return;
    if (c->mapped)
        munmap(c->data, c->bytes);
    else
        free(c->data);
    memset(c, 0, sizeof *c);
}
