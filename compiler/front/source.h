/* source.h: a .cnn file held in memory, with a line index for diagnostics. */
#ifndef CNNC_SOURCE_H
#define CNNC_SOURCE_H

#include <stddef.h>

typedef struct cnnc_source {
    char *path;        /* as given on the command line: diagnostics print it */
    char *text;        /* NUL-terminated contents */
    size_t len;
    size_t *line_start; /* byte offset of each line (0-based index = line - 1) */
    int n_lines;
} cnnc_source;

/* Reads a file; on failure prints "cnnc: error: cannot read PATH: reason". */
cnnc_source *source_read(const char *path);
/* Wraps a buffer (tests, fuzzing). */
cnnc_source *source_from_memory(const char *name, const char *data, size_t len);
void source_free(cnnc_source *s);
/* The text of 1-based line `line` without its line end; *len receives its length. */
const char *source_line(const cnnc_source *s, int line, size_t *len);
/* File name without directories (for the generated header). */
const char *source_basename(const cnnc_source *s);

#endif
