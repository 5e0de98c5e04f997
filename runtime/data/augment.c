/* augment.c: random training augmentation with Keras preprocessing-layer
 * semantics (RandomFlip, RandomRotation, RandomZoom, RandomShear,
 * RandomTranslation, RandomBrightness, RandomContrast).
 *
 * Each parameter of each image is its own counter-based draw keyed by
 * (seed, epoch, image index * 16 + parameter), so it does not depend on the
 * batch, the thread or the order in which images are prepared.
 *
 * Geometry: every Keras layer maps an output pixel (x, y) to a source point
 * through an affine matrix (the ones below are Keras's). Applied as a stack
 * of layers (flip, rotate, zoom, shear, translate, in that order) the source
 * point of the last output is flip(rotate(zoom(shear(translate(x, y))))); we
 * compose the matrices and sample ONCE, bilinearly, with TensorFlow's
 * ImageProjectiveTransform rules for the fill modes. Keras would resample once
 * per layer (blurring a little more each time and filling each step's
 * border); one resampling is sharper and several times faster, and
 * identical whenever one transform is active. Flips alone are exact copies. */
#include <math.h>
#include <string.h>

#include "cnn_data_impl.h"

/* `omp simd` asks for vectorization GCC -O2 would not do (no epilogues at its
 * cheap cost model); under sanitizer instrumentation clang cannot honour it
 * and warns, which -Werror would make fatal. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif
#include "cnn_rng.h"

#define CNN_PI 3.14159265358979323846

enum { P_FLIP_H, P_FLIP_V, P_ROTATE, P_ZOOM, P_SHEAR, P_TX, P_TY, P_BRIGHT, P_CONTRAST };

static double sym(uint64_t seed, uint64_t epoch, uint64_t index, int k)
{
    /* uniform in [-1, 1) */
    return 2.0 * cnn_rng_uniform(seed, CNN_RNG_AUGMENT, epoch, index * 16 + (uint64_t)k) - 1.0;
}

int cnn_aug_geometric(const cnn_augment *a)
{
    return a->rotate > 0 || a->zoom > 0 || a->shear > 0 || a->translate > 0;
}

void cnn_aug_draw(const cnn_augment *a, int h, int w, double lo, double hi,
                  uint64_t seed, uint64_t epoch, uint64_t index, cnn_aug_params *p)
{
    memset(p, 0, sizeof *p);
    p->zoom = 1;
    p->contrast = 1;
    if (a->flip & CNN_FLIP_HORIZONTAL)
        p->flip_h = cnn_rng_uniform(seed, CNN_RNG_AUGMENT, epoch, index * 16 + P_FLIP_H) < 0.5;
    if (a->flip & CNN_FLIP_VERTICAL)
        p->flip_v = cnn_rng_uniform(seed, CNN_RNG_AUGMENT, epoch, index * 16 + P_FLIP_V) < 0.5;
    if (a->rotate > 0)
        p->angle = sym(seed, epoch, index, P_ROTATE) * a->rotate * 2.0 * CNN_PI;
    if (a->zoom > 0)
        p->zoom = 1.0 + sym(seed, epoch, index, P_ZOOM) * a->zoom;
    if (a->shear > 0)
        p->shear = sym(seed, epoch, index, P_SHEAR) * a->shear;
    if (a->translate > 0) {
        p->dx = sym(seed, epoch, index, P_TX) * a->translate * w;
        p->dy = sym(seed, epoch, index, P_TY) * a->translate * h;
    }
    if (a->brightness > 0)
        p->brightness = sym(seed, epoch, index, P_BRIGHT) * a->brightness * (hi - lo);
    if (a->contrast > 0)
        p->contrast = 1.0 + sym(seed, epoch, index, P_CONTRAST) * a->contrast;
}

/* 2x3 affine maps, output -> source: x' = m[0]x + m[1]y + m[2], y' = m[3]x + m[4]y + m[5] */
typedef struct affine {
    double m[6];
} affine;

/* r = a(b(.)): first b, then a */
static affine compose(affine a, affine b)
{
    affine r;
    r.m[0] = a.m[0] * b.m[0] + a.m[1] * b.m[3];
    r.m[1] = a.m[0] * b.m[1] + a.m[1] * b.m[4];
    r.m[2] = a.m[0] * b.m[2] + a.m[1] * b.m[5] + a.m[2];
    r.m[3] = a.m[3] * b.m[0] + a.m[4] * b.m[3];
    r.m[4] = a.m[3] * b.m[1] + a.m[4] * b.m[4];
    r.m[5] = a.m[3] * b.m[2] + a.m[4] * b.m[5] + a.m[5];
    return r;
}

static affine geometry(const cnn_aug_params *p, int h, int w)
{
    double W = w - 1, H = h - 1;
    affine flip = { { p->flip_h ? -1 : 1, 0, p->flip_h ? W : 0, 0, p->flip_v ? -1 : 1, p->flip_v ? H : 0 } };
    double c = cos(p->angle), s = sin(p->angle);
    affine rot = { { c, -s, (W - (c * W - s * H)) / 2, s, c, (H - (s * W + c * H)) / 2 } };
    affine zoom = { { p->zoom, 0, W / 2 * (1 - p->zoom), 0, p->zoom, H / 2 * (1 - p->zoom) } };
    affine shear = { { 1, p->shear, 0, 0, 1, 0 } };
    affine move = { { 1, 0, -p->dx, 0, 1, -p->dy } };
    return compose(flip, compose(rot, compose(zoom, compose(shear, move))));
}

/* The fill mode of the composed transform: that of the first active transform. */
static cnn_fill fill_mode(const cnn_augment *a)
{
    if (a->rotate > 0) return a->rotate_fill;
    if (a->zoom > 0) return a->zoom_fill;
    if (a->shear > 0) return a->shear_fill;
    return a->translate_fill;
}

/* TensorFlow's map_coord for reflect: (d c b a | a b c d | d c b a). */
static float map_reflect(float v, int len)
{
    if (v < 0) {
        if (len <= 1)
            return 0;
        float sz2 = 2.0f * len;
        v = sz2 * (float)(long)(-v / sz2) + v;
        v = v < -len ? v + sz2 : -v - 1;
    } else if (v > len - 1) {
        if (len <= 1)
            return 0;
        float sz2 = 2.0f * len;
        v -= sz2 * (float)(long)(v / sz2);
        if (v >= len)
            v = sz2 - v - 1;
    }
    return v < 0 ? 0 : (v > len - 1 ? (float)(len - 1) : v);
}

static float map_coord(float v, int len, cnn_fill mode)
{
    switch (mode) {
    case CNN_FILL_REFLECT: return map_reflect(v, len);
    case CNN_FILL_NEAREST: return v < 0 ? 0 : (v > len - 1 ? (float)(len - 1) : v);
    default: return v; /* constant: out-of-range taps read the fill value */
    }
}

/* One output pixel whose source point needs the fill rules (near or past the
 * border): TF maps the coordinate, then reads each of the 4 taps or, when a
 * tap is out of range, the fill value (0). For reflect and nearest the
 * mapped point is inside, so out-of-range taps have weight 0. */
static void sample_border(float sx, float sy, cnn_fill mode, const float *src, float *o, int h,
                          int w, int c)
{
    const float fill = 0.0f;
    sx = map_coord(sx, w, mode);
    sy = map_coord(sy, h, mode);
    float fx = floorf(sx), fy = floorf(sy);
    float ax = sx - fx, ay = sy - fy;
    long ix0 = (long)fx, iy0 = (long)fy, ix1 = ix0 + 1, iy1 = iy0 + 1;
    int in_x0 = ix0 >= 0 && ix0 < w, in_x1 = ix1 >= 0 && ix1 < w;
    int in_y0 = iy0 >= 0 && iy0 < h, in_y1 = iy1 >= 0 && iy1 < h;
    for (int k = 0; k < c; k++) {
        float v00 = in_y0 && in_x0 ? src[((size_t)iy0 * w + ix0) * c + k] : fill;
        float v01 = in_y0 && in_x1 ? src[((size_t)iy0 * w + ix1) * c + k] : fill;
        float v10 = in_y1 && in_x0 ? src[((size_t)iy1 * w + ix0) * c + k] : fill;
        float v11 = in_y1 && in_x1 ? src[((size_t)iy1 * w + ix1) * c + k] : fill;
        float top = (1 - ax) * v00 + ax * v01;
        float bot = (1 - ax) * v10 + ax * v11;
        o[k] = (1 - ay) * top + ay * bot;
    }
}

/* The x range where s(x) = a*x + b lies in [eps, lim - eps], intersected
 * with [*lo, *hi]. */
static void inside_range(double a, double b, double lim, double *lo, double *hi)
{
    const double eps = 1e-3; /* pixels: far above float rounding of the coordinates */
    if (fabs(a) < 1e-12) {
        if (b < eps || b > lim - eps)
            *hi = *lo - 1;
        return;
    }
    double u = (eps - b) / a, v = (lim - eps - b) / a;
    if (u > v) {
        double t = u;
        u = v;
        v = t;
    }
    if (u > *lo) *lo = u;
    if (v < *hi) *hi = v;
}

/* One pixel, checked: the interior formula or the border rules. */
static inline void sample_px(float sx, float sy, cnn_fill mode, const float *src, float *o, int h,
                             int w, const int c)
{
    if (sx >= 0 && sy >= 0 && sx < (float)(w - 1) && sy < (float)(h - 1)) {
        int ix = (int)sx, iy = (int)sy;
        float ax = sx - (float)ix, ay = sy - (float)iy;
        const float *p00 = src + ((size_t)iy * w + ix) * c;
        const float *p10 = p00 + (size_t)w * c;
        for (int k = 0; k < c; k++) {
            float top = (1 - ax) * p00[k] + ax * p00[c + k];
            float bot = (1 - ax) * p10[k] + ax * p10[c + k];
            o[k] = (1 - ay) * top + ay * bot;
        }
    } else {
        sample_border(sx, sy, mode, src, o, h, w, c);
    }
}

/* The branch-free interior of a row, one loop per channel count so that
 * the compiler can vectorize it (gathers) without an inner channel loop. */
#define INTERIOR_BODY(C)                                                        \
    float sx = (float)(m0 * xi + bx), sy = (float)(m3 * xi + by);              \
    int ix = (int)sx, iy = (int)sy;                                             \
    float ax = sx - (float)ix, ay = sy - (float)iy;                             \
    int i00 = (iy * w + ix) * (C), i10 = i00 + w * (C);

static void interior_run(double m0, double m3, double bx, double by, const float *src,
                         float *restrict row, int w, int x0, int x1, int c)
{
    if (c == 3) {
#pragma omp simd
        for (int xi = x0; xi < x1; xi++) {
            INTERIOR_BODY(3)
            float t0 = (1 - ax) * src[i00] + ax * src[i00 + 3];
            float t1 = (1 - ax) * src[i00 + 1] + ax * src[i00 + 4];
            float t2 = (1 - ax) * src[i00 + 2] + ax * src[i00 + 5];
            float b0 = (1 - ax) * src[i10] + ax * src[i10 + 3];
            float b1 = (1 - ax) * src[i10 + 1] + ax * src[i10 + 4];
            float b2 = (1 - ax) * src[i10 + 2] + ax * src[i10 + 5];
            row[xi * 3] = (1 - ay) * t0 + ay * b0;
            row[xi * 3 + 1] = (1 - ay) * t1 + ay * b1;
            row[xi * 3 + 2] = (1 - ay) * t2 + ay * b2;
        }
    } else if (c == 1) {
#pragma omp simd
        for (int xi = x0; xi < x1; xi++) {
            INTERIOR_BODY(1)
            float t0 = (1 - ax) * src[i00] + ax * src[i00 + 1];
            float b0 = (1 - ax) * src[i10] + ax * src[i10 + 1];
            row[xi] = (1 - ay) * t0 + ay * b0;
        }
    } else {
        for (int xi = x0; xi < x1; xi++) {
            INTERIOR_BODY(c)
            for (int k = 0; k < c; k++) {
                float top = (1 - ax) * src[i00 + k] + ax * src[i00 + c + k];
                float bot = (1 - ax) * src[i10 + k] + ax * src[i10 + c + k];
                row[xi * c + k] = (1 - ay) * top + ay * bot;
            }
        }
    }
}

/* The sampler, with the channel count a constant in each instance so the
 * compiler unrolls the channel loop. In each row the source point moves on
 * a line, so the pixels whose four taps are all inside (where every fill
 * mode is the identity) form one interval, computed up front with a margin
 * and run without branches (vectorizable); the pixels around it are checked
 * one by one. Both paths compute the same values for the same point. */
static inline void sample_c(const affine *t, cnn_fill mode, const float *src, float *dst, int h,
                            int w, const int c)
{
    const double m0 = t->m[0], m3 = t->m[3];
    for (int y = 0; y < h; y++) {
        double bx = t->m[1] * y + t->m[2], by = t->m[4] * y + t->m[5];
        float *row = dst + (size_t)y * w * c;
        double lo = 0, hi = w - 1;
        inside_range(m0, bx, w - 1, &lo, &hi);
        inside_range(m3, by, h - 1, &lo, &hi);
        int x0 = lo <= hi ? (int)ceil(lo) : w, x1 = lo <= hi ? (int)floor(hi) + 1 : w;
        if (x0 > w) x0 = w;
        if (x1 > w) x1 = w;
        if (x1 < x0) x1 = x0;
        int x = 0;
        for (; x < x0; x++)
            sample_px((float)(m0 * x + bx), (float)(m3 * x + by), mode, src, row + x * c, h, w, c);
        interior_run(m0, m3, bx, by, src, row, w, x0, x1, c);
        for (x = x1; x < w; x++)
            sample_px((float)(m0 * x + bx), (float)(m3 * x + by), mode, src, row + x * c, h, w, c);
    }
}

static void sample_geometric(const affine *t, cnn_fill mode, const float *src, float *dst,
                             int h, int w, int c)
{
    if (c == 3)
        sample_c(t, mode, src, dst, h, w, 3);
    else if (c == 1)
        sample_c(t, mode, src, dst, h, w, 1);
    else
        sample_c(t, mode, src, dst, h, w, c);
}

static void flip_copy(const cnn_aug_params *p, const float *src, float *dst, int h, int w, int c)
{
    for (int y = 0; y < h; y++) {
        int sy = p->flip_v ? h - 1 - y : y;
        const float *srow = src + (size_t)sy * w * c;
        float *drow = dst + (size_t)y * w * c;
        if (!p->flip_h) {
            memcpy(drow, srow, (size_t)w * c * sizeof *drow);
            continue;
        }
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                drow[x * c + k] = srow[(w - 1 - x) * c + k];
    }
}

void cnn_aug_apply(const cnn_augment *a, const cnn_aug_params *p, const float *src, float *dst,
                   int h, int w, int c, double lo, double hi)
{
    size_t n = (size_t)h * w * c;
    if (cnn_aug_geometric(a)) {
        affine t = geometry(p, h, w);
        sample_geometric(&t, fill_mode(a), src, dst, h, w, c);
    } else {
        flip_copy(p, src, dst, h, w, c);
    }
    float flo = (float)lo, fhi = (float)hi;
    if (a->brightness > 0) {
        /* Keras RandomBrightness: add, clip to the value range */
        float d = (float)p->brightness;
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float v = dst[i] + d;
            dst[i] = v < flo ? flo : (v > fhi ? fhi : v);
        }
    }
    if (a->contrast > 0) {
        /* Keras RandomContrast: per channel (x - mean) * f + mean, clipped */
        double mean[4] = { 0, 0, 0, 0 };
        for (size_t i = 0; i < n; i += c)
            for (int k = 0; k < c; k++)
                mean[k] += dst[i + k];
        float fm[4];
        for (int k = 0; k < c && k < 4; k++)
            fm[k] = (float)(mean[k] / ((double)h * w));
        float f = (float)p->contrast;
        for (size_t i = 0; i < n; i += c)
            for (int k = 0; k < c; k++) {
                float v = (dst[i + k] - fm[k]) * f + fm[k];
                dst[i + k] = v < flo ? flo : (v > fhi ? fhi : v);
            }
    }
}
