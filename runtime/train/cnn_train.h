/* cnn_train.h: the trainer's commands behind the command line (trainer.c
 * parses flags into cnn_run_options and calls one of these). Each returns
 * the process exit status: 0 on success, 1 with a message on stderr. */
#ifndef CNN_TRAIN_H
#define CNN_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnn_model.h"

typedef struct cnn_run_options {
    cnn_config cfg;            /* effective settings: the train block with flags applied */
    char out[CNN_MAX_PATH];    /* run folder (runs/NAME unless --out) */
    const char *weights;       /* evaluate/predict: NULL = OUT/model.safetensors */
    int threads;               /* 0 = OpenMP's default */
    int resume, strict, json, quiet;
    int tty;                   /* progress display: -1 = auto, 0 = plain, 1 = dynamic */
    const char *cache_dir;     /* data cache file folder (NULL = $TMPDIR or /tmp) */
    double memory_mb;          /* RAM for decoded images before spilling to a file (0 = default) */
    int exact_resize;
    double bench_seconds;      /* per timed phase */
    int n_images;              /* predict */
    char **images;
    const char *output;        /* preview: the PNG file (-o) */
    int count;                 /* preview: images shown (0 = 16) */
    int view_epoch;            /* preview: the 1-based epoch whose augmentation is shown (0 = 1) */
} cnn_run_options;

int cnn_cmd_train(const cnn_model *m, const cnn_run_options *o);
int cnn_cmd_evaluate(const cnn_model *m, const cnn_run_options *o);
int cnn_cmd_predict(const cnn_model *m, const cnn_run_options *o);
int cnn_cmd_bench(const cnn_model *m, const cnn_run_options *o);

/* The buffers of cnn_model.h for batch_cap images, allocated (64-byte
 * aligned) and touched once. Returns 0, or -1 when out of memory. */
int cnn_buffers_alloc(const cnn_model *m, int batch_cap, cnn_buffers *b);
void cnn_buffers_free(cnn_buffers *b);

/* "NAME: error: ..." on stderr. */
void cnn_error(const cnn_model *m, const char *fmt, ...);
void cnn_warning(const cnn_model *m, const char *fmt, ...);

#endif
