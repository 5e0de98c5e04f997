/* cnn_usage.h: the trainer's commands and its --help text (usage.c). */
#ifndef CNN_USAGE_H
#define CNN_USAGE_H

#include <stdio.h>

#include "cnn_model.h"

typedef enum cnn_cmd {
    CNN_CMD_TRAIN,
    CNN_CMD_EVALUATE,
    CNN_CMD_PREDICT,
    CNN_CMD_SUMMARY,
    CNN_CMD_BENCH,
    CNN_CMD_PREVIEW,
    CNN_CMD_NONE
} cnn_cmd;

/* The commands' words, by cnn_cmd, then NULL. */
extern const char *const cnn_cmd_names[];
/* --lr-schedule's words, by cnn_schedule_kind, then NULL. */
extern const char *const cnn_lr_schedule_words[];

/* The usage of the binary (CNN_CMD_NONE) or of one command, its flags and
 * this model's defaults, to f. */
void cnn_usage(FILE *f, const cnn_model *m, cnn_cmd c);

#endif
