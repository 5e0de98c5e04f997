/* export_weights.h: a trained weights file (safetensors, as `NAME train`
 * writes it) read for `cnnc export` and checked against the checked IR. */
#ifndef CNNC_EXPORT_WEIGHTS_H
#define CNNC_EXPORT_WEIGHTS_H

#include <stddef.h>

#include "ir.h"

typedef struct cnnc_weights {
    float *params;        /* ir->n_params floats in memory layout (HWIO, [in][out]), as the trainer holds them */
    int n_classes;        /* 2 for one sigmoid output, else the outputs */
    char **class_names;   /* n_classes names: the "classes" metadata, or "0", "1", ... as predict prints them */
    char hash[17];        /* FNV-1a 64 of the whole file, 16 hex digits */
    char base[CNN_MAX_PATH]; /* the file name without directories */
    size_t file_bytes;
} cnnc_weights;

/* Reads path and checks it against ir: the file's format and CRC, the model
 * name in its metadata, every tensor's name, dtype (F32) and shape, no
 * tensor the model lacks, and the number of class names. Returns 0, or
 * prints "cnnc: error: PATH: ..." naming the mismatch and returns 1. */
int cnnc_weights_load(const cnnc_ir *ir, const char *path, cnnc_weights *w);
void cnnc_weights_free(cnnc_weights *w);

#endif
