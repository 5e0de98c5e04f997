/* cnn_flags.h: the trainer's flags (flags.c). */
#ifndef CNN_FLAGS_H
#define CNN_FLAGS_H

#include "cnn_model.h"
#include "cnn_train.h"
#include "cnn_usage.h"

/* Reads argv[2 ..] (the flags of command c, and predict's images) into o,
 * which starts from the model's defaults. Returns -1 when the command is to
 * run (o->images is then the caller's to free), else the exit status: 0
 * after --help, 1 after an error (reported). */
int cnn_flags_parse(const cnn_model *m, cnn_cmd c, int argc, char **argv, cnn_run_options *o);

#endif
