/* test_transform.c: preprocessing (crop box, bilinear resize, grayscale,
 * edges, brightness, rescale, the cache/batch split) and augmentation (each
 * transform alone, fill modes, draws) against values computed by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_data_impl.h"
#include "fixtures.h"

#define PI 3.14159265358979323846

static int near(double a, double b, double tol)
{
    return fabs(a - b) <= tol;
}

static void test_crop_box(void)
{
    int x0, y0, cw, ch;
    cnn_crop_box(400, 300, 128, 128, 1, &x0, &y0, &cw, &ch);
    CHECK(x0 == 50 && y0 == 0 && cw == 300 && ch == 300, "400x300 -> square: %d %d %d %d", x0, y0, cw, ch);
    cnn_crop_box(100, 100, 64, 32, 1, &x0, &y0, &cw, &ch);
    CHECK(x0 == 0 && y0 == 25 && cw == 100 && ch == 50, "100x100 -> 64x32: %d %d %d %d", x0, y0, cw, ch);
    cnn_crop_box(101, 50, 30, 20, 1, &x0, &y0, &cw, &ch);
    /* crop_h = int(101*20/30) = 67 -> 50; crop_w = int(50*30/20) = 75; x0 = int(26/2) = 13 */
    CHECK(x0 == 13 && y0 == 0 && cw == 75 && ch == 50, "101x50 -> 30x20: %d %d %d %d", x0, y0, cw, ch);
    cnn_crop_box(400, 300, 128, 128, 0, &x0, &y0, &cw, &ch);
    CHECK(x0 == 0 && y0 == 0 && cw == 400 && ch == 300, "no crop");
}

static void test_resize(void)
{
    /* 2x2 -> 4x4, TF half-pixel centers: source coordinates -0.25, 0.25, 0.75, 1.25 */
    const uint8_t src[4] = { 0, 100, 200, 255 };
    float out[16];
    cnn_resize_bilinear(src, 2, 1, 0, 0, 2, 2, out, 4, 4);
    const float expect[16] = {
        0, 25, 75, 100,
        50, 72.1875f, 116.5625f, 138.75f,
        150, 166.5625f, 199.6875f, 216.25f,
        200, 213.75f, 241.25f, 255,
    };
    for (int i = 0; i < 16; i++)
        CHECK(near(out[i], expect[i], 1e-4), "upsample [%d] = %g, expected %g", i, out[i], expect[i]);

    /* 4 -> 2 averages pairs (source coordinates 0.5 and 2.5), no antialiasing */
    const uint8_t row[4 * 3] = { 10, 0, 0, 20, 0, 0, 30, 0, 0, 50, 0, 255 };
    float o2[2 * 3];
    cnn_resize_bilinear(row, 4, 3, 0, 0, 4, 1, o2, 1, 2);
    CHECK(near(o2[0], 15, 1e-5) && near(o2[3], 40, 1e-5) && near(o2[5], 127.5, 1e-5),
          "downsample %g %g %g", o2[0], o2[3], o2[5]);

    /* same size: identity; a crop box: only its pixels */
    uint8_t *img = fx_pattern_image(7, 5, 3);
    float *id = malloc(7 * 5 * 3 * sizeof *id);
    cnn_resize_bilinear(img, 7, 3, 0, 0, 7, 5, id, 5, 7);
    int same = 1;
    for (int i = 0; i < 7 * 5 * 3; i++)
        same &= id[i] == img[i];
    CHECK(same, "same-size resize is not the identity");
    float box[2 * 3 * 3];
    cnn_resize_bilinear(img, 7, 3, 2, 1, 3, 2, box, 2, 3);
    same = 1;
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            for (int k = 0; k < 3; k++)
                same &= box[(y * 3 + x) * 3 + k] == img[((y + 1) * 7 + x + 2) * 3 + k];
    CHECK(same, "crop box resize");
    free(img);
    free(id);
}

static void test_steps(void)
{
    fx_model f;
    fx_model_init(&f, 3, 3, 3, 1);
    fx_model_add_step(&f, CNN_PREP_GRAYSCALE, 0, 0);
    fx_model_add_step(&f, CNN_PREP_RESCALE, 1.0 / 255, 0);
    fx_model_add_step(&f, CNN_PREP_BRIGHTNESS, 0.1, 0);
    cnn_prep_plan p;
    cnn_prep_plan_init(&p, &f.m);
    CHECK(p.n_cached == 1, "grayscale is cached, rescale is not: n_cached %d", p.n_cached);
    CHECK(near(p.lo, 0, 1e-12) && near(p.hi, 1, 1e-12), "range after rescale [%g, %g]", p.lo, p.hi);

    /* one 3x3 image of a single color (10, 200, 30) */
    cnn_image im = { 3, 3, 3, NULL, 0 };
    uint8_t px[27];
    for (int i = 0; i < 9; i++) {
        px[3 * i] = 10; px[3 * i + 1] = 200; px[3 * i + 2] = 30;
    }
    im.px = px;
    uint8_t cached[27];
    float fbuf[27], tmp[27], x[27];
    cnn_prep_to_cache(&p, &im, 0, cached, fbuf, tmp);
    /* luma 0.299*10 + 0.587*200 + 0.114*30 = 123.81 -> 124 */
    CHECK(cached[0] == 124 && cached[1] == 124 && cached[2] == 124, "cached gray %d %d %d", cached[0], cached[1], cached[2]);
    cnn_prep_from_cache(&p, cached, x, tmp);
    CHECK(near(x[0], 124.0 / 255 + 0.1, 1e-6), "rescale then brightness: %g", x[0]);
    /* brightness clips at the top of the range */
    cached[0] = 250;
    cnn_prep_from_cache(&p, cached, x, tmp);
    CHECK(x[0] == 1.0f, "brightness clipped to 1: %g", x[0]);

    /* rescale with an offset and negative scale: the range is swapped */
    fx_model g;
    fx_model_init(&g, 1, 1, 1, 1);
    fx_model_add_step(&g, CNN_PREP_RESCALE, -1.0 / 127.5, 1);
    fx_model_add_step(&g, CNN_PREP_BRIGHTNESS, -0.25, 0);
    cnn_prep_plan q;
    cnn_prep_plan_init(&q, &g.m);
    CHECK(near(q.lo, -1, 1e-12) && near(q.hi, 1, 1e-12), "range [%g, %g]", q.lo, q.hi);
    uint8_t u = 0;
    float y;
    cnn_prep_from_cache(&q, &u, &y, tmp);
    CHECK(near(y, 1 - 0.25 * 2, 1e-6), "0 -> 1 - 0.5 = %g", y);

    /* no steps: 0..255 floats, as Keras */
    fx_model h;
    fx_model_init(&h, 1, 2, 1, 1);
    cnn_prep_plan r;
    cnn_prep_plan_init(&r, &h.m);
    uint8_t two[2] = { 0, 255 };
    float out2[2];
    cnn_prep_from_cache(&r, two, out2, tmp);
    CHECK(out2[0] == 0 && out2[1] == 255 && r.n_cached == 0 && r.hi == 255, "no steps");
}

static void test_edges(void)
{
    /* a ramp 0, 10, 20 in x: interior gx = (20 + 2*20 + 20) - 0 = 80; at the
     * left and right columns the reflected neighbors are equal: 0 */
    fx_model f;
    fx_model_init(&f, 3, 3, 1, 1);
    fx_model_add_step(&f, CNN_PREP_EDGES, 0, 0);
    cnn_prep_plan p;
    cnn_prep_plan_init(&p, &f.m);
    float x[9] = { 0, 10, 20, 0, 10, 20, 0, 10, 20 }, tmp[9];
    cnn_prep_apply(&p, 0, 1, x, tmp);
    const float e[9] = { 0, 80, 0, 0, 80, 0, 0, 80, 0 };
    for (int i = 0; i < 9; i++)
        CHECK(near(x[i], e[i], 1e-4), "edges [%d] = %g, expected %g", i, x[i], e[i]);
    /* diagonal structure: gx and gy both, magnitude, and clipping at 255 */
    float d[9] = { 0, 0, 0, 0, 0, 0, 0, 0, 90 };
    cnn_prep_apply(&p, 0, 1, d, tmp);
    /* center (1,1): gx = r2[2] = 90, gy = r2[2] = 90 -> 127.279 */
    CHECK(near(d[4], sqrt(2.0) * 90, 1e-3), "diagonal center %g", d[4]);
    /* (2,2): row below reflects to row 1, column right to column 1: gx = gy = 0 */
    CHECK(near(d[8], 0, 1e-5), "corner %g", d[8]);
    /* (1,2) (x=1, y=2): rows y-1 = 1 and y+1 -> 1; gy = 0; gx = (0 + 2*90 + 0) - 0 = 180 */
    CHECK(near(d[7], 180, 1e-4), "bottom middle %g", d[7]);
    float big[9] = { 0, 100, 200, 0, 100, 200, 0, 100, 200 };
    cnn_prep_apply(&p, 0, 1, big, tmp);
    CHECK(big[1] == 255.0f, "edges clip to the range: %g", big[1]);
}

/* ---- augmentation ---------------------------------------------------------- */

static float *ramp_image(int w, int h, int c)
{
    float *p = malloc(sizeof *p * (size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                p[(y * w + x) * c + k] = (float)(1 + x + 10 * y + 100 * k);
    return p;
}

#define AT(img, x, y, k) (img)[((y) * W + (x)) * C + (k)]

static void test_flip(void)
{
    enum { W = 5, H = 4, C = 3 };
    float *src = ramp_image(W, H, C), dst[W * H * C];
    cnn_augment a;
    memset(&a, 0, sizeof a);
    a.flip = CNN_FLIP_HORIZONTAL | CNN_FLIP_VERTICAL;
    cnn_aug_params p;
    memset(&p, 0, sizeof p);
    p.zoom = 1;
    p.contrast = 1;
    p.flip_h = 1;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 255);
    int ok = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < C; k++)
                ok &= AT(dst, x, y, k) == AT(src, W - 1 - x, y, k);
    CHECK(ok, "horizontal flip is not exact");
    p.flip_h = 0;
    p.flip_v = 1;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 255);
    ok = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < C; k++)
                ok &= AT(dst, x, y, k) == AT(src, x, H - 1 - y, k);
    CHECK(ok, "vertical flip is not exact");
    /* a flip through the geometric sampler (rotation on, angle 0) is exact too */
    a.rotate = 0.1;
    p.flip_v = 0;
    p.flip_h = 1;
    p.angle = 0;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 255);
    ok = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < C; k++)
                ok &= AT(dst, x, y, k) == AT(src, W - 1 - x, y, k);
    CHECK(ok, "flip composed with a zero rotation is not exact");
    free(src);
}

static cnn_aug_params identity_params(void)
{
    cnn_aug_params p;
    memset(&p, 0, sizeof p);
    p.zoom = 1;
    p.contrast = 1;
    return p;
}

static void test_rotate(void)
{
    enum { W = 6, H = 6, C = 1 };
    float *src = ramp_image(W, H, C), dst[W * H * C];
    cnn_augment a;
    memset(&a, 0, sizeof a);
    a.rotate = 0.25;
    cnn_aug_params p = identity_params();
    p.angle = PI / 2; /* a quarter turn counter-clockwise */
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1000);
    /* output (x, y) reads source (W-1-y, x): the top-right corner goes to the top-left */
    int ok = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            ok &= near(AT(dst, x, y, 0), AT(src, W - 1 - y, x, 0), 1e-3);
    CHECK(ok, "quarter turn: dst(0,0) = %g, expected %g", AT(dst, 0, 0, 0), AT(src, W - 1, 0, 0));
    /* a half turn */
    p.angle = PI;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1000);
    ok = 1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            ok &= near(AT(dst, x, y, 0), AT(src, W - 1 - x, H - 1 - y, 0), 1e-3);
    CHECK(ok, "half turn");
    free(src);
}

static void test_zoom_shear_translate(void)
{
    enum { W = 9, H = 9, C = 1 };
    float *src = ramp_image(W, H, C), dst[W * H * C];
    cnn_augment a;
    memset(&a, 0, sizeof a);
    /* zoom out by 2 (Keras: samples an area twice as large), constant fill:
     * source = 2 * out - (W-1)/2 */
    a.zoom = 1;
    a.zoom_fill = CNN_FILL_CONSTANT;
    cnn_aug_params p = identity_params();
    p.zoom = 2;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1000);
    CHECK(AT(dst, 4, 4, 0) == AT(src, 4, 4, 0), "zoom keeps the center");
    CHECK(AT(dst, 3, 5, 0) == AT(src, 2, 6, 0), "zoom (3,5) <- (2,6): %g", AT(dst, 3, 5, 0));
    CHECK(AT(dst, 0, 0, 0) == 0, "zoom out: constant fill outside: %g", AT(dst, 0, 0, 0));
    /* zoom in by 0.5: source = 0.5 * out + 2, so (1, 1) reads (2.5, 2.5) */
    p.zoom = 0.5;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1000);
    double e = (AT(src, 2, 2, 0) + AT(src, 3, 2, 0) + AT(src, 2, 3, 0) + AT(src, 3, 3, 0)) / 4;
    CHECK(near(AT(dst, 1, 1, 0), e, 1e-4), "zoom in bilinear: %g vs %g", AT(dst, 1, 1, 0), e);

    /* shear 0.5 (Keras: x_source = x + 0.5 y), nearest fill */
    memset(&a, 0, sizeof a);
    a.shear = 1;
    a.shear_fill = CNN_FILL_NEAREST;
    p = identity_params();
    p.shear = 0.5;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1000);
    CHECK(AT(dst, 3, 0, 0) == AT(src, 3, 0, 0), "shear keeps row 0");
    CHECK(AT(dst, 3, 2, 0) == AT(src, 4, 2, 0), "shear row 2 moves by 1");
    CHECK(near(AT(dst, 3, 1, 0), (AT(src, 3, 1, 0) + AT(src, 4, 1, 0)) / 2, 1e-4), "shear row 1 halfway");
    CHECK(AT(dst, 8, 4, 0) == AT(src, 8, 4, 0), "shear past the right edge: nearest");

    /* translate by (+2, -1) with reflect fill: out (x, y) <- (x - 2, y + 1) */
    memset(&a, 0, sizeof a);
    a.translate = 0.5;
    a.translate_fill = CNN_FILL_REFLECT;
    p = identity_params();
    p.dx = 2;
    p.dy = -1;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1000);
    CHECK(AT(dst, 5, 3, 0) == AT(src, 3, 4, 0), "translate interior");
    /* x - 2 = -1 reflects to 0, -2 to 1 (d c b a | a b c d) */
    CHECK(AT(dst, 1, 0, 0) == AT(src, 0, 1, 0), "reflect -1 -> 0");
    CHECK(AT(dst, 0, 0, 0) == AT(src, 1, 1, 0), "reflect -2 -> 1");
    /* y + 1 = 9 reflects to 8 */
    CHECK(AT(dst, 4, 8, 0) == AT(src, 2, 8, 0), "reflect 9 -> 8");

    /* constant fill blends with 0 at a half-pixel shift (TF reads the fill for
     * out-of-range taps) */
    a.translate_fill = CNN_FILL_CONSTANT;
    p.dx = 0.5;
    p.dy = 0;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1000);
    CHECK(near(AT(dst, 0, 2, 0), 0.5 * AT(src, 0, 2, 0), 1e-4), "constant half pixel: %g", AT(dst, 0, 2, 0));
    CHECK(near(AT(dst, 4, 2, 0), (AT(src, 3, 2, 0) + AT(src, 4, 2, 0)) / 2, 1e-4), "half pixel interior");
    free(src);
}

/* An independent, plain reference of the geometric augmentation: the
 * documented matrices applied one after another to each output point (no
 * composition), TF's coordinate mapping and bilinear taps, in double. */
static double ref_map(double v, int len, cnn_fill mode)
{
    if (mode == CNN_FILL_NEAREST)
        return v < 0 ? 0 : v > len - 1 ? len - 1 : v;
    if (mode == CNN_FILL_CONSTANT)
        return v;
    if (len <= 1)
        return 0;
    /* reflect with period 2*len about the pixel edges */
    double p = fmod(v + 0.5, 2.0 * len);
    if (p < 0)
        p += 2.0 * len;
    double r = p < len ? p - 0.5 : 2.0 * len - p - 0.5;
    return r < 0 ? 0 : r > len - 1 ? len - 1 : r;
}

static void ref_sample(const cnn_aug_params *p, cnn_fill mode, const float *src, float *dst, int h, int w, int c)
{
    double W = w - 1, H = h - 1, cs = cos(p->angle), sn = sin(p->angle);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double px = x - p->dx, py = y - p->dy;                        /* translate */
            px = px + p->shear * py;                                     /* shear */
            px = p->zoom * px + W / 2 * (1 - p->zoom);                   /* zoom */
            py = p->zoom * py + H / 2 * (1 - p->zoom);
            double rx = cs * px - sn * py + (W - (cs * W - sn * H)) / 2; /* rotate */
            double ry = sn * px + cs * py + (H - (sn * W + cs * H)) / 2;
            if (p->flip_h) rx = W - rx;                                  /* flip */
            if (p->flip_v) ry = H - ry;
            rx = ref_map(rx, w, mode);
            ry = ref_map(ry, h, mode);
            double fx = floor(rx), fy = floor(ry), ax = rx - fx, ay = ry - fy;
            for (int k = 0; k < c; k++) {
                double v[2][2];
                for (int j = 0; j < 2; j++)
                    for (int i = 0; i < 2; i++) {
                        long xx = (long)fx + i, yy = (long)fy + j;
                        v[j][i] = xx >= 0 && xx < w && yy >= 0 && yy < h ? src[(yy * w + xx) * c + k] : 0.0;
                    }
                double top = (1 - ax) * v[0][0] + ax * v[0][1], bot = (1 - ax) * v[1][0] + ax * v[1][1];
                dst[(y * w + x) * c + k] = (float)((1 - ay) * top + ay * bot);
            }
        }
}

static void test_against_reference(void)
{
    const int sizes[3][3] = { { 17, 23, 3 }, { 32, 32, 1 }, { 9, 40, 3 } };
    cnn_fill modes[3] = { CNN_FILL_REFLECT, CNN_FILL_NEAREST, CNN_FILL_CONSTANT };
    int cases = 0;
    for (int si = 0; si < 3; si++) {
        int h = sizes[si][0], w = sizes[si][1], c = sizes[si][2];
        float *src = ramp_image(w, h, c), *a = malloc(sizeof *a * (size_t)w * h * c),
              *b = malloc(sizeof *b * (size_t)w * h * c);
        for (int mi = 0; mi < 3; mi++)
            for (int i = 0; i < 40; i++) {
                cnn_augment au;
                memset(&au, 0, sizeof au);
                au.flip = CNN_FLIP_HORIZONTAL | CNN_FLIP_VERTICAL;
                au.rotate = 0.5;
                au.zoom = 0.6;
                au.shear = 0.5;
                au.translate = 0.4;
                au.rotate_fill = au.zoom_fill = au.shear_fill = au.translate_fill = modes[mi];
                cnn_aug_params p;
                cnn_aug_draw(&au, h, w, 0, 1000, 11, (uint64_t)mi, (uint64_t)i, &p);
                cnn_aug_apply(&au, &p, src, a, h, w, c, 0, 1000);
                ref_sample(&p, modes[mi], src, b, h, w, c);
                double worst = 0;
                for (int j = 0; j < w * h * c; j++)
                    worst = fmax(worst, fabs(a[j] - b[j]));
                /* coordinates in float vs double: differences of about 1e-4
                 * (6e-4 seen at most) */
                CHECK(worst < 0.01, "%dx%dx%d fill %d case %d: differs from the reference by %g", h, w, c, mi, i, worst);
                cases++;
            }
        free(src);
        free(a);
        free(b);
    }
    CHECK(cases == 360, "cases");
}

/* The loader's path for a cache followed by `rescale s offset=o`: sampling
 * the cached bytes and rescaling after (cnn_aug_from_cache) must give what
 * cnn_aug_apply gives on the rescaled float image, up to float rounding,
 * and stay within the reference's tolerance; sizes that are not multiples
 * of the vector width, 1 and 3 channels (3: the AVX-512 path where built
 * for it), every fill mode, with and without an offset. */
static void test_from_cache(void)
{
    const int sizes[5][3] = { { 17, 23, 3 }, { 32, 32, 1 }, { 9, 40, 3 }, { 128, 128, 3 }, { 2, 2, 3 } };
    const float scales[3][2] = { { 1.0f / 255, 0 }, { 2.0f / 255, -1 }, { 1, 0 } };
    cnn_fill modes[3] = { CNN_FILL_REFLECT, CNN_FILL_NEAREST, CNN_FILL_CONSTANT };
    int cases = 0;
    for (int si = 0; si < 5; si++) {
        int h = sizes[si][0], w = sizes[si][1], c = sizes[si][2];
        size_t n = (size_t)w * h * c;
        uint8_t *u = malloc(n);
        float *f = malloc(sizeof *f * n), *a = malloc(sizeof *a * n), *b = malloc(sizeof *b * n),
              *r = malloc(sizeof *r * n), *bp = malloc(sizeof *bp * n);
        size_t sb = cnn_aug_scratch_bytes(h, w, c);
        void *scratch = malloc(sb ? sb : 1);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++)
                    u[((size_t)y * w + x) * c + k] = (uint8_t)lrint(127.5 + 127.0 * sin(0.3 * x + 0.2 * y + k));
        u[0] = 255; /* the first byte: read without the byte before it */
        u[n - 1] = 255;
        for (int sc = 0; sc < 3; sc++) {
            float s = scales[sc][0], o = scales[sc][1];
            double lo = o, hi = 255.0 * s + o;
            for (size_t j = 0; j < n; j++)
                f[j] = (float)u[j] * s + o;
            for (int mi = 0; mi < 3; mi++)
                for (int i = 0; i < 20; i++) {
                    cnn_augment au;
                    memset(&au, 0, sizeof au);
                    au.flip = CNN_FLIP_HORIZONTAL | CNN_FLIP_VERTICAL;
                    au.rotate = 0.5;
                    au.zoom = 0.6;
                    au.shear = i % 2 ? 0.5 : 0;
                    au.translate = i % 3 ? 0.4 : 0;
                    au.rotate_fill = au.zoom_fill = au.shear_fill = au.translate_fill = modes[mi];
                    cnn_aug_params p;
                    cnn_aug_draw(&au, h, w, lo, hi, 7, (uint64_t)(mi + 3 * sc), (uint64_t)i, &p);
                    cnn_aug_apply(&au, &p, f, a, h, w, c, lo, hi);
                    CHECK(cnn_aug_from_cache(&au, &p, u, b, h, w, c, s, o, lo, hi, scratch) == 0, "from_cache refused");
                    /* without scratch: the portable sampler, the same floats bit for bit */
                    CHECK(cnn_aug_from_cache(&au, &p, u, bp, h, w, c, s, o, lo, hi, NULL) == 0, "from_cache refused");
                    CHECK(memcmp(b, bp, sizeof *b * n) == 0, "%dx%dx%d scale %g offset %g fill %d case %d: the "
                          "vectorized and portable samplers differ", h, w, c, s, o, mi, i);
                    ref_sample(&p, modes[mi], f, r, h, w, c);
                    double worst = 0, worst_ref = 0;
                    for (size_t j = 0; j < n; j++) {
                        worst = fmax(worst, fabs(a[j] - b[j]));
                        worst_ref = fmax(worst_ref, fabs(b[j] - r[j]));
                    }
                    CHECK(worst <= 1e-5 * (hi - lo), "%dx%dx%d scale %g offset %g fill %d case %d: differs from "
                          "cnn_aug_apply by %g", h, w, c, s, o, mi, i, worst);
                    CHECK(worst_ref <= 2e-3 * (hi - lo), "%dx%dx%d fill %d case %d: differs from the reference by %g",
                          h, w, c, mi, i, worst_ref);
                    cases++;
                }
        }
        free(u);
        free(f);
        free(a);
        free(b);
        free(r);
        free(bp);
        free(scratch);
    }
    CHECK(cases == 900, "cases");
    /* nothing geometric: refused (the loader then converts and flips) */
    cnn_augment flip_only;
    memset(&flip_only, 0, sizeof flip_only);
    flip_only.flip = CNN_FLIP_HORIZONTAL;
    cnn_aug_params p;
    cnn_aug_draw(&flip_only, 4, 4, 0, 1, 1, 0, 0, &p);
    uint8_t u[48] = { 0 };
    float d[48];
    CHECK(cnn_aug_from_cache(&flip_only, &p, u, d, 4, 4, 3, 1, 0, 0, 1, NULL) == -1, "flip alone is not sampled");
}

static void test_brightness_contrast(void)
{
    enum { W = 2, H = 1, C = 3 };
    const float src[6] = { 0.1f, 0.5f, 0.9f, 0.3f, 0.5f, 0.95f };
    float dst[6];
    cnn_augment a;
    memset(&a, 0, sizeof a);
    a.brightness = 0.5;
    cnn_aug_params p = identity_params();
    p.brightness = 0.2;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1);
    CHECK(near(dst[0], 0.3, 1e-6) && near(dst[2], 1.0, 1e-6) && near(dst[5], 1.0, 1e-6),
          "brightness: %g %g %g", dst[0], dst[2], dst[5]);

    memset(&a, 0, sizeof a);
    a.contrast = 0.5;
    p = identity_params();
    p.contrast = 1.5;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1);
    /* channel 0: mean 0.2 -> 0.2 + 1.5 * (0.1 - 0.2) = 0.05 and 0.35;
     * channel 2: mean 0.925 -> 0.8875 and 0.9625 */
    CHECK(near(dst[0], 0.05, 1e-6) && near(dst[3], 0.35, 1e-6), "contrast ch0 %g %g", dst[0], dst[3]);
    CHECK(near(dst[1], 0.5, 1e-6) && near(dst[4], 0.5, 1e-6), "contrast ch1 %g %g", dst[1], dst[4]);
    CHECK(near(dst[2], 0.8875, 1e-6) && near(dst[5], 0.9625, 1e-6), "contrast ch2 %g %g", dst[2], dst[5]);
    p.contrast = 3;
    cnn_aug_apply(&a, &p, src, dst, H, W, C, 0, 1);
    CHECK(dst[0] == 0.0f, "contrast clips at 0: %g", dst[0]);
}

static void test_draws(void)
{
    cnn_augment a;
    memset(&a, 0, sizeof a);
    a.flip = CNN_FLIP_HORIZONTAL;
    a.rotate = 0.1;
    a.zoom = 0.2;
    a.shear = 0.3;
    a.translate = 0.1;
    a.brightness = 0.2;
    a.contrast = 0.4;
    int flips = 0, differ = 0;
    double amax = 0, zmin = 9, zmax = 0;
    for (int i = 0; i < 4000; i++) {
        cnn_aug_params p, q, r;
        cnn_aug_draw(&a, 100, 50, 0, 255, 7, 3, (uint64_t)i, &p);
        cnn_aug_draw(&a, 100, 50, 0, 255, 7, 3, (uint64_t)i, &q);
        cnn_aug_draw(&a, 100, 50, 0, 255, 7, 4, (uint64_t)i, &r);
        CHECK(memcmp(&p, &q, sizeof p) == 0, "draw %d not repeatable", i);
        differ += p.angle != r.angle;
        flips += p.flip_h;
        CHECK(p.flip_v == 0, "vertical flip not asked for");
        if (fabs(p.angle) > amax) amax = fabs(p.angle);
        if (p.zoom < zmin) zmin = p.zoom;
        if (p.zoom > zmax) zmax = p.zoom;
        CHECK(fabs(p.shear) <= 0.3 && fabs(p.dx) <= 5 && fabs(p.dy) <= 10, "shear/translate range");
        CHECK(fabs(p.brightness) <= 0.2 * 255 && p.contrast >= 0.6 && p.contrast <= 1.4, "color range");
        if (fx_failures > 20)
            return;
    }
    CHECK(flips > 1800 && flips < 2200, "flip rate %d / 4000", flips);
    CHECK(amax <= 0.1 * 2 * PI && amax > 0.19 * PI, "angle range %g", amax);
    CHECK(zmin >= 0.8 && zmin < 0.81 && zmax <= 1.2 && zmax > 1.19, "zoom range [%g, %g]", zmin, zmax);
    CHECK(differ > 3990, "epochs must draw differently (%d of 4000)", differ);
}

int main(void)
{
    test_crop_box();
    test_resize();
    test_steps();
    test_edges();
    test_flip();
    test_rotate();
    test_zoom_shear_translate();
    test_against_reference();
    test_from_cache();
    test_brightness_contrast();
    test_draws();
    if (fx_failures) {
        fprintf(stderr, "test_transform: %d failures\n", fx_failures);
        return 1;
    }
    printf("test_transform: ok\n");
    return 0;
}
