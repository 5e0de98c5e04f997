/* emitter.h: a tiny printf-style writer for generated source files.
 *
 * Every line goes through em_line(), which indents it by the current block
 * depth, so the emitters never count spaces. Output goes to a temporary file
 * next to the target; em_close() renames it into place only when every write
 * succeeded, so a failure never leaves a partial file behind. */
#ifndef CNNC_EMITTER_H
#define CNNC_EMITTER_H

#include <stdio.h>

#define CNNC_EM_PATH 4096

typedef struct cnnc_emitter {
    FILE *f;
    int indent;               /* block depth; 4 spaces each */
    int failed;               /* a write failed: em_close() reports it */
    int once;                 /* bits of the once-per-file blocks already written (emit_batch_sum.c) */
    char path[CNNC_EM_PATH];  /* final name */
    char tmp[CNNC_EM_PATH];   /* temporary name, renamed on success */
} cnnc_emitter;

/* Opens a temporary file beside `path`. Returns 0, or prints
 * "cnnc: error: ..." and returns 1. */
int em_open(cnnc_emitter *em, const char *path);

/* One line: indentation, the formatted text, a newline. An empty format
 * writes an empty line (no trailing spaces). */
void em_line(cnnc_emitter *em, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* An empty line. */
void em_blank(cnnc_emitter *em);

/* Formatted text with no indentation and no newline. */
void em_raw(cnnc_emitter *em, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* em_line() and then one level deeper / one level shallower and then em_line(). */
void em_open_block(cnnc_emitter *em, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void em_close_block(cnnc_emitter *em, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A function's signature line, then "{" on its own line, one level deeper. */
void em_function(cnnc_emitter *em, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Flushes, closes and renames into place. Returns 0, or prints an error,
 * removes the temporary file and returns 1. */
int em_close(cnnc_emitter *em);

/* Gives up: closes and removes the temporary file. */
void em_abort(cnnc_emitter *em);

#endif
