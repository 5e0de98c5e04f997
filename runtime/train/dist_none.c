/* dist_none.c: the one-process twin of dist_mpi.c (cnn_dist.h), in cnnrt:
 * a trainer built without --mpi links no MPI. */
#include <string.h>

#include "cnn_dist.h"

void cnn_dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

int cnn_dist_finish(int rc)
{
    return rc;
}

int cnn_dist_rank(void)
{
    return 0;
}

int cnn_dist_size(void)
{
    return 1;
}

int cnn_dist_mpi(void)
{
    return 0;
}

void cnn_dist_tree_sum(float *v, size_t count)
{
    (void)v;
    (void)count;
}

void cnn_dist_reduce_cb(void *ctx, float *v, size_t count)
{
    (void)ctx;
    (void)v;
    (void)count;
}

void cnn_dist_allgather_floats(float *v, const int *off, const int *len)
{
    (void)v;
    (void)off;
    (void)len;
}

void cnn_dist_bcast(void *buf, size_t bytes, int root)
{
    (void)buf;
    (void)bytes;
    (void)root;
}

int cnn_dist_any(int flag)
{
    return flag != 0;
}

void cnn_dist_allgather_bytes(const void *mine, void *all, size_t bytes)
{
    memcpy(all, mine, bytes);
}
