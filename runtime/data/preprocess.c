/* preprocess.c: from a decoded image to the model's input values
 * (docs/language.md, "Preprocess"): center crop to the aspect ratio, bilinear resize,
 * then grayscale / edges / brightness / rescale in the order written.
 *
 * The work is split in two so that it runs once per image, not once per epoch:
 * everything up to the first `rescale` (all of it stays in 0..255) is done in
 * float on the resized image and rounded once into the uint8 cache; the rest
 * (rescale and any step after it) runs on every batch from the cached bytes.
 * Caching the resized image alone would cost the same single rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_data_impl.h"

/* `omp simd` asks for vectorization GCC -O2 would not do (no epilogues at its
 * cheap cost model); under sanitizer instrumentation clang cannot honour it
 * and warns, which -Werror would make fatal. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

void cnn_crop_box(int w, int h, int out_w, int out_h, int crop,
                  int *x0, int *y0, int *cw, int *ch)
{
    *x0 = 0;
    *y0 = 0;
    *cw = w;
    *ch = h;
    if (!crop || out_w <= 0 || out_h <= 0)
        return;
    /* Keras's crop_to_aspect_ratio: the largest centered box of the target's
     * aspect ratio, sizes and offsets truncated toward zero. */
    int crop_h = (int)((double)w * out_h / out_w);
    if (crop_h > h) crop_h = h;
    if (crop_h < 1) crop_h = 1;
    int crop_w = (int)((double)h * out_w / out_h);
    if (crop_w > w) crop_w = w;
    if (crop_w < 1) crop_w = 1;
    *y0 = (h - crop_h) / 2;
    *x0 = (w - crop_w) / 2;
    *cw = crop_w;
    *ch = crop_h;
}

/* TensorFlow's ResizeBilinear with half_pixel_centers (the scale, source
 * coordinate and weights computed in float, as TF does). */
typedef struct lerp_tap {
    int lo, hi;
    float t;
} lerp_tap;

static void taps(lerp_tap *tp, int out, int in)
{
    float scale = (float)in / (float)out;
    for (int i = 0; i < out; i++) {
        float s = ((float)i + 0.5f) * scale - 0.5f;
        float f = floorf(s);
        int lo = (int)f, hi = (int)ceilf(s);
        tp[i].lo = lo < 0 ? 0 : lo;
        tp[i].hi = hi > in - 1 ? in - 1 : hi;
        tp[i].t = s - f;
    }
}

/* Horizontal pass of one source row: TF's `top` (or `bottom`) values. */
static void hrow(const uint8_t *row, int c, const lerp_tap *tx, int ow, float *restrict out)
{
    if (c == 3) {
        for (int ox = 0; ox < ow; ox++) {
            const uint8_t *l = row + tx[ox].lo * 3, *r = row + tx[ox].hi * 3;
            float xl = tx[ox].t;
            float l0 = l[0], l1 = l[1], l2 = l[2], r0 = r[0], r1 = r[1], r2 = r[2];
            out[3 * ox] = l0 + (r0 - l0) * xl;
            out[3 * ox + 1] = l1 + (r1 - l1) * xl;
            out[3 * ox + 2] = l2 + (r2 - l2) * xl;
        }
        return;
    }
    for (int ox = 0; ox < ow; ox++) {
        const uint8_t *l = row + tx[ox].lo * c, *r = row + tx[ox].hi * c;
        float xl = tx[ox].t;
        for (int k = 0; k < c; k++) {
            float a = l[k], b = r[k];
            out[ox * c + k] = a + (b - a) * xl;
        }
    }
}

/* out = t + (b - t) * yl, vectorizable */
static void vblend(const float *restrict t, const float *restrict b, float yl, float *restrict out,
                   size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        out[i] = t[i] + (b[i] - t[i]) * yl;
}

/* Separable: each source row that is needed is interpolated horizontally
 * once (two rows kept), then output rows blend two of them vertically. The
 * arithmetic is TF's, term for term: top = tl + (tr - tl) * xl, likewise
 * bottom, out = top + (bottom - top) * yl. */
void cnn_resize_bilinear(const uint8_t *src, int sw, int c, int x0, int y0, int cw, int ch,
                         float *dst, int oh, int ow)
{
    if (oh <= 0 || ow <= 0)
        return;
    lerp_tap *ty = malloc(sizeof *ty * (size_t)oh), *tx = malloc(sizeof *tx * (size_t)ow);
    float *rows = malloc(sizeof *rows * (size_t)ow * c * 2);
    if (!ty || !tx || !rows) {
        free(ty);
        free(tx);
        free(rows);
        memset(dst, 0, sizeof *dst * (size_t)oh * ow * c);
        return;
    }
    taps(ty, oh, ch);
    taps(tx, ow, cw);
    size_t stride = (size_t)sw * c, n = (size_t)ow * c;
    const uint8_t *base = src + (size_t)y0 * stride + (size_t)x0 * c;
    int have[2] = { -1, -1 }; /* source row held in rows[0..n), rows[n..2n) */
    for (int oy = 0; oy < oh; oy++) {
        int want[2] = { ty[oy].lo, ty[oy].hi };
        float *rp[2];
        for (int j = 0; j < 2; j++) {
            int slot = have[0] == want[j] ? 0 : have[1] == want[j] ? 1 : -1;
            if (slot < 0) {
                /* replace the row not needed by this output row */
                slot = (have[0] == want[0] || have[0] == want[1]) ? 1 : 0;
                hrow(base + (size_t)want[j] * stride, c, tx, ow, rows + slot * n);
                have[slot] = want[j];
            }
            rp[j] = rows + slot * n;
        }
        vblend(rp[0], rp[1], ty[oy].t, dst + (size_t)oy * n, n);
    }
    free(ty);
    free(tx);
    free(rows);
}

void cnn_prep_plan_init(cnn_prep_plan *p, const cnn_model *m)
{
    memset(p, 0, sizeof *p);
    p->h = m->in_h;
    p->w = m->in_w;
    p->c = m->in_c;
    p->n_steps = m->n_preprocess < CNN_MAX_PREPROCESS ? m->n_preprocess : CNN_MAX_PREPROCESS;
    double lo = 0, hi = 255;
    p->n_cached = p->n_steps;
    for (int k = 0; k < p->n_steps; k++) {
        p->steps[k] = m->preprocess[k];
        p->range_lo[k] = lo;
        p->range_hi[k] = hi;
        if (p->steps[k].kind == CNN_PREP_RESCALE) {
            if (p->n_cached == p->n_steps)
                p->n_cached = k;
            double a = lo * p->steps[k].value + p->steps[k].offset;
            double b = hi * p->steps[k].value + p->steps[k].offset;
            lo = a < b ? a : b;
            hi = a < b ? b : a;
        }
    }
    p->range_lo[p->n_steps] = lo;
    p->range_hi[p->n_steps] = hi;
    p->lo = lo;
    p->hi = hi;
}

static inline float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static int reflect101(int i, int n)
{
    if (n == 1) return 0;
    if (i < 0) return -i;
    if (i >= n) return 2 * n - 2 - i;
    return i;
}

/* 3x3 Sobel magnitude per channel, border reflected without repeating the
 * edge pixel (tf.pad REFLECT, as tf.image.sobel_edges), clipped to [lo, hi]. */
static void sobel(const float *in, float *out, int h, int w, int c, float lo, float hi)
{
    for (int y = 0; y < h; y++) {
        const float *r0 = in + (size_t)reflect101(y - 1, h) * w * c;
        const float *r1 = in + (size_t)y * w * c;
        const float *r2 = in + (size_t)reflect101(y + 1, h) * w * c;
        for (int x = 0; x < w; x++) {
            int xl = reflect101(x - 1, w) * c, xr = reflect101(x + 1, w) * c;
            for (int k = 0; k < c; k++) {
                float gx = (r0[xr + k] + 2 * r1[xr + k] + r2[xr + k]) -
                           (r0[xl + k] + 2 * r1[xl + k] + r2[xl + k]);
                float gy = (r2[xl + k] + 2 * r2[x * c + k] + r2[xr + k]) -
                           (r0[xl + k] + 2 * r0[x * c + k] + r0[xr + k]);
                out[((size_t)y * w + x) * c + k] = clampf(sqrtf(gx * gx + gy * gy), lo, hi);
            }
        }
    }
}

void cnn_prep_apply(const cnn_prep_plan *p, int from, int to, float *x, float *tmp)
{
    size_t n = (size_t)p->h * p->w * p->c;
    for (int k = from; k < to; k++) {
        const cnn_prep_step *s = &p->steps[k];
        float lo = (float)p->range_lo[k], hi = (float)p->range_hi[k];
        switch (s->kind) {
        case CNN_PREP_GRAYSCALE:
            if (p->c == 3) {
                for (size_t i = 0; i < n; i += 3) {
                    float l = 0.299f * x[i] + 0.587f * x[i + 1] + 0.114f * x[i + 2];
                    x[i] = x[i + 1] = x[i + 2] = l;
                }
            }
            break;
        case CNN_PREP_EDGES:
            sobel(x, tmp, p->h, p->w, p->c, lo, hi);
            memcpy(x, tmp, n * sizeof *x);
            break;
        case CNN_PREP_BRIGHTNESS: {
            float d = (float)(s->value * (p->range_hi[k] - p->range_lo[k]));
#pragma omp simd
            for (size_t i = 0; i < n; i++)
                x[i] = clampf(x[i] + d, lo, hi);
            break;
        }
        case CNN_PREP_RESCALE: {
            float a = (float)s->value, b = (float)s->offset;
#pragma omp simd
            for (size_t i = 0; i < n; i++)
                x[i] = x[i] * a + b;
            break;
        }
        }
    }
}

void cnn_prep_to_cache(const cnn_prep_plan *p, const cnn_image *im, int crop,
                       uint8_t *dst, float *fbuf, float *tmp)
{
    int x0, y0, cw, ch;
    cnn_crop_box(im->w, im->h, p->w, p->h, crop, &x0, &y0, &cw, &ch);
    cnn_resize_bilinear(im->px, im->w, im->c, x0, y0, cw, ch, fbuf, p->h, p->w);
    cnn_prep_apply(p, 0, p->n_cached, fbuf, tmp);
    size_t n = (size_t)p->h * p->w * p->c;
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        dst[i] = (uint8_t)(clampf(fbuf[i], 0.0f, 255.0f) + 0.5f);
}

void cnn_prep_from_cache(const cnn_prep_plan *p, const uint8_t *src, float *x, float *tmp)
{
    size_t n = (size_t)p->h * p->w * p->c;
    int k = p->n_cached;
    if (k < p->n_steps && p->steps[k].kind == CNN_PREP_RESCALE) {
        /* the common case, fused: x = u * scale + offset */
        float a = (float)p->steps[k].value, b = (float)p->steps[k].offset;
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            x[i] = (float)src[i] * a + b;
        k++;
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            x[i] = (float)src[i];
    }
    cnn_prep_apply(p, k, p->n_steps, x, tmp);
}
