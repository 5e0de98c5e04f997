/* diag.h: the only printer of diagnostics.
 *
 * Every message is "FILE:LINE:COL: error: MESSAGE" (or warning:), then the
 * source line and a caret under the column, like gcc. Lines and columns are
 * 1-based; columns count characters, not bytes. After DIAG_MAX_ERRORS errors
 * further ones are counted but not printed. */
#ifndef CNNC_DIAG_H
#define CNNC_DIAG_H

#include <stdio.h>

#include "source.h"

#define DIAG_MAX_ERRORS 20

typedef struct cnnc_diag {
    const cnnc_source *src;
    FILE *out;          /* stderr normally; tests and the fuzzer may redirect */
    int errors, warnings;
} cnnc_diag;

typedef struct cnnc_loc {
    int line, col;
} cnnc_loc;

void diag_init(cnnc_diag *d, const cnnc_source *src, FILE *out);
void diag_error(cnnc_diag *d, cnnc_loc at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(cnnc_diag *d, cnnc_loc at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints "N errors generated." style closing line when errors were capped. */
void diag_finish(cnnc_diag *d);

#endif
