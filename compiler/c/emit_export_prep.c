/* emit_export_prep.c: `NAME predict`'s preprocessing after decoding, written
 * out as freestanding C for NAME_infer.c, step for step and in the same
 * float arithmetic as the runtime, so an image gives the same input values:
 *
 *   the decoder's channel conversion (runtime/data/png.c): gray replicated
 *   for RGB models, alpha dropped, RGB to BT.601 luma (rounded, in double)
 *   for one-channel models; here done per source pixel as the resize reads it;
 *   the center crop to the aspect ratio, TensorFlow's half-pixel bilinear
 *   resize, the steps before the first rescale, the rounding into the
 *   training cache's uint8, then the rescale and the steps after it
 *   (runtime/data/preprocess.c, cnn_prep_plan_init's value ranges).
 *
 * The runtime is compiled in ISO C mode, where GCC does not contract a * b + c
 * into a fused multiply-add; the exported functions forbid the contraction
 * too (GCC's optimize pragma, the C99 FP_CONTRACT pragma for clang), so
 * they round alike whatever -std or -march the user compiles with. */
#include <stdio.h>
#include <string.h>

#include "emit_export_prep.h"

/* A float as an exact C99 hexadecimal literal. */
static const char *flit(char *buf, size_t size, float v)
{
    snprintf(buf, size, "%af", (double)v);
    return buf;
}

int emit_export_prep_needs_tmp(const cnnc_ir *ir)
{
    for (int k = 0; k < ir->n_preprocess && k < CNN_MAX_PREPROCESS; k++)
        if (ir->preprocess[k].kind == CNN_PREP_EDGES)
            return 1;
    return 0;
}

/* cnn_prep_plan_init: each step's input range, and the first rescale
 * (the steps before it are cached as uint8). */
typedef struct prep_ranges {
    int n, n_cached;
    double lo[CNN_MAX_PREPROCESS + 1], hi[CNN_MAX_PREPROCESS + 1];
} prep_ranges;

static void ranges(const cnnc_ir *ir, prep_ranges *r)
{
    memset(r, 0, sizeof *r);
    r->n = ir->n_preprocess < CNN_MAX_PREPROCESS ? ir->n_preprocess : CNN_MAX_PREPROCESS;
    r->n_cached = r->n;
    double lo = 0, hi = 255;
    for (int k = 0; k < r->n; k++) {
        const cnn_prep_step *s = &ir->preprocess[k];
        r->lo[k] = lo;
        r->hi[k] = hi;
        if (s->kind == CNN_PREP_RESCALE) {
            if (r->n_cached == r->n)
                r->n_cached = k;
            double a = lo * s->value + s->offset, b = hi * s->value + s->offset;
            lo = a < b ? a : b;
            hi = a < b ? b : a;
        }
    }
    r->lo[r->n] = lo;
    r->hi[r->n] = hi;
}

/* Step k on x[N] (cnn_prep_apply's case). */
static void emit_step(cnnc_emitter *em, const cnnc_ir *ir, const prep_ranges *r, int k)
{
    const cnn_prep_step *s = &ir->preprocess[k];
    char lo[48], hi[48], a[48], b[48];
    flit(lo, sizeof lo, (float)r->lo[k]);
    flit(hi, sizeof hi, (float)r->hi[k]);
    switch (s->kind) {
    case CNN_PREP_GRAYSCALE:
        if (ir->in_c != 3) {
            em_line(em, "/* grayscale: one channel already */");
            break;
        }
        em_line(em, "/* grayscale: BT.601 luma into all three channels */");
        em_open_block(em, "for (size_t i = 0; i < PREP_N; i += 3) {");
        em_line(em, "const float l = 0.299f * x[i] + 0.587f * x[i + 1] + 0.114f * x[i + 2];");
        em_line(em, "x[i] = x[i + 1] = x[i + 2] = l;");
        em_close_block(em, "}");
        break;
    case CNN_PREP_EDGES:
        em_line(em, "/* edges: Sobel magnitude clipped to [%g, %g] */", r->lo[k], r->hi[k]);
        em_line(em, "cnnx_sobel(x, tmp, %s, %s);", lo, hi);
        em_line(em, "for (size_t i = 0; i < PREP_N; i++)");
        em_line(em, "    x[i] = tmp[i];");
        break;
    case CNN_PREP_BRIGHTNESS:
        em_line(em, "/* brightness %g: + %g, clipped to [%g, %g] */", s->value,
                (double)(float)(s->value * (r->hi[k] - r->lo[k])), r->lo[k], r->hi[k]);
        em_line(em, "for (size_t i = 0; i < PREP_N; i++)");
        em_line(em, "    x[i] = cnnx_clampf(x[i] + %s, %s, %s);",
                flit(a, sizeof a, (float)(s->value * (r->hi[k] - r->lo[k]))), lo, hi);
        break;
    case CNN_PREP_RESCALE:
        em_line(em, "/* rescale: x * %.9g + %.9g */", (double)(float)s->value, (double)(float)s->offset);
        em_line(em, "for (size_t i = 0; i < PREP_N; i++)");
        em_line(em, "    x[i] = x[i] * %s + %s;", flit(a, sizeof a, (float)s->value),
                flit(b, sizeof b, (float)s->offset));
        break;
    }
}

static const char *const prep_helpers[] = {
    "/* No fused multiply-add in the preprocessing: it rounds as the runtime does. */",
    "#if defined(__clang__)",
    "#define CNNX_NO_CONTRACT _Pragma(\"STDC FP_CONTRACT OFF\")",
    "#else",
    "#define CNNX_NO_CONTRACT",
    "#endif",
    "#if defined(__GNUC__) && !defined(__clang__)",
    "#pragma GCC push_options",
    "#pragma GCC optimize(\"fp-contract=off\")",
    "#endif",
    "",
    "static float cnnx_clampf(float v, float lo, float hi)",
    "{",
    "    return v < lo ? lo : (v > hi ? hi : v);",
    "}",
    "",
    "/* floorf and ceilf for |s| < 2^24 (the resize's source coordinates). */",
    "static float cnnx_floorf(float s)",
    "{",
    "    const float f = (float)(int)s;",
    "    return f > s ? f - 1.0f : f;",
    "}",
    "",
    "static float cnnx_ceilf(float s)",
    "{",
    "    const float f = (float)(int)s;",
    "    return f < s ? f + 1.0f : f;",
    "}",
    "",
};

void emit_export_prep(cnnc_emitter *em, const cnnc_ir *ir)
{
    prep_ranges r;
    ranges(ir, &r);
    const int C = ir->in_c;
    em_line(em, "/* ---- preprocessing: as `%s predict` after decoding ---- */", ir->name);
    em_blank(em);
    em_line(em, "enum { PREP_H = %d, PREP_W = %d, PREP_C = %d };", ir->in_h, ir->in_w, C);
    em_line(em, "#define PREP_N ((size_t)PREP_H * PREP_W * PREP_C)");
    em_blank(em);
    for (size_t i = 0; i < sizeof prep_helpers / sizeof *prep_helpers; i++)
        em_line(em, "%s", prep_helpers[i]);

    em_line(em, "/* Channel k of the source pixel at p (ch channels) as the decoder hands it to a");
    if (C == 3) {
        em_line(em, " * three-channel model: gray replicated, alpha dropped. */");
        em_line(em, "static float cnnx_pixel(const unsigned char *p, int ch, int k)");
        em_open_block(em, "{");
        em_line(em, "return (float)(ch == 1 ? p[0] : p[k]);");
    } else { /* 1: the checker allows no other input */
        em_line(em, " * one-channel model: RGB(A) to BT.601 luma, rounded (alpha dropped). */");
        em_line(em, "static float cnnx_pixel(const unsigned char *p, int ch, int k)");
        em_open_block(em, "{");
        em_line(em, "CNNX_NO_CONTRACT");
        em_line(em, "(void)k;");
        em_line(em, "if (ch == 1)");
        em_line(em, "    return (float)p[0];");
        em_line(em, "return (float)(unsigned char)(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] + 0.5);");
    }
    em_close_block(em, "}");
    em_blank(em);

    em_line(em, "/* One source row resized horizontally (TensorFlow's top or bottom row values). */");
    em_line(em, "static void cnnx_hrow(const unsigned char *row, int ch, int x0, int cw, float *restrict out)");
    em_open_block(em, "{");
    em_line(em, "CNNX_NO_CONTRACT");
    em_line(em, "const float scale = (float)cw / (float)PREP_W;");
    em_open_block(em, "for (int ox = 0; ox < PREP_W; ox++) {");
    em_line(em, "const float s = ((float)ox + 0.5f) * scale - 0.5f;");
    em_line(em, "const float f = cnnx_floorf(s);");
    em_line(em, "int lo = (int)f, hi = (int)cnnx_ceilf(s);");
    em_line(em, "lo = lo < 0 ? 0 : lo;");
    em_line(em, "hi = hi > cw - 1 ? cw - 1 : hi;");
    em_line(em, "const float xl = s - f;");
    em_line(em, "const unsigned char *l = row + (size_t)(x0 + lo) * ch, *r = row + (size_t)(x0 + hi) * ch;");
    em_open_block(em, "for (int k = 0; k < PREP_C; k++) {");
    em_line(em, "const float a = cnnx_pixel(l, ch, k), b = cnnx_pixel(r, ch, k);");
    em_line(em, "out[ox * PREP_C + k] = a + (b - a) * xl;");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_blank(em);

    if (emit_export_prep_needs_tmp(ir)) {
        em_line(em, "static int cnnx_reflect101(int i, int n)");
        em_open_block(em, "{");
        em_line(em, "if (n == 1)");
        em_line(em, "    return 0;");
        em_line(em, "if (i < 0)");
        em_line(em, "    return -i;");
        em_line(em, "if (i >= n)");
        em_line(em, "    return 2 * n - 2 - i;");
        em_line(em, "return i;");
        em_close_block(em, "}");
        em_blank(em);
        em_line(em, "/* 3x3 Sobel magnitude per channel, border reflected, clipped to [lo, hi]. */");
        em_line(em, "static void cnnx_sobel(const float *in, float *out, float lo, float hi)");
        em_open_block(em, "{");
        em_line(em, "CNNX_NO_CONTRACT");
        em_line(em, "const int h = PREP_H, w = PREP_W, c = PREP_C;");
        em_open_block(em, "for (int y = 0; y < h; y++) {");
        em_line(em, "const float *r0 = in + (size_t)cnnx_reflect101(y - 1, h) * w * c;");
        em_line(em, "const float *r1 = in + (size_t)y * w * c;");
        em_line(em, "const float *r2 = in + (size_t)cnnx_reflect101(y + 1, h) * w * c;");
        em_open_block(em, "for (int x = 0; x < w; x++) {");
        em_line(em, "const int xl = cnnx_reflect101(x - 1, w) * c, xr = cnnx_reflect101(x + 1, w) * c;");
        em_open_block(em, "for (int k = 0; k < c; k++) {");
        em_line(em, "const float gx = (r0[xr + k] + 2 * r1[xr + k] + r2[xr + k]) -");
        em_line(em, "                 (r0[xl + k] + 2 * r1[xl + k] + r2[xl + k]);");
        em_line(em, "const float gy = (r2[xl + k] + 2 * r2[x * c + k] + r2[xr + k]) -");
        em_line(em, "                 (r0[xl + k] + 2 * r0[x * c + k] + r0[xr + k]);");
        em_line(em, "out[((size_t)y * w + x) * c + k] = cnnx_clampf(cnnx_sqrtf(gx * gx + gy * gy), lo, hi);");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_blank(em);
    }

    em_line(em, "/* px: w x h pixels of ch channels (1, 3, 4), checked by the caller. x: the input.");
    em_line(em, " * Scratch: fbuf[PREP_N], tmp[PREP_N] (edges), rows[2 * PREP_W * PREP_C], u8[PREP_N]. */");
    em_line(em, "static void cnnx_preprocess(const unsigned char *px, int w, int h, int ch, float *restrict x,");
    em_line(em, "                            float *restrict fbuf, float *restrict tmp, float *restrict rows,");
    em_line(em, "                            unsigned char *restrict u8)");
    em_open_block(em, "{");
    em_line(em, "CNNX_NO_CONTRACT");
    em_line(em, "int x0 = 0, y0 = 0, cw = w, chh = h;");
    if (!emit_export_prep_needs_tmp(ir))
        em_line(em, "(void)tmp;");
    if (ir->crop_to_aspect_ratio) {
        em_open_block(em, "{ /* the largest centered box of the input's aspect ratio, truncated */");
        em_line(em, "int crop_h = (int)((double)w * PREP_H / PREP_W);");
        em_line(em, "int crop_w = (int)((double)h * PREP_W / PREP_H);");
        em_line(em, "crop_h = crop_h > h ? h : crop_h < 1 ? 1 : crop_h;");
        em_line(em, "crop_w = crop_w > w ? w : crop_w < 1 ? 1 : crop_w;");
        em_line(em, "y0 = (h - crop_h) / 2;");
        em_line(em, "x0 = (w - crop_w) / 2;");
        em_line(em, "cw = crop_w;");
        em_line(em, "chh = crop_h;");
        em_close_block(em, "}");
    }
    em_line(em, "/* bilinear: each needed source row resized horizontally once (two kept), output");
    em_line(em, " * rows blended vertically: top + (bottom - top) * yl */");
    em_line(em, "const float scale = (float)chh / (float)PREP_H;");
    em_line(em, "const size_t stride = (size_t)w * ch, nrow = (size_t)PREP_W * PREP_C;");
    em_line(em, "const unsigned char *base = px + (size_t)y0 * stride;");
    em_line(em, "int have[2] = {-1, -1};");
    em_open_block(em, "for (int oy = 0; oy < PREP_H; oy++) {");
    em_line(em, "const float s = ((float)oy + 0.5f) * scale - 0.5f;");
    em_line(em, "const float f = cnnx_floorf(s);");
    em_line(em, "int lo = (int)f, hi = (int)cnnx_ceilf(s);");
    em_line(em, "lo = lo < 0 ? 0 : lo;");
    em_line(em, "hi = hi > chh - 1 ? chh - 1 : hi;");
    em_line(em, "const float yl = s - f;");
    em_line(em, "const int want[2] = {lo, hi};");
    em_line(em, "const float *rp[2];");
    em_open_block(em, "for (int j = 0; j < 2; j++) {");
    em_line(em, "int slot = have[0] == want[j] ? 0 : have[1] == want[j] ? 1 : -1;");
    em_open_block(em, "if (slot < 0) {");
    em_line(em, "slot = (have[0] == want[0] || have[0] == want[1]) ? 1 : 0;");
    em_line(em, "cnnx_hrow(base + (size_t)want[j] * stride, ch, x0, cw, rows + slot * nrow);");
    em_line(em, "have[slot] = want[j];");
    em_close_block(em, "}");
    em_line(em, "rp[j] = rows + slot * nrow;");
    em_close_block(em, "}");
    em_line(em, "float *out = fbuf + (size_t)oy * nrow;");
    em_line(em, "for (size_t i = 0; i < nrow; i++)");
    em_line(em, "    out[i] = rp[0][i] + (rp[1][i] - rp[0][i]) * yl;");
    em_close_block(em, "}");
    if (r.n_cached > 0) {
        em_line(em, "/* the steps before the first rescale, on the resized image (0..255) */");
        em_open_block(em, "{");
        em_line(em, "float *const x = fbuf;");
        for (int k = 0; k < r.n_cached; k++)
            emit_step(em, ir, &r, k);
        em_close_block(em, "}");
    }
    em_line(em, "/* the training cache's rounding to uint8 */");
    em_line(em, "for (size_t i = 0; i < PREP_N; i++)");
    em_line(em, "    u8[i] = (unsigned char)(cnnx_clampf(fbuf[i], 0.0f, 255.0f) + 0.5f);");
    int k = r.n_cached;
    if (k < r.n && ir->preprocess[k].kind == CNN_PREP_RESCALE) {
        char a[48], b[48];
        const cnn_prep_step *s = &ir->preprocess[k];
        em_line(em, "/* rescale: x * %.9g + %.9g, from the bytes */", (double)(float)s->value,
                (double)(float)s->offset);
        em_line(em, "for (size_t i = 0; i < PREP_N; i++)");
        em_line(em, "    x[i] = (float)u8[i] * %s + %s;", flit(a, sizeof a, (float)s->value),
                flit(b, sizeof b, (float)s->offset));
        k++;
    } else {
        em_line(em, "for (size_t i = 0; i < PREP_N; i++)");
        em_line(em, "    x[i] = (float)u8[i];");
    }
    for (; k < r.n; k++)
        emit_step(em, ir, &r, k);
    em_close_block(em, "}");
    em_blank(em);
    em_line(em, "#if defined(__GNUC__) && !defined(__clang__)");
    em_line(em, "#pragma GCC pop_options");
    em_line(em, "#endif");
    em_blank(em);
}
