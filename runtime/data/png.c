/* png.c: PNG decoding through libpng.
 *
 * libpng reports errors by longjmp to our setjmp (never exit, never print:
 * warnings are dropped, the error text is returned). Every PNG ends as 8-bit
 * gray or RGB: palettes expanded, 1/2/4-bit gray widened, 16-bit reduced to
 * its high byte (as libpng's strip_16 and TensorFlow's uint8 decode_png),
 * alpha dropped (docs/language.md, "Preprocess"; Keras decode_image(channels=3)
 * does the same), gray replicated for RGB inputs and RGB turned into BT.601
 * luma for one-channel inputs. Interlaced (Adam7) files are handled. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "cnn_data_impl.h"

typedef struct png_ctx {
    const uint8_t *buf;
    size_t n, pos;
    char msg[256];
} png_ctx;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void on_png_read(png_structp png, png_bytep dst, size_t len)
{
    png_ctx *c = png_get_io_ptr(png);
    if (len > c->n - c->pos)
        png_error(png, "truncated file (read past the end)");
    memcpy(dst, c->buf + c->pos, len);
    c->pos += len;
}

int cnn_decode_png(const uint8_t *buf, size_t n, int want_c, const cnn_decode_hint *hint, double max_pixels,
                   cnn_image *out, char *err, size_t errlen)
{
    png_ctx ctx = { buf, n, 0, { 0 } };
    uint8_t *volatile tmp = NULL;
    png_bytep *volatile rows = NULL;
    png_structp png = NULL;
    png_infop info = NULL;

    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
    if (!png) {
        snprintf(err, errlen, "out of memory (png)");
        return -1;
    }
    info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(err, errlen, "out of memory (png)");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, errlen, "corrupt PNG: %s", ctx.msg);
        png_destroy_read_struct(&png, &info, NULL);
        free(tmp);
        free(rows);
        return -1;
    }
    png_set_read_fn(png, &ctx, on_png_read);
    png_read_info(png, info);

    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int bit_depth = png_get_bit_depth(png, info), color = png_get_color_type(png, info);
    if (cnn_image_too_large((unsigned)w, (unsigned)h, max_pixels, err, errlen)) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }

    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16)
        png_set_strip_16(png);
    if (color & PNG_COLOR_MASK_ALPHA)
        png_set_strip_alpha(png);
    int gray = !(color & PNG_COLOR_MASK_COLOR) && color != PNG_COLOR_TYPE_PALETTE;
    if (gray && want_c == 3)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int chans = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != (size_t)w * (size_t)chans || (chans != 1 && chans != 3)) {
        snprintf(err, errlen, "unsupported PNG layout (%d channels, %d-bit)", chans, bit_depth);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    /* Decode into px directly when the channel count already matches,
     * otherwise into tmp (RGB) and take the luma. */
    int direct = chans == want_c;
    /* What this image holds while it is decoded (the file, the pixels, the
     * RGB copy a luma conversion reads, the row pointers), taken from the
     * pass's budget before any of it is allocated. */
    size_t need = n + (size_t)w * h * want_c + (direct ? 0 : rowbytes * h) + sizeof(png_bytep) * h;
    if (cnn_decode_take(hint, need, (unsigned)w, (unsigned)h, "PNG", 0, err, errlen)) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    uint8_t *px = cnn_image_reserve(out, (size_t)w * h * want_c);
    if (!direct)
        tmp = malloc(rowbytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!px || (!direct && !tmp) || !rows) {
        snprintf(err, errlen, "out of memory for a %ux%u image", (unsigned)w, (unsigned)h);
        png_destroy_read_struct(&png, &info, NULL);
        free(tmp);
        free(rows);
        return -1;
    }
    uint8_t *base = direct ? px : tmp;
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = base + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    if (!direct) {
        /* chans == 3, want_c == 1 */
        size_t np = (size_t)w * h;
        for (size_t i = 0; i < np; i++) {
            const uint8_t *p = tmp + 3 * i;
            px[i] = (uint8_t)(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] + 0.5);
        }
    }
    free(tmp);
    free(rows);
    out->w = (int)w;
    out->h = (int)h;
    out->c = want_c;
    return 0;
}
