/* emitter.c: indented, printf-style output through a temporary file. */
#define _POSIX_C_SOURCE 200809L
#include "emitter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int em_open(cnnc_emitter *em, const char *path)
{
    memset(em, 0, sizeof *em);
    if (strlen(path) + 16 >= sizeof em->path) {
        fprintf(stderr, "cnnc: error: output path too long: %s\n", path);
        return 1;
    }
    strcpy(em->path, path);
    snprintf(em->tmp, sizeof em->tmp, "%s.tmpXXXXXX", path);
    int fd = mkstemp(em->tmp);
    if (fd < 0) {
        fprintf(stderr, "cnnc: error: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    /* mkstemp() creates 0600; give the file the mode a plain fopen() would. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask); /* not fatal: the file stays readable by us */
    em->f = fdopen(fd, "w");
    if (!em->f) {
        fprintf(stderr, "cnnc: error: cannot write %s: %s\n", path, strerror(errno));
        close(fd);
        remove(em->tmp);
        return 1;
    }
    return 0;
}

static void em_vwrite(cnnc_emitter *em, int indent, const char *fmt, va_list ap)
{
    if (!em->f)
        return;
    if (indent && fmt[0])
        for (int i = 0; i < em->indent; i++)
            if (fputs("    ", em->f) == EOF)
                em->failed = 1;
    if (vfprintf(em->f, fmt, ap) < 0)
        em->failed = 1;
}

void em_line(cnnc_emitter *em, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    em_vwrite(em, 1, fmt, ap);
    va_end(ap);
    if (em->f && fputc('\n', em->f) == EOF)
        em->failed = 1;
}

void em_blank(cnnc_emitter *em)
{
    if (em->f && fputc('\n', em->f) == EOF)
        em->failed = 1;
}

void em_raw(cnnc_emitter *em, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    em_vwrite(em, 0, fmt, ap);
    va_end(ap);
}

void em_open_block(cnnc_emitter *em, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    em_vwrite(em, 1, fmt, ap);
    va_end(ap);
    if (em->f && fputc('\n', em->f) == EOF)
        em->failed = 1;
    em->indent++;
}

void em_function(cnnc_emitter *em, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    em_vwrite(em, 1, fmt, ap);
    va_end(ap);
    if (em->f && fputc('\n', em->f) == EOF)
        em->failed = 1;
    em_open_block(em, "{");
}

void em_close_block(cnnc_emitter *em, const char *fmt, ...)
{
    if (em->indent > 0)
        em->indent--;
    va_list ap;
    va_start(ap, fmt);
    em_vwrite(em, 1, fmt, ap);
    va_end(ap);
    if (em->f && fputc('\n', em->f) == EOF)
        em->failed = 1;
}

int em_close(cnnc_emitter *em)
{
    if (!em->f)
        return 1;
    int bad = em->failed || ferror(em->f);
    if (fclose(em->f) != 0)
        bad = 1;
    em->f = NULL;
    if (bad) {
        fprintf(stderr, "cnnc: error: cannot write %s\n", em->path);
        remove(em->tmp);
        return 1;
    }
    if (rename(em->tmp, em->path) != 0) {
        fprintf(stderr, "cnnc: error: cannot rename %s to %s: %s\n", em->tmp, em->path,
                strerror(errno));
        remove(em->tmp);
        return 1;
    }
    return 0;
}

void em_abort(cnnc_emitter *em)
{
    if (em->f) {
        fclose(em->f);
        em->f = NULL;
        remove(em->tmp);
    }
}
