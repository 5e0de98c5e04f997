/* test_dataset.c: folders, the class table, the stratified split, the cache
 * (memory and mmap'd file), the loader's determinism, a folder of bad files,
 * the errors a user can cause, IDX files and single-image loading. */
#define _POSIX_C_SOURCE 200809L /* open_memstream, symlink */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>
#include <zlib.h>

#include "cnn_data.h"
#include "cnn_data_impl.h"
#include "fixtures.h"

static char root[512];

/* A solid-color JPEG (quality 100 keeps a flat color within 1). */
static void solid_jpeg(const char *path, int w, int h, int r, int g, int b)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) {
        px[3 * i] = (uint8_t)r;
        px[3 * i + 1] = (uint8_t)g;
        px[3 * i + 2] = (uint8_t)b;
    }
    fx_write_jpeg(path, px, w, h, 3, 100, 0);
    free(px);
}

/* The color of image i of class k: red encodes the class, green the index. */
static void color_of(int k, int i, int *r, int *g, int *b)
{
    *r = 40 + 100 * k;
    *g = 10 + 12 * i;
    *b = 77;
}

static void make_fruit_tree(const char *dir)
{
    char p[2048];
    fx_mkdir(dir);
    snprintf(p, sizeof p, "%s/apples", dir);
    fx_mkdir(p);
    snprintf(p, sizeof p, "%s/bananas", dir);
    fx_mkdir(p);
    snprintf(p, sizeof p, "%s/apples/sub", dir);
    fx_mkdir(p);
    snprintf(p, sizeof p, "%s/.ipynb_checkpoints", dir);
    fx_mkdir(p);
    int r, g, b;
    for (int i = 0; i < 10; i++) {
        color_of(0, i, &r, &g, &b);
        snprintf(p, sizeof p, "%s/apples/a%02d.jpg", dir, i);
        solid_jpeg(p, 20 + i, 16, r, g, b);
    }
    /* the 11th apple: a PNG in a subfolder */
    {
        color_of(0, 10, &r, &g, &b);
        uint8_t px[12 * 10 * 3];
        for (int i = 0; i < 120; i++) {
            px[3 * i] = (uint8_t)r;
            px[3 * i + 1] = (uint8_t)g;
            px[3 * i + 2] = (uint8_t)b;
        }
        snprintf(p, sizeof p, "%s/apples/sub/a10.png", dir);
        fx_write_png(p, px, 12, 10, PNG_COLOR_TYPE_RGB, 8, NULL, 0, 0);
    }
    for (int i = 0; i < 15; i++) {
        color_of(1, i, &r, &g, &b);
        snprintf(p, sizeof p, "%s/bananas/b%02d.jpg", dir, i);
        solid_jpeg(p, 16, 24, r, g, b);
    }
    /* hidden files are skipped silently, whatever they hold */
    snprintf(p, sizeof p, "%s/apples/._a01.jpg", dir);
    fx_write_bytes(p, "\x00\x05\x16\x07 AppleDouble", 16);
    snprintf(p, sizeof p, "%s/bananas/.DS_Store", dir);
    fx_write_bytes(p, "Bud1", 4);
    snprintf(p, sizeof p, "%s/.ipynb_checkpoints/x.jpg", dir);
    solid_jpeg(p, 8, 8, 1, 2, 3);
    snprintf(p, sizeof p, "%s/README.txt", dir);
    fx_write_bytes(p, "top-level files are not classes\n", 32);
}

static int open_ds(const cnn_model *m, cnn_data_options *o, cnn_dataset **tr, cnn_dataset **va,
                   char *err, size_t errlen)
{
    return cnn_data_open(m, o, tr, va, err, errlen);
}

/* All eval-mode floats of a subset, in subset order (malloc'd). */
static float *all_images(const cnn_model *m, cnn_dataset *d, int batch)
{
    char err[256];
    size_t per = (size_t)m->in_h * m->in_w * m->in_c;
    float *out = malloc(per * (size_t)cnn_dataset_size(d) * sizeof *out);
    cnn_loader *l = cnn_loader_create(m, d, batch, 0, 1, err, sizeof err);
    CHECK(l != NULL, "%s", err);
    if (!l)
        return out;
    cnn_loader_begin(l, 0, 0);
    const float *x;
    const int *lab, *ind;
    int n, pos = 0;
    while ((n = cnn_loader_next(l, &x, &lab, &ind)) > 0) {
        for (int j = 0; j < n; j++)
            CHECK(ind[j] == pos + j, "eval order: index %d at %d", ind[j], pos + j);
        memcpy(out + per * pos, x, per * n * sizeof *x);
        pos += n;
    }
    CHECK(pos == cnn_dataset_size(d), "eval covered %d of %d", pos, cnn_dataset_size(d));
    cnn_loader_free(l);
    return out;
}

static void test_folder_and_split(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fruit", root);
    make_fruit_tree(dir);
    fx_model f;
    fx_model_init(&f, 8, 8, 3, 1);
    fx_model_add_step(&f, CNN_PREP_RESCALE, 1.0 / 255, 0);
    cnn_data_options o;
    cnn_data_options_init(&o);
    o.path = dir;
    o.seed = 5;
    char *logbuf = NULL;
    size_t loglen = 0;
    o.log = open_memstream(&logbuf, &loglen);
    cnn_dataset *tr, *va;
    char err[512];
    int rc = open_ds(&f.m, &o, &tr, &va, err, sizeof err);
    fclose(o.log);
    CHECK(rc == 0, "%s", err);
    if (rc != 0) {
        free(logbuf);
        return;
    }
    CHECK(cnn_dataset_n_classes(tr) == 2, "classes %d", cnn_dataset_n_classes(tr));
    CHECK(strcmp(cnn_dataset_class_name(tr, 0), "apples") == 0 &&
          strcmp(cnn_dataset_class_name(tr, 1), "bananas") == 0, "class order");
    /* apples 11 -> round(2.2) = 2 validation; bananas 15 -> 3 */
    CHECK(cnn_dataset_class_count(tr, 0) == 9 && cnn_dataset_class_count(va, 0) == 2, "apples split %d/%d",
          cnn_dataset_class_count(tr, 0), cnn_dataset_class_count(va, 0));
    CHECK(cnn_dataset_class_count(tr, 1) == 12 && cnn_dataset_class_count(va, 1) == 3, "bananas split %d/%d",
          cnn_dataset_class_count(tr, 1), cnn_dataset_class_count(va, 1));
    CHECK(cnn_dataset_size(tr) == 21 && cnn_dataset_size(va) == 5, "sizes");
    CHECK(cnn_dataset_skipped(tr) == 0, "nothing should be skipped (hidden files are not candidates)");
    CHECK(strstr(logbuf, "apples") && strstr(logbuf, "validation") && strstr(logbuf, "total"),
          "class table missing from the log:\n%s", logbuf);
    free(logbuf);

    /* labels follow the folders; no file in both subsets; all files used */
    int seen[2][16] = { { 0 } };
    cnn_dataset *sets[2] = { tr, va };
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < cnn_dataset_size(sets[s]); i++) {
            const char *p = cnn_dataset_path(sets[s], i);
            int lab = cnn_dataset_label(sets[s], i);
            CHECK(strstr(p, lab == 0 ? "/apples/" : "/bananas/") != NULL, "%s labelled %d", p, lab);
            const char *base = strrchr(p, '/') + 1;
            int num = atoi(base + 1);
            CHECK(seen[lab][num] == 0, "%s in both subsets or twice", p);
            seen[lab][num]++;
        }
    int total = 0;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 16; i++)
            total += seen[k][i];
    CHECK(total == 26, "used %d of 26 files", total);

    /* pixels: each image is its solid color, rescaled */
    float *x = all_images(&f.m, tr, 4);
    int bad = 0;
    for (int i = 0; i < cnn_dataset_size(tr); i++) {
        const char *base = strrchr(cnn_dataset_path(tr, i), '/') + 1;
        int r, g, b;
        color_of(cnn_dataset_label(tr, i), atoi(base + 1), &r, &g, &b);
        const float *im = x + (size_t)i * 8 * 8 * 3;
        for (int j = 0; j < 64; j++)
            bad += fabsf(im[3 * j] - r / 255.0f) > 1.5f / 255 || fabsf(im[3 * j + 1] - g / 255.0f) > 1.5f / 255 ||
                   fabsf(im[3 * j + 2] - b / 255.0f) > 1.5f / 255;
    }
    CHECK(bad == 0, "%d pixels differ from their image's color", bad);

    /* the same seed splits the same way; another seed differently */
    uint64_t h_tr = cnn_dataset_hash(tr), h_va = cnn_dataset_hash(va);
    CHECK(h_tr != h_va, "train and validation hash alike");
    cnn_dataset *tr2, *va2;
    o.log = NULL;
    rc = open_ds(&f.m, &o, &tr2, &va2, err, sizeof err);
    CHECK(rc == 0 && cnn_dataset_hash(tr2) == h_tr && cnn_dataset_hash(va2) == h_va, "same seed, same split");
    if (rc == 0) {
        cnn_dataset_free(tr2);
        cnn_dataset_free(va2);
    }
    /* the same folder named differently hashes alike */
    char slash[1100];
    snprintf(slash, sizeof slash, "%s/", dir);
    o.path = slash;
    rc = open_ds(&f.m, &o, &tr2, &va2, err, sizeof err);
    CHECK(rc == 0 && cnn_dataset_hash(tr2) == h_tr && cnn_dataset_hash(va2) == h_va, "DIR/ hashes like DIR");
    if (rc == 0) {
        cnn_dataset_free(tr2);
        cnn_dataset_free(va2);
    }
    o.path = dir;
    o.seed = 6;
    rc = open_ds(&f.m, &o, &tr2, &va2, err, sizeof err);
    CHECK(rc == 0 && cnn_dataset_hash(va2) != h_va, "another seed, another split");
    if (rc == 0) {
        cnn_dataset_free(tr2);
        cnn_dataset_free(va2);
    }
    /* validation_split 0: no validation subset */
    o.validation_split = 0;
    rc = open_ds(&f.m, &o, &tr2, &va2, err, sizeof err);
    CHECK(rc == 0 && va2 == NULL && cnn_dataset_size(tr2) == 26, "split 0");
    if (rc == 0)
        cnn_dataset_free(tr2);
    /* one thread and a memory budget of 1 byte (an mmap'd cache) give the same floats */
    o.validation_split = 0.2;
    o.seed = 5;
    o.threads = 1;
    o.memory_budget = 1;
    o.cache_dir = root;
    rc = open_ds(&f.m, &o, &tr2, &va2, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        float *y = all_images(&f.m, tr2, 7);
        CHECK(memcmp(x, y, sizeof *x * 8 * 8 * 3 * 21) == 0, "mmap'd cache / 1 thread differs");
        free(y);
        cnn_dataset_free(tr2);
        cnn_dataset_free(va2);
    }
    free(x);

    /* single image loading gives the loader's floats */
    {
        float one[8 * 8 * 3];
        char e2[256];
        rc = cnn_image_load(&f.m, cnn_dataset_path(va, 0), one, NULL, e2, sizeof e2);
        CHECK(rc == 0, "%s", e2);
        float *v = all_images(&f.m, va, 2);
        CHECK(rc == 0 && memcmp(one, v, sizeof one) == 0, "cnn_image_load differs from the loader");
        free(v);
    }
    cnn_dataset_free(va);

    /* a softmax model with 3 outputs does not fit 2 classes */
    fx_model g;
    fx_model_init(&g, 8, 8, 3, 3);
    rc = open_ds(&g.m, &o, &tr2, &va2, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "2 classes") && strstr(err, "3 outputs"), "class mismatch: %s", err);
    cnn_dataset_free(tr);
}

static void test_loader(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fruit", root);
    fx_model f;
    fx_model_init(&f, 8, 8, 3, 1);
    fx_model_add_step(&f, CNN_PREP_RESCALE, 1.0 / 255, 0);
    f.m.augment.flip = CNN_FLIP_HORIZONTAL;
    f.m.augment.rotate = 0.05;
    f.m.augment.brightness = 0.1;
    cnn_data_options o;
    cnn_data_options_init(&o);
    o.path = dir;
    cnn_dataset *tr, *va;
    char err[512];
    if (cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err) != 0) {
        CHECK(0, "%s", err);
        return;
    }
    int n = cnn_dataset_size(tr), batch = 4;
    size_t per = 8 * 8 * 3;
    /* a prepares each batch with 3 OpenMP threads, c with 1: same floats */
    omp_set_num_threads(3);
    cnn_loader *a = cnn_loader_create(&f.m, tr, batch, 1, 99, err, sizeof err);
    cnn_loader *b = cnn_loader_create(&f.m, tr, batch, 1, 99, err, sizeof err);
    omp_set_num_threads(1);
    cnn_loader *c = cnn_loader_create(&f.m, tr, batch, 1, 99, err, sizeof err);
    omp_set_num_threads(3);
    CHECK(a && b && c, "%s", err);
    if (!a || !b || !c)
        return;
    CHECK(cnn_loader_batches(a) == (n + batch - 1) / batch, "batches %d", cnn_loader_batches(a));
    /* epoch 2 in full from a, and from b after skipping its first 2 batches */
    float *xa = malloc(per * n * sizeof *xa);
    int *ia = malloc(sizeof *ia * n), count[64] = { 0 };
    cnn_loader_begin(a, 2, 0);
    const float *x;
    const int *lab, *ind;
    int got, pos = 0;
    while ((got = cnn_loader_next(a, &x, &lab, &ind)) > 0) {
        CHECK(got == batch || pos + got == n, "short batch %d in the middle", got);
        for (int j = 0; j < got; j++) {
            ia[pos + j] = ind[j];
            count[ind[j]]++;
            CHECK(lab[j] == cnn_dataset_label(tr, ind[j]), "label of %d", ind[j]);
        }
        memcpy(xa + per * pos, x, per * got * sizeof *x);
        pos += got;
    }
    CHECK(pos == n, "epoch gave %d of %d", pos, n);
    for (int i = 0; i < n; i++)
        CHECK(count[i] == 1, "image %d appears %d times", i, count[i]);
    int shuffled = 0;
    for (int i = 0; i < n; i++)
        shuffled += ia[i] != i;
    CHECK(shuffled > n / 2, "training order is not shuffled");

    cnn_loader_begin(b, 2, 2);
    pos = 2 * batch;
    while ((got = cnn_loader_next(b, &x, &lab, &ind)) > 0) {
        for (int j = 0; j < got; j++)
            CHECK(ind[j] == ia[pos + j], "resumed order differs at %d", pos + j);
        CHECK(memcmp(x, xa + per * pos, per * got * sizeof *x) == 0, "resumed batch at %d differs", pos);
        pos += got;
    }
    CHECK(pos == n, "resumed epoch ended at %d", pos);

    cnn_loader_begin(c, 2, 0);
    pos = 0;
    while ((got = cnn_loader_next(c, &x, &lab, &ind)) > 0) {
        CHECK(memcmp(x, xa + per * pos, per * got * sizeof *x) == 0, "1 thread differs from 3 at %d", pos);
        pos += got;
    }
    CHECK(pos == n, "the 1-thread epoch ended at %d", pos);
    cnn_loader_free(c);

    /* another epoch: another order and other augmentations; then epoch 2 again
     * (abandoning epoch 3 in the middle) repeats itself bitwise */
    cnn_loader_begin(a, 3, 0);
    got = cnn_loader_next(a, &x, &lab, &ind);
    int diff = 0;
    for (int j = 0; j < got; j++)
        diff += ind[j] != ia[j];
    CHECK(diff > 0, "epoch 3 starts like epoch 2");
    cnn_loader_begin(a, 2, 0);
    pos = 0;
    while ((got = cnn_loader_next(a, &x, &lab, &ind)) > 0) {
        CHECK(memcmp(x, xa + per * pos, per * got * sizeof *x) == 0, "epoch 2 again differs at %d", pos);
        pos += got;
    }
    /* augmentation is on: training floats differ from evaluation floats */
    float *ev = all_images(&f.m, tr, 5);
    int changed = 0;
    for (int i = 0; i < n; i++)
        changed += memcmp(xa + per * i, ev + per * ia[i], per * sizeof *xa) != 0;
    CHECK(changed > n / 2, "augmentation changed only %d of %d images", changed, n);
    /* brightness stays within the range */
    int out = 0;
    for (size_t i = 0; i < per * n; i++)
        out += xa[i] < 0 || xa[i] > 1;
    CHECK(out == 0, "%d values outside [0, 1]", out);
    free(ev);
    free(xa);
    free(ia);
    cnn_loader_free(a);
    cnn_loader_free(b);
    cnn_dataset_free(tr);
    cnn_dataset_free(va);
}

static void test_bad_folder(void)
{
    char dir[1024], p[2048];
    snprintf(dir, sizeof dir, "%s/bad", root);
    fx_make_bad_folder(dir);

    fx_model f;
    fx_model_init(&f, 8, 8, 3, 1);
    cnn_data_options o;
    cnn_data_options_init(&o);
    o.path = dir;
    o.validation_split = 0;
    char *logbuf = NULL;
    size_t loglen = 0;
    o.log = open_memstream(&logbuf, &loglen);
    cnn_dataset *tr, *va;
    char err[512];
    int rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
    fclose(o.log);
    CHECK(rc == 0, "the bad folder must open (bad files skipped): %s", err);
    const char *const *names = fx_bad_names, *const *why = fx_bad_reasons;
    for (int i = 0; i < FX_N_BAD; i++) {
        char *at = strstr(logbuf, names[i]);
        CHECK(at != NULL, "%s not named in the log", names[i]);
        if (at) {
            char *eol = strchr(at, '\n');
            size_t len = eol ? (size_t)(eol - at) : strlen(at);
            char line[512];
            snprintf(line, sizeof line, "%.*s", (int)len, at);
            CHECK(strstr(line, why[i]) != NULL, "%s: reason '%s' lacks '%s'", names[i], line, why[i]);
        }
    }
    CHECK(strstr(logbuf, "skipped 8 of 16 files") != NULL, "no final count line:\n%s", logbuf);
    CHECK(strstr(logbuf, "new\nline") == NULL, "a raw newline from a file name reached the log");
    if (rc == 0) {
        CHECK(cnn_dataset_skipped(tr) == 8 && cnn_dataset_size(tr) == 8, "skipped %d, kept %d",
              cnn_dataset_skipped(tr), cnn_dataset_size(tr));
        int named = 0;
        for (int j = 0; j < cnn_dataset_skipped(tr); j++)
            named += strstr(cnn_dataset_skipped_path(tr, j), "/mixed/") != NULL &&
                     cnn_dataset_skipped_reason(tr, j)[0] != 0;
        CHECK(named == 8, "skipped list");
        int utf8 = 0;
        for (int i = 0; i < cnn_dataset_size(tr); i++)
            utf8 += strstr(cnn_dataset_path(tr, i), "\xf0\x9f\x8d\x8e.jpg") != NULL;
        CHECK(utf8 == 1, "the UTF-8 named file was not read");
        cnn_dataset_free(tr);
    }
    free(logbuf);

    o.strict = 1;
    o.log = NULL;
    rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "strict") && strstr(err, "8 unreadable files"), "strict: %s", err);

    /* a class whose every file is bad */
    o.strict = 0;
    snprintf(p, sizeof p, "%s/allbad", dir);
    fx_mkdir(p);
    snprintf(p, sizeof p, "%s/allbad/x.jpg", dir);
    fx_write_bytes(p, "nope", 4);
    fx_model g;
    fx_model_init(&g, 8, 8, 3, 3);
    rc = cnn_data_open(&g.m, &o, &tr, &va, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "allbad") && strstr(err, "no readable images"), "all-bad class: %s", err);
    snprintf(p, sizeof p, "%s/allbad", dir);
    fx_rmtree(p);
}

static void test_user_errors(void)
{
    char dir[1024], p[2048];
    fx_model f;
    fx_model_init(&f, 8, 8, 3, 1);
    cnn_data_options o;
    cnn_data_options_init(&o);
    cnn_dataset *tr, *va;
    char err[512];

    snprintf(dir, sizeof dir, "%s/one", root);
    fx_mkdir(dir);
    snprintf(p, sizeof p, "%s/only", dir);
    fx_mkdir(p);
    snprintf(p, sizeof p, "%s/only/a.jpg", dir);
    solid_jpeg(p, 8, 8, 1, 1, 1);
    o.path = dir;
    int rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "at least 2") && strstr(err, "only"), "one class: %s", err);

    snprintf(p, sizeof p, "%s/empty", dir);
    fx_mkdir(p);
    rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "empty") && strstr(err, "/empty"), "empty class: %s", err);

    snprintf(p, sizeof p, "%s/missing", root);
    o.path = p;
    rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "missing") && strstr(err, "No such file"), "missing: %s", err);

    o.path = NULL;
    rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "no data"), "no path: %s", err);

    /* a separate validation folder must have the same classes */
    snprintf(dir, sizeof dir, "%s/fruit", root);
    snprintf(p, sizeof p, "%s/bad", root);
    o.path = dir;
    o.validation = p;
    rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "classes different"), "validation classes: %s", err);
    /* ... and the same folder as validation works: everything in both */
    o.validation = dir;
    rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
    CHECK(rc == 0 && cnn_dataset_size(tr) == 26 && cnn_dataset_size(va) == 26, "separate validation: %s",
          rc ? err : "sizes");
    if (rc == 0) {
        cnn_dataset_free(tr);
        cnn_dataset_free(va);
    }
}

static void write_idx(const char *path, int gz, const uint8_t *hdr, size_t nh, const uint8_t *data, size_t nd)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        gzwrite(g, hdr, (unsigned)nh);
        gzwrite(g, data, (unsigned)nd);
        gzclose(g);
    } else {
        uint8_t *all = malloc(nh + nd);
        memcpy(all, hdr, nh);
        memcpy(all + nh, data, nd);
        fx_write_bytes(path, all, nh + nd);
        free(all);
    }
}

static void test_idx(void)
{
    enum { N = 30, R = 4, Cc = 5 };
    uint8_t px[N * R * Cc], lab[N];
    for (int i = 0; i < N * R * Cc; i++)
        px[i] = (uint8_t)(i * 7);
    for (int i = 0; i < N; i++)
        lab[i] = (uint8_t)(i % 3);
    const uint8_t ih[16] = { 0, 0, 8, 3, 0, 0, 0, N, 0, 0, 0, R, 0, 0, 0, Cc };
    const uint8_t lh[8] = { 0, 0, 8, 1, 0, 0, 0, N };
    for (int gz = 0; gz < 2; gz++) {
        char ip[1024], lp[1024];
        snprintf(ip, sizeof ip, "%s/t-images-idx3-ubyte%s", root, gz ? ".gz" : "");
        snprintf(lp, sizeof lp, "%s/t-labels-idx1-ubyte%s", root, gz ? ".gz" : "");
        write_idx(ip, gz, ih, 16, px, sizeof px);
        write_idx(lp, gz, lh, 8, lab, sizeof lab);
        fx_model f;
        fx_model_init(&f, R, Cc, 1, 3);
        cnn_data_options o;
        cnn_data_options_init(&o);
        o.path = ip;
        o.validation_split = 0.2;
        cnn_dataset *tr, *va;
        char err[512];
        int rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
        CHECK(rc == 0, "IDX%s: %s", gz ? " gz" : "", err);
        if (rc != 0)
            continue;
        CHECK(cnn_dataset_n_classes(tr) == 3 && strcmp(cnn_dataset_class_name(tr, 2), "2") == 0, "IDX classes");
        CHECK(cnn_dataset_size(tr) == 24 && cnn_dataset_size(va) == 6, "IDX split %d/%d", cnn_dataset_size(tr),
              cnn_dataset_size(va));
        /* same size, no steps: the floats are the bytes */
        float *x = all_images(&f.m, tr, 8);
        int bad = 0;
        for (int i = 0; i < cnn_dataset_size(tr); i++) {
            int src = atoi(strchr(cnn_dataset_path(tr, i), '#') + 1);
            CHECK(cnn_dataset_label(tr, i) == lab[src], "IDX label");
            for (int j = 0; j < R * Cc; j++)
                bad += x[i * R * Cc + j] != px[src * R * Cc + j];
        }
        CHECK(bad == 0, "IDX pixels differ (%d)", bad);
        free(x);
        cnn_dataset_free(tr);
        cnn_dataset_free(va);
        /* to a 3-channel 8x10 model: resized, gray replicated */
        fx_model g;
        fx_model_init(&g, 8, 10, 3, 3);
        rc = cnn_data_open(&g.m, &o, &tr, &va, err, sizeof err);
        CHECK(rc == 0, "IDX to RGB: %s", err);
        if (rc == 0) {
            float *y = all_images(&g.m, tr, 8);
            CHECK(y[0] == y[1] && y[1] == y[2], "gray replicated");
            free(y);
            cnn_dataset_free(tr);
            cnn_dataset_free(va);
        }
        /* the folder instead of the file: the message names the file */
        fx_model h2;
        fx_model_init(&h2, R, Cc, 1, 3);
        cnn_data_options o2;
        cnn_data_options_init(&o2);
        char idxdir[1024];
        snprintf(idxdir, sizeof idxdir, "%s/idxdir%d", root, gz);
        fx_mkdir(idxdir);
        char moved[1200];
        snprintf(moved, sizeof moved, "%s/t-images-idx3-ubyte%s", idxdir, gz ? ".gz" : "");
        write_idx(moved, gz, ih, 16, px, sizeof px);
        o2.path = idxdir;
        rc = cnn_data_open(&h2.m, &o2, &tr, &va, err, sizeof err);
        CHECK(rc != 0 && strstr(err, "give the images file") && strstr(err, "t-images-idx3"), "IDX folder: %s", err);
        /* labels file missing */
        remove(lp);
        rc = cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err);
        CHECK(rc != 0 && strstr(err, "labels-idx1"), "missing labels: %s", err);
    }
}

/* --memory's default: half the RAM, divided among Open MPI's processes on
 * the machine, never under 2 GiB (cache.c). */
static void test_default_memory(void)
{
    size_t half = (size_t)sysconf(_SC_PHYS_PAGES) / 2 * (size_t)sysconf(_SC_PAGESIZE);
    size_t floor = CNN_MIN_DEFAULT_MEMORY_BUDGET;
    unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    size_t alone = cnn_default_memory_budget();
    CHECK(alone == (half > floor ? half : floor), "default %zu, half the RAM %zu", alone, half);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4", 1);
    size_t shared = cnn_default_memory_budget();
    CHECK(shared == (half / 4 > floor ? half / 4 : floor), "4 local processes: %zu, half the RAM %zu", shared,
          half);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "1000000", 1);
    CHECK(cnn_default_memory_budget() == floor, "many local processes: %zu", cnn_default_memory_budget());
    unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
}

int main(void)
{
    test_default_memory();
    fx_tmpdir(root, sizeof root, "dataset");
    test_folder_and_split();
    test_loader();
    test_bad_folder();
    test_user_errors();
    test_idx();
    fx_rmtree(root);
    if (fx_failures) {
        fprintf(stderr, "test_dataset: %d failures\n", fx_failures);
        return 1;
    }
    printf("test_dataset: ok\n");
    return 0;
}
