/* source.c: reading .cnn files and indexing their lines. */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void index_lines(cnnc_source *s)
{
    int cap = 64;
    s->line_start = malloc(sizeof *s->line_start * (size_t)cap);
    s->n_lines = 0;
    s->line_start[s->n_lines++] = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->text[i] != '\n' || i + 1 >= s->len)
            continue;
        if (s->n_lines == cap) {
            cap *= 2;
            s->line_start = realloc(s->line_start, sizeof *s->line_start * (size_t)cap);
        }
        s->line_start[s->n_lines++] = i + 1;
    }
}

cnnc_source *source_from_memory(const char *name, const char *data, size_t len)
{
    cnnc_source *s = calloc(1, sizeof *s);
    s->path = strdup(name);
    s->text = malloc(len + 1);
    memcpy(s->text, data, len);
    s->text[len] = '\0';
    s->len = len;
    index_lines(s);
    return s;
}

cnnc_source *source_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cnnc: error: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            if (cap >= (size_t)16 << 20) {
                fprintf(stderr, "cnnc: error: %s: file is larger than 16 MiB; is it a .cnn file?\n", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "cnnc: error: cannot read %s: %s\n", path, strerror(errno));
        free(buf);
        return NULL;
    }
    cnnc_source *s = source_from_memory(path, buf, len);
    free(buf);
    return s;
}

void source_free(cnnc_source *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->text);
    free(s->line_start);
    free(s);
}

const char *source_line(const cnnc_source *s, int line, size_t *len)
{
    if (line < 1 || line > s->n_lines) {
        *len = 0;
        return "";
    }
    size_t start = s->line_start[line - 1];
    size_t end = start;
    while (end < s->len && s->text[end] != '\n')
        end++;
    if (end > start && s->text[end - 1] == '\r')
        end--;
    *len = end - start;
    return s->text + start;
}

const char *source_basename(const cnnc_source *s)
{
    const char *slash = strrchr(s->path, '/');
    return slash ? slash + 1 : s->path;
}
