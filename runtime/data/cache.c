/* cache.c: the block that holds every decoded image as uint8.
 *
 * Under the memory budget it is anonymous memory, asked for in huge pages and
 * populated up front: on these VMs touching fresh 4 KiB pages one fault at a
 * time costs 12-40 us each (100-300 MB/s), which alone would cap the first
 * epoch near 2,000-6,000 images/s of 128x128x3; populating huge pages runs at
 * GB/s. Over the budget (70,000 images at 128x128x3 are 3.4 GB) it is a file
 * mapped into memory: created in the cache folder and unlinked at once, so it
 * never outlives the run (not even a crash), and the kernel can write its
 * pages out instead of the run being killed for memory. */
#define _GNU_SOURCE /* MADV_HUGEPAGE */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cnn_data_impl.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels answer EINVAL and we fault lazily */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Populated in parts of POPULATE_PART bytes by the OpenMP threads: memory
 * the guest has not used lately (after boot, or pages the host took back
 * once they were free) is backed by the host at the first touch, and that
 * is the cost, not zeroing: 3.4 GB took 5.4-5.5 s on one thread and
 * 3.0-3.3 s on two, against 0.1-0.2 s for memory touched moments before.
 * It is the first pass's own time (the cache is allocated before any image
 * is decoded). */
#define POPULATE_PART ((size_t)64 << 20)

void *cnn_big_alloc(size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    const long parts = (long)((bytes + POPULATE_PART - 1) / POPULATE_PART);
    /* best effort: a kernel without MADV_POPULATE_WRITE faults lazily */
#pragma omp parallel for schedule(dynamic) if (parts > 1)
    for (long k = 0; k < parts; k++) {
        size_t at = (size_t)k * POPULATE_PART;
        madvise(p + at, bytes - at < POPULATE_PART ? bytes - at : POPULATE_PART, MADV_POPULATE_WRITE);
    }
    return p;
}

void cnn_big_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes ? bytes : 1);
}

/* A cache that fits in memory is read at twice the speed of a mapped file
 * (fruit's batch making on 70,000 photos: 0.62 against 1.17 ms per batch),
 * so the default keeps it in RAM when half the machine's RAM holds it, as a
 * Keras user whose arrays fit expects. Open MPI's processes on one machine
 * (OMPI_COMM_WORLD_LOCAL_SIZE) each hold a cache, so they share that half. */
size_t cnn_default_memory_budget(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return CNN_MIN_DEFAULT_MEMORY_BUDGET;
    size_t half = (size_t)pages / 2 * (size_t)page;
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long n = local ? strtol(local, NULL, 10) : 1;
    if (n > 1)
        half /= (size_t)n;
    return half > CNN_MIN_DEFAULT_MEMORY_BUDGET ? half : CNN_MIN_DEFAULT_MEMORY_BUDGET;
}

int cnn_cache_alloc(cnn_cache *c, size_t bytes, size_t budget, const char *dir,
                    char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    if (bytes == 0)
        bytes = 1;
    if (bytes <= budget) {
        c->data = cnn_big_alloc(bytes);
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
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the image cache file (%zu bytes): %s", bytes, strerror(errno));
        close(fd);
        return -1;
    }
    c->data = p;
    c->bytes = bytes;
    c->mapped = 1;
    c->fd = fd;
    return 0;
}

int cnn_cache_put(cnn_cache *c, size_t offset, const void *src, size_t n)
{
    if (!c->mapped) {
        memcpy(c->data + offset, src, n);
        return 0;
    }
    const uint8_t *p = src;
    while (n > 0) {
        ssize_t w = pwrite(c->fd, p, n, (off_t)offset);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        offset += (size_t)w;
    }
    return 0;
}

/* One call maps every page at the kernel's speed; faulted one at a time
 * by the loader's first epoch (16 pages per fault with the kernel's
 * fault-around), 70,000 images of 128x128x3 took 6.8 - 7.4 ms of CPU per
 * batch in that epoch against 4.4 - 5.3 mapped in first (at load 12 to 14;
 * docs/benchmarks.md). Only when the file fits in the
 * free memory with a quarter to spare: otherwise populating would read in
 * pages only to push out others. */
void cnn_cache_map_in(cnn_cache *c)
{
    if (!c->data || !c->mapped)
        return;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0 || (double)c->bytes * 1.25 > (double)pages * (double)page)
        return;
    madvise(c->data, c->bytes, MADV_POPULATE_READ); /* best effort */
}

void cnn_cache_release(cnn_cache *c)
{
    if (!c->data)
        return;
    if (c->mapped) {
        munmap(c->data, c->bytes);
        close(c->fd);
    } else {
        cnn_big_free(c->data, c->bytes);
    }
    memset(c, 0, sizeof *c);
    c->fd = -1;
}
