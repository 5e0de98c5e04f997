/* dist_mpi.c: the processes of a data-parallel run over MPI (cnn_dist.h),
 * in the library cnnrt_mpi that `cnnc build --mpi` links whole: a
 * constructor installs this backend (cnn_dist_backend) before main.
 *
 * Started by mpirun (or another MPI launcher: it sets OMPI_COMM_WORLD_SIZE,
 * PMIX_RANK or PMI_SIZE), the trainer calls MPI_Init; started alone it
 * stays one process and never touches MPI. Floating-point sums never use
 * MPI's reductions, whose order is unspecified: cnn_dist_tree_sum adds in
 * a fixed tree of ranks, so the result is the same on every process and for
 * every number of processes (docs/distributed.md). */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnn_dist.h"
#include "cnn_util.h"

static int rank_, size_ = 1, on_;
static float *tmp_;
static size_t tmp_cap_;
static MPI_Comm err_comm_; /* the end-of-run agreement on errors, apart from the run's collectives */

static void mpi_init(int *argc, char ***argv)
{
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_SIZE"))
        return; /* alone: one process, no MPI */
    int provided = 0;
    /* MPI is called only from the main thread, outside OpenMP regions */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "error: MPI_Init failed\n");
        exit(1);
    }
    on_ = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm_dup(MPI_COMM_WORLD, &err_comm_);
    /* Progress, summaries and results come from rank 0; errors from every
     * rank, through mpi_error. */
    if (rank_ != 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "warning: rank %d cannot silence its output\n", rank_);
}

/* Error messages (cnn_dist_error). Rank 0 prints its own at once and
 * keeps their hash; another rank holds its own until the end of the run,
 * when the ranks learn whether every one of them failed. */
static char *held_;     /* this rank's error lines, "rank R: " after each prefix */
static size_t held_len_, held_cap_;
static uint64_t err_hash_ = CNN_FNV1A64_OFFSET; /* over the lines as rank 0 prints them */
static int n_errors_;

static int mpi_error(const char *prefix, const char *msg)
{
    if (!on_ || size_ < 2)
        return 0;
    err_hash_ = cnn_fnv1a64(err_hash_, prefix, strlen(prefix));
    err_hash_ = cnn_fnv1a64(err_hash_, msg, strlen(msg));
    n_errors_++;
    if (rank_ == 0)
        return 0;
    char tag[32];
    snprintf(tag, sizeof tag, "rank %d: ", rank_);
    const size_t need = held_len_ + strlen(prefix) + strlen(tag) + strlen(msg) + 2;
    if (need > held_cap_) {
        char *bigger = realloc(held_, need * 2);
        if (!bigger)
            return 0; /* print it now rather than lose it */
        held_ = bigger;
        held_cap_ = need * 2;
    }
    held_len_ += (size_t)sprintf(held_ + held_len_, "%s%s%s\n", prefix, tag, msg);
    return 1;
}

static void print_held(void)
{
    if (held_len_) {
        fputs(held_, stderr);
        fflush(stderr);
    }
    held_len_ = 0;
}

/* 1 when every rank reaches the end of the run with an error within
 * AGREE_SECONDS of this one (its errors are then alike or this rank's own);
 * 0 when some rank does not (it is still working, or waits in a collective
 * for this one). Over err_comm_, so that it never meets a collective of
 * the run. */
#define AGREE_SECONDS 5.0
static int all_failed(void)
{
    MPI_Request req;
    if (MPI_Ibarrier(err_comm_, &req) != MPI_SUCCESS)
        return 0;
    const double t_end = MPI_Wtime() + AGREE_SECONDS;
    for (;;) {
        int done = 0;
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done)
            return 1;
        if (MPI_Wtime() > t_end)
            return 0;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

static int mpi_finish(int rc)
{
    if (!on_)
        return rc;
    fflush(stdout);
    fflush(stderr);
    if (size_ > 1 && rc != 0) {
        if (!all_failed()) {
            /* the other ranks may wait in a collective: this rank's errors are
             * its own; end them all */
            print_held();
            MPI_Abort(MPI_COMM_WORLD, rc);
        }
        /* Every rank failed: a rank whose errors are rank 0's, line for line,
         * says nothing more; another prints its own, naming itself. */
        const uint64_t mine = n_errors_ ? err_hash_ : 0;
        uint64_t rank0 = mine;
        if (MPI_Bcast(&rank0, 1, MPI_UINT64_T, 0, err_comm_) == MPI_SUCCESS && rank0 == mine)
            held_len_ = 0;
    }
    print_held(); /* errors of a run that ends well: kept, with the rank */
    MPI_Finalize();
    on_ = 0;
    return rc;
}

static int mpi_rank(void)
{
    return rank_;
}

static int mpi_size(void)
{
    return size_;
}

static void fail(const char *what)
{
    fprintf(stderr, "error: rank %d: %s\n", rank_, what);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static float *scratch(size_t count)
{
    if (count > tmp_cap_) {
        free(tmp_);
        tmp_ = malloc(count * sizeof *tmp_);
        if (!tmp_)
            fail("out of memory for the gradient exchange");
        tmp_cap_ = count;
    }
    return tmp_;
}

/* Element offset of block b of P blocks over count floats. */
static size_t at(size_t count, int b, int p)
{
    return (size_t)((unsigned long long)count * (unsigned long long)b / (unsigned long long)p);
}

static void mpi_tree_sum(float *v, size_t count)
{
    if (!on_ || size_ < 2 || count == 0)
        return;
    if (count > (size_t)INT_MAX)
        fail("a gradient of more than 2^31 floats");
    const int p = size_;
    int lo = 0, hi = p, steps = 0, was_lo[32], was_hi[32];
    float *t = scratch(count);
    /* Reduce-scatter by recursive halving, nearest neighbours first: after
     * the step with distance d, this rank holds the sums over its group of
     * 2d consecutive ranks for its 1/(2d) of the blocks: two groups of d,
     * left + right (IEEE addition commutes, so both partners get the same
     * bits), level by level as in the tree of chunks. */
    for (int d = 1; d < p; d <<= 1) {
        const int partner = rank_ ^ d, mid = (lo + hi) / 2;
        const int upper = (rank_ & d) != 0;
        const int keep_lo = upper ? mid : lo, keep_hi = upper ? hi : mid;
        const int send_lo = upper ? lo : mid, send_hi = upper ? mid : hi;
        const size_t k0 = at(count, keep_lo, p), kn = at(count, keep_hi, p) - k0;
        const size_t s0 = at(count, send_lo, p), sn = at(count, send_hi, p) - s0;
        MPI_Sendrecv(v + s0, (int)sn, MPI_FLOAT, partner, 7, t, (int)kn, MPI_FLOAT, partner, 7, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        for (size_t k = 0; k < kn; k++)
            v[k0 + k] = upper ? t[k] + v[k0 + k] : v[k0 + k] + t[k];
        was_lo[steps] = lo;
        was_hi[steps] = hi;
        steps++;
        lo = keep_lo;
        hi = keep_hi;
    }
    /* Allgather: the same steps backwards, each rank sending what it holds. */
    for (int s = steps - 1; s >= 0; s--) {
        const int partner = rank_ ^ (1 << s);
        const int mid = (was_lo[s] + was_hi[s]) / 2;
        const int other_lo = lo == was_lo[s] ? mid : was_lo[s], other_hi = lo == was_lo[s] ? was_hi[s] : mid;
        const size_t m0 = at(count, lo, p), mn = at(count, hi, p) - m0;
        const size_t o0 = at(count, other_lo, p), on = at(count, other_hi, p) - o0;
        MPI_Sendrecv(v + m0, (int)mn, MPI_FLOAT, partner, 8, v + o0, (int)on, MPI_FLOAT, partner, 8,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        lo = was_lo[s];
        hi = was_hi[s];
    }
}

static void mpi_allgather_floats(float *v, const int *off, const int *len)
{
    if (!on_ || size_ < 2)
        return;
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, len, off, MPI_FLOAT, MPI_COMM_WORLD);
}

static void mpi_bcast(void *buf, size_t bytes, int root)
{
    if (!on_ || size_ < 2)
        return;
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < (size_t)1 << 30 ? bytes - done : (size_t)1 << 30;
        MPI_Bcast((char *)buf + done, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
        done += n;
    }
}

static int mpi_any(int flag)
{
    if (!on_ || size_ < 2)
        return flag != 0;
    int mine = flag != 0, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
}

static void mpi_allgather_bytes(const void *mine, void *all, size_t bytes)
{
    if (!on_ || size_ < 2) {
        memcpy(all, mine, bytes);
        return;
    }
    if (bytes > (size_t)INT_MAX)
        fail("an exchange of more than 2 GB");
    MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
}

static const cnn_dist_ops mpi_ops = {mpi_init, mpi_finish, mpi_rank, mpi_size, mpi_tree_sum, mpi_allgather_floats,
                                     mpi_bcast, mpi_any, mpi_allgather_bytes, mpi_error};

/* Runs before main (the library is linked whole, so this object is in the
 * trainer although nothing names it). */
__attribute__((constructor)) static void mpi_install(void)
{
    cnn_dist_backend = &mpi_ops;
}
