/* test_preview.c: `preview`'s grid shows what the loader gives the network.
 *
 * Draws a small dataset (PNG files of several sizes, two classes), runs the
 * preview command for epoch 3 of a model with zoom, rotation and brightness
 * augmentation, decodes the PNG it wrote with libpng, and checks every pixel
 * of every "network" cell against a training loader of its own (another
 * batch size: the images of an epoch do not depend on it) begun at the same
 * epoch, mapped to bytes as the preview documents. Also: the originals are
 * not the network's view (the augmentation shows), labels are drawn, and a
 * different epoch gives different cells.
 *   test_preview WORKDIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <png.h>

#include "cnn_data.h"
#include "cnn_preview.h"
#include "stripes.h"

static int failures;
#define CHECK(c, ...)                                                                                            \
    do {                                                                                                           \
        if (!(c)) {                                                                                                \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                  \
            fprintf(stderr, __VA_ARGS__);                                                                          \
            fputc('\n', stderr);                                                                                   \
            failures++;                                                                                            \
        }                                                                                                          \
    } while (0)

static uint8_t *read_png(const char *path, int *w, int *h)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return NULL;
    im.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(im));
    if (!px || !png_image_finish_read(&im, NULL, px, 0, NULL)) {
        free(px);
        return NULL;
    }
    *w = (int)im.width;
    *h = (int)im.height;
    return px;
}

static void make_data(const char *root)
{
    char path[2200], err[256];
    const char *classes[2] = {"apples", "pears"};
    mkdir(root, 0777);
    unsigned s = 12345;
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", root, classes[k]);
        mkdir(path, 0777);
        for (int i = 0; i < 12; i++) {
            int w = 20 + 3 * i, h = 24 + (i % 4) * 5;
            uint8_t *px = malloc((size_t)w * h * 3);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int q = 0; q < 3; q++) {
                        s = s * 1103515245u + 12345u;
                        int base = k ? (x * 255 / w) : (y * 255 / h);
                        px[((size_t)y * w + x) * 3 + q] = (uint8_t)((base + (int)(s >> 27) + q * 60) & 255);
                    }
            snprintf(path, sizeof path, "%s/%s/%02d.png", root, classes[k], i);
            if (cnn_png_write(path, w, h, 3, px, err, sizeof err))
                fprintf(stderr, "%s\n", err), exit(2);
            free(px);
        }
    }
}

/* The first `count` float images of `epoch` (0-based) from a training loader. */
static float *loader_images(const cnn_model *m, const char *data, double split, uint64_t seed, int epoch, int count,
                            int training)
{
    cnn_data_options d;
    cnn_data_options_init(&d);
    d.path = data;
    d.validation_split = split;
    d.seed = seed;
    cnn_dataset *train = NULL, *val = NULL;
    char err[1024];
    if (cnn_data_open(m, &d, &train, &val, err, sizeof err))
        return fprintf(stderr, "%s\n", err), NULL;
    cnn_loader *l = cnn_loader_create(m, train, 5, training, seed, err, sizeof err);
    size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    float *out = malloc((size_t)count * img * sizeof *out);
    cnn_loader_begin(l, epoch, 0);
    const float *x;
    const int *labels, *idx;
    int n, k = 0;
    while (k < count && (n = cnn_loader_next(l, &x, &labels, &idx)) > 0)
        for (int b = 0; b < n && k < count; b++, k++)
            memcpy(out + (size_t)k * img, x + (size_t)b * img, img * sizeof *out);
    cnn_loader_free(l);
    cnn_dataset_free(train);
    cnn_dataset_free(val);
    return out;
}

static int grid_matches(const cnn_model *m, const uint8_t *png, int pw, const cnn_preview_layout *L,
                        const float *imgs, int count, int *mismatches)
{
    double lo, hi;
    cnn_input_range(m, &lo, &hi);
    int h = m->in_h, w = m->in_w, c = m->in_c;
    *mismatches = 0;
    for (int k = 0; k < count; k++) {
        int x0 = (k % L->cols) * L->tile_w + 2 * L->pad + L->cell_w, y0 = (k / L->cols) * L->tile_h + L->pad;
        const float *v = imgs + (size_t)k * h * w * c;
        for (int y = 0; y < L->cell_h; y++)
            for (int x = 0; x < L->cell_w; x++)
                for (int q = 0; q < 3; q++) {
                    uint8_t want = cnn_preview_byte(v[((size_t)(y / L->scale) * w + x / L->scale) * c + (c == 3 ? q : 0)],
                                                    lo, hi);
                    uint8_t got = png[((size_t)(y0 + y) * pw + x0 + x) * 3 + q];
                    *mismatches += want != got;
                }
    }
    return *mismatches == 0;
}

int main(int argc, char **argv)
{
    const char *work = argc > 1 ? argv[1] : "/tmp";
    char data[1024], grid[1024];
    snprintf(data, sizeof data, "%s/preview_data", work);
    snprintf(grid, sizeof grid, "%s/preview_grid.png", work);
    make_data(data);

    cnn_model m = stripes_model; /* its preprocessing; augmentation that shows */
    m.augment.zoom = 0.2;
    m.augment.rotate = 0.1;
    m.augment.brightness = 0.2;
    cnn_run_options o;
    memset(&o, 0, sizeof o);
    o.cfg = m.defaults;
    o.cfg.data = data;
    o.cfg.seed = 11;
    o.output = grid;
    o.count = 7;
    o.view_epoch = 3;
    o.quiet = 1;
    o.threads = 1;
    CHECK(cnn_cmd_preview(&m, &o) == 0, "preview failed");

    int pw = 0, ph = 0;
    uint8_t *png = read_png(grid, &pw, &ph);
    CHECK(png != NULL, "cannot decode %s", grid);
    if (!png)
        return 1;
    cnn_preview_layout L;
    cnn_preview_layout_of(&m, o.count, &L);
    CHECK(pw == L.width && ph == L.height, "grid is %dx%d, layout says %dx%d", pw, ph, L.width, L.height);

    int bad;
    float *ep3 = loader_images(&m, data, o.cfg.validation_split, 11, 2, o.count, 1);
    CHECK(ep3 && grid_matches(&m, png, pw, &L, ep3, o.count, &bad), "%d network-cell bytes differ from the loader's",
          bad);
    float *ep1 = loader_images(&m, data, o.cfg.validation_split, 11, 0, o.count, 1);
    CHECK(ep1 && !grid_matches(&m, png, pw, &L, ep1, o.count, &bad), "epoch 1 and epoch 3 look the same");

    /* The original beside each: not the network's view (zoom, rotation);
     * and the label lines hold dark text. */
    int differ = 0, ink = 0;
    for (int k = 0; k < o.count; k++) {
        int x0 = (k % L.cols) * L.tile_w, y0 = (k / L.cols) * L.tile_h;
        for (int y = 0; y < L.cell_h; y++)
            differ += memcmp(png + ((size_t)(y0 + L.pad + y) * pw + x0 + L.pad) * 3,
                             png + ((size_t)(y0 + L.pad + y) * pw + x0 + 2 * L.pad + L.cell_w) * 3,
                             (size_t)L.cell_w * 3) != 0;
        for (int y = y0 + L.pad + L.cell_h; y < y0 + L.tile_h; y++)
            for (int x = x0; x < x0 + L.tile_w; x++)
                ink += png[((size_t)y * pw + x) * 3] < 128;
    }
    CHECK(differ > o.count, "the originals look like the network's view");
    CHECK(ink > 50 * o.count, "no labels drawn (%d dark pixels)", ink);
    free(png);
    free(ep3);
    free(ep1);
    if (!failures)
        printf("ok: a %dx%d grid of %d images matches the loader's epoch 3\n", pw, ph, o.count);
    return failures ? 1 : 0;
}
