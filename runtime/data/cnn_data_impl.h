/* cnn_data_impl.h: declarations shared by the data side's files (not public;
 * the trainer uses cnn_data.h). Tests include it to check each stage alone. */
#ifndef CNN_DATA_IMPL_H
#define CNN_DATA_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cnn_data.h"

#define CNN_DEFAULT_MAX_MEGAPIXELS 100.0
#define CNN_MIN_DEFAULT_MEMORY_BUDGET ((size_t)2 << 30)

/* --memory's default (cache.c): half the machine's RAM, shared by the
 * processes a launcher started on it, and never under 2 GiB. */
size_t cnn_default_memory_budget(void);

/* ---- decoding (image_decode.c, jpeg.c, png.c) ------------------------------ */

typedef enum cnn_format {
    CNN_FMT_UNKNOWN, CNN_FMT_JPEG, CNN_FMT_PNG, CNN_FMT_GIF, CNN_FMT_BMP,
    CNN_FMT_WEBP, CNN_FMT_TIFF, CNN_FMT_TEXT
} cnn_format;

/* What the bytes are (magic numbers, not the file name). */
cnn_format cnn_sniff(const uint8_t *buf, size_t n);
const char *cnn_format_name(cnn_format f);

/* A decoded image: h x w x c bytes, interleaved (HWC). px holds cap bytes;
 * a decoder reuses them when they are enough (the first pass decodes
 * thousands of images: allocating and freeing each makes glibc shrink and
 * regrow the heap, which costs TLB flushes that are slow on these VMs). */
typedef struct cnn_image {
    int h, w, c;
    uint8_t *px;
    size_t cap;
} cnn_image;

/* px with at least `bytes` bytes (kept, or grown), or NULL. */
uint8_t *cnn_image_reserve(cnn_image *im, size_t bytes);

/* The memory the first pass's decode threads may hold together for the
 * images in flight (docs/data.md, "Peak memory"): a decoder takes an
 * image's share from it once the header tells its size (the file's bytes,
 * the decoded pixels, a progressive JPEG's coefficients), waiting while the
 * other threads hold too much, and the pass gives the share back once the
 * image is in the cache. An image that alone needs more than cap is refused
 * with a message, whatever the number of threads, so which images are
 * decoded never depends on it. */
typedef struct cnn_decode_budget {
    pthread_mutex_t mu;
    pthread_cond_t freed;
    size_t cap, used;
} cnn_decode_budget;

/* What the caller will do with the decoded image, so a JPEG can be decoded
 * directly at a reduced size (DCT scaling): the result keeps the crop box at
 * least out_w x out_h. out_w == 0 means full size. */
typedef struct cnn_decode_hint {
    int out_h, out_w;
    int crop;            /* crop_to_aspect_ratio */
    int exact;           /* 1: never scale in the DCT domain */
    size_t max_memory;   /* the decoder's own working memory for one image (libjpeg's
                            max_memory_to_use: a progressive JPEG keeps every DCT
                            coefficient, 2 bytes per pixel and component);
                            0 = CNN_DEFAULT_DECODER_MEMORY */
    cnn_decode_budget *budget; /* NULL: one image at a time (predict), no sharing */
    size_t *taken;       /* with budget: what this thread's decoder took, added */
} cnn_decode_hint;

/* Takes `bytes` for the image being decoded (w x h, what: "JPEG", "PNG")
 * from hint's budget, waiting while other threads hold too much; adds them
 * to *hint->taken. 0, or -1 with err when the image alone needs more than
 * the whole budget ("give --memory more"). No budget: 0. */
int cnn_decode_take(const cnn_decode_hint *hint, size_t bytes, unsigned w, unsigned h, const char *what,
                    int progressive, char *err, size_t errlen);
/* Gives back what was taken. */
void cnn_decode_give(cnn_decode_budget *b, size_t bytes);

/* The decoder's working memory for one image when nothing sets it: what
 * `predict` allows. The first pass over a dataset allows --memory instead
 * (at least CNN_MIN_DECODER_MEMORY), the decode budget's whole capacity. */
#define CNN_DEFAULT_DECODER_MEMORY ((size_t)512 << 20)
#define CNN_MIN_DECODER_MEMORY ((size_t)64 << 20)

/* Decode bytes to want_c channels (1: BT.601 luma, 3: RGB; alpha dropped).
 * Refuses images over max_pixels. 0 or -1 with err. out must be initialised
 * ({0} or an earlier result): its buffer is reused or grown, and stays with
 * out (free it with cnn_image_free) whatever the outcome. */
int cnn_decode_jpeg(const uint8_t *buf, size_t n, int want_c, const cnn_decode_hint *hint,
                    double max_pixels, cnn_image *out, char *err, size_t errlen);
int cnn_decode_png(const uint8_t *buf, size_t n, int want_c, const cnn_decode_hint *hint, double max_pixels,
                   cnn_image *out, char *err, size_t errlen);
/* Sniff, then the right decoder; the message names the format when it is
 * not one we read ("GIF image: unsupported format"). cnn_decode_into reuses
 * out's buffer as the decoders do; cnn_decode_memory fills a fresh *out
 * (nothing to free on failure). */
int cnn_decode_into(const uint8_t *buf, size_t n, int want_c, const cnn_decode_hint *hint,
                    double max_pixels, cnn_image *out, char *err, size_t errlen);
int cnn_decode_memory(const uint8_t *buf, size_t n, int want_c, const cnn_decode_hint *hint,
                      double max_pixels, cnn_image *out, char *err, size_t errlen);
/* Read a whole file (refusing empty ones). *buf is malloc'd. */
int cnn_read_file(const char *path, uint8_t **buf, size_t *n, char *err, size_t errlen);
/* The same into *buf (cap bytes), grown when needed; *buf stays the caller's. */
int cnn_read_file_into(const char *path, uint8_t **buf, size_t *cap, size_t *n, char *err,
                       size_t errlen);
void cnn_image_free(cnn_image *im);
/* 1 with a message in err when a w x h image is over max_pixels (the
 * decoders refuse it before decoding: decompression bombs), 0 otherwise. */
int cnn_image_too_large(unsigned w, unsigned h, double max_pixels, char *err, size_t errlen);

/* ---- preprocessing (preprocess.c) ------------------------------------------ */

/* Keras's crop_to_aspect_ratio box in a w x h image for an out_w x out_h target
 * (the whole image when crop == 0). */
void cnn_crop_box(int w, int h, int out_w, int out_h, int crop,
                  int *x0, int *y0, int *cw, int *ch);

/* Bilinear resize of the box (x0, y0, cw, ch) of src (sw wide, c channels,
 * uint8) to dst (oh x ow x c floats): tf.image.resize bilinear with half-pixel
 * centers and no antialiasing (Keras 3 image_dataset_from_directory). */
void cnn_resize_bilinear(const uint8_t *src, int sw, int c, int x0, int y0, int cw, int ch,
                         float *dst, int oh, int ow);

/* How a model's preprocessing splits between the cache and the batches.
 * The cache keeps round(clip(steps[0..n_cached) of the resized image)) as
 * uint8: every step before the first rescale stays within 0..255, so caching
 * them costs one rounding, the same as caching the resized image alone. */
typedef struct cnn_prep_plan {
    int h, w, c;
    int n_cached;                      /* steps applied before the uint8 cache */
    int n_steps;
    cnn_prep_step steps[CNN_MAX_PREPROCESS];
    double lo, hi;                     /* the value range after every step */
    double range_lo[CNN_MAX_PREPROCESS + 1], range_hi[CNN_MAX_PREPROCESS + 1]; /* before step k */
} cnn_prep_plan;

void cnn_prep_plan_init(cnn_prep_plan *p, const cnn_model *m);
/* Apply steps [from, to) in place to an h x w x c float image; tmp holds
 * h*w*c floats (needed by edges). */
void cnn_prep_apply(const cnn_prep_plan *p, int from, int to, float *x, float *tmp);
/* Decoded image -> cached uint8 (crop, resize, cached steps, rounding).
 * fbuf and tmp hold h*w*c floats each. */
void cnn_prep_to_cache(const cnn_prep_plan *p, const cnn_image *im, int crop,
                       uint8_t *dst, float *fbuf, float *tmp);
/* Cached uint8 -> model input floats (the remaining steps). */
void cnn_prep_from_cache(const cnn_prep_plan *p, const uint8_t *src, float *x, float *tmp);

/* ---- augmentation (augment.c) ---------------------------------------------- */

typedef struct cnn_aug_params {
    int flip_h, flip_v;
    double angle;         /* radians, positive = counter-clockwise */
    double zoom;          /* scale of the sampled area: > 1 zooms out */
    double shear;         /* x_in = x + shear * y */
    double dx, dy;        /* translation in pixels (content moves by +dx, +dy) */
    double brightness;    /* added, in value units */
    double contrast;      /* factor */
} cnn_aug_params;

/* Draw the parameters of image `index` in epoch `epoch` (CNN_RNG_AUGMENT). */
void cnn_aug_draw(const cnn_augment *a, int h, int w, double lo, double hi,
                  uint64_t seed, uint64_t epoch, uint64_t index, cnn_aug_params *p);
/* Whether a draws any geometric transform (so the sampler is needed at all). */
int cnn_aug_geometric(const cnn_augment *a);
/* Apply p to src (h x w x c floats) into dst; fill modes from a; values
 * clipped to [lo, hi] by brightness and contrast as Keras does. src != dst. */
void cnn_aug_apply(const cnn_augment *a, const cnn_aug_params *p, const float *src, float *dst,
                   int h, int w, int c, double lo, double hi);
/* The same from the cached bytes when the only step after the cache is
 * x = scale * u + offset (scale 1, offset 0 when there is none): samples u
 * and rescales after (equal to cnn_aug_apply on the rescaled image up to
 * float rounding), without converting the image first. -1 (nothing done)
 * when a draws no geometric transform or the image is narrower than 2. */
int cnn_aug_from_cache(const cnn_augment *a, const cnn_aug_params *p, const uint8_t *src, float *dst, int h,
                       int w, int c, float scale, float offset, double lo, double hi, void *scratch);
/* The bytes of scratch memory cnn_aug_from_cache needs for an h x w x c
 * image (its vectorized sampler's padded copy), 0 when that sampler does
 * not apply. Given scratch NULL, it runs the portable sampler, which gives
 * the same floats, bit for bit, slower. */
size_t cnn_aug_scratch_bytes(int h, int w, int c);

/* ---- cache (cache.c) ----------------------------------------------------------- */

typedef struct cnn_cache {
    uint8_t *data;
    size_t bytes;
    int mapped;            /* 1: an mmap'd unlinked file, 0: anonymous memory */
    int fd;                /* the file when mapped, else -1 */
} cnn_cache;

/* Large buffers (the cache, batch rings): huge pages, populated at once. */
void *cnn_big_alloc(size_t bytes);
void cnn_big_free(void *p, size_t bytes);

int cnn_cache_alloc(cnn_cache *c, size_t bytes, size_t budget, const char *dir,
                    char *err, size_t errlen);
/* Store n bytes at offset: a copy in memory; for a mapped file a pwrite,
 * several times faster here than first writes through the mapping (which
 * fault page by page). 0 or -1 (errno set). */
int cnn_cache_put(cnn_cache *c, size_t offset, const void *src, size_t n);
/* After the first pass: maps a file cache's pages into the process in one
 * call when they fit in the free memory (best effort, nothing otherwise).
 * Written by pwrite, the pages are in the page cache but not in the
 * mapping, and the loader's first read of each would fault. */
void cnn_cache_map_in(cnn_cache *c);
void cnn_cache_release(cnn_cache *c);

/* ---- IDX files (idx.c) ------------------------------------------------------- */

/* 1 when path names an IDX images file (by name: *-images-idx3-ubyte[.gz]). */
int cnn_idx_is_images(const char *path);
/* Read images (n x rows x cols uint8) and the labels from the matching
 * ...-labels-idx1-ubyte[.gz] file. Arrays malloc'd. Memory follows the data
 * that really arrives (decompressed), never the header's claim; images
 * that would take more than max_bytes (0: no limit) are refused before any
 * is read. */
int cnn_idx_read(const char *images_path, size_t max_bytes, uint8_t **pixels, int *n, int *rows, int *cols,
                 uint8_t **labels, char *err, size_t errlen);

/* ---- sources and subsets (dataset.c, folder.c, decode_pass.c, split.c) ------------ */

/* One folder or IDX file, decoded into one cache; shared by the subsets. */
typedef struct cnn_source {
    int refs;
    char *name;                 /* the path as given */
    int n_classes;
    char **class_names;
    int n_files;                /* entries: files, and what could not be listed */
    char **paths;
    int *labels;                /* class of the folder the entry is in */
    char **reasons;             /* NULL when the entry was decoded, else why it was skipped */
    int n_skipped;
    int *skipped;               /* entry indices of the skipped ones, in order */
    size_t image_bytes;         /* h*w*c */
    cnn_cache cache;
    int *read_by;               /* decoded by several processes (share.c): the rank that read
                                   entry i, -1 for entries that could not be listed; else NULL */
} cnn_source;

struct cnn_dataset {
    cnn_source *src;
    int n;
    int *idx;                   /* entry indices into src, ascending */
    int *class_counts;
};

/* A new source with nothing in it but its name (refs 1), or NULL. */
cnn_source *cnn_source_new(const char *name);
void cnn_source_free(cnn_source *s);

/* Fill s from the class folders of s->name: classes, entries (sorted), the
 * reasons of entries that could not even be listed. Errors: fewer than 2
 * classes, an empty class folder, a path too long, out of memory. */
int cnn_folder_index(cnn_source *s, char *err, size_t errlen);

/* What the first pass needs to know. IDX sources set idx_pixels (n x rows x
 * cols gray bytes) and decode nothing. */
typedef struct cnn_pass {
    const cnn_prep_plan *plan;
    int crop;
    cnn_decode_hint hint;
    double max_pixels;
    size_t memory_budget; /* --memory: the decode budget's capacity (cnn_decode_budget) */
    const uint8_t *idx_pixels;
    int idx_rows, idx_cols;
} cnn_pass;

/* Decode every entry without a reason into its cache slot, in parallel
 * (threads <= 0: online CPUs); a file that fails gets its reason. entries
 * (n_entries of them) limits the pass to those entries; NULL: all. Slot i is
 * entry i whatever thread decodes it. -1 only on a system error (memory,
 * writing the cache file). */
int cnn_decode_pass(cnn_source *s, const cnn_pass *pass, int threads, const int *entries, int n_entries,
                    char *err, size_t errlen);

/* ---- the first pass over several processes (share.c) ------------------------------ */

/* Entries per block of the first pass's interleave: about 4 MiB of cache,
 * fewer when a process would otherwise get fewer than 8 blocks, at least 1. */
int cnn_share_block(size_t image_bytes, int n_files, int size);
/* The process that decodes entry i: its block's index mod size. */
int cnn_share_owner(int i, int block, int size);

typedef struct cnn_share_report {
    int shared;        /* 0: the processes' entries differ, so each decoded all of its own */
    int block;         /* entries per block */
    int32_t *decoded;  /* per process: the files it read and decoded, then the milliseconds
                          that took (2 x size, malloc'd) */
    double exchange_s; /* seconds spent exchanging the decoded images and reasons */
} cnn_share_report;

/* The first pass of a source over sh's processes (a collective): when every
 * process indexed the same entries, each decodes the blocks it owns and the
 * processes exchange images and skip reasons, so each ends with the cache and
 * reasons of a one-process pass, and s->read_by set. Otherwise each decodes
 * all of its entries itself. 0, or -1 with err on every process when any
 * failed (the others' message names the rank). */
int cnn_share_pass(cnn_source *s, const cnn_pass *pass, int threads, const cnn_data_share *sh,
                   cnn_share_report *rep, char *err, size_t errlen);

/* Stratified split (split in [0, 1)); val is NULL for split 0. */
int cnn_split(cnn_source *s, double split, uint64_t seed, cnn_dataset **train, cnn_dataset **val);
/* Every decoded entry of s. */
cnn_dataset *cnn_subset_all(cnn_source *s);

const uint8_t *cnn_dataset_pixels(const cnn_dataset *d, int i); /* h*w*c cached bytes */

#endif
