/* parse.h: the front door of the front end: text -> AST. */
#ifndef CNNC_PARSE_H
#define CNNC_PARSE_H

#include "ast.h"

/* Parser and scanner state (bison's %param). */
typedef struct cnnc_parse_ctx {
    cnnc_diag *diag;
    ast_stmt *result;     /* the file's statements, in order */
    int line, col;        /* scanner position (1-based) of the next character */
    int eof_eol_sent;     /* the scanner ends every file with one end of line */
    char last_text[48];   /* text of the token just scanned, for "unexpected name 'x'" */
    int brace_depth;      /* '{' minus '}' seen so far */
    cnnc_loc open_brace;  /* the last '{' */
} cnnc_parse_ctx;

/* Parses the whole source; syntax errors are reported through `diag`.
 * Returns the statements (possibly partial after errors); the caller frees. */
ast_stmt *cnnc_parse(const cnnc_source *src, cnnc_diag *diag);

#endif
