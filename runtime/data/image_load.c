/* image_load.c: one image file to model input, for `predict`: the same
 * decode, resize, cached steps and uint8 rounding as the training cache,
 * then the per-batch steps, so a file predicts exactly as it would evaluate. */
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
