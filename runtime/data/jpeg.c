/* jpeg.c: JPEG decoding through libjpeg(-turbo).
 *
 * libjpeg's default error handler calls exit(); ours longjmps back with the
 * library's message. Warnings that mean the pixels are wrong (truncated file,
 * corrupt entropy data) are errors too: libjpeg would fill the missing part
 * with gray and carry on, and a silently damaged image is worse than a
 * skipped one. Benign warnings (extraneous bytes, unknown JFIF revision) pass.
 *
 * Color: gray, YCbCr and RGB JPEGs are converted by libjpeg (to RGB, or to
 * gray, which for YCbCr is the Y channel: BT.601 luma, as TensorFlow's
 * decode_jpeg(channels=1)). CMYK and YCCK are read as CMYK and converted
 * here; Adobe applications write CMYK inverted, flagged by the Adobe marker.
 *
 * Large sources are decoded at M/8 of their size (DCT-domain scaling) when
 * that still leaves at least the target size: a 400x400 photo for a 128x128
 * input is decoded at 150x150, several times faster than in full. */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "cnn_data_impl.h"

typedef struct jerr_ctx {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jerr_ctx;

static void on_error_exit(j_common_ptr cinfo)
{
    jerr_ctx *e = (jerr_ctx *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static int fatal_warning(int code)
{
    switch (code) {
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_JPEG_EOF:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
#if defined(D_ARITH_CODING_SUPPORTED) || JPEG_LIB_VERSION >= 62
    case JWRN_ARITH_BAD_CODE:
#endif
        return 1;
    default:
        return 0;
    }
}

static void on_emit_message(j_common_ptr cinfo, int level)
{
    jerr_ctx *e = (jerr_ctx *)cinfo->err;
    if (level < 0) {
        cinfo->err->num_warnings++;
        if (fatal_warning(cinfo->err->msg_code)) {
            (*cinfo->err->format_message)(cinfo, e->msg);
            longjmp(e->jump, 1);
        }
    }
    /* trace messages (level > 0) and benign warnings: say nothing */
}

static void on_output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* never print from a library */
}

/* Smallest M/8 (M <= 4: only when the source is at least twice the target)
 * whose output still covers the crop box at the target size. */
static void choose_scale(struct jpeg_decompress_struct *ci, const cnn_decode_hint *hint)
{
    ci->scale_num = 1;
    ci->scale_denom = 1;
    if (!hint || hint->exact || hint->out_w <= 0 || hint->out_h <= 0)
        return;
    for (unsigned m = 1; m <= 4; m *= 2) {
        ci->scale_num = m;
        ci->scale_denom = 8;
        jpeg_calc_output_dimensions(ci);
        int x0, y0, cw, ch;
        cnn_crop_box((int)ci->output_width, (int)ci->output_height, hint->out_w, hint->out_h,
                     hint->crop, &x0, &y0, &cw, &ch);
        if (cw >= hint->out_w && ch >= hint->out_h)
            return;
    }
    ci->scale_num = 1;
    ci->scale_denom = 1;
}

static uint8_t mul255(unsigned a, unsigned b)
{
    return (uint8_t)((a * b + 127) / 255);
}

/* CMYK scanline to RGB (or BT.601 luma); `inverted` for Adobe's convention. */
static void cmyk_row(const uint8_t *in, uint8_t *out, int w, int want_c, int inverted)
{
    for (int x = 0; x < w; x++) {
        unsigned c = in[4 * x], m = in[4 * x + 1], y = in[4 * x + 2], k = in[4 * x + 3];
        if (!inverted) {
            c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k;
        }
        uint8_t r = mul255(c, k), g = mul255(m, k), b = mul255(y, k);
        if (want_c == 3) {
            out[3 * x] = r; out[3 * x + 1] = g; out[3 * x + 2] = b;
        } else {
            double l = 0.299 * r + 0.587 * g + 0.114 * b;
            out[x] = (uint8_t)(l + 0.5);
        }
    }
}

int cnn_decode_jpeg(const uint8_t *buf, size_t n, int want_c, const cnn_decode_hint *hint,
                    double max_pixels, cnn_image *out, char *err, size_t errlen)
{
    struct jpeg_decompress_struct ci;
    jerr_ctx je;
    /* volatile: modified between setjmp and a possible longjmp */
    uint8_t *volatile row = NULL;

    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = on_error_exit;
    je.pub.emit_message = on_emit_message;
    je.pub.output_message = on_output_message;
    je.msg[0] = 0;
    if (setjmp(je.jump)) {
        if (je.pub.msg_code == JERR_NO_BACKING_STORE || je.pub.msg_code == JERR_OUT_OF_MEMORY)
            snprintf(err, errlen, "JPEG needs more than %.0f MB to decode (%ux%u%s); give --memory more",
                     (double)ci.mem->max_memory_to_use / 1048576.0, ci.image_width, ci.image_height,
                     ci.progressive_mode ? ", progressive" : "");
        else
            snprintf(err, errlen, "corrupt JPEG: %s", je.msg);
        jpeg_destroy_decompress(&ci);
        free(row);
        return -1;
    }
    jpeg_create_decompress(&ci);
    if (n > (size_t)0xFFFFFFFFu) {
        snprintf(err, errlen, "JPEG too large");
        jpeg_destroy_decompress(&ci);
        return -1;
    }
    /* libjpeg's own memory (without backing store, going past it is an
     * error, caught above): a progressive image holds all its coefficients. */
    size_t limit = hint && hint->max_memory ? hint->max_memory : CNN_DEFAULT_DECODER_MEMORY;
    ci.mem->max_memory_to_use = (long)(limit > (size_t)LONG_MAX ? (size_t)LONG_MAX : limit);
    jpeg_mem_src(&ci, buf, (unsigned long)n);
    jpeg_read_header(&ci, TRUE);

    if (cnn_image_too_large(ci.image_width, ci.image_height, max_pixels, err, errlen)) {
        jpeg_destroy_decompress(&ci);
        return -1;
    }

    int cmyk = 0;
    switch (ci.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        ci.out_color_space = want_c == 1 ? JCS_GRAYSCALE : JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        ci.out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default:
        snprintf(err, errlen, "unsupported JPEG color space (%d components)", ci.num_components);
        jpeg_destroy_decompress(&ci);
        return -1;
    }
    ci.dct_method = JDCT_ISLOW;
    choose_scale(&ci, hint);
    /* What this image holds while it is decoded: the file, the decoded
     * pixels and, for a progressive (multi-scan) file, every DCT
     * coefficient at full size (2 bytes each), taken from the pass's
     * budget before any of it is allocated. */
    jpeg_calc_output_dimensions(&ci);
    size_t need = n + (size_t)ci.output_width * ci.output_height * (size_t)want_c;
    if (cmyk)
        need += (size_t)ci.output_width * 4;
    if (jpeg_has_multiple_scans(&ci))
        for (int k = 0; k < ci.num_components; k++)
            need += (size_t)ci.comp_info[k].width_in_blocks * ci.comp_info[k].height_in_blocks * DCTSIZE2 *
                    sizeof(JCOEF);
    if (cnn_decode_take(hint, need, ci.image_width, ci.image_height, "JPEG", ci.progressive_mode, err, errlen)) {
        jpeg_destroy_decompress(&ci);
        return -1;
    }
    jpeg_start_decompress(&ci);

    int w = (int)ci.output_width, h = (int)ci.output_height, oc = ci.output_components;
    uint8_t *px = cnn_image_reserve(out, (size_t)w * (size_t)h * (size_t)want_c);
    if (cmyk)
        row = malloc((size_t)w * 4);
    if (!px || (cmyk && !row)) {
        snprintf(err, errlen, "out of memory for a %dx%d image", w, h);
        jpeg_destroy_decompress(&ci);
        free(row);
        return -1;
    }
    (void)oc;
    int inverted = ci.saw_Adobe_marker;
    while (ci.output_scanline < ci.output_height) {
        int y = (int)ci.output_scanline;
        if (cmyk) {
            JSAMPROW r = row;
            jpeg_read_scanlines(&ci, &r, 1);
            cmyk_row(row, px + (size_t)y * w * want_c, w, want_c, inverted);
        } else {
            JSAMPROW r = px + (size_t)y * w * want_c;
            jpeg_read_scanlines(&ci, &r, 1);
        }
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    free(row);
    out->w = w;
    out->h = h;
    out->c = want_c;
    return 0;
}
