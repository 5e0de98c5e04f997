/* cnn_run.h: what the trainer's command files (train_loop.c, evaluate.c,
 * predict.c, cli/bench.c) share from run_common.c and run_folder.c. Internal
 * to the runtime; the commands themselves are in cnn_train.h. */
#ifndef CNN_RUN_H
#define CNN_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnn_data.h"
#include "cnn_metrics.h"
#include "cnn_train.h"

/* ---- run_common.c ---- */

/* n floats, 64-byte aligned, zeroed; NULL when out of memory. */
void *cnn_alloc_floats(size_t n);

/* --threads N > 0: OpenMP's team size; 0 leaves OpenMP's default (all cores). */
void cnn_apply_threads(int threads);

/* The data options of a run. */
void cnn_data_options_from(const cnn_run_options *o, cnn_data_options *d, FILE *log);

/* When the data path is the train block's default (no --data) and does not
 * exist, says where it came from and suggests --data; returns 1 then. */
int cnn_check_default_data(const cnn_model *m, const cnn_run_options *o);

/* Runs the model in inference mode over every batch of the loader and
 * accumulates metrics; a batch whose loss is not finite makes the mean loss
 * NaN or infinite (cnn_metrics_add), which the caller checks. */
void cnn_eval_pass(const cnn_model *m, cnn_buffers *b, cnn_loader *l, float *logits,
                      cnn_metrics *mt, uint64_t seed, uint64_t step);

/* Opens a weights file (OUT/model.safetensors unless --weights) into params;
 * *classes gets its class names ('\n'-joined, malloc'ed, NULL if none). */
int cnn_load_weights(const cnn_model *m, const cnn_run_options *o, float *params, char **classes);

/* Splits a '\n'-joined list in place into at most max names. */
int cnn_split_classes(char *s, const char **names, int max);

/* ---- run_folder.c ---- */
/* DIR/FILE into dst. */
void cnn_run_path(char *dst, size_t n, const char *dir, const char *file);

/* Class names joined by '\n' (the "classes" metadata entry). */
char *cnn_class_list(const cnn_dataset *d);

/* split.csv in the run folder: every image the run trains or validates on,
 * `subset,label,class,path` (path relative to its data folder, or
 * "FILE#n" for an IDX file), in subset order. It lets another engine (e.g.
 * scripts/train_pytorch.py) train on exactly the same split. */
int cnn_write_split(const char *path, const cnn_dataset *train, const cnn_dataset *val, char *err,
                       size_t errlen);

#endif
