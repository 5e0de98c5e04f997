/* cnn_dist_check.h: what a data-parallel run (cnn_dist.h) checks before
 * its first step, on every process together (dist_check.c). */
#ifndef CNN_DIST_CHECK_H
#define CNN_DIST_CHECK_H

#include <stddef.h>

#include "cnn_data.h"

/* 0, or 1 with the reason in err (the same on every process): the process
 * count does not fit the batch (a power of two dividing its chunk count,
 * cnn_step.h), or a rank's data differs from rank 0's (image count, then the first image
 * whose path, label or file size differs, named). With one process, 0. */
int cnn_dist_check_run(int batch, const cnn_dataset *train, const cnn_dataset *val, char *err, size_t errlen);

#endif
