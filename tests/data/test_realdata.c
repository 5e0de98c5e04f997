/* test_realdata.c: the data side on real data.
 *   test_realdata fruits DIR    ../shared/data/fruits-dev (real fruit photos)
 *   test_realdata fashion DIR   Fashion-MNIST IDX files (dataset-fashion-mnist)
 * Exits 77 (CTest: skipped) when the data is not there. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn_data.h"
#include "fixtures.h"

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* One training epoch and one evaluation pass: every image once, values in range. */
static void run_epoch(const cnn_model *m, cnn_dataset *d, int training, double lo, double hi)
{
    char err[256];
    cnn_loader *l = cnn_loader_create(m, d, 32, training, 123, err, sizeof err);
    CHECK(l != NULL, "%s", err);
    if (!l)
        return;
    int n = cnn_dataset_size(d);
    char *seen = calloc((size_t)n, 1);
    size_t per = (size_t)m->in_h * m->in_w * m->in_c;
    cnn_loader_begin(l, 0, 0);
    const float *x;
    const int *lab, *ind;
    int got, total = 0, out = 0, nonconst = 0;
    while ((got = cnn_loader_next(l, &x, &lab, &ind)) > 0) {
        for (int j = 0; j < got; j++) {
            seen[ind[j]]++;
            CHECK(lab[j] >= 0 && lab[j] < cnn_dataset_n_classes(d), "label %d", lab[j]);
            const float *im = x + per * j;
            float mn = im[0], mx = im[0];
            for (size_t i = 0; i < per; i++) {
                out += im[i] < lo || im[i] > hi || isnan(im[i]);
                mn = im[i] < mn ? im[i] : mn;
                mx = im[i] > mx ? im[i] : mx;
            }
            nonconst += mx > mn;
        }
        total += got;
    }
    CHECK(total == n, "epoch gave %d of %d images", total, n);
    int dup = 0;
    for (int i = 0; i < n; i++)
        dup += seen[i] != 1;
    CHECK(dup == 0, "%d images not seen exactly once", dup);
    CHECK(out == 0, "%d values outside [%g, %g]", out, lo, hi);
    CHECK(nonconst == n, "%d of %d images are flat", n - nonconst, n);
    free(seen);
    cnn_loader_free(l);
}

static int fruits(const char *dir)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/fresh", dir);
    if (!exists(p)) {
        printf("skipped: %s not found\n", dir);
        return 77;
    }
    fx_model f;
    fx_model_init(&f, 128, 128, 3, 1);
    fx_model_add_step(&f, CNN_PREP_RESCALE, 1.0 / 255, 0);
    f.m.augment.flip = CNN_FLIP_HORIZONTAL;
    f.m.augment.zoom = 0.2;
    f.m.augment.rotate = 0.1;
    cnn_data_options o;
    cnn_data_options_init(&o);
    o.path = dir;
    o.validation_split = 0.2;
    o.seed = 123;
    o.log = stdout;
    cnn_dataset *tr, *va;
    char err[512];
    if (cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err) != 0) {
        CHECK(0, "%s", err);
        return 1;
    }
    CHECK(cnn_dataset_n_classes(tr) == 2 && strcmp(cnn_dataset_class_name(tr, 0), "fresh") == 0 &&
          strcmp(cnn_dataset_class_name(tr, 1), "rotten") == 0, "classes");
    int total = cnn_dataset_size(tr) + cnn_dataset_size(va) + cnn_dataset_skipped(tr);
    CHECK(total == 900, "fruits-dev has 900 images, saw %d", total);
    CHECK(cnn_dataset_skipped(tr) == 0, "%d fruits-dev files skipped", cnn_dataset_skipped(tr));
    /* 450 per class: 90 validation each */
    CHECK(cnn_dataset_class_count(va, 0) == 90 && cnn_dataset_class_count(va, 1) == 90, "stratified: %d %d",
          cnn_dataset_class_count(va, 0), cnn_dataset_class_count(va, 1));
    run_epoch(&f.m, tr, 1, 0, 1);
    run_epoch(&f.m, va, 0, 0, 1);
    cnn_dataset_free(tr);
    cnn_dataset_free(va);
    return 0;
}

static int fashion(const char *dir)
{
    char tp[2048], vp[2048];
    snprintf(tp, sizeof tp, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(vp, sizeof vp, "%s/t10k-images-idx3-ubyte.gz", dir);
    if (!exists(tp) || !exists(vp)) {
        printf("skipped: Fashion-MNIST not found in %s (apt-get install dataset-fashion-mnist)\n", dir);
        return 77;
    }
    fx_model f;
    fx_model_init(&f, 28, 28, 1, 10);
    fx_model_add_step(&f, CNN_PREP_RESCALE, 1.0 / 255, 0);
    cnn_data_options o;
    cnn_data_options_init(&o);
    o.path = tp;
    o.validation = vp;
    o.log = stdout;
    cnn_dataset *tr, *va;
    char err[512];
    if (cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err) != 0) {
        CHECK(0, "%s", err);
        return 1;
    }
    CHECK(cnn_dataset_size(tr) == 60000 && cnn_dataset_size(va) == 10000, "sizes %d %d", cnn_dataset_size(tr),
          cnn_dataset_size(va));
    CHECK(cnn_dataset_n_classes(tr) == 10 && strcmp(cnn_dataset_class_name(tr, 9), "Ankle boot") == 0,
          "class names");
    for (int k = 0; k < 10; k++)
        CHECK(cnn_dataset_class_count(tr, k) == 6000 && cnn_dataset_class_count(va, k) == 1000, "class %d", k);
    run_epoch(&f.m, va, 0, 0, 1);
    cnn_dataset_free(tr);
    cnn_dataset_free(va);

    /* the same file with a split instead: stratified 20% */
    o.validation = NULL;
    o.log = NULL;
    if (cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err) != 0) {
        CHECK(0, "%s", err);
        return 1;
    }
    for (int k = 0; k < 10; k++)
        CHECK(cnn_dataset_class_count(va, k) == 1200, "split class %d: %d", k, cnn_dataset_class_count(va, k));
    cnn_dataset_free(tr);
    cnn_dataset_free(va);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_realdata fruits|fashion DIR\n");
        return 2;
    }
    int rc = strcmp(argv[1], "fruits") == 0 ? fruits(argv[2]) : fashion(argv[2]);
    if (rc == 77)
        return 77;
    if (fx_failures || rc) {
        fprintf(stderr, "test_realdata %s: %d failures\n", argv[1], fx_failures);
        return 1;
    }
    printf("test_realdata %s: ok\n", argv[1]);
    return 0;
}
