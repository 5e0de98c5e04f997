/* cnn_bench_loader.h: `NAME bench --data DIR`: the training step as an
 * epoch runs it, with the loader between steps, against the step as `bench`
 * times it, in one process (bench_loader.c). */
#ifndef CNN_BENCH_LOADER_H
#define CNN_BENCH_LOADER_H

#include <stdio.h>

#include "cnn_model.h"
#include "cnn_optim.h"
#include "cnn_train.h"

/* The arms, run in turn in rounds of a few steps each. */
enum {
    CNN_ARM_RANDOM,       /* bench's training step: its random batch, the weights restored before each step */
    CNN_ARM_BENCH,        /* one batch of the data again and again, the weights restored before each step */
    CNN_ARM_ONE_BATCH,    /* one batch again and again, the weights moving as in training */
    CNN_ARM_LOADER_ONE,   /* the loader makes a batch between steps; the step still takes the one batch */
    CNN_ARM_EPOCH,        /* the loader makes a batch between steps and the step takes it: an epoch */
    CNN_ARMS
};

typedef struct cnn_bench_arm {
    int steps;                             /* timed steps */
    double step_median, step_mean;         /* seconds */
    double loader_median, loader_mean;     /* seconds per batch made (0 without the loader) */
    double cpu_median, cpu_mean;           /* the step's CPU seconds, all threads summed */
    double loader_cpu_median, loader_cpu_mean; /* the same for a batch made */
    double layer[CNN_MAX_LAYERS][2];       /* mean seconds per step in each layer's forward and backward */
} cnn_bench_arm;

typedef struct cnn_bench_ab {
    const char *data;
    int images, batch, round;              /* training images, batch size, steps per arm and round */
    cnn_bench_arm arm[CNN_ARMS];
} cnn_bench_ab;

/* Opens o->cfg.data as `train` does (the same training subset), then runs
 * the arms in turn for about `seconds` each, from the weights in b->params
 * (start_params: a copy of them, restored before each step of the first two
 * arms); x_random and labels_random: bench's random batch (b->batch_cap
 * images). Returns 0, or 1 after an error message. */
int cnn_bench_loader_run(const cnn_model *m, const cnn_run_options *o, cnn_buffers *b, cnn_optim *opt,
                         const float *start_params, const float *x_random, const int *labels_random,
                         double seconds, cnn_bench_ab *r);

/* The table (text), or the value of the JSON key "loader" (json). */
void cnn_bench_loader_print(const cnn_model *m, const cnn_bench_ab *r, int json, FILE *f);

#endif
