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

/* Element offset of block b of P blocks over count floats. */
static size_t at(size_t count, int b, int p)
{
    return (size_t)((unsigned long long)count * (unsigned long long)b / (unsigned long long)p);
}

/* One tree sum in flight (cnn_dist_sum_start): Rabenseifner's steps, each
 * a pair of non-blocking messages with the partner; the adds of a
 * reduce-scatter step run when both have completed, then the next step is
 * posted. Sums in flight at once are told apart by their tags: every
 * process starts the same sums in the same order, so the sequence number
 * of a sum is the same on every process. */
#define MAX_SUMS 8
typedef struct sum_state {
    int used;
    float *v, *t; /* t: the received half of a reduce-scatter step */
    size_t count, t_cap;
    int stage, steps; /* stages 0 .. steps - 1 reduce-scatter, then steps .. 2 steps - 1 allgather */
    int lo, hi, was_lo[32], was_hi[32];
    int tag;
    MPI_Request req[2];
} sum_state;
static sum_state sums_[MAX_SUMS];
static unsigned sum_seq_;

/* Posts the messages of s's current stage. */
static void sum_post(sum_state *s)
{
    const int p = size_;
    if (s->stage < s->steps) {
        /* Reduce-scatter by recursive halving, nearest neighbours first:
         * after the step with distance d, this rank holds the sums over its
         * group of 2d consecutive ranks for its 1/(2d) of the blocks: two
         * groups of d, left + right (IEEE addition commutes, so both
         * partners get the same bits), level by level as in the tree of
         * chunks. */
        const int d = 1 << s->stage, partner = rank_ ^ d, mid = (s->lo + s->hi) / 2;
        const int upper = (rank_ & d) != 0;
        const int keep_lo = upper ? mid : s->lo, keep_hi = upper ? s->hi : mid;
        const int send_lo = upper ? s->lo : mid, send_hi = upper ? mid : s->hi;
        const size_t kn = at(s->count, keep_hi, p) - at(s->count, keep_lo, p);
        const size_t s0 = at(s->count, send_lo, p), sn = at(s->count, send_hi, p) - s0;
        MPI_Irecv(s->t, (int)kn, MPI_FLOAT, partner, s->tag, MPI_COMM_WORLD, &s->req[0]);
        MPI_Isend(s->v + s0, (int)sn, MPI_FLOAT, partner, s->tag, MPI_COMM_WORLD, &s->req[1]);
    } else {
        /* Allgather: the same steps backwards, each rank sending what it holds. */
        const int st = 2 * s->steps - 1 - s->stage, partner = rank_ ^ (1 << st);
        const int mid = (s->was_lo[st] + s->was_hi[st]) / 2;
        const int other_lo = s->lo == s->was_lo[st] ? mid : s->was_lo[st];
        const int other_hi = s->lo == s->was_lo[st] ? s->was_hi[st] : mid;
        const size_t m0 = at(s->count, s->lo, p), mn = at(s->count, s->hi, p) - m0;
        const size_t o0 = at(s->count, other_lo, p), on = at(s->count, other_hi, p) - o0;
        MPI_Irecv(s->v + o0, (int)on, MPI_FLOAT, partner, s->tag + 1, MPI_COMM_WORLD, &s->req[0]);
        MPI_Isend(s->v + m0, (int)mn, MPI_FLOAT, partner, s->tag + 1, MPI_COMM_WORLD, &s->req[1]);
    }
}

/* After s's current stage completed: its adds, then the next stage. 1 when
 * the sum is complete. */
static int sum_advance(sum_state *s)
{
    const int p = size_;
    if (s->stage < s->steps) {
        const int d = 1 << s->stage, mid = (s->lo + s->hi) / 2, upper = (rank_ & d) != 0;
        const int keep_lo = upper ? mid : s->lo, keep_hi = upper ? s->hi : mid;
        const size_t k0 = at(s->count, keep_lo, p), kn = at(s->count, keep_hi, p) - k0;
        float *v = s->v + k0;
        const float *t = s->t;
        if (upper)
            for (size_t k = 0; k < kn; k++)
                v[k] = t[k] + v[k];
        else
            for (size_t k = 0; k < kn; k++)
                v[k] = v[k] + t[k];
        s->was_lo[s->stage] = s->lo;
        s->was_hi[s->stage] = s->hi;
        s->lo = keep_lo;
        s->hi = keep_hi;
    } else {
        const int st = 2 * s->steps - 1 - s->stage;
        s->lo = s->was_lo[st];
        s->hi = s->was_hi[st];
    }
    if (++s->stage == 2 * s->steps) {
        s->used = 0;
        return 1;
    }
    sum_post(s);
    return 0;
}

static int mpi_sum_start(float *v, size_t count)
{
    if (!on_ || size_ < 2 || count == 0)
        return -1;
    if (count > (size_t)INT_MAX)
        fail("a gradient of more than 2^31 floats");
    int h = 0;
    while (h < MAX_SUMS && sums_[h].used)
        h++;
    if (h == MAX_SUMS)
        fail("more than 8 gradient sums in flight");
    sum_state *s = &sums_[h];
    const size_t half = count / 2 + 1;
    if (half > s->t_cap) {
        free(s->t);
        s->t = malloc(half * sizeof *s->t);
        if (!s->t)
            fail("out of memory for the gradient exchange");
        s->t_cap = half;
    }
    s->used = 1;
    s->v = v;
    s->count = count;
    s->stage = 0;
    s->steps = 0;
    while ((1 << s->steps) < size_)
        s->steps++;
    s->lo = 0;
    s->hi = size_;
    s->tag = 16 + 2 * (int)(sum_seq_++ % 8192);
    sum_post(s);
    return h;
}

static int mpi_sum_test(int h)
{
    if (h < 0 || h >= MAX_SUMS || !sums_[h].used)
        return 1;
    sum_state *s = &sums_[h];
    for (;;) {
        int done = 0;
        MPI_Testall(2, s->req, &done, MPI_STATUSES_IGNORE);
        if (!done)
            return 0;
        if (sum_advance(s))
            return 1;
    }
}

static void mpi_sum_wait(int h)
{
    if (h < 0 || h >= MAX_SUMS || !sums_[h].used)
        return;
    sum_state *s = &sums_[h];
    do
        MPI_Waitall(2, s->req, MPI_STATUSES_IGNORE);
    while (!sum_advance(s));
}

static void mpi_tree_sum(float *v, size_t count)
{
    mpi_sum_wait(mpi_sum_start(v, count));
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

static const cnn_dist_ops mpi_ops = {mpi_init,        mpi_finish,         mpi_rank,          mpi_size,
                                     mpi_tree_sum,    mpi_sum_start,      mpi_sum_test,      mpi_sum_wait,
                                     mpi_allgather_floats, mpi_bcast,     mpi_any,           mpi_allgather_bytes,
                                     mpi_error};

/* Runs before main (the library is linked whole, so this object is in the
 * trainer although nothing names it). */
__attribute__((constructor)) static void mpi_install(void)
{
    cnn_dist_backend = &mpi_ops;
}
