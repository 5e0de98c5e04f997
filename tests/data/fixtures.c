/* fixtures.c: see fixtures.h. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, nftw */
#define _XOPEN_SOURCE 700
#include "fixtures.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

int fx_failures = 0;

void fx_model_init(fx_model *f, int h, int w, int c, int n_outputs)
{
    memset(f, 0, sizeof *f);
    f->m.name = "datatest";
    f->m.in_h = h;
    f->m.in_w = w;
    f->m.in_c = c;
    f->m.n_outputs = n_outputs;
    f->m.final_act = n_outputs == 1 ? CNN_ACT_SIGMOID : CNN_ACT_SOFTMAX;
    f->m.preprocess = f->steps;
    f->m.n_preprocess = 0;
    f->m.defaults.seed = 123;
    f->m.defaults.validation_split = 0.2;
    f->m.defaults.batch = 32;
}

void fx_model_add_step(fx_model *f, cnn_prep_kind kind, double value, double offset)
{
    cnn_prep_step s = { kind, value, offset };
    f->steps[f->m.n_preprocess++] = s;
}

void fx_tmpdir(char *out, size_t n, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(out, n, "%s/cnn-%s-XXXXXX", base, tag);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(2);
    }
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

void fx_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fx_mkdir(const char *path)
{
    if (mkdir(path, 0755) != 0) {
        perror(path);
        exit(2);
    }
}

void fx_write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n)) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

const char *fx_path(const char *dir, const char *name)
{
    static char buf[8][1024];
    static int k = 0;
    char *b = buf[k++ & 7];
    snprintf(b, 1024, "%s/%s", dir, name);
    return b;
}

uint8_t fx_pattern(int x, int y, int k, int w, int h)
{
    /* smooth ramps in different directions per channel: JPEG keeps them well */
    double u = (double)x / (w > 1 ? w - 1 : 1), v = (double)y / (h > 1 ? h - 1 : 1);
    double val;
    switch (k) {
    case 0: val = 30 + 190 * u; break;
    case 1: val = 40 + 170 * v; break;
    default: val = 60 + 80 * u + 70 * (1 - v); break;
    }
    return (uint8_t)(val + 0.5);
}

uint8_t *fx_pattern_image(int w, int h, int c)
{
    uint8_t *p = malloc((size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                p[((size_t)y * w + x) * c + k] = fx_pattern(x, y, c == 1 ? 0 : k, w, h);
    return p;
}

static int write_jpeg(const char *path, const uint8_t *px, int w, int h, int comps,
                      J_COLOR_SPACE in_cs, J_COLOR_SPACE jpeg_cs, int quality, int progressive,
                      int adobe, int subsample)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = comps;
    ci.in_color_space = in_cs;
    jpeg_set_defaults(&ci);
    jpeg_set_colorspace(&ci, jpeg_cs);
    jpeg_set_quality(&ci, quality, TRUE);
    /* no chroma subsampling (unless asked): the decoded pixels stay close to the source */
    for (int i = 0; i < ci.num_components && !subsample; i++) {
        ci.comp_info[i].h_samp_factor = 1;
        ci.comp_info[i].v_samp_factor = 1;
    }
    if (progressive)
        jpeg_simple_progression(&ci);
    ci.write_Adobe_marker = adobe ? TRUE : FALSE;
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * comps);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
    return 0;
}

int fx_write_jpeg(const char *path, const uint8_t *px, int w, int h, int components, int quality,
                  int progressive)
{
    J_COLOR_SPACE cs = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    return write_jpeg(path, px, w, h, components, cs, components == 1 ? JCS_GRAYSCALE : JCS_YCbCr,
                      quality, progressive, 0, 0);
}

int fx_write_jpeg_photo(const char *path, const uint8_t *px, int w, int h, int quality)
{
    return write_jpeg(path, px, w, h, 3, JCS_RGB, JCS_YCbCr, quality, 0, 0, 1);
}

int fx_write_jpeg_cmyk(const char *path, const uint8_t *cmyk, int w, int h, int ycck, int adobe)
{
    return write_jpeg(path, cmyk, w, h, 4, JCS_CMYK, ycck ? JCS_YCCK : JCS_CMYK, 100, 0,
                      ycck ? 1 : adobe, 0);
}

int fx_write_png(const char *path, const uint8_t *data, int w, int h, int color_type, int bit_depth,
                 const uint8_t *palette, int n_palette, int interlace)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bit_depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < n_palette; i++) {
            pal[i].red = palette[3 * i];
            pal[i].green = palette[3 * i + 1];
            pal[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, pal, n_palette);
    }
    png_write_info(png, info);
    int chans = color_type == PNG_COLOR_TYPE_GRAY ? 1 : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
              : color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGBA ? 4 : 1;
    size_t rowbytes = ((size_t)w * chans * bit_depth + 7) / 8;
    png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)h);
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)(data + (size_t)y * rowbytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
    return 0;
}

uint8_t *fx_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    if (len > 0 && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

const char *const fx_bad_names[FX_N_BAD] = { "truncated.jpg", "empty.jpg", "notes.jpg", "anim.gif",
                                             "dangling.jpg", "bomb.jpg", "mixed/loop", "new\\x0aline.jpg" };
const char *const fx_bad_reasons[FX_N_BAD] = { "Premature end", "empty", "text", "GIF",
                                               "No such file", "too large", "not followed", "text" };

static void solid(const char *path, int r, int g, int b)
{
    uint8_t px[10 * 10 * 3];
    for (int i = 0; i < 100; i++) {
        px[3 * i] = (uint8_t)r;
        px[3 * i + 1] = (uint8_t)g;
        px[3 * i + 2] = (uint8_t)b;
    }
    fx_write_jpeg(path, px, 10, 10, 3, 100, 0);
}

void fx_make_bad_folder(const char *dir)
{
    fx_mkdir(dir);
    fx_mkdir(fx_path(dir, "good"));
    fx_mkdir(fx_path(dir, "mixed"));
    char p[2048];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/good/g%d.jpg", dir, i);
        solid(p, 100, 100, 100);
        snprintf(p, sizeof p, "%s/mixed/m%d.jpg", dir, i);
        solid(p, 200, 50, 50);
    }
    /* UTF-8 names are bytes like any other */
    snprintf(p, sizeof p, "%s/good/pomme_\xc3\xa9_\xe6\x9e\x97\xe6\xaa\x8e_\xf0\x9f\x8d\x8e.jpg", dir);
    solid(p, 100, 100, 100);
    /* a PNG named .jpg is fine */
    uint8_t *pat = fx_pattern_image(10, 10, 3);
    fx_write_png(fx_path(dir, "mixed/png_named.jpg"), pat, 10, 10, PNG_COLOR_TYPE_RGB, 8, NULL, 0, 0);
    free(pat);
    /* the bad ones */
    uint8_t *big = fx_pattern_image(64, 64, 3);
    fx_write_jpeg(fx_path(dir, "mixed/full.jpg"), big, 64, 64, 3, 90, 0);
    free(big);
    size_t n;
    uint8_t *b = fx_read(fx_path(dir, "mixed/full.jpg"), &n);
    remove(fx_path(dir, "mixed/full.jpg"));
    fx_write_bytes(fx_path(dir, "mixed/truncated.jpg"), b, n / 2);
    fx_write_bytes(fx_path(dir, "mixed/empty.jpg"), "", 0);
    fx_write_bytes(fx_path(dir, "mixed/notes.jpg"), "this is not a photo\n", 20);
    fx_write_bytes(fx_path(dir, "mixed/anim.gif"), "GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14);
    if (symlink("/nonexistent/target.jpg", fx_path(dir, "mixed/dangling.jpg")) != 0)
        perror("symlink");
    for (size_t i = 0; i + 8 < n; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xC0) {
            b[i + 5] = 0xC3; b[i + 6] = 0x50; b[i + 7] = 0xC3; b[i + 8] = 0x50; /* 50000x50000 */
            break;
        }
    fx_write_bytes(fx_path(dir, "mixed/bomb.jpg"), b, n);
    free(b);
    /* a link to an ancestor folder (would loop if followed) */
    if (symlink("..", fx_path(dir, "mixed/loop")) != 0)
        perror("symlink");
    /* a newline in a file name must not forge a log line */
    fx_write_bytes(fx_path(dir, "mixed/new\nline.jpg"), "text", 4);
}
