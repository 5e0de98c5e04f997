/* diag.h: the only printer of diagnostics.
 *
 * Every message is "FILE:LINE:COL: error: MESSAGE" (or warning:), then the
 * source line and a caret under the column, like gcc. Lines and columns are
 * 1-based; columns count characters, not bytes. Messages are printed by
 * diag_finish, sorted by line; after DIAG_MAX_ERRORS errors further ones are
 * counted but not printed. */
#ifndef CNNC_DIAG_H
#define CNNC_DIAG_H

#include <stdio.h>

#include "source.h"

#define DIAG_MAX_ERRORS 20

typedef struct cnnc_loc {
    int line, col;
} cnnc_loc;

typedef struct cnnc_diag_msg {
    cnnc_loc at;
    int seq;            /* arrival order, for messages on the same line */
    int is_error;
    char *text;         /* the whole message with its source line, malloc'ed */
} cnnc_diag_msg;

typedef struct cnnc_diag {
    const cnnc_source *src;
    FILE *out;          /* stderr normally; tests and the fuzzer may redirect */
    int errors, warnings;
    cnnc_diag_msg *msgs; /* kept until diag_finish, which prints them in line order */
    int n, cap;
} cnnc_diag;

void diag_init(cnnc_diag *d, const cnnc_source *src, FILE *out);
void diag_error(cnnc_diag *d, cnnc_loc at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(cnnc_diag *d, cnnc_loc at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints the messages in line order (the first DIAG_MAX_ERRORS errors),
 * then a closing line when errors were capped; frees them. */
void diag_finish(cnnc_diag *d);

#endif
