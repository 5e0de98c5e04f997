/* diag.c: gcc-style diagnostics with the source line and a caret.
 *
 * Messages are kept until diag_finish and printed in line order: the
 * scanner and the parser report while they read, the checker only after the
 * whole file is parsed, and a reader expects line 3's error before line 9's
 * whoever found it. Messages on the same line keep the order they came in. */
#define _POSIX_C_SOURCE 200809L
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diag_init(cnnc_diag *d, const cnnc_source *src, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->src = src;
    d->out = out;
}

/* Prints the source line (tabs as single spaces so that character columns
 * line up) and a caret under column `col`. */
static void show_line(const cnnc_diag *d, FILE *out, cnnc_loc at)
{
    size_t len;
    const char *text = source_line(d->src, at.line, &len);
    if (at.line < 1 || at.line > d->src->n_lines)
        return;
    fprintf(out, "%5d | ", at.line);
    for (size_t i = 0; i < len; i++)
        fputc(text[i] == '\t' ? ' ' : text[i], out);
    fputs("\n      | ", out);
    for (int c = 1; c < at.col; c++)
        fputc(' ', out);
    fputs("^\n", out);
}

static void report(cnnc_diag *d, cnnc_loc at, int is_error, const char *fmt, va_list ap)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return;
    fprintf(m, "%s:%d:%d: %s: ", d->src->path, at.line, at.col, is_error ? "error" : "warning");
    vfprintf(m, fmt, ap);
    fputc('\n', m);
    show_line(d, m, at);
    fclose(m);
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 16;
        cnnc_diag_msg *grown = realloc(d->msgs, (size_t)cap * sizeof *grown);
        if (!grown) { /* no room to keep it: print it now rather than lose it */
            fputs(text, d->out);
            free(text);
            return;
        }
        d->msgs = grown;
        d->cap = cap;
    }
    d->msgs[d->n] = (cnnc_diag_msg){at, d->n, is_error, text};
    d->n++;
}

void diag_error(cnnc_diag *d, cnnc_loc at, const char *fmt, ...)
{
    d->errors++;
    va_list ap;
    va_start(ap, fmt);
    report(d, at, 1, fmt, ap);
    va_end(ap);
}

void diag_warning(cnnc_diag *d, cnnc_loc at, const char *fmt, ...)
{
    d->warnings++;
    va_list ap;
    va_start(ap, fmt);
    report(d, at, 0, fmt, ap);
    va_end(ap);
}

static int by_position(const void *pa, const void *pb)
{
    const cnnc_diag_msg *a = pa, *b = pb;
    if (a->at.line != b->at.line)
        return a->at.line < b->at.line ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void diag_finish(cnnc_diag *d)
{
    qsort(d->msgs, (size_t)d->n, sizeof *d->msgs, by_position);
    int errors = 0;
    for (int i = 0; i < d->n; i++) {
        const cnnc_diag_msg *g = &d->msgs[i];
        errors += g->is_error;
        if (errors <= DIAG_MAX_ERRORS && !(errors == DIAG_MAX_ERRORS && !g->is_error))
            fputs(g->text, d->out);
        free(g->text);
    }
    free(d->msgs);
    d->msgs = NULL;
    d->n = d->cap = 0;
    if (d->errors > DIAG_MAX_ERRORS)
        fprintf(d->out, "%s: %d errors in all; only the first %d are shown\n",
                d->src->path, d->errors, DIAG_MAX_ERRORS);
}
