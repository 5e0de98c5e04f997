/* test_decode.c: every decoder path on fixture images made here, compared
 * with the pixels they were made from (JPEG within a tolerance, PNG exactly),
 * and every kind of bad input rejected with a message, never a crash. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <zlib.h>

#include "cnn_data_impl.h"
#include "fixtures.h"

static char dir[512];

static int decode_path(const char *path, int want_c, const cnn_decode_hint *hint, cnn_image *im,
                       char *err, size_t errlen)
{
    uint8_t *buf;
    size_t n;
    if (cnn_read_file(path, &buf, &n, err, errlen) != 0)
        return -1;
    int rc = cnn_decode_memory(buf, n, want_c, hint, 100e6, im, err, errlen);
    free(buf);
    return rc;
}

/* Largest absolute difference between im and expected (same size). */
static int max_diff(const cnn_image *im, const uint8_t *expected)
{
    int m = 0;
    size_t n = (size_t)im->w * im->h * im->c;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)im->px[i] - (int)expected[i]);
        if (d > m)
            m = d;
    }
    return m;
}

static uint8_t luma(const uint8_t *p)
{
    return (uint8_t)(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] + 0.5);
}

static void test_jpeg_rgb(int progressive)
{
    const int w = 67, h = 45; /* odd sizes: partial MCUs */
    uint8_t *src = fx_pattern_image(w, h, 3);
    const char *p = fx_path(dir, progressive ? "prog.jpg" : "base.jpg");
    fx_write_jpeg(p, src, w, h, 3, 100, progressive);
    cnn_image im;
    char err[256];
    int rc = decode_path(p, 3, NULL, &im, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        CHECK(im.w == w && im.h == h && im.c == 3, "size %dx%dx%d", im.w, im.h, im.c);
        int d = max_diff(&im, src);
        CHECK(d <= 3, "%s RGB JPEG differs from its source by %d", progressive ? "progressive" : "baseline", d);
        cnn_image_free(&im);
    }
    /* the same file to one channel: libjpeg's Y, which is BT.601 luma */
    rc = decode_path(p, 1, NULL, &im, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        uint8_t *l = malloc((size_t)w * h);
        for (int i = 0; i < w * h; i++)
            l[i] = luma(src + 3 * i);
        int d = max_diff(&im, l);
        CHECK(im.c == 1 && d <= 3, "RGB JPEG as luma differs by %d", d);
        free(l);
        cnn_image_free(&im);
    }
    free(src);
}

static void test_jpeg_gray(void)
{
    const int w = 40, h = 33;
    uint8_t *src = fx_pattern_image(w, h, 1);
    const char *p = fx_path(dir, "gray.jpg");
    fx_write_jpeg(p, src, w, h, 1, 100, 0);
    cnn_image im;
    char err[256];
    int rc = decode_path(p, 1, NULL, &im, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        CHECK(im.c == 1 && max_diff(&im, src) <= 2, "gray JPEG differs by %d", max_diff(&im, src));
        cnn_image_free(&im);
    }
    rc = decode_path(p, 3, NULL, &im, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        uint8_t *rep = malloc((size_t)w * h * 3);
        for (int i = 0; i < w * h; i++)
            rep[3 * i] = rep[3 * i + 1] = rep[3 * i + 2] = src[i];
        CHECK(im.c == 3 && max_diff(&im, rep) <= 2, "gray JPEG as RGB differs by %d", max_diff(&im, rep));
        free(rep);
        cnn_image_free(&im);
    }
    free(src);
}

/* CMYK/YCCK: expected RGB from the stored CMYK by the decoder's convention. */
static void test_jpeg_cmyk(int ycck, int adobe)
{
    const int w = 32, h = 24;
    uint8_t *cmyk = malloc((size_t)w * h * 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = cmyk + ((size_t)y * w + x) * 4;
            q[0] = fx_pattern(x, y, 0, w, h);
            q[1] = fx_pattern(x, y, 1, w, h);
            q[2] = fx_pattern(x, y, 2, w, h);
            q[3] = (uint8_t)(200 + 50 * x / (w - 1)); /* K varies too */
        }
    const char *p = fx_path(dir, ycck ? "ycck.jpg" : adobe ? "cmyk_adobe.jpg" : "cmyk.jpg");
    fx_write_jpeg_cmyk(p, cmyk, w, h, ycck, adobe);
    int inverted = ycck || adobe;
    uint8_t *rgb = malloc((size_t)w * h * 3), *gray = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) {
        unsigned c = cmyk[4 * i], m = cmyk[4 * i + 1], yy = cmyk[4 * i + 2], k = cmyk[4 * i + 3];
        if (!inverted) {
            c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k;
        }
        rgb[3 * i] = (uint8_t)((c * k + 127) / 255);
        rgb[3 * i + 1] = (uint8_t)((m * k + 127) / 255);
        rgb[3 * i + 2] = (uint8_t)((yy * k + 127) / 255);
        gray[i] = luma(rgb + 3 * i);
    }
    cnn_image im;
    char err[256];
    int rc = decode_path(p, 3, NULL, &im, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        int d = max_diff(&im, rgb);
        CHECK(d <= 4, "%s JPEG differs from its expected RGB by %d", ycck ? "YCCK" : adobe ? "Adobe CMYK" : "CMYK", d);
        cnn_image_free(&im);
    }
    rc = decode_path(p, 1, NULL, &im, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        int d = max_diff(&im, gray);
        CHECK(im.c == 1 && d <= 4, "CMYK JPEG as luma differs by %d", d);
        cnn_image_free(&im);
    }
    free(cmyk);
    free(rgb);
    free(gray);
}

static void test_jpeg_dct_scaling(void)
{
    const int w = 512, h = 384;
    uint8_t *src = fx_pattern_image(w, h, 3);
    const char *p = fx_path(dir, "big.jpg");
    fx_write_jpeg(p, src, w, h, 3, 95, 0);
    cnn_image im;
    char err[256];
    cnn_decode_hint hint = { 48, 64, 0, 0, 0, NULL, NULL };
    int rc = decode_path(p, 3, &hint, &im, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        CHECK(im.w == 64 && im.h == 48, "512x384 for 64x48 should decode at 1/8, got %dx%d", im.w, im.h);
        /* a smooth pattern: each scaled pixel is close to the source at its center */
        int worst = 0;
        for (int y = 0; y < im.h; y++)
            for (int x = 0; x < im.w; x++)
                for (int k = 0; k < 3; k++) {
                    double sx = (x + 0.5) * 8 - 0.5, sy = (y + 0.5) * 8 - 0.5;
                    int ex = fx_pattern((int)lround(sx), (int)lround(sy), k, w, h);
                    int d = abs(im.px[(y * im.w + x) * 3 + k] - ex);
                    if (d > worst)
                        worst = d;
                }
        CHECK(worst <= 4, "DCT-scaled pixels differ from the source by %d", worst);
        cnn_image_free(&im);
    }
    /* 100x100 target: 1/8 (64x48) too small; 1/4 gives 128x96: not enough
     * height; 1/2 gives 256x192 (only 1/8, 1/4, 1/2 are used: libjpeg-turbo
     * has SIMD code for those, and 3/8 is slower than a full decode) */
    cnn_decode_hint h2 = { 100, 100, 0, 0, 0, NULL, NULL };
    rc = decode_path(p, 3, &h2, &im, err, sizeof err);
    CHECK(rc == 0 && im.w == 256 && im.h == 192, "for 100x100: %dx%d", im.w, im.h);
    if (rc == 0)
        cnn_image_free(&im);
    /* with crop_to_aspect_ratio the box is 384x384; at 1/4 it is 96x96,
     * enough for 90x90 */
    cnn_decode_hint h5 = { 90, 90, 1, 0, 0, NULL, NULL };
    rc = decode_path(p, 3, &h5, &im, err, sizeof err);
    CHECK(rc == 0 && im.w == 128 && im.h == 96, "crop for 90x90: %dx%d", im.w, im.h);
    if (rc == 0)
        cnn_image_free(&im);
    /* a target more than half the source: full decode */
    cnn_decode_hint h3 = { 200, 300, 0, 0, 0, NULL, NULL };
    rc = decode_path(p, 3, &h3, &im, err, sizeof err);
    CHECK(rc == 0 && im.w == 512 && im.h == 384, "for 300x200: %dx%d", im.w, im.h);
    if (rc == 0)
        cnn_image_free(&im);
    /* exact: never scaled */
    cnn_decode_hint h4 = { 48, 64, 0, 1, 0, NULL, NULL };
    rc = decode_path(p, 3, &h4, &im, err, sizeof err);
    CHECK(rc == 0 && im.w == 512 && im.h == 384, "exact: %dx%d", im.w, im.h);
    if (rc == 0)
        cnn_image_free(&im);
    free(src);
}

static void test_png(void)
{
    const int w = 23, h = 17;
    char err[256];
    cnn_image im;
    uint8_t *rgb = fx_pattern_image(w, h, 3);

    /* 8-bit RGB, plain and interlaced: exact */
    for (int il = 0; il < 2; il++) {
        const char *p = fx_path(dir, il ? "rgb8i.png" : "rgb8.png");
        fx_write_png(p, rgb, w, h, PNG_COLOR_TYPE_RGB, 8, NULL, 0, il);
        int rc = decode_path(p, 3, NULL, &im, err, sizeof err);
        CHECK(rc == 0 && im.c == 3 && max_diff(&im, rgb) == 0, "PNG RGB8%s: %s", il ? " interlaced" : "", rc ? err : "pixels differ");
        if (rc == 0)
            cnn_image_free(&im);
    }
    /* RGB to one channel: BT.601 luma */
    {
        uint8_t *l = malloc((size_t)w * h);
        for (int i = 0; i < w * h; i++)
            l[i] = luma(rgb + 3 * i);
        int rc = decode_path(fx_path(dir, "rgb8.png"), 1, NULL, &im, err, sizeof err);
        CHECK(rc == 0 && im.c == 1 && max_diff(&im, l) == 0, "PNG RGB8 as luma");
        if (rc == 0)
            cnn_image_free(&im);
        free(l);
    }
    /* 16-bit RGB: the high byte */
    {
        uint8_t *d16 = malloc((size_t)w * h * 6);
        for (int i = 0; i < w * h * 3; i++) {
            unsigned v = rgb[i] * 257u + (unsigned)(i % 200); /* low byte must not matter */
            if (v > 65535) v = 65535;
            d16[2 * i] = (uint8_t)(v >> 8);
            d16[2 * i + 1] = (uint8_t)(v & 255);
        }
        uint8_t *hi = malloc((size_t)w * h * 3);
        for (int i = 0; i < w * h * 3; i++)
            hi[i] = d16[2 * i];
        const char *p = fx_path(dir, "rgb16.png");
        fx_write_png(p, d16, w, h, PNG_COLOR_TYPE_RGB, 16, NULL, 0, 0);
        int rc = decode_path(p, 3, NULL, &im, err, sizeof err);
        CHECK(rc == 0 && im.c == 3 && max_diff(&im, hi) == 0, "PNG RGB16: %s", rc ? err : "pixels differ");
        if (rc == 0)
            cnn_image_free(&im);
        free(d16);
        free(hi);
    }
    /* RGBA: alpha dropped */
    {
        uint8_t *rgba = malloc((size_t)w * h * 4);
        for (int i = 0; i < w * h; i++) {
            memcpy(rgba + 4 * i, rgb + 3 * i, 3);
            rgba[4 * i + 3] = (uint8_t)(i * 7);
        }
        const char *p = fx_path(dir, "rgba.png");
        fx_write_png(p, rgba, w, h, PNG_COLOR_TYPE_RGBA, 8, NULL, 0, 0);
        int rc = decode_path(p, 3, NULL, &im, err, sizeof err);
        CHECK(rc == 0 && im.c == 3 && max_diff(&im, rgb) == 0, "PNG RGBA: %s", rc ? err : "pixels differ");
        if (rc == 0)
            cnn_image_free(&im);
        free(rgba);
    }
    /* gray 8-bit to 1 and 3 channels; gray+alpha 16-bit */
    {
        uint8_t *g = fx_pattern_image(w, h, 1);
        const char *p = fx_path(dir, "gray8.png");
        fx_write_png(p, g, w, h, PNG_COLOR_TYPE_GRAY, 8, NULL, 0, 0);
        int rc = decode_path(p, 1, NULL, &im, err, sizeof err);
        CHECK(rc == 0 && im.c == 1 && max_diff(&im, g) == 0, "PNG gray8");
        if (rc == 0)
            cnn_image_free(&im);
        uint8_t *rep = malloc((size_t)w * h * 3);
        for (int i = 0; i < w * h; i++)
            rep[3 * i] = rep[3 * i + 1] = rep[3 * i + 2] = g[i];
        rc = decode_path(p, 3, NULL, &im, err, sizeof err);
        CHECK(rc == 0 && im.c == 3 && max_diff(&im, rep) == 0, "PNG gray8 as RGB");
        if (rc == 0)
            cnn_image_free(&im);
        uint8_t *ga = malloc((size_t)w * h * 4);
        for (int i = 0; i < w * h; i++) {
            ga[4 * i] = g[i];
            ga[4 * i + 1] = 0x5a;
            ga[4 * i + 2] = 0x12;
            ga[4 * i + 3] = 0x34;
        }
        p = fx_path(dir, "ga16.png");
        fx_write_png(p, ga, w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 16, NULL, 0, 0);
        rc = decode_path(p, 3, NULL, &im, err, sizeof err);
        CHECK(rc == 0 && im.c == 3 && max_diff(&im, rep) == 0, "PNG gray+alpha 16: %s", rc ? err : "pixels differ");
        if (rc == 0)
            cnn_image_free(&im);
        free(g);
        free(rep);
        free(ga);
    }
    /* 1-bit gray: 0 -> 0, 1 -> 255 */
    {
        size_t rb = (size_t)(w + 7) / 8;
        uint8_t *bits = calloc(rb * h, 1), *expect = malloc((size_t)w * h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int on = (x + y) % 3 == 0;
                if (on)
                    bits[y * rb + x / 8] |= (uint8_t)(0x80 >> (x % 8));
                expect[y * w + x] = on ? 255 : 0;
            }
        const char *p = fx_path(dir, "gray1.png");
        fx_write_png(p, bits, w, h, PNG_COLOR_TYPE_GRAY, 1, NULL, 0, 0);
        int rc = decode_path(p, 1, NULL, &im, err, sizeof err);
        CHECK(rc == 0 && max_diff(&im, expect) == 0, "PNG gray1: %s", rc ? err : "pixels differ");
        if (rc == 0)
            cnn_image_free(&im);
        free(bits);
        free(expect);
    }
    /* palette (8-bit indices) */
    {
        uint8_t pal[16 * 3], *idx = malloc((size_t)w * h), *expect = malloc((size_t)w * h * 3);
        for (int i = 0; i < 16; i++) {
            pal[3 * i] = (uint8_t)(i * 16);
            pal[3 * i + 1] = (uint8_t)(255 - i * 15);
            pal[3 * i + 2] = (uint8_t)(i * i);
        }
        for (int i = 0; i < w * h; i++) {
            idx[i] = (uint8_t)(i % 16);
            memcpy(expect + 3 * i, pal + 3 * idx[i], 3);
        }
        const char *p = fx_path(dir, "palette.png");
        fx_write_png(p, idx, w, h, PNG_COLOR_TYPE_PALETTE, 8, pal, 16, 0);
        int rc = decode_path(p, 3, NULL, &im, err, sizeof err);
        CHECK(rc == 0 && max_diff(&im, expect) == 0, "PNG palette: %s", rc ? err : "pixels differ");
        if (rc == 0)
            cnn_image_free(&im);
        free(idx);
        free(expect);
    }
    free(rgb);
}

static void expect_error(const char *path, const char *needle)
{
    cnn_image im;
    char err[256] = "";
    int rc = decode_path(path, 3, NULL, &im, err, sizeof err);
    CHECK(rc != 0, "%s decoded, but should have failed", path);
    if (rc == 0)
        cnn_image_free(&im);
    else
        CHECK(strstr(err, needle) != NULL, "%s: message '%s' lacks '%s'", path, err, needle);
}

static void test_bad_inputs(void)
{
    uint8_t *src = fx_pattern_image(64, 64, 3);
    const char *good = fx_path(dir, "good.jpg");
    fx_write_jpeg(good, src, 64, 64, 3, 90, 0);
    size_t n;
    uint8_t *b = fx_read(good, &n);

    fx_write_bytes(fx_path(dir, "truncated.jpg"), b, n / 2);
    expect_error(fx_path(dir, "truncated.jpg"), "Premature end");

    /* progressive and cut: libjpeg warns, we refuse */
    fx_write_jpeg(fx_path(dir, "p.jpg"), src, 64, 64, 3, 90, 1);
    size_t pn;
    uint8_t *pb = fx_read(fx_path(dir, "p.jpg"), &pn);
    fx_write_bytes(fx_path(dir, "ptrunc.jpg"), pb, pn * 2 / 3);
    expect_error(fx_path(dir, "ptrunc.jpg"), "corrupt JPEG");
    free(pb);

    /* only the SOI marker and garbage */
    fx_write_bytes(fx_path(dir, "header_only.jpg"), "\xff\xd8\xff\xe0garbage", 12);
    expect_error(fx_path(dir, "header_only.jpg"), "corrupt JPEG");

    fx_write_bytes(fx_path(dir, "empty.jpg"), "", 0);
    expect_error(fx_path(dir, "empty.jpg"), "empty file");

    fx_write_bytes(fx_path(dir, "text.jpg"), "<html>404 not found</html>\n", 27);
    expect_error(fx_path(dir, "text.jpg"), "text file");

    fx_write_bytes(fx_path(dir, "anim.jpg"), "GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14);
    expect_error(fx_path(dir, "anim.jpg"), "GIF image: unsupported");

    fx_write_bytes(fx_path(dir, "bin.jpg"), "\x00\x01\x02\x03\xfe\xfd", 6);
    expect_error(fx_path(dir, "bin.jpg"), "not an image");

    expect_error(fx_path(dir, "does_not_exist.jpg"), "cannot open");

    /* a JPEG whose header claims 50000x50000: refused before decoding */
    uint8_t *huge = malloc(n);
    memcpy(huge, b, n);
    int patched = 0;
    for (size_t i = 0; i + 8 < n; i++)
        if (huge[i] == 0xFF && (huge[i + 1] == 0xC0 || huge[i + 1] == 0xC2)) {
            huge[i + 5] = 50000 >> 8; huge[i + 6] = 50000 & 255; /* height */
            huge[i + 7] = 50000 >> 8; huge[i + 8] = 50000 & 255; /* width */
            patched = 1;
            break;
        }
    CHECK(patched, "no SOF marker found");
    fx_write_bytes(fx_path(dir, "bomb.jpg"), huge, n);
    expect_error(fx_path(dir, "bomb.jpg"), "too large");
    free(huge);

    /* a PNG claiming 60000x60000 (with a valid IHDR CRC) */
    fx_write_png(fx_path(dir, "small.png"), src, 8, 8, PNG_COLOR_TYPE_RGB, 8, NULL, 0, 0);
    size_t pnn;
    uint8_t *pp = fx_read(fx_path(dir, "small.png"), &pnn);
    /* IHDR data starts at 16: width, height big-endian; CRC over type+data at 29 */
    uint32_t big = 60000;
    for (int k = 0; k < 2; k++) {
        pp[16 + 4 * k] = (uint8_t)(big >> 24); pp[17 + 4 * k] = (uint8_t)(big >> 16);
        pp[18 + 4 * k] = (uint8_t)(big >> 8); pp[19 + 4 * k] = (uint8_t)big;
    }
    uLong crc = crc32(0, pp + 12, 17);
    pp[29] = (uint8_t)(crc >> 24); pp[30] = (uint8_t)(crc >> 16); pp[31] = (uint8_t)(crc >> 8); pp[32] = (uint8_t)crc;
    fx_write_bytes(fx_path(dir, "bomb.png"), pp, pnn);
    expect_error(fx_path(dir, "bomb.png"), "too large");
    /* Just over the limit: the message never reads as within it
     * (65535x1526 is 100.006 megapixels; rounded, "100 ... limit 100"). */
    uint32_t dims[2] = {65535, 1526};
    for (int k = 0; k < 2; k++) {
        pp[16 + 4 * k] = (uint8_t)(dims[k] >> 24); pp[17 + 4 * k] = (uint8_t)(dims[k] >> 16);
        pp[18 + 4 * k] = (uint8_t)(dims[k] >> 8); pp[19 + 4 * k] = (uint8_t)dims[k];
    }
    crc = crc32(0, pp + 12, 17);
    pp[29] = (uint8_t)(crc >> 24); pp[30] = (uint8_t)(crc >> 16); pp[31] = (uint8_t)(crc >> 8); pp[32] = (uint8_t)crc;
    fx_write_bytes(fx_path(dir, "bomb2.png"), pp, pnn);
    expect_error(fx_path(dir, "bomb2.png"), "65535x1526 is 100006410 pixels, over the limit of 100000000");
    /* A progressive JPEG keeps all its coefficients in libjpeg's memory
     * (2000x2000x3 x 2 bytes = 24 MB): refused under an 8 MB decoder
     * budget with a message, decoded under the default. */
    {
        uint8_t *big = fx_pattern_image(2000, 2000, 3);
        CHECK(fx_write_jpeg(fx_path(dir, "prog.jpg"), big, 2000, 2000, 3, 90, 1) == 0, "write prog.jpg");
        free(big);
        cnn_decode_hint small = {48, 64, 0, 0, (size_t)8 << 20, NULL, NULL};
        cnn_image im = {0};
        char e2[256] = "";
        CHECK(decode_path(fx_path(dir, "prog.jpg"), 3, &small, &im, e2, sizeof e2) != 0 &&
                  strstr(e2, "needs more than 8 MB") && strstr(e2, "progressive"),
              "progressive JPEG over the decoder budget: '%s'", e2);
        cnn_image_free(&im);
        cnn_image im2 = {0};
        small.max_memory = 0;
        CHECK(decode_path(fx_path(dir, "prog.jpg"), 3, &small, &im2, e2, sizeof e2) == 0,
              "progressive JPEG under the default budget: '%s'", e2);
        cnn_image_free(&im2);
    }
    /* truncated PNG */
    fx_write_png(fx_path(dir, "ok.png"), src, 64, 64, PNG_COLOR_TYPE_RGB, 8, NULL, 0, 0);
    free(pp);
    pp = fx_read(fx_path(dir, "ok.png"), &pnn);
    fx_write_bytes(fx_path(dir, "trunc.png"), pp, pnn / 2);
    expect_error(fx_path(dir, "trunc.png"), "corrupt PNG");
    /* corrupted PNG data (CRC mismatch) */
    pp[pnn / 2] ^= 0x55;
    fx_write_bytes(fx_path(dir, "crc.png"), pp, pnn);
    expect_error(fx_path(dir, "crc.png"), "corrupt PNG");
    free(pp);
    free(b);
    free(src);
}

static void test_sniff(void)
{
    CHECK(cnn_sniff((const uint8_t *)"\xff\xd8\xff\xe0", 4) == CNN_FMT_JPEG, "jpeg");
    CHECK(cnn_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n", 8) == CNN_FMT_PNG, "png");
    CHECK(cnn_sniff((const uint8_t *)"BM\x00\x00", 4) == CNN_FMT_BMP, "bmp");
    CHECK(cnn_sniff((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16) == CNN_FMT_WEBP, "webp");
    CHECK(cnn_sniff((const uint8_t *)"II*\0", 4) == CNN_FMT_TIFF, "tiff");
    CHECK(cnn_sniff((const uint8_t *)"hello world", 11) == CNN_FMT_TEXT, "text");
    /* a PNG named .jpg is decoded as PNG */
    uint8_t *src = fx_pattern_image(9, 9, 3);
    fx_write_png(fx_path(dir, "really_png.jpg"), src, 9, 9, PNG_COLOR_TYPE_RGB, 8, NULL, 0, 0);
    cnn_image im;
    char err[256];
    int rc = decode_path(fx_path(dir, "really_png.jpg"), 3, NULL, &im, err, sizeof err);
    CHECK(rc == 0 && max_diff(&im, src) == 0, "PNG named .jpg");
    if (rc == 0)
        cnn_image_free(&im);
    free(src);
}

int main(void)
{
    fx_tmpdir(dir, sizeof dir, "decode");
    test_sniff();
    test_jpeg_rgb(0);
    test_jpeg_rgb(1);
    test_jpeg_gray();
    test_jpeg_cmyk(0, 0);
    test_jpeg_cmyk(0, 1);
    test_jpeg_cmyk(1, 1);
    test_jpeg_dct_scaling();
    test_png();
    test_bad_inputs();
    fx_rmtree(dir);
    if (fx_failures) {
        fprintf(stderr, "test_decode: %d failures\n", fx_failures);
        return 1;
    }
    printf("test_decode: ok\n");
    return 0;
}
