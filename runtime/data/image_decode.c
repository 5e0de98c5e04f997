/* image_decode.c: recognise image files by their bytes and dispatch to the
 * right decoder. File names and extensions are never trusted: a PNG named
 * .jpg is decoded as PNG, a text file named .jpg is reported as text. */
#include <stdio.h>
#include <string.h>

#include "cnn_data_impl.h"

cnn_format cnn_sniff(const uint8_t *b, size_t n)
{
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return CNN_FMT_JPEG;
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return CNN_FMT_PNG;
    if (n >= 4 && memcmp(b, "GIF8", 4) == 0)
        return CNN_FMT_GIF;
    if (n >= 2 && b[0] == 'B' && b[1] == 'M')
        return CNN_FMT_BMP;
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return CNN_FMT_WEBP;
    if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0))
        return CNN_FMT_TIFF;
    /* Text: the first bytes are printable ASCII or whitespace (a common
     * accident: an HTML error page saved as photo.jpg). */
    size_t k = n < 64 ? n : 64, printable = 0;
    for (size_t i = 0; i < k; i++)
        if ((b[i] >= 0x20 && b[i] < 0x7F) || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')
            printable++;
    if (k > 0 && printable == k)
        return CNN_FMT_TEXT;
    return CNN_FMT_UNKNOWN;
}

const char *cnn_format_name(cnn_format f)
{
    switch (f) {
    case CNN_FMT_JPEG: return "JPEG";
    case CNN_FMT_PNG: return "PNG";
    case CNN_FMT_GIF: return "GIF";
    case CNN_FMT_BMP: return "BMP";
    case CNN_FMT_WEBP: return "WebP";
    case CNN_FMT_TIFF: return "TIFF";
    case CNN_FMT_TEXT: return "text";
    default: return "unknown";
    }
}

int cnn_decode_memory(const uint8_t *buf, size_t n, int want_c, const cnn_decode_hint *hint,
                      double max_pixels, cnn_image *out, char *err, size_t errlen)
{
    cnn_image im = { 0, 0, 0, NULL, 0 };
    int rc = cnn_decode_into(buf, n, want_c, hint, max_pixels, &im, err, errlen);
    if (rc != 0)
        cnn_image_free(&im);
    *out = im;
    return rc;
}

int cnn_decode_into(const uint8_t *buf, size_t n, int want_c, const cnn_decode_hint *hint,
                    double max_pixels, cnn_image *out, char *err, size_t errlen)
{
    cnn_format f = cnn_sniff(buf, n);
    switch (f) {
    case CNN_FMT_JPEG:
        return cnn_decode_jpeg(buf, n, want_c, hint, max_pixels, out, err, errlen);
    case CNN_FMT_PNG:
        return cnn_decode_png(buf, n, want_c, hint, max_pixels, out, err, errlen);
    case CNN_FMT_TEXT:
        snprintf(err, errlen, "a text file, not an image");
        return -1;
    case CNN_FMT_UNKNOWN:
        snprintf(err, errlen, "not an image (unrecognised content)");
        return -1;
    default:
        snprintf(err, errlen, "%s image: unsupported format (JPEG and PNG are read)",
                 cnn_format_name(f));
        return -1;
    }
}
