/* image_load.c: one image file to model input, for `predict`: the same
 * decode, resize, cached steps and uint8 rounding as the training cache,
 * then the per-batch steps, so a file predicts exactly as it would evaluate;
 * and an image before preprocessing, as `preview` shows it. */
#include <stdio.h>
#include <stdlib.h>

#include "cnn_data_impl.h"

int cnn_image_load(const cnn_model *m, const char *path, float *x, const cnn_data_options *o,
                   char *err, size_t errlen)
{
    cnn_prep_plan plan;
    cnn_prep_plan_init(&plan, m);
    if (plan.c != 1 && plan.c != 3) {
        snprintf(err, errlen, "model input has %d channels; images need 1 or 3", plan.c);
        return -1;
    }
    double mp = o && o->max_megapixels > 0 ? o->max_megapixels : CNN_DEFAULT_MAX_MEGAPIXELS;
    cnn_decode_hint hint = { plan.h, plan.w, m->crop_to_aspect_ratio, o ? o->exact_resize : 0, 0, NULL, NULL };
    uint8_t *buf;
    size_t n;
    char e2[512];
    if (cnn_read_file(path, &buf, &n, e2, sizeof e2) != 0) {
        snprintf(err, errlen, "%s: %s", path, e2);
        return -1;
    }
    cnn_image im;
    int rc = cnn_decode_memory(buf, n, plan.c, &hint, mp * 1e6, &im, e2, sizeof e2);
    free(buf);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", path, e2);
        return -1;
    }
    size_t nf = (size_t)plan.h * plan.w * plan.c;
    uint8_t *u8 = malloc(nf);
    float *fbuf = malloc(nf * sizeof *fbuf), *tmp = malloc(nf * sizeof *tmp);
    if (!u8 || !fbuf || !tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = -1;
    } else {
        cnn_prep_to_cache(&plan, &im, m->crop_to_aspect_ratio, u8, fbuf, tmp);
        cnn_prep_from_cache(&plan, u8, x, tmp);
    }
    cnn_image_free(&im);
    free(u8);
    free(fbuf);
    free(tmp);
    return rc;
}

void cnn_input_range(const cnn_model *m, double *lo, double *hi)
{
    cnn_prep_plan plan;
    cnn_prep_plan_init(&plan, m);
    *lo = plan.lo;
    *hi = plan.hi;
}

/* src (sh x sw x c bytes) to h x w RGB bytes, bilinear as the loader resizes. */
static int resize_rgb(const uint8_t *src, int sh, int sw, int c, int h, int w, uint8_t *rgb)
{
    float *f = malloc((size_t)h * w * c * sizeof *f);
    if (!f)
        return -1;
    cnn_resize_bilinear(src, sw, c, 0, 0, sw, sh, f, h, w);
    for (size_t p = 0; p < (size_t)h * w; p++)
        for (int k = 0; k < 3; k++) {
            float v = f[p * c + (c == 3 ? k : 0)];
            rgb[p * 3 + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
        }
    free(f);
    return 0;
}

int cnn_dataset_original(const cnn_model *m, const cnn_dataset *d, int i, int h, int w, uint8_t *rgb, char *err,
                         size_t errlen)
{
    const char *path = cnn_dataset_path(d, i);
    uint8_t *buf = NULL;
    size_t n;
    char e2[512];
    if (path && cnn_read_file(path, &buf, &n, e2, sizeof e2) == 0) {
        cnn_image im;
        cnn_decode_hint hint = { h, w, 0, 0, 0, NULL, NULL };
        int rc = cnn_decode_memory(buf, n, 3, &hint, CNN_DEFAULT_MAX_MEGAPIXELS * 1e6, &im, e2, sizeof e2);
        free(buf);
        if (rc == 0)
            rc = resize_rgb(im.px, im.h, im.w, 3, h, w, rgb);
        cnn_image_free(&im);
        if (rc != 0)
            snprintf(err, errlen, "%s: %s", path, e2);
        return rc;
    }
    /* An IDX image: the cache holds its pixels at the model's size. */
    cnn_prep_plan plan;
    cnn_prep_plan_init(&plan, m);
    const uint8_t *px = cnn_dataset_pixels(d, i);
    if (!px || resize_rgb(px, plan.h, plan.w, plan.c, h, w, rgb) != 0) {
        snprintf(err, errlen, "%s: cannot read it", path ? path : "?");
        return -1;
    }
    return 0;
}
