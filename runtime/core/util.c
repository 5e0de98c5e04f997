/* util.c: see cnn_util.h. */
#define _POSIX_C_SOURCE 200809L
#include "cnn_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <threads.h>

void cnn_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Slicing-by-8 (Intel's, after Kounavis and Berry): table k holds the CRC
 * of a byte followed by k zero bytes, so eight bytes are folded in with
 * eight independent look-ups instead of eight dependent ones; the same
 * values as the byte-at-a-time loop (crc_table[0] alone), several times
 * faster (docs/benchmarks.md, "The whole job"). The tables are built once
 * (call_once: any thread may be the first to write or read a file). */
static uint32_t crc_table[8][256];
static once_flag crc_once = ONCE_FLAG_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^ crc_table[0][crc_table[k - 1][i] & 0xff];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double cnn_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

uint32_t cnn_crc32(uint32_t crc, const void *data, size_t n)
{
    call_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    for (; n >= 8; p += 8, n -= 8) {
        /* the first four bytes meet the CRC, the next four go in whole */
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][lo >> 8 & 0xff] ^ crc_table[5][lo >> 16 & 0xff] ^
              crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][hi >> 8 & 0xff] ^
              crc_table[1][hi >> 16 & 0xff] ^ crc_table[0][hi >> 24];
    }
    for (; n; p++, n--)
        crc = crc_table[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
    return ~crc;
}

void cnn_sb_put(cnn_strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) {
            b->oom = 1;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void cnn_sb_str(cnn_strbuf *b, const char *s) { cnn_sb_put(b, s, strlen(s)); }

void cnn_sb_fmt(cnn_strbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        cnn_sb_put(b, tmp, (size_t)n);
        return;
    }
    /* Longer than the stack buffer: format again into the string itself. */
    cnn_sb_put(b, "", 0);
    if (b->oom)
        return;
    size_t need = b->len + (size_t)n + 1;
    if (need > b->cap) {
        char *t = realloc(b->s, need);
        if (!t) {
            b->oom = 1;
            return;
        }
        b->s = t;
        b->cap = need;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A JSON string literal. */
void cnn_sb_json(cnn_strbuf *b, const char *s)
{
    cnn_sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            cnn_sb_put(b, e, 2);
        } else if (*p < 0x20) {
            cnn_sb_fmt(b, "\\u%04x", *p);
        } else {
            cnn_sb_put(b, (const char *)p, 1);
        }
    }
    cnn_sb_put(b, "\"", 1);
}

void cnn_json_fputs(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int cnn_make_dirs(const char *path, char *err, size_t errlen)
{
    char p[4096];
    if (strlen(path) >= sizeof p) {
        cnn_set_err(err, errlen, "%s: path too long", path);
        return -1;
    }
    snprintf(p, sizeof p, "%s", path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == 0) {
            char c = p[i];
            p[i] = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                cnn_set_err(err, errlen, "cannot create the folder %s: %s", p, strerror(errno));
                return -1;
            }
            p[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cnn_set_err(err, errlen, "%s is not a folder", path);
        return -1;
    }
    return 0;
}
