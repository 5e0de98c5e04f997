/* preview.c: see cnn_preview.h. The images come from a training loader
 * over the training subset (the split `train` makes, from the same seed),
 * begun at the epoch asked for: the same order, preprocessing and
 * augmentation draws as that epoch of training, whatever the batch size. */
#define _POSIX_C_SOURCE 200809L
#include "cnn_preview.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_data.h"
#include "cnn_font.h"
#include "cnn_run.h"

#define LABEL_LINES 2
#define MIN_CELL 96 /* small inputs (28x28) are scaled up to at least this */

void cnn_preview_layout_of(const cnn_model *m, int count, cnn_preview_layout *L)
{
    int big = m->in_h > m->in_w ? m->in_h : m->in_w;
    L->scale = big >= MIN_CELL ? 1 : (MIN_CELL + big - 1) / big;
    L->cell_w = m->in_w * L->scale;
    L->cell_h = m->in_h * L->scale;
    L->pad = 6;
    L->tile_w = 3 * L->pad + 2 * L->cell_w;
    L->tile_h = 2 * L->pad + L->cell_h + LABEL_LINES * (CNN_FONT_H + 2);
    L->cols = count < 4 ? count : 4;
    L->rows = (count + L->cols - 1) / L->cols;
    L->width = L->cols * L->tile_w;
    L->height = L->rows * L->tile_h;
}

unsigned char cnn_preview_byte(float v, double lo, double hi)
{
    double t = hi > lo ? ((double)v - lo) / (hi - lo) * 255.0 : 0.0;
    return (unsigned char)(t <= 0 || t != t ? 0 : t >= 255 ? 255 : (int)(t + 0.5));
}

/* "...tail" of s when it is longer than n characters. */
static void fit(char *dst, size_t cap, const char *s, int n)
{
    int len = (int)strlen(s);
    if (len <= n || n < 4)
        snprintf(dst, cap, "%.*s", n > 0 ? n : 0, s);
    else
        snprintf(dst, cap, "...%s", s + len - (n - 3));
}

static void draw_cell(uint8_t *img, const cnn_preview_layout *L, int x0, int y0, const uint8_t *rgb, int h, int w)
{
    for (int y = 0; y < L->cell_h; y++)
        for (int x = 0; x < L->cell_w; x++) {
            const uint8_t *s = rgb + ((size_t)(y * h / L->cell_h) * w + (size_t)(x * w / L->cell_w)) * 3;
            memcpy(img + ((size_t)(y0 + y) * L->width + x0 + x) * 3, s, 3);
        }
}

int cnn_cmd_preview(const cnn_model *m, const cnn_run_options *o)
{
    const cnn_config *c = &o->cfg;
    char err[1024];
    if (!c->data) {
        cnn_error(m, "preview needs data: give --data DIR (a folder with a subfolder per class, or an IDX file)");
        return 1;
    }
    if (!o->output) {
        cnn_error(m, "preview needs its output file: -o grid.png");
        return 1;
    }
    if (cnn_check_default_data(m, o))
        return 1;
    int count = o->count > 0 ? o->count : 16, epoch = o->view_epoch > 0 ? o->view_epoch : 1;
    cnn_apply_threads(o->threads);
    cnn_data_options d;
    cnn_data_options_from(o, &d, o->quiet ? NULL : stdout);
    cnn_dataset *train = NULL, *val = NULL;
    cnn_loader *l = NULL;
    uint8_t *img = NULL, *orig = NULL, *net = NULL;
    int rc = 1;
    if (cnn_data_open(m, &d, &train, &val, err, sizeof err)) {
        cnn_error(m, "%s", err);
        goto out;
    }
    if (cnn_dataset_size(train) < count)
        count = cnn_dataset_size(train);
    if (count == 0) {
        cnn_error(m, "no training images in %s", c->data);
        goto out;
    }
    l = cnn_loader_create(m, train, c->batch, 1, c->seed, err, sizeof err);
    if (!l) {
        cnn_error(m, "%s", err);
        goto out;
    }
    cnn_preview_layout L;
    cnn_preview_layout_of(m, count, &L);
    int h = m->in_h, w = m->in_w, ch = m->in_c;
    img = calloc((size_t)L.width * L.height, 3);
    orig = malloc((size_t)h * w * 3);
    net = malloc((size_t)h * w * 3);
    if (!img || !orig || !net) {
        cnn_error(m, "out of memory for a %dx%d preview", L.width, L.height);
        goto out;
    }
    memset(img, 255, (size_t)L.width * L.height * 3);
    double lo, hi;
    cnn_input_range(m, &lo, &hi);
    static const uint8_t ink[3] = {0, 0, 0}, dim[3] = {90, 90, 90};
    cnn_loader_begin(l, epoch - 1, 0);
    const float *x;
    const int *labels, *idx;
    int n, k = 0;
    while (k < count && (n = cnn_loader_next(l, &x, &labels, &idx)) > 0) {
        for (int b = 0; b < n && k < count; b++, k++) {
            int x0 = (k % L.cols) * L.tile_w, y0 = (k / L.cols) * L.tile_h;
            const float *v = x + (size_t)b * h * w * ch;
            for (size_t p = 0; p < (size_t)h * w; p++)
                for (int q = 0; q < 3; q++)
                    net[p * 3 + q] = cnn_preview_byte(v[p * ch + (ch == 3 ? q : 0)], lo, hi);
            if (cnn_dataset_original(m, train, idx[b], h, w, orig, err, sizeof err)) {
                cnn_warning(m, "%s", err);
                memset(orig, 200, (size_t)h * w * 3);
            }
            draw_cell(img, &L, x0 + L.pad, y0 + L.pad, orig, h, w);
            draw_cell(img, &L, x0 + 2 * L.pad + L.cell_w, y0 + L.pad, net, h, w);
            char line[256];
            int chars = (L.tile_w - L.pad) / CNN_FONT_W;
            const char *rel = cnn_dataset_relpath(train, idx[b]);
            fit(line, sizeof line, rel ? rel : cnn_dataset_path(train, idx[b]), chars);
            int ty = y0 + 2 * L.pad + L.cell_h - 2;
            cnn_font_draw(img, L.width, L.height, x0 + L.pad, ty, line, ink);
            fit(line, sizeof line, cnn_dataset_class_name(train, labels[b]), chars);
            cnn_font_draw(img, L.width, L.height, x0 + L.pad, ty + CNN_FONT_H + 2, line, dim);
        }
    }
    if (cnn_png_write(o->output, L.width, L.height, 3, img, err, sizeof err)) {
        cnn_error(m, "%s", err);
        goto out;
    }
    printf("Wrote %s: %d training image%s of epoch %d (seed %llu), each original beside what the network "
           "receives, %dx%d pixels\n", o->output, count, count == 1 ? "" : "s", epoch,
           (unsigned long long)c->seed, L.width, L.height);
    rc = 0;
out:
    cnn_loader_free(l);
    cnn_dataset_free(train);
    cnn_dataset_free(val);
    free(img);
    free(orig);
    free(net);
    return rc;
}
