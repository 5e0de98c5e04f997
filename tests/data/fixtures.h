/* fixtures.h: what the data tests share: a tiny check macro, fixture images
 * written with libjpeg and libpng, a temporary folder, and a hand-built model
 * descriptor (the data side needs only its input, outputs, preprocessing and
 * augmentation; no network runs in these tests). */
#ifndef CNN_TEST_FIXTURES_H
#define CNN_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnn_model.h"

extern int fx_failures;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
            fx_failures++;                                                      \
        }                                                                       \
    } while (0)

/* A model descriptor for data tests. n_outputs 1 = binary (sigmoid). */
typedef struct fx_model {
    cnn_model m;
    cnn_prep_step steps[CNN_MAX_PREPROCESS];
} fx_model;
void fx_model_init(fx_model *f, int h, int w, int c, int n_outputs);
void fx_model_add_step(fx_model *f, cnn_prep_kind kind, double value, double offset);

/* A fresh empty folder under $TMPDIR (or /tmp); removed by fx_rmtree. */
void fx_tmpdir(char *out, size_t n, const char *tag);
void fx_rmtree(const char *path);
void fx_mkdir(const char *path);
void fx_write_bytes(const char *path, const void *data, size_t n);
/* path = dir + "/" + name (static buffer rotation: 8 at a time) */
const char *fx_path(const char *dir, const char *name);

/* A smooth, non-symmetric test pattern: channel k of pixel (x, y). */
uint8_t fx_pattern(int x, int y, int k, int w, int h);
/* h x w x c pattern image (malloc'd). */
uint8_t *fx_pattern_image(int w, int h, int c);

/* JPEG writers. components 1 (gray) or 3 (RGB); quality 1..100; 4:4:4. */
int fx_write_jpeg(const char *path, const uint8_t *px, int w, int h, int components, int quality,
                  int progressive);
/* RGB as a camera or browser saves it: 4:2:0 chroma subsampling (libjpeg's default). */
int fx_write_jpeg_photo(const char *path, const uint8_t *px, int w, int h, int quality);
/* A 4-component JPEG from CMYK bytes as given: ycck = 1 stores YCCK; adobe = 1
 * writes the Adobe marker (libjpeg writes it for YCCK always). */
int fx_write_jpeg_cmyk(const char *path, const uint8_t *cmyk, int w, int h, int ycck, int adobe);
/* PNG writer: color_type as libpng's; bit_depth 1..16; rows of raw samples
 * (16-bit big-endian); palette (n entries RGB) for palette images. */
int fx_write_png(const char *path, const uint8_t *data, int w, int h, int color_type, int bit_depth,
                 const uint8_t *palette, int n_palette, int interlace);

/* A dataset folder with two classes, `good` (4 JPEGs, one with a UTF-8
 * name) and `mixed` (3 JPEGs, a PNG named .jpg, and FX_N_BAD bad entries:
 * truncated, empty, text, GIF, dangling link, 50000x50000 header, a link to
 * an ancestor folder, a newline in a name). fx_bad_names[i] is what the log
 * line of bad entry i contains (control characters escaped as the log does),
 * fx_bad_reasons[i] a word of its reason. */
#define FX_N_BAD 8
#define FX_N_ENTRIES 16
extern const char *const fx_bad_names[FX_N_BAD];
extern const char *const fx_bad_reasons[FX_N_BAD];
void fx_make_bad_folder(const char *dir);

/* Read a whole file into memory (malloc'd), NULL on failure. */
uint8_t *fx_read(const char *path, size_t *n);

#endif
