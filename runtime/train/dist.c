/* dist.c: the processes of a run (cnn_dist.h): one process, or the
 * backend an --mpi trainer links (dist_mpi.c sets cnn_dist_backend before
 * main). */
#include <string.h>

#include "cnn_data.h"
#include "cnn_dist.h"

const cnn_dist_ops *cnn_dist_backend;

void cnn_dist_init(int *argc, char ***argv)
{
    if (cnn_dist_backend)
        cnn_dist_backend->init(argc, argv);
}

int cnn_dist_finish(int rc)
{
    return cnn_dist_backend ? cnn_dist_backend->finish(rc) : rc;
}

int cnn_dist_rank(void)
{
    return cnn_dist_backend ? cnn_dist_backend->rank() : 0;
}

int cnn_dist_size(void)
{
    return cnn_dist_backend ? cnn_dist_backend->size() : 1;
}

int cnn_dist_mpi(void)
{
    return cnn_dist_backend != NULL;
}

void cnn_dist_tree_sum(float *v, size_t count)
{
    if (cnn_dist_backend)
        cnn_dist_backend->tree_sum(v, count);
}

void cnn_dist_reduce_cb(void *ctx, float *v, size_t count)
{
    (void)ctx;
    cnn_dist_tree_sum(v, count);
}

void cnn_dist_allgather_floats(float *v, const int *off, const int *len)
{
    if (cnn_dist_backend)
        cnn_dist_backend->allgather_floats(v, off, len);
}

void cnn_dist_bcast(void *buf, size_t bytes, int root)
{
    if (cnn_dist_backend)
        cnn_dist_backend->bcast(buf, bytes, root);
}

int cnn_dist_any(int flag)
{
    return cnn_dist_backend ? cnn_dist_backend->any(flag) : flag != 0;
}

void cnn_dist_allgather_bytes(const void *mine, void *all, size_t bytes)
{
    if (cnn_dist_backend)
        cnn_dist_backend->allgather_bytes(mine, all, bytes);
    else
        memcpy(all, mine, bytes);
}

int cnn_dist_error(const char *prefix, const char *msg)
{
    return cnn_dist_backend ? cnn_dist_backend->error(prefix, msg) : 0;
}

const struct cnn_data_share *cnn_dist_data_share(void)
{
    static cnn_data_share share;
    if (cnn_dist_size() < 2)
        return NULL;
    share.rank = cnn_dist_rank();
    share.size = cnn_dist_size();
    share.bcast = cnn_dist_bcast;
    share.allgather_bytes = cnn_dist_allgather_bytes;
    return &share;
}
