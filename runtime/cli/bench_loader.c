/* bench_loader.c: `NAME bench --data DIR` (cnn_bench_loader.h).
 *
 * `bench` times the step on one batch again and again with the weights
 * restored before each step; an epoch makes a new batch between steps, in
 * the same threads (loader.c), takes real images and labels, and lets the
 * weights move. Five arms tell those differences apart: bench's step (its
 * random batch), one batch of the data with the weights restored, the same
 * with the weights moving, the loader running between steps while the step
 * still takes the one batch, and the epoch's way (cnn_bench_loader.h).
 * They run in one process, in rounds of ROUND steps
 * per arm, the arms' order turning each round, so that whatever changes
 * from run to run or from minute to minute (where the buffers landed in
 * memory, the machine's other work) falls on every arm alike and the
 * ratios between arms hold where the absolute figures move.
 *
 * The first step of each arm's turn is not timed (it pays for the switch
 * from the arm before). Step times are those of cnn_train_step alone, the
 * loader's those of cnn_loader_next: the epoch's time is their sum. Each
 * is taken twice: wall time, and the CPU time of the team's threads, which
 * on a shared machine leaves out the time other programs held the cores. */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnn_bench_loader.h"
#include "cnn_data.h"
#include "cnn_dist.h"
#include "cnn_layer_timer.h"
#include "cnn_progress.h"
#include "cnn_run.h"
#include "cnn_step.h"
#include "cnn_util.h"

#define ROUND 8
#define MAX_STEPS 20000

static const char *const arm_names[CNN_ARMS] = {
    "bench: random batch, weights restored",
    "one batch, weights restored",
    "one batch, weights moving",
    "loader between, one batch",
    "epoch: loader between, its batch",
};

/* Median and mean of n values (sorted in place). */
static void summarize(double *v, int n, double *median, double *mean)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    *mean = n ? s / n : 0;
    *median = cnn_median(v, (size_t)n);
}

/* The loader's next batch, starting its next epoch at the end of one. */
static int next_batch(cnn_loader *l, int *epoch, const float **x, const int **labels)
{
    int n = cnn_loader_next(l, x, labels, NULL);
    if (n > 0)
        return n;
    cnn_loader_begin(l, ++*epoch, 0);
    return cnn_loader_next(l, x, labels, NULL);
}

typedef struct samples {
    double *step, *load, *cpu, *load_cpu;
    int n;
} samples;

/* The CPU time of the OpenMP team's threads, summed: on a shared machine
 * the wall time of a step holds the time other programs had the cores, its
 * CPU time only the work (and the short spins at barriers). libgomp keeps
 * thread t of a team of the same size the same thread from region to
 * region, so the clocks are taken once. */
#define MAX_TEAM 256
typedef struct team_clock {
    int n;
    clockid_t id[MAX_TEAM];
} team_clock;

static void team_clock_init(team_clock *c)
{
    int n = omp_get_max_threads(), ok = 1;
    c->n = n < MAX_TEAM ? n : MAX_TEAM;
#pragma omp parallel num_threads(c->n) reduction(&& : ok)
    ok = pthread_getcpuclockid(pthread_self(), &c->id[omp_get_thread_num()]) == 0 && omp_get_num_threads() == c->n;
    if (!ok)
        c->n = 0;
}

static double team_cpu(const team_clock *c)
{
    double s = 0;
    for (int t = 0; t < c->n; t++) {
        struct timespec ts;
        if (clock_gettime(c->id[t], &ts) == 0)
            s += (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    }
    return s;
}

int cnn_bench_loader_run(const cnn_model *m, const cnn_run_options *o, cnn_buffers *b, cnn_optim *opt,
                         const float *start_params, const float *x_random, const int *labels_random,
                         double seconds, cnn_bench_ab *r)
{
    const cnn_config *c = &o->cfg;
    memset(r, 0, sizeof *r);
    if (cnn_dist_size() > 1) {
        cnn_error(m, "bench --data runs in one process, not under mpirun");
        return 1;
    }
    char err[1024];
    cnn_data_options d;
    cnn_data_options_from(o, &d, o->json || o->quiet ? NULL : stdout);
    cnn_dataset *train = NULL, *val = NULL;
    cnn_loader *l = NULL;
    float *x1 = NULL, *logits = NULL, *dlogits = NULL;
    int *labels1 = NULL, rc = 1;
    samples s[CNN_ARMS];
    memset(s, 0, sizeof s);
    const int batch = b->batch_cap;
    const size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    if (cnn_data_open(m, &d, &train, &val, err, sizeof err)) {
        cnn_error(m, "%s", err);
        goto out;
    }
    if (cnn_dataset_size(train) < batch) {
        cnn_error(m, "bench --data needs a full batch of training images: %s has %d, the batch is %d", c->data,
                  cnn_dataset_size(train), batch);
        goto out;
    }
    l = cnn_loader_create(m, train, batch, 1, c->seed, err, sizeof err);
    if (!l) {
        cnn_error(m, "%s", err);
        goto out;
    }
    x1 = cnn_alloc_floats((size_t)batch * img);
    logits = cnn_alloc_floats((size_t)batch * m->n_outputs);
    dlogits = cnn_alloc_floats((size_t)batch * m->n_outputs);
    labels1 = malloc((size_t)batch * sizeof *labels1);
    int ok = x1 && logits && dlogits && labels1;
    for (int a = 0; a < CNN_ARMS; a++) {
        s[a].step = malloc(MAX_STEPS * sizeof(double));
        s[a].load = malloc(MAX_STEPS * sizeof(double));
        s[a].cpu = malloc(MAX_STEPS * sizeof(double));
        s[a].load_cpu = malloc(MAX_STEPS * sizeof(double));
        ok = ok && s[a].step && s[a].load && s[a].cpu && s[a].load_cpu;
    }
    if (!ok) {
        cnn_error(m, "out of memory for bench --data (batch %d)", batch);
        goto out;
    }
    r->data = c->data;
    r->images = cnn_dataset_size(train);
    r->batch = batch;
    r->round = ROUND;
    if (!o->json && !o->quiet) {
        printf("\nThe step beside the loader: %s, %d training images, %d arms in turn, %d steps each per round\n",
               c->data, r->images, CNN_ARMS, ROUND);
        fflush(stdout);
    }

    /* the one batch: the first of epoch 0 */
    int epoch = 0;
    const float *x;
    const int *labels;
    cnn_loader_begin(l, epoch, 0);
    next_batch(l, &epoch, &x, &labels);
    memcpy(x1, x, (size_t)batch * img * sizeof(float));
    memcpy(labels1, labels, (size_t)batch * sizeof *labels1);

    team_clock clk;
    team_clock_init(&clk);
    uint64_t step = 0;
    double t_end = cnn_now() + seconds * CNN_ARMS;
    for (int round = 0; cnn_now() < t_end || round == 0; round++) {
        for (int k = 0; k < CNN_ARMS; k++) {
            const int a = (round + k) % CNN_ARMS;
            const int loads = a == CNN_ARM_LOADER_ONE || a == CNN_ARM_EPOCH;
            for (int i = 0; i < ROUND; i++) {
                double t0 = 0, t1 = 0, t2 = 0, l0 = 0, l1 = 0;
                const float *xs = a == CNN_ARM_RANDOM ? x_random : x1;
                const int *ls = a == CNN_ARM_RANDOM ? labels_random : labels1;
                if (loads) {
                    l0 = team_cpu(&clk);
                    t0 = cnn_now();
                    next_batch(l, &epoch, &x, &labels);
                    t1 = cnn_now();
                    l1 = team_cpu(&clk);
                    if (a == CNN_ARM_EPOCH) {
                        xs = x;
                        ls = labels;
                    }
                }
                if (a == CNN_ARM_RANDOM || a == CNN_ARM_BENCH)
                    memcpy(b->params, start_params, m->n_params * sizeof(float));
                const int timed = i > 0 && s[a].n < MAX_STEPS;
                if (timed)
                    cnn_layer_timer_start();
                const double c0 = team_cpu(&clk);
                t2 = cnn_now();
                cnn_train_step(m, b, opt, xs, ls, logits, dlogits, batch, c->seed, step++, 1);
                double t3 = cnn_now();
                const double c1 = team_cpu(&clk);
                cnn_layer_timer_stop();
                if (!timed)
                    continue;
                s[a].step[s[a].n] = t3 - t2;
                s[a].load[s[a].n] = t1 - t0;
                s[a].cpu[s[a].n] = c1 - c0;
                s[a].load_cpu[s[a].n] = l1 - l0;
                s[a].n++;
                for (int j = 0; j < m->n_layers && j < CNN_MAX_LAYERS; j++)
                    for (int p = 0; p < 2; p++)
                        r->arm[a].layer[j][p] += cnn_layer_timer_get(j, p);
            }
        }
    }
    for (int a = 0; a < CNN_ARMS; a++) {
        cnn_bench_arm *A = &r->arm[a];
        A->steps = s[a].n;
        summarize(s[a].step, s[a].n, &A->step_median, &A->step_mean);
        summarize(s[a].load, s[a].n, &A->loader_median, &A->loader_mean);
        summarize(s[a].cpu, s[a].n, &A->cpu_median, &A->cpu_mean);
        summarize(s[a].load_cpu, s[a].n, &A->loader_cpu_median, &A->loader_cpu_mean);
        for (int j = 0; s[a].n > 0 && j < CNN_MAX_LAYERS; j++)
            for (int p = 0; p < 2; p++)
                A->layer[j][p] /= s[a].n;
    }
    rc = 0;
out:
    for (int a = 0; a < CNN_ARMS; a++) {
        free(s[a].step);
        free(s[a].load);
        free(s[a].cpu);
        free(s[a].load_cpu);
    }
    free(x1);
    free(logits);
    free(dlogits);
    free(labels1);
    cnn_loader_free(l);
    cnn_dataset_free(train);
    cnn_dataset_free(val);
    return rc;
}

/* Images per second of an arm's mean step and batch. */
static double arm_rate(const cnn_bench_ab *r, int a)
{
    double t = r->arm[a].step_mean + r->arm[a].loader_mean;
    return t > 0 ? r->batch / t : 0;
}

/* An arm's images/s (means) over bench's (the bench arm's median step). */
static double over_bench(const cnn_bench_ab *r, int a)
{
    const double med = r->arm[CNN_ARM_RANDOM].step_median;
    return med > 0 ? arm_rate(r, a) * med / r->batch : 0;
}

/* An arm's images/s over the bench arm's, both from means: the same
 * statistic of steps taken in the same minutes. Where the machine's speed
 * moves from step to step, a mean is slower than the median, so over_bench
 * puts even the bench arm below 1; this ratio leaves only what the arm
 * adds to bench's step. */
static double over_bench_arm(const cnn_bench_ab *r, int a)
{
    const double b = arm_rate(r, CNN_ARM_RANDOM);
    return b > 0 ? arm_rate(r, a) / b : 0;
}

void cnn_bench_loader_print(const cnn_model *m, const cnn_bench_ab *r, int json, FILE *f)
{
    const cnn_bench_arm *bench = &r->arm[CNN_ARM_RANDOM], *ep = &r->arm[CNN_ARM_EPOCH];
    const double ratio = over_bench(r, CNN_ARM_EPOCH);
    if (json) {
        fputs("{\"data\": ", f);
        cnn_json_fputs(f, r->data);
        fprintf(f, ", \"images\": %d, \"round\": %d, \"epoch_over_bench\": %.4f, \"epoch_over_bench_arm\": %.4f, "
                   "\"arms\": [",
                r->images, r->round, ratio, over_bench_arm(r, CNN_ARM_EPOCH));
        for (int a = 0; a < CNN_ARMS; a++) {
            const cnn_bench_arm *A = &r->arm[a];
            fprintf(f, "%s{\"name\": \"%s\", \"steps\": %d, \"step_ms_median\": %.4f, \"step_ms_mean\": %.4f, "
                       "\"step_cpu_ms_median\": %.4f, \"step_cpu_ms_mean\": %.4f, \"loader_ms_median\": %.4f, "
                       "\"loader_ms_mean\": %.4f, \"loader_cpu_ms_median\": %.4f, \"loader_cpu_ms_mean\": %.4f, "
                       "\"images_per_s\": %.2f, \"layers\": [",
                    a ? ", " : "", arm_names[a], A->steps, 1e3 * A->step_median, 1e3 * A->step_mean,
                    1e3 * A->cpu_median, 1e3 * A->cpu_mean, 1e3 * A->loader_median, 1e3 * A->loader_mean,
                    1e3 * A->loader_cpu_median, 1e3 * A->loader_cpu_mean, arm_rate(r, a));
            for (int j = 0; j < m->n_layers && j < CNN_MAX_LAYERS; j++)
                fprintf(f, "%s{\"name\": \"%s\", \"forward_ms\": %.4f, \"backward_ms\": %.4f}", j ? ", " : "",
                        m->layers[j].name, 1e3 * A->layer[j][0], 1e3 * A->layer[j][1]);
            fputs("]}", f);
        }
        fputs("]}", f);
        return;
    }
    fprintf(f, "%-34s %5s %17s %17s %17s %17s %9s %8s %8s\n", "arm", "steps", "step ms", "step CPU ms",
            "batch making ms", "batch CPU ms", "images/s", "vs bench", "vs arm");
    fprintf(f, "%-34s %5s %17s %17s %17s %17s\n", "", "", "median / mean", "median / mean", "median / mean",
            "median / mean");
    for (int a = 0; a < CNN_ARMS; a++) {
        const cnn_bench_arm *A = &r->arm[a];
        fprintf(f, "%-34s %5d %8.3f / %-6.3f %8.3f / %-6.3f %8.3f / %-6.3f %8.3f / %-6.3f %9.1f %8.3f %8.3f\n",
                arm_names[a], A->steps, 1e3 * A->step_median, 1e3 * A->step_mean, 1e3 * A->cpu_median,
                1e3 * A->cpu_mean, 1e3 * A->loader_median, 1e3 * A->loader_mean, 1e3 * A->loader_cpu_median,
                1e3 * A->loader_cpu_mean, arm_rate(r, a), over_bench(r, a), over_bench_arm(r, a));
    }
    fprintf(f, "(CPU ms: all threads' CPU time, summed; images/s: the batch over the mean step and the mean batch "
               "making; vs bench: over the bench arm's median step, bench's own measure; vs arm: over the bench "
               "arm's images/s, means over means)\n");
    fprintf(f, "\nPer layer, mean ms per step: the first arm (bench's step) -> the epoch arm\n");
    fprintf(f, "%-16s %22s %22s\n", "layer", "forward", "backward");
    for (int j = 0; j < m->n_layers && j < CNN_MAX_LAYERS; j++) {
        if (bench->layer[j][0] + bench->layer[j][1] + ep->layer[j][0] + ep->layer[j][1] <= 0)
            continue;
        fprintf(f, "%-16s %9.3f -> %-9.3f %9.3f -> %-9.3f\n", m->layers[j].name, 1e3 * bench->layer[j][0],
                1e3 * ep->layer[j][0], 1e3 * bench->layer[j][1], 1e3 * ep->layer[j][1]);
    }
}
