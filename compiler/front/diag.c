/* diag.c: gcc-style diagnostics with the source line and a caret. */
#include "diag.h"

#include <stdarg.h>

void diag_init(cnnc_diag *d, const cnnc_source *src, FILE *out)
{
    d->src = src;
    d->out = out;
    d->errors = 0;
    d->warnings = 0;
}

/* Prints the source line (tabs as single spaces so that character columns
 * line up) and a caret under column `col`. */
static void show_line(cnnc_diag *d, cnnc_loc at)
{
    size_t len;
    const char *text = source_line(d->src, at.line, &len);
    if (at.line < 1 || at.line > d->src->n_lines)
        return;
    fprintf(d->out, "%5d | ", at.line);
    for (size_t i = 0; i < len; i++)
        fputc(text[i] == '\t' ? ' ' : text[i], d->out);
    fputs("\n      | ", d->out);
    for (int c = 1; c < at.col; c++)
        fputc(' ', d->out);
    fputs("^\n", d->out);
}

static void report(cnnc_diag *d, cnnc_loc at, const char *kind, const char *fmt, va_list ap)
{
    fprintf(d->out, "%s:%d:%d: %s: ", d->src->path, at.line, at.col, kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    show_line(d, at);
}

void diag_error(cnnc_diag *d, cnnc_loc at, const char *fmt, ...)
{
    d->errors++;
    if (d->errors > DIAG_MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, at, "error", fmt, ap);
    va_end(ap);
}

void diag_warning(cnnc_diag *d, cnnc_loc at, const char *fmt, ...)
{
    d->warnings++;
    if (d->errors >= DIAG_MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, at, "warning", fmt, ap);
    va_end(ap);
}

void diag_finish(cnnc_diag *d)
{
    if (d->errors > DIAG_MAX_ERRORS)
        fprintf(d->out, "%s: %d errors in all; only the first %d are shown\n",
                d->src->path, d->errors, DIAG_MAX_ERRORS);
}
