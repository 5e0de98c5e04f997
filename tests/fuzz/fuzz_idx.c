/* fuzz_idx.c: the IDX reader (images and labels files, plain or gzipped)
 * on arbitrary bytes. The first byte picks the mode: bit 0 gzips both
 * files; the next two bytes (little-endian) are the length of the labels
 * file, taken from the end of the input; the rest is the images file. The
 * reader's memory limit is 64 MB, so a header that claims more is refused
 * and one that claims less costs only what its data really holds. Built two
 * ways, as fuzz_decode.c: a libFuzzer target with CNNC_FUZZ=ON, and always
 * a replay of tests/fuzz/corpus_idx that CTest runs
 * (`fuzz_idx_replay --seeds DIR` writes the seed inputs). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "cnn_data_impl.h"

static char dir[256];

static void put(const char *name, const uint8_t *b, size_t n, int gz)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s%s", dir, name, gz ? ".gz" : "");
    if (gz) {
        gzFile g = gzopen(p, "wb1");
        if (g) {
            if (n)
                gzwrite(g, b, (unsigned)n);
            gzclose(g);
        }
    } else {
        FILE *f = fopen(p, "wb");
        if (f) {
            fwrite(b, 1, n, f);
            fclose(f);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/cnnc-fuzz-idx-%ld", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
                 (long)getpid());
        if (mkdir(dir, 0777) != 0 && access(dir, W_OK) != 0)
            return 0;
    }
    int gz = data[0] & 1;
    size_t nl = (size_t)data[1] | (size_t)data[2] << 8;
    const uint8_t *rest = data + 3;
    size_t nr = size - 3;
    if (nl > nr)
        nl = nr;
    char a[64], b[64], p[512];
    snprintf(a, sizeof a, "f-images-idx3-ubyte");
    snprintf(b, sizeof b, "f-labels-idx1-ubyte");
    put(a, rest, nr - nl, gz);
    put(b, rest + (nr - nl), nl, gz);
    snprintf(p, sizeof p, "%s/%s%s", dir, a, gz ? ".gz" : "");
    uint8_t *px = NULL, *lab = NULL;
    int n, rows, cols;
    char err[512];
    if (cnn_idx_read(p, (size_t)64 << 20, &px, &n, &rows, &cols, &lab, err, sizeof err) == 0) {
        /* touch every byte: what the header promised is really there */
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)n * rows * cols; i++)
            sum += px[i];
        for (int i = 0; i < n; i++)
            sum += lab[i];
        free(px);
        free(lab);
        return (int)(sum & 0);
    }
    return 0;
}

#ifndef CNNC_LIBFUZZER
/* Seeds: 3 images of 4x5 with labels, plain and gzipped; a header alone
 * that claims 20,000,000 images of 28x28; labels of another count. */
static int write_seeds(const char *out)
{
    uint8_t img[16 + 60], lab[8 + 3];
    const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};
    const uint8_t lh[8] = {0, 0, 8, 1, 0, 0, 0, 3};
    memcpy(img, ih, 16);
    for (int i = 0; i < 60; i++)
        img[16 + i] = (uint8_t)(i * 37);
    memcpy(lab, lh, 8);
    lab[8] = 0, lab[9] = 1, lab[10] = 2;
    const uint8_t claim[16] = {0, 0, 8, 3, 0x01, 0x31, 0x2d, 0x00, 0, 0, 0, 28, 0, 0, 0, 28};
    struct {
        const char *name;
        int gz;
        const uint8_t *i;
        size_t ni;
        const uint8_t *l;
        size_t nl;
    } seeds[] = {
        {"seed-plain", 0, img, sizeof img, lab, sizeof lab},
        {"seed-gzip", 1, img, sizeof img, lab, sizeof lab},
        {"seed-claim", 0, claim, sizeof claim, lab, sizeof lab},
        {"seed-labels", 0, img, sizeof img, lab, 9},
    };
    for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", out, seeds[k].name);
        FILE *f = fopen(p, "wb");
        if (!f)
            return 1;
        uint8_t hdr[3] = {(uint8_t)seeds[k].gz, (uint8_t)(seeds[k].nl & 255), (uint8_t)(seeds[k].nl >> 8)};
        fwrite(hdr, 1, 3, f);
        fwrite(seeds[k].i, 1, seeds[k].ni, f);
        fwrite(seeds[k].l, 1, seeds[k].nl, f);
        fclose(f);
    }
    return 0;
}
#endif

#define FUZZ_NAME "fuzz_idx"
#define FUZZ_SEEDS write_seeds
#include "replay_main.h"
