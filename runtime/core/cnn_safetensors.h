/* cnn_safetensors.h: reading and writing safetensors files (F32 tensors and
 * string metadata), the format PyTorch, Hugging Face and cnnc share.
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
 * padded with spaces to a multiple of 8, then the raw little-endian data;
 * offsets count from the start of the data and cover it without gaps.
 *
 * Integrity: cnnc writes a "crc32" metadata entry (8 hex digits), the CRC-32
 * (zlib polynomial) of the whole file with that entry's value replaced by
 * "00000000". Readers that do not know it ignore it; cnn_st_read checks it
 * when present, so truncation or bit flips are reported, never loaded.
 *
 * Writes are atomic: PATH.tmp.PID is written, flushed and fsync'ed, the old
 * PATH (if any, and if asked) is kept as PATH.prev, PATH.tmp.PID is renamed
 * to PATH and the directory is fsync'ed; a crash leaves either the old or
 * the new file, never a partial one. The temporary name holds the writer's
 * process id, so two processes never write into one temporary file.
 */
#ifndef CNN_SAFETENSORS_H
#define CNN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "cnn_model.h"
#include "cnn_util.h"

/* ---- writing ----------------------------------------------------------- */

/* One tensor to write: shape is the on-disk (PyTorch) shape; data is in
 * memory layout `layout` (cnn_model.h): HWIO kernels are written OIHW and
 * [in][out] dense kernels [out][in]. */
typedef struct cnn_st_entry {
    const char *name;
    int rank;
    int64_t shape[4];
    const float *data;
    cnn_layout layout;
} cnn_st_entry;

/* Writes n entries and the metadata (meta: key, value, key, value, ...,
 * NULL) atomically to path (see above); keep_prev keeps the previous file
 * as PATH.prev. Returns 0, or -1 with a message in err. */
int cnn_st_write(const char *path, const cnn_st_entry *e, int n, const char *const *meta,
                 int keep_prev, char *err, size_t errlen);

/* The temporary file a write of path goes through: "PATH.tmp.PID". */
void cnn_tmp_path(char *dst, size_t n, const char *path);

/* ---- reading ----------------------------------------------------------- */

typedef struct cnn_st_tensor {
    char *name;
    char dtype[8];
    int rank;
    int64_t shape[8];
    size_t begin, end;   /* byte offsets into data */
} cnn_st_tensor;

typedef struct cnn_st_file {
    unsigned char *buf;  /* the whole file */
    size_t size;
    const unsigned char *data; /* after the header */
    size_t data_size;
    int n_tensors;
    cnn_st_tensor *tensors;
    int n_meta;
    char **meta_key, **meta_value;
    int has_crc;         /* a crc32 entry was present (and matched) */
} cnn_st_file;

/* Reads and validates path: header syntax, offsets inside the data and
 * matching dtype x shape, no gaps, and the crc32 when present. Errors say
 * what is wrong ("truncated", "CRC mismatch: the file is corrupt", ...).
 * Returns 0, or -1 with a message (f is then empty). */
int cnn_st_read(const char *path, cnn_st_file *f, char *err, size_t errlen);
void cnn_st_close(cnn_st_file *f);

const char *cnn_st_meta(const cnn_st_file *f, const char *key); /* NULL if absent */
int cnn_st_find(const cnn_st_file *f, const char *name);        /* index or -1 */

/* Copies tensor `name` (F32, on-disk shape `shape` of rank `rank`) into
 * memory layout `layout` at dst. Errors: missing, wrong dtype, wrong shape. */
int cnn_st_get(const cnn_st_file *f, const char *name, int rank, const int64_t *shape,
               cnn_layout layout, float *dst, char *err, size_t errlen);

/* ---- model weights ------------------------------------------------------- */

/* Every tensor of the model (trainable and batchnorm statistics) from
 * params, with PyTorch names and layouts, plus metadata (may be NULL). */
int cnn_weights_save(const cnn_model *m, const float *params, const char *path,
                     const char *const *meta, char *err, size_t errlen);
/* Every tensor of the model from an opened file into params. */
int cnn_weights_get(const cnn_model *m, const cnn_st_file *f, float *params,
                    char *err, size_t errlen);


#endif
