/* cnn_json.h: a small JSON reader over a byte range, for the safetensors
 * header (cnn_safetensors.h): whitespace, punctuation, strings (with every
 * escape, \u surrogate pairs to UTF-8), non-negative integers, and skipping
 * any value. Each call moves s forward; on failure it returns 0 (or NULL)
 * and, unless a reason is already there, sets why to what was wrong. It
 * reads only within [s, end): the text need not be NUL-terminated. */
#ifndef CNN_JSON_H
#define CNN_JSON_H

#include <stdint.h>

typedef struct cnn_json {
    const char *s, *end;
    const char *why;
} cnn_json;

/* Skips spaces, tabs and line ends. */
void cnn_json_ws(cnn_json *p);
/* Consumes c after whitespace; 0 if the next character is not c. */
int cnn_json_expect(cnn_json *p, char c);
/* 1 if the next character after whitespace is c (not consumed). */
int cnn_json_peek(cnn_json *p, char c);
/* A string; returns a malloc'ed copy, NULL on error. If raw_start is given,
 * it receives the position of the first character inside the quotes. */
char *cnn_json_string(cnn_json *p, const char **raw_start);
/* A non-negative integer that fits int64_t. */
int cnn_json_int(cnn_json *p, int64_t *v);
/* Skips any JSON value (for keys we do not know), nested at most 32 deep. */
int cnn_json_skip(cnn_json *p, int depth);

#endif
