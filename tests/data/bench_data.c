/* bench_data: how fast the data side is (a benchmark, not a test: it asserts
 * nothing about speed).
 *
 *   bench_data [--images N] [--size S] [--threads T] [--epochs E] [--source DIR] [--dir DIR]
 *
 * --dir DIR: use the class folders already in DIR (your own photos, or a set
 * made by an earlier run), or make them there and keep them.
 *
 * 1. Makes N photos of S x S pixels as JPEG quality 90 (4:2:0) in a temporary folder:
 *    the fruits-dev photos (DIR, default ../shared/data/fruits-dev) upscaled,
 *    with a little noise so that they carry the detail (and file size) of a
 *    real photo; synthetic images when DIR is missing.
 * 2. First epoch: cnn_data_open with T decode threads for a 128x128x3 model:
 *    read, decode, resize, cache. Images/s.
 * 3. Later epochs: the loader on the cache with the reference network's
 *    augmentation (flip horizontal, zoom 0.2, rotate 0.1) and rescale 1/255,
 *    its batches made by 1 OpenMP thread (one core), then by T. Images/s,
 *    and without augmentation.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnn_data.h"
#include "cnn_data_impl.h"
#include "cnn_rng.h"
#include "fixtures.h"

#ifndef CNNC_SHARED_DATA_DIR
#define CNNC_SHARED_DATA_DIR "../shared/data"
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (all threads): on a shared machine the
 * images per CPU-second say what the code costs, whatever else runs. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Source pictures: fruits-dev decoded, or NULL. */
static int load_sources(const char *dir, cnn_image **out)
{
    const char *cls[2] = { "fresh", "rotten" };
    int n = 0, cap = 64;
    cnn_image *v = malloc(sizeof *v * (size_t)cap);
    for (int c = 0; c < 2; c++)
        for (int i = 1; i <= 450 && n < 64; i += 7) {
            const char *kinds[3] = { "apple", "banana", "orange" };
            for (int k = 0; k < 3 && n < 64; k++) {
                char p[2048];
                snprintf(p, sizeof p, "%s/%s/%s_%04d.jpg", dir, cls[c], kinds[k], i);
                uint8_t *buf;
                size_t len;
                char err[256];
                if (cnn_read_file(p, &buf, &len, err, sizeof err) != 0)
                    continue;
                if (cnn_decode_memory(buf, len, 3, NULL, 1e8, &v[n], err, sizeof err) == 0)
                    n++;
                free(buf);
            }
        }
    *out = v;
    return n;
}

static void make_photo(uint8_t *dst, int s, const cnn_image *src, int seed)
{
    float *f = malloc(sizeof *f * (size_t)s * s * 3);
    if (src) {
        cnn_resize_bilinear(src->px, src->w, 3, 0, 0, src->w, src->h, f, s, s);
    } else {
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                for (int k = 0; k < 3; k++)
                    f[(y * s + x) * 3 + k] =
                        (float)(128 + 90 * sin(0.05 * x * (k + 1) + seed) * cos(0.03 * y + k * seed));
    }
    for (size_t i = 0; i < (size_t)s * s * 3; i++) {
        double u = cnn_rng_uniform((uint64_t)seed, 99, i, 0) + cnn_rng_uniform((uint64_t)seed, 99, i, 1);
        double v = f[i] + (u - 1.0) * 12.0; /* triangular noise, +-12: photo-like detail */
        dst[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
    }
    free(f);
}

static double loader_rate(const cnn_model *m, cnn_dataset *d, int epochs, int threads, double *per_cpu_s)
{
    char err[256];
    omp_set_num_threads(threads); /* the loader's team: at most this many */
    cnn_loader *l = cnn_loader_create(m, d, 32, 1, 123, err, sizeof err);
    if (!l) {
        fprintf(stderr, "%s\n", err);
        return 0;
    }
    /* warm-up epoch: first touch of the batch buffers */
    const float *x;
    const int *lab, *ind;
    cnn_loader_begin(l, 0, 0);
    while (cnn_loader_next(l, &x, &lab, &ind) > 0) {
    }
    long images = 0;
    double t0 = now_s(), c0 = cpu_s();
    for (int e = 1; e <= epochs; e++) {
        cnn_loader_begin(l, e, 0);
        int n;
        while ((n = cnn_loader_next(l, &x, &lab, &ind)) > 0)
            images += n;
    }
    double dt = now_s() - t0, dc = cpu_s() - c0;
    cnn_loader_free(l);
    /* the CPU time of the threads that made the batches (OpenMP's waits
     * between batches are short: each batch follows the last at once) */
    *per_cpu_s = images / dc;
    return images / dt;
}

static void make_set(const char *root, int n, int size, const char *source)
{
    cnn_image *src = NULL;
    int nsrc = load_sources(source, &src);
    char cls[2][1024];
    for (int c = 0; c < 2; c++) {
        snprintf(cls[c], sizeof cls[c], "%s/%s", root, c ? "b" : "a");
        fx_mkdir(cls[c]);
    }
    uint8_t *px = malloc((size_t)size * size * 3);
    double bytes = 0;
    for (int i = 0; i < n; i++) {
        make_photo(px, size, nsrc ? &src[i % nsrc] : NULL, i);
        char p[2048];
        snprintf(p, sizeof p, "%s/%05d.jpg", cls[i % 2], i);
        fx_write_jpeg_photo(p, px, size, size, 90);
        size_t len;
        uint8_t *b = fx_read(p, &len);
        bytes += (double)len;
        free(b);
    }
    free(px);
    for (int i = 0; i < nsrc; i++)
        cnn_image_free(&src[i]);
    free(src);
    printf("bench_data: %d JPEGs %dx%d quality 90, mean %.1f KB (%s)\n", n, size, size, bytes / n / 1024,
           nsrc ? "fruits-dev upscaled, with noise" : "synthetic");
}

int main(int argc, char **argv)
{
    int n = 2000, size = 400, threads = 2, epochs = 4;
    const char *source = CNNC_SHARED_DATA_DIR "/fruits-dev";
    const char *keep = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--images")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--source")) source = argv[i + 1];
        else if (!strcmp(argv[i], "--dir")) keep = argv[i + 1];
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    char root[512];
    int existing = 0;
    if (keep) {
        snprintf(root, sizeof root, "%s", keep);
        char a[1024];
        snprintf(a, sizeof a, "%s/a", root);
        existing = access(a, F_OK) == 0;
        if (!existing && access(root, F_OK) != 0)
            fx_mkdir(root);
    } else {
        fx_tmpdir(root, sizeof root, "bench");
    }
    if (!existing)
        make_set(root, n, size, source);
    else
        printf("bench_data: using the images in %s\n", root);
    fx_model f;
    fx_model_init(&f, 128, 128, 3, 1);
    fx_model_add_step(&f, CNN_PREP_RESCALE, 1.0 / 255, 0);
    f.m.augment.flip = CNN_FLIP_HORIZONTAL;
    f.m.augment.zoom = 0.2;
    f.m.augment.rotate = 0.1;
    cnn_data_options o;
    cnn_data_options_init(&o);
    o.path = root;
    o.validation_split = 0;
    o.threads = threads;
    cnn_dataset *tr = NULL, *va;
    char err[512];
    double best = 0;
    for (int exact = 0; exact < 2; exact++) {
        o.exact_resize = exact;
        for (int rep = 0; rep < 2; rep++) {
            if (tr)
                cnn_dataset_free(tr);
            double t0 = now_s(), c0 = cpu_s();
            if (cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err) != 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            double r = cnn_dataset_size(tr) / (now_s() - t0);
            double rc = cnn_dataset_size(tr) / (cpu_s() - c0);
            printf("first epoch (read, decode, resize, cache), %d threads%s: %.0f images/s "
                   "(%.0f per CPU-second)\n", threads,
                   exact ? ", full decode (exact_resize)" : ", DCT scaling", r, rc);
            if (!exact && r > best)
                best = r;
        }
    }
    double aug_cpu, plain_cpu, augt_cpu;
    double aug = loader_rate(&f.m, tr, epochs, 1, &aug_cpu);
    printf("cached epochs, augmented (flip, zoom 0.2, rotate 0.1, rescale), 1 thread: %.0f images/s "
           "(%.0f per CPU-second)\n", aug, aug_cpu);
    double augt = loader_rate(&f.m, tr, epochs, threads, &augt_cpu);
    printf("cached epochs, augmented, %d threads: %.0f images/s (%.0f per CPU-second)\n", threads, augt, augt_cpu);
    cnn_augment none;
    memset(&none, 0, sizeof none);
    f.m.augment = none;
    double plain = loader_rate(&f.m, tr, epochs, 1, &plain_cpu);
    printf("cached epochs, no augmentation (rescale only), 1 thread: %.0f images/s "
           "(%.0f per CPU-second)\n", plain, plain_cpu);
    printf("{\"first_epoch_images_per_s\": %.0f, \"augmented_images_per_s\": %.0f, "
           "\"cached_images_per_s\": %.0f}\n", best, aug, plain);
    cnn_dataset_free(tr);
    if (!keep)
        fx_rmtree(root);
    return 0;
}
