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

/* Brightness, then contrast, on the sampled image (Keras's layer order). */
static void color(const cnn_augment *a, const cnn_aug_params *p, float *dst, int h, int w, int c, double lo,
                  double hi)
{
    size_t n = (size_t)h * w * c;
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

void cnn_aug_apply(const cnn_augment *a, const cnn_aug_params *p, const float *src, float *dst,
                   int h, int w, int c, double lo, double hi)
{
    if (cnn_aug_geometric(a)) {
        affine t = geometry(p, h, w);
        sample_geometric(&t, fill_mode(a), src, dst, h, w, c);
    } else {
        flip_copy(p, src, dst, h, w, c);
    }
    color(a, p, dst, h, w, c, lo, hi);
}

/* ---- sampling the cached bytes ---------------------------------------------------
 *
 * The loader's common case: the only step after the cache is `rescale s
 * offset=o` (or none), so the float image is s·u + o of the cached bytes u.
 * Bilinear weights sum to 1, so interpolating u and rescaling after gives
 * the same value (up to float rounding) as interpolating the rescaled image,
 * without converting the image first. Taps outside the image read the fill
 * value 0 of the final range; with fill constant that is
 * s·(sum of w·u over the inside taps) + o·(sum of their weights). With
 * reflect and nearest the mapped point is inside and an outside tap has
 * weight 0, so the weights of the inside taps sum to 1.
 *
 * One rule for every pixel (no interior/border split): map the source point
 * by the fill mode, take the four taps with the outside ones reading 0. The
 * AVX-512 version below and the portable one do the same operations in the
 * same order. */

/* The point mapped by the fill mode, for the sampler below; for constant,
 * clamped to [-2, len + 1] (every tap is outside beyond -1 and len, so the
 * value does not change and the integer conversion cannot overflow). */
static float map_u8(float v, int len, cnn_fill mode)
{
    if (mode == CNN_FILL_CONSTANT)
        return v < -2.0f ? -2.0f : (v > (float)len + 1.0f ? (float)len + 1.0f : v);
    return map_coord(v, len, mode);
}

static void sample_u8_portable(const affine *t, cnn_fill mode, const uint8_t *src, float *dst, int h, int w,
                               int c, float scale, float offset, float vlo, float vhi)
{
    for (int y = 0; y < h; y++) {
        double bx = t->m[1] * y + t->m[2], by = t->m[4] * y + t->m[5];
        float *row = dst + (size_t)y * w * c;
        for (int x = 0; x < w; x++) {
            float sx = map_u8((float)(t->m[0] * x + bx), w, mode);
            float sy = map_u8((float)(t->m[3] * x + by), h, mode);
            float fx = floorf(sx), fy = floorf(sy);
            float ax = sx - fx, ay = sy - fy, bxw = 1.0f - ax, byw = 1.0f - ay;
            int ix0 = (int)fx, iy0 = (int)fy, ix1 = ix0 + 1, iy1 = iy0 + 1;
            int in00 = iy0 >= 0 && iy0 < h && ix0 >= 0 && ix0 < w, in01 = iy0 >= 0 && iy0 < h && ix1 >= 0 && ix1 < w;
            int in10 = iy1 >= 0 && iy1 < h && ix0 >= 0 && ix0 < w, in11 = iy1 >= 0 && iy1 < h && ix1 >= 0 && ix1 < w;
            const uint8_t *p00 = src + ((size_t)iy0 * w + ix0) * c, *p10 = p00 + (size_t)w * c;
            float wsum = 1.0f;
            if (mode == CNN_FILL_CONSTANT) {
                float top = bxw * (in00 ? 1.0f : 0.0f) + ax * (in01 ? 1.0f : 0.0f);
                float bot = bxw * (in10 ? 1.0f : 0.0f) + ax * (in11 ? 1.0f : 0.0f);
                wsum = byw * top + ay * bot;
            }
            for (int k = 0; k < c; k++) {
                float v00 = in00 ? (float)p00[k] : 0.0f, v01 = in01 ? (float)p00[c + k] : 0.0f;
                float v10 = in10 ? (float)p10[k] : 0.0f, v11 = in11 ? (float)p10[c + k] : 0.0f;
                float top = bxw * v00 + ax * v01;
                float bot = bxw * v10 + ax * v11;
                float v = byw * top + ay * bot;
                float r = scale * v + offset * wsum;
                row[(size_t)x * c + k] = r < vlo ? vlo : (r > vhi ? vhi : r);
            }
        }
    }
}

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__)
#include <immintrin.h>

/* map_coord for 16 lanes: TF's reflect (d c b a | a b c d | d c b a) and
 * nearest, as the scalar map_reflect; constant clamps as map_u8. */
static __m512 map_v(__m512 v, int len, cnn_fill mode)
{
    const __m512 zero = _mm512_setzero_ps(), last = _mm512_set1_ps((float)(len - 1));
    if (mode == CNN_FILL_CONSTANT)
        return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-2.0f)), _mm512_set1_ps((float)len + 1.0f));
    if (mode == CNN_FILL_REFLECT) {
        const __m512 sz2 = _mm512_set1_ps(2.0f * len), flen = _mm512_set1_ps((float)len), one = _mm512_set1_ps(1.0f);
        __mmask16 neg = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), big = _mm512_cmp_ps_mask(v, last, _CMP_GT_OQ);
        if (neg | big) {
            /* v < 0: v = sz2 * trunc(-v / sz2) + v; v < -len ? v + sz2 : -v - 1;
             * v > len - 1: v -= sz2 * trunc(v / sz2); v >= len ? sz2 - v - 1 : v.
             * Within (-sz2, sz2) both truncations are 0 and leave v as it is
             * (sz2 * 0 + v and v - sz2 * 0 are v): the divisions only
             * when some lane is farther out. */
            __m512 a = v, b = v;
            if (_mm512_cmp_ps_mask(_mm512_abs_ps(v), sz2, _CMP_GE_OQ)) {
                __m512 tn = _mm512_roundscale_ps(_mm512_div_ps(_mm512_sub_ps(zero, v), sz2), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
                a = _mm512_add_ps(_mm512_mul_ps(sz2, tn), v);
                __m512 tp = _mm512_roundscale_ps(_mm512_div_ps(v, sz2), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
                b = _mm512_sub_ps(v, _mm512_mul_ps(sz2, tp));
            }
            __mmask16 below = _mm512_cmp_ps_mask(a, _mm512_sub_ps(zero, flen), _CMP_LT_OQ);
            a = _mm512_mask_blend_ps(below, _mm512_sub_ps(_mm512_sub_ps(zero, a), one), _mm512_add_ps(a, sz2));
            __mmask16 over = _mm512_cmp_ps_mask(b, flen, _CMP_GE_OQ);
            b = _mm512_mask_blend_ps(over, b, _mm512_sub_ps(_mm512_sub_ps(sz2, b), one));
            v = _mm512_mask_blend_ps(neg, v, a);
            v = _mm512_mask_blend_ps(big, v, b);
        }
    }
    return _mm512_min_ps(_mm512_max_ps(v, zero), last);
}

/* The AVX-512 sampler for three channels reads a padded copy of the image
 * with one 32-bit word per pixel (R, G, B, 0) and PAD_LO = 2 columns and
 * rows of zeros before it, PAD_HI = 3 after: every tap of a mapped point
 * (for fill constant, clamped to [-2, len + 1] by map_u8) lies in the copy,
 * a tap outside the image reads 0 there exactly as the portable sampler's
 * test gives it 0, and a pixel's two taps in a row are one 8-byte read
 * (left pixel, right pixel) with each channel at a fixed bit. */
#define ROW_MAX 1024
enum { PAD_LO = 2, PAD_HI = 3 };

/* The padded copy: 48 bytes (16 pixels) at a time, spread into 32-bit words
 * by one byte permute (AVX-512 VBMI) or by a dword spread and an in-lane
 * byte shuffle (AVX-512 BW). */
static void rgbx_copy(const uint8_t *src, uint32_t *pad, int h, int w)
{
    const int pw = w + PAD_LO + PAD_HI;
    memset(pad, 0, (size_t)pw * PAD_LO * sizeof *pad);
    memset(pad + (size_t)(h + PAD_LO) * pw, 0, (size_t)pw * PAD_HI * sizeof *pad);
#if defined(__AVX512VBMI__)
    _Alignas(64) uint8_t idx[64];
    for (int i = 0; i < 64; i++)
        idx[i] = (uint8_t)(i % 4 == 3 ? 0 : i / 4 * 3 + i % 4);
    const __m512i perm = _mm512_load_si512(idx);
    const __mmask64 rgb = 0x7777777777777777ULL;
#else
    /* pixels 4j..4j+3 (bytes 12j..12j+11) into 128-bit lane j, then bytes into words */
    const __m512i spread = _mm512_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 9, 10, 11, 0);
    const __m512i shuf = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1));
#endif
    for (int y = 0; y < h; y++) {
        const uint8_t *s = src + (size_t)y * w * 3;
        uint32_t *row = pad + (size_t)(y + PAD_LO) * pw;
        for (int k = 0; k < PAD_LO; k++)
            row[k] = 0;
        for (int k = 0; k < PAD_HI; k++)
            row[PAD_LO + w + k] = 0;
        for (int x = 0; x < w; x += 16) {
            int rem = w - x < 16 ? w - x : 16;
            /* 64 bytes where the image goes on that far (bytes past 48 are dropped), else a masked load */
            __m512i v = (size_t)(s - src) + (size_t)x * 3 + 64 <= (size_t)h * w * 3
                            ? _mm512_loadu_si512(s + (size_t)x * 3)
                            : _mm512_maskz_loadu_epi8((__mmask64)((1ULL << (3 * rem)) - 1), s + (size_t)x * 3);
#if defined(__AVX512VBMI__)
            v = _mm512_maskz_permutexvar_epi8(rgb, perm, v);
#else
            v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(spread, v), shuf);
#endif
            _mm512_mask_storeu_epi32(row + PAD_LO + x, (__mmask16)((1u << rem) - 1), v);
        }
    }
}

/* One row in three passes: (1) vectors: each pixel's source point, its
 * weights and the word offset of its top-left tap in the copy; (2) scalar
 * 8-byte reads of each pixel's tap pairs in its two rows (AVX-512 gathers
 * cost more than the whole float sampler on this Zen 5 guest); (3)
 * vectors: words to channels to floats, interpolation, rescale,
 * interleaving into RGB. The arithmetic of each output value is that of the
 * portable sampler, operation for operation. */
static void sample_u8_avx512_c3(const affine *t, cnn_fill mode, const uint8_t *src, uint32_t *pad, float *dst,
                                int h, int w, float scale, float offset, float vlo, float vhi)
{
    rgbx_copy(src, pad, h, w);
    const int pw = w + PAD_LO + PAD_HI;
    int perm_rg[3][16], perm_b[3][16], even[16], odd[16];
    for (int j = 0; j < 3; j++)
        for (int e = 0; e < 16; e++) {
            /* output vector j, element e: float 16j + e = pixel (16j + e) / 3, channel (16j + e) % 3;
             * first R with G (index < 16: R, else G), then B into that */
            int g = 16 * j + e, px = g / 3, ch = g % 3;
            perm_rg[j][e] = ch == 1 ? 16 + px : px;
            perm_b[j][e] = ch == 2 ? 16 + px : e;
        }
    for (int e = 0; e < 16; e++) {
        even[e] = 2 * e;
        odd[e] = 2 * e + 1;
    }
    __m512i prg[3], pb[3];
    for (int j = 0; j < 3; j++) {
        prg[j] = _mm512_loadu_si512(perm_rg[j]);
        pb[j] = _mm512_loadu_si512(perm_b[j]);
    }
    const __m512i left = _mm512_loadu_si512(even), right = _mm512_loadu_si512(odd);
    /* m0 * x and m3 * x in double, as the portable sampler's (float)(m0 * x + bx) */
    _Alignas(64) double mx0[ROW_MAX], mx3[ROW_MAX];
    const int nch = (w + 15) / 16;
    for (int x = 0; x < 16 * nch; x++) {
        mx0[x] = t->m[0] * (double)x;
        mx3[x] = t->m[3] * (double)x;
    }
    _Alignas(64) uint32_t offs[ROW_MAX];
    _Alignas(64) uint64_t pair[2][ROW_MAX];
    _Alignas(64) float axs[ROW_MAX], ays[ROW_MAX], wsum[ROW_MAX];
    const __m512 one = _mm512_set1_ps(1.0f), vscale = _mm512_set1_ps(scale), voff = _mm512_set1_ps(offset);
    const __m512 clo = _mm512_set1_ps(vlo), chi = _mm512_set1_ps(vhi), zero = _mm512_setzero_ps();
    const __m512i ff = _mm512_set1_epi32(255), lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i vw = _mm512_set1_epi32(w), vh = _mm512_set1_epi32(h), ione = _mm512_set1_epi32(1);
    const __m512i vpw = _mm512_set1_epi32(pw), base = _mm512_set1_epi32(PAD_LO * pw + PAD_LO);
    for (int y = 0; y < h; y++) {
        const __m512d bx = _mm512_set1_pd(t->m[1] * y + t->m[2]), by = _mm512_set1_pd(t->m[4] * y + t->m[5]);
        /* (1) */
        for (int q = 0; q < nch; q++) {
            int x = 16 * q;
            __m512 sx = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_add_pd(_mm512_load_pd(mx0 + x), bx))),
                                           _mm512_cvtpd_ps(_mm512_add_pd(_mm512_load_pd(mx0 + x + 8), bx)), 1);
            __m512 sy = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_add_pd(_mm512_load_pd(mx3 + x), by))),
                                           _mm512_cvtpd_ps(_mm512_add_pd(_mm512_load_pd(mx3 + x + 8), by)), 1);
            sx = map_v(sx, w, mode);
            sy = map_v(sy, h, mode);
            __m512 fx = _mm512_roundscale_ps(sx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            __m512 fy = _mm512_roundscale_ps(sy, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            __m512 ax = _mm512_sub_ps(sx, fx), ay = _mm512_sub_ps(sy, fy);
            _mm512_store_ps(axs + x, ax);
            _mm512_store_ps(ays + x, ay);
            __m512i ix0 = _mm512_cvttps_epi32(fx), iy0 = _mm512_cvttps_epi32(fy);
            /* lanes past the row's end point at the copy's first word */
            __mmask16 live = _mm512_cmplt_epi32_mask(_mm512_add_epi32(_mm512_set1_epi32(x), lane), vw);
            _mm512_store_si512(offs + x, _mm512_maskz_add_epi32(live, _mm512_mullo_epi32(iy0, vpw), _mm512_add_epi32(ix0, base)));
            if (mode == CNN_FILL_CONSTANT) {
                /* the weight of the taps inside the image (unsigned compares: 0 <= i < n) */
                __mmask16 mx0k = _mm512_cmplt_epu32_mask(ix0, vw), mx1k = _mm512_cmplt_epu32_mask(_mm512_add_epi32(ix0, ione), vw);
                __mmask16 my0k = _mm512_cmplt_epu32_mask(iy0, vh), my1k = _mm512_cmplt_epu32_mask(_mm512_add_epi32(iy0, ione), vh);
                __m512 bxw = _mm512_sub_ps(one, ax), byw = _mm512_sub_ps(one, ay);
                __m512 top = _mm512_add_ps(_mm512_mul_ps(bxw, _mm512_mask_blend_ps(my0k & mx0k, zero, one)),
                                           _mm512_mul_ps(ax, _mm512_mask_blend_ps(my0k & mx1k, zero, one)));
                __m512 bot = _mm512_add_ps(_mm512_mul_ps(bxw, _mm512_mask_blend_ps(my1k & mx0k, zero, one)),
                                           _mm512_mul_ps(ax, _mm512_mask_blend_ps(my1k & mx1k, zero, one)));
                _mm512_store_ps(wsum + x, _mm512_add_ps(_mm512_mul_ps(byw, top), _mm512_mul_ps(ay, bot)));
            }
        }
        /* (2), 8 pixels an iteration: with one, the loop's counter and
         * branch were 3 of its 8 instructions (unrolled, the sampler takes
         * 20.8 us an image against 22.8: one thread, fruit's augmentation,
         * medians of 16 runs) */
        for (int x = 0; x < 16 * nch; x += 8) {
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                const uint32_t *p = pad + offs[x + k];
                uint64_t a, b;
                memcpy(&a, p, 8);
                memcpy(&b, p + pw, 8);
                pair[0][x + k] = a;
                pair[1][x + k] = b;
            }
        }
        /* (3) */
        float *row = dst + (size_t)y * w * 3;
        for (int q = 0; q < nch; q++) {
            int x = 16 * q, rem = w - x < 16 ? w - x : 16;
            __m512 ax = _mm512_load_ps(axs + x), ay = _mm512_load_ps(ays + x);
            __m512 bxw = _mm512_sub_ps(one, ax), byw = _mm512_sub_ps(one, ay);
            /* each tap's word: R | G << 8 | B << 16 (GCC -O2 does not unroll
             * loops over taps and channels: written out) */
            const __m512i lo0 = _mm512_load_si512(pair[0] + x), hi0 = _mm512_load_si512(pair[0] + x + 8);
            const __m512i lo1 = _mm512_load_si512(pair[1] + x), hi1 = _mm512_load_si512(pair[1] + x + 8);
            const __m512i v00 = _mm512_permutex2var_epi32(lo0, left, hi0), v01 = _mm512_permutex2var_epi32(lo0, right, hi0);
            const __m512i v10 = _mm512_permutex2var_epi32(lo1, left, hi1), v11 = _mm512_permutex2var_epi32(lo1, right, hi1);
#define CHANNEL(EXTRACT)                                                                                          \
    _mm512_add_ps(_mm512_mul_ps(byw, _mm512_add_ps(_mm512_mul_ps(bxw, _mm512_cvtepi32_ps(EXTRACT(v00))),          \
                                                   _mm512_mul_ps(ax, _mm512_cvtepi32_ps(EXTRACT(v01))))),         \
                  _mm512_mul_ps(ay, _mm512_add_ps(_mm512_mul_ps(bxw, _mm512_cvtepi32_ps(EXTRACT(v10))),           \
                                                  _mm512_mul_ps(ax, _mm512_cvtepi32_ps(EXTRACT(v11))))))
#define BYTE0(v) _mm512_and_si512((v), ff)
#define BYTE1(v) _mm512_and_si512(_mm512_srli_epi32((v), 8), ff)
#define BYTE2(v) _mm512_srli_epi32((v), 16)
            __m512 r = CHANNEL(BYTE0), g = CHANNEL(BYTE1), b = CHANNEL(BYTE2);
#undef CHANNEL
#undef BYTE0
#undef BYTE1
#undef BYTE2
            const __m512 offv = mode == CNN_FILL_CONSTANT ? _mm512_mul_ps(voff, _mm512_load_ps(wsum + x)) : voff;
            r = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(_mm512_mul_ps(vscale, r), offv), clo), chi);
            g = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(_mm512_mul_ps(vscale, g), offv), clo), chi);
            b = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(_mm512_mul_ps(vscale, b), offv), clo), chi);
            const __m512 o0 = _mm512_permutex2var_ps(_mm512_permutex2var_ps(r, prg[0], g), pb[0], b);
            const __m512 o1 = _mm512_permutex2var_ps(_mm512_permutex2var_ps(r, prg[1], g), pb[1], b);
            const __m512 o2 = _mm512_permutex2var_ps(_mm512_permutex2var_ps(r, prg[2], g), pb[2], b);
            float *o = row + (size_t)x * 3;
            if (rem == 16) {
                _mm512_storeu_ps(o, o0);
                _mm512_storeu_ps(o + 16, o1);
                _mm512_storeu_ps(o + 32, o2);
            } else {
                /* the row's last 3 * rem floats */
                int n = 3 * rem;
                _mm512_mask_storeu_ps(o, (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1), o0);
                if (n > 16)
                    _mm512_mask_storeu_ps(o + 16, (__mmask16)(n >= 32 ? 0xffffu : (1u << (n - 16)) - 1), o1);
                if (n > 32)
                    _mm512_mask_storeu_ps(o + 32, (__mmask16)((1u << (n - 32)) - 1), o2);
            }
        }
    }
}
#endif

size_t cnn_aug_scratch_bytes(int h, int w, int c)
{
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__)
    if (c == 3 && w >= 2 && w <= ROW_MAX && h >= 2)
        return (size_t)(h + PAD_LO + PAD_HI) * (size_t)(w + PAD_LO + PAD_HI) * sizeof(uint32_t);
#else
    (void)h;
    (void)w;
    (void)c;
#endif
    return 0;
}

int cnn_aug_from_cache(const cnn_augment *a, const cnn_aug_params *p, const uint8_t *src, float *dst, int h,
                       int w, int c, float scale, float offset, double lo, double hi, void *scratch)
{
    if (!cnn_aug_geometric(a) || h < 2 || w < 2)
        return -1;
    affine t = geometry(p, h, w);
    cnn_fill mode = fill_mode(a);
    /* In exact arithmetic a sample lies in the value range (with fill
     * constant, in the range widened to the fill value 0); float rounding of
     * weights that sum to 1 could pass its ends by an ulp: clamped. */
    float vlo = (float)lo, vhi = (float)hi;
    if (mode == CNN_FILL_CONSTANT) {
        vlo = vlo > 0.0f ? 0.0f : vlo;
        vhi = vhi < 0.0f ? 0.0f : vhi;
    }
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__)
    if (scratch && cnn_aug_scratch_bytes(h, w, c) > 0)
        sample_u8_avx512_c3(&t, mode, src, scratch, dst, h, w, scale, offset, vlo, vhi);
    else
#else
    (void)scratch;
#endif
        sample_u8_portable(&t, mode, src, dst, h, w, c, scale, offset, vlo, vhi);
    color(a, p, dst, h, w, c, lo, hi);
    return 0;
}
