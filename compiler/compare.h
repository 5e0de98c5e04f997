/* compare.h: `cnnc compare`, the speed comparison of the installed tool. */
#ifndef CNNC_COMPARE_H
#define CNNC_COMPARE_H

#include "locate.h"

/* Runs compare.py of the tools folder (with Python 3) on args[0..n-1], the
 * words after `compare`, handing it this cnnc and its runtime through the
 * environment. Returns only on failure (1, after a message). */
int compare_exec(const cnnc_layout *l, int n, char **args);

#endif
