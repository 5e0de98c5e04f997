/* cnn_dist.h: the processes of a data-parallel run (docs/distributed.md).
 *
 * dist.c (in cnnrt) implements these functions for one process, or through
 * cnn_dist_backend when a backend is linked: a trainer built with
 * `cnnc build --mpi` links dist_mpi.c (the library cnnrt_mpi, linked whole),
 * which installs its MPI backend before main; every other trainer links no
 * MPI. An --mpi trainer started without mpirun is one process too.
 *
 * Every collective below is called by every process in the same order,
 * from the thread that called cnn_dist_init. */
#ifndef CNN_DIST_H
#define CNN_DIST_H

#include <stddef.h>

/* A backend: the functions below of the same names (dist.c calls them when
 * cnn_dist_backend is set). */
typedef struct cnn_dist_ops {
    void (*init)(int *argc, char ***argv);
    int (*finish)(int rc);
    int (*rank)(void);
    int (*size)(void);
    void (*tree_sum)(float *v, size_t count);
    void (*allgather_floats)(float *v, const int *off, const int *len);
    void (*bcast)(void *buf, size_t bytes, int root);
    int (*any)(int flag);
    void (*allgather_bytes)(const void *mine, void *all, size_t bytes);
    int (*error)(const char *prefix, const char *msg);
} cnn_dist_ops;
extern const cnn_dist_ops *cnn_dist_backend; /* NULL: one process */

/* Starts MPI in an --mpi trainer (nothing in the others). Under mpirun, the
 * processes other than rank 0 write nothing to stdout from then on, and
 * their error messages go through cnn_dist_error. */
void cnn_dist_init(int *argc, char ***argv);
/* Ends the run with the exit status rc: a process that fails ends every
 * process (an error on one rank must not leave the others waiting in a
 * collective). It first waits up to 5 s for the others: when every one
 * fails, each prints the errors cnn_dist_error held that are not rank 0's,
 * and they end together; else it prints its held errors and ends the job.
 * Returns rc where it returns at all. */
int cnn_dist_finish(int rc);

int cnn_dist_rank(void);    /* 0 .. size - 1 */
int cnn_dist_size(void);    /* 1 without mpirun */
int cnn_dist_mpi(void);     /* 1 in an --mpi trainer */

/* In place on every process: v becomes the sum over the processes, added
 * in the fixed binary tree of ranks (pairs of neighbours, then pairs of
 * pairs, ...: size must be a power of two), never in MPI's own order.
 * Rabenseifner's reduce-scatter by recursive halving (nearest neighbours
 * first, so the additions follow the tree), then the allgather. */
void cnn_dist_tree_sum(float *v, size_t count);
/* cnn_batch_part.reduce's form of it (ctx unused). */
void cnn_dist_reduce_cb(void *ctx, float *v, size_t count);

/* Process r's block of `v` is [off[r], off[r] + len[r]) floats; in place,
 * every process receives every block. */
void cnn_dist_allgather_floats(float *v, const int *off, const int *len);
/* buf on `root` to every process. */
void cnn_dist_bcast(void *buf, size_t bytes, int root);
/* 1 on every process when flag is nonzero on any. */
int cnn_dist_any(int flag);
/* Gathers `bytes` from every process into all (size * bytes) on every process. */
void cnn_dist_allgather_bytes(const void *mine, void *all, size_t bytes);

/* An error message, "PREFIX MSG" (the prefix "NAME: error: "), from a
 * process of a run: returns 0 when the caller prints it now (one process,
 * and rank 0), 1 when the backend took it. Another rank's errors are held
 * until cnn_dist_finish: when every rank failed and its errors are rank
 * 0's, line for line (an error every rank reaches alike: a bad flag, data
 * that differs, an unreadable image in --strict mode), they are not
 * printed again; otherwise they are printed as "PREFIX rank R: MSG". */
int cnn_dist_error(const char *prefix, const char *msg);

/* The processes as the data side's first pass uses them (cnn_data.h,
 * cnn_data_share: each decodes its share of the files, and they exchange the
 * images), or NULL for one process. */
struct cnn_data_share;
const struct cnn_data_share *cnn_dist_data_share(void);

#endif
