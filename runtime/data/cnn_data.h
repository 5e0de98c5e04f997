/* cnn_data.h: the runtime's data side, from image folders to training batches.
 *
 *   cnn_data_open    index a folder (one subfolder per class) or an IDX file,
 *                    decode every image ONCE (in parallel), preprocess it to the
 *                    model's HxWxC, keep it as uint8 (RAM, or an mmap'd file over
 *                    the memory budget), split train/validation (stratified,
 *                    seeded, no copies), print the class table and skipped files.
 *   cnn_loader_*     turns the cached uint8 images into float batches (NHWC,
 *                    model input) with the caller's OpenMP threads: the rest of
 *                    the preprocessing, then augmentation and shuffling when training.
 *   cnn_image_load   one file, evaluation preprocessing (for `predict`), giving
 *                    exactly the values the cache + loader would give.
 *
 * Determinism: the batch order is a pure function of (seed, epoch); the
 * augmentation of an image a pure function of (seed, epoch, image index)
 * (runtime/include/cnn_rng.h streams CNN_RNG_SHUFFLE, CNN_RNG_AUGMENT); the split of
 * (seed, class, position) (CNN_RNG_SPLIT). Nothing depends on threads or timing,
 * so a resumed run repeats an uninterrupted one bitwise.
 *
 * All functions that can fail return -1 (or NULL) and write a one-line message
 * into err (errlen bytes, always NUL-terminated); none prints-and-exits.
 * See docs/data.md for the exact semantics (resize convention, augmentation).
 */
#ifndef CNN_DATA_H
#define CNN_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnn_model.h"

/* The processes of a data-parallel run as the first pass sees them
 * (docs/distributed.md, "Decoding the data"): each process decodes about
 * 1/size of the files and the processes exchange the decoded images, so each
 * ends with the cache one process would decode, byte for byte. The functions
 * are collectives: every process calls cnn_data_open with the same options, and
 * they are called on every process in the same order, from the calling thread.
 * The trainer fills it from its process layer (runtime/train/cnn_dist.h); the
 * data side itself links no MPI. */
typedef struct cnn_data_share {
    int rank, size;
    /* bytes of buf on process root to every process */
    void (*bcast)(void *buf, size_t bytes, int root);
    /* `bytes` from every process into all (size x bytes), on every process */
    void (*allgather_bytes)(const void *mine, void *all, size_t bytes);
} cnn_data_share;

typedef struct cnn_data_options {
    const char *path;          /* folder with a subfolder per class, or an IDX images file
                                  (...-images-idx3-ubyte[.gz]; labels from ...-labels-idx1-ubyte[.gz]) */
    const char *validation;    /* separate folder / IDX file with the same classes, or NULL */
    double validation_split;   /* used when validation == NULL; 0 = no validation subset */
    uint64_t seed;             /* drives the split */
    int strict;                /* any skipped (bad) file is an error */
    size_t memory_budget;      /* bytes of uint8 cache kept in RAM; over it the cache is an
                                  mmap'd (unlinked) file. 0 = default (half the RAM,
                                  split between a launcher's processes on the machine; at least 2 GiB) */
    const char *cache_dir;     /* where that cache file goes; NULL = $TMPDIR or /tmp */
    int threads;               /* decode threads for the first pass; 0 = online CPUs */
    double max_megapixels;     /* refuse images larger than this (decompression bombs); 0 = 100 */
    int exact_resize;          /* 1: never use JPEG DCT-domain downscaling (full decode, then
                                  bilinear, as Keras); 0 (default): decode near the target size */
    FILE *log;                 /* class table, skipped files, counts; NULL = quiet */
    const char *table_label;   /* the class table's count column when the data is not for
                                  training (e.g. "images" for evaluate): one column, no
                                  validation column; NULL = "training" and "validation" */
    const cnn_data_share *share; /* several processes decode the first pass together, and
                                    only rank 0 writes to log; NULL or size 1 = one process */
} cnn_data_options;

/* Fill *o with the defaults above (everything 0/NULL except validation_split 0.2,
 * seed 123), so callers set only what they need. */
void cnn_data_options_init(cnn_data_options *o);

/* ---- datasets ------------------------------------------------------------- */

/* One subset (training or validation): a list of cached images and labels.
 * The two subsets of a split share one cache; free each with cnn_dataset_free
 * (the cache goes with the last one). */
typedef struct cnn_dataset cnn_dataset;

/* Index, decode and cache o->path (and o->validation), then split.
 * *val is NULL when there is no validation subset (validation_split 0 and no
 * validation path). Class count must suit the model: a binary model
 * (n_outputs == 1, sigmoid) needs exactly 2 classes, a softmax model
 * n_outputs classes. Errors: no such path, fewer than 2 classes, an empty
 * class folder, classes differing between path and validation, a bad file
 * with o->strict, no images left. Returns 0 or -1. */
int cnn_data_open(const cnn_model *m, const cnn_data_options *o,
                  cnn_dataset **train, cnn_dataset **val, char *err, size_t errlen);

int cnn_dataset_size(const cnn_dataset *d);            /* images in this subset */
int cnn_dataset_n_classes(const cnn_dataset *d);
const char *cnn_dataset_class_name(const cnn_dataset *d, int k);
int cnn_dataset_class_count(const cnn_dataset *d, int k); /* images of class k in this subset */
const char *cnn_dataset_path(const cnn_dataset *d, int i); /* file (or "IDX:#n") of image i */
/* The same path relative to the folder the subset came from, as
 * cnn_dataset_hash sees it: "fresh/a.jpg"; "NAME#n" for image n of an IDX file. */
const char *cnn_dataset_relpath(const cnn_dataset *d, int i);
int cnn_dataset_label(const cnn_dataset *d, int i);
/* Files skipped while reading the source this subset came from (for a split,
 * both subsets report the source's skips; counted once by cnn_data_open's log). */
int cnn_dataset_skipped(const cnn_dataset *d);
const char *cnn_dataset_skipped_path(const cnn_dataset *d, int j);
const char *cnn_dataset_skipped_reason(const cnn_dataset *d, int j);
/* FNV-1a 64 over (class names, paths relative to the dataset folder, labels)
 * in subset order: a checkpoint can refuse to resume when the data or the
 * split changed (but not when the same folder is named differently). */
uint64_t cnn_dataset_hash(const cnn_dataset *d);
/* The class table: class, index, training count, validation count (val may be NULL).
 * cnn_data_print_counts prints one subset's counts under the column label `label`. */
void cnn_data_print_table(FILE *f, const cnn_dataset *train, const cnn_dataset *val);
void cnn_data_print_counts(FILE *f, const cnn_dataset *d, const char *label);
void cnn_dataset_free(cnn_dataset *d);

/* ---- batches -------------------------------------------------------------- */

/* Float batches (NHWC, m->in_h x in_w x in_c per image, fully preprocessed;
 * augmented and shuffled when training), each made when asked for by the
 * calling thread's OpenMP team (omp_get_max_threads() at creation at most). One
 * loader serves every epoch: create it once, call cnn_loader_begin per epoch.
 * Evaluation (training == 0) keeps the subset order and never augments. */
typedef struct cnn_loader cnn_loader;

cnn_loader *cnn_loader_create(const cnn_model *m, const cnn_dataset *d, int batch,
                              int training, uint64_t seed, char *err, size_t errlen);
int cnn_loader_batches(const cnn_loader *l);           /* batches per epoch (the last may be short) */
/* Start epoch `epoch` (0-based), skipping its first skip_batches batches (to
 * resume mid-epoch). Abandons whatever epoch was in progress. */
void cnn_loader_begin(cnn_loader *l, int epoch, int skip_batches);
/* The next batch of the epoch: returns its image count (0 at the end of the
 * epoch). *x (n x H x W x C floats), *labels and *indices (subset indices,
 * may be NULL) point into the loader and stay valid until the next call to
 * cnn_loader_next, cnn_loader_begin or cnn_loader_free. */
int cnn_loader_next(cnn_loader *l, const float **x, const int **labels, const int **indices);
void cnn_loader_free(cnn_loader *l);

/* ---- single images ---------------------------------------------------------- */

/* The range of the model's input values after its preprocessing (0..255
 * with none, 0..1 after rescale 1/255, ...): how to show an input as pixels. */
void cnn_input_range(const cnn_model *m, double *lo, double *hi);

/* Image i of d as its file holds it, before any preprocessing, resized
 * (bilinear, whole image) to h x w RGB bytes in rgb: the "original" beside
 * what the network sees. An IDX image (no file of its own) is its cached
 * pixels. Returns 0, or -1 with err. */
int cnn_dataset_original(const cnn_model *m, const cnn_dataset *d, int i, int h, int w, uint8_t *rgb, char *err,
                         size_t errlen);

/* An 8-bit image (c = 1 grey or 3 RGB, rows top to bottom) to a PNG file,
 * atomically (png_write.c). Returns 0, or -1 with err. */
int cnn_png_write(const char *path, int w, int h, int c, const uint8_t *px, char *err, size_t errlen);

/* Every file under dir, recursively, in the order and by the rules a class
 * folder is read (sorted by name, names starting with '.' skipped, links to
 * folders not followed): what `predict FOLDER` classifies. *paths and each
 * path are malloc'ed. Returns 0, or -1 with err. */
int cnn_folder_files(const char *dir, char ***paths, int *n, char *err, size_t errlen);

/* Decode one file and preprocess it for evaluation (no augmentation) into x
 * (in_h x in_w x in_c floats), through the same uint8 rounding as the cache.
 * o gives max_megapixels and exact_resize (use the training run's); NULL =
 * defaults. Returns 0 or -1. */
int cnn_image_load(const cnn_model *m, const char *path, float *x, const cnn_data_options *o,
                   char *err, size_t errlen);

#endif
