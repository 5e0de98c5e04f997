/* cnn_util.h: the small pieces every part of the runtime (and cnnc, which
 * compiles safetensors.c) shares: error messages into a caller's buffer,
 * FNV-1a 64 and CRC-32 hashes, a growable string and JSON string literals.
 * Each exists once, here (util.c). */
#ifndef CNN_UTIL_H
#define CNN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* printf into err[errlen] (nothing when err is NULL or errlen 0): how every
 * runtime function that can fail says why. */
void cnn_set_err(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* mkdir -p: path and every missing folder above it; 0, or -1 with err
 * (also when path exists and is not a folder). The trainer's run folder
 * and cnnc's output folders. */
int cnn_make_dirs(const char *path, char *err, size_t errlen);

/* The plural ending of a count, for messages: "1 epoch", "2 epochs". */
static inline const char *cnn_plural(long long n)
{
    return n == 1 ? "" : "s";
}

/* FNV-1a 64 over n bytes, continuing from h (start with CNN_FNV1A64_OFFSET):
 * the run's architecture and data hashes. */
#define CNN_FNV1A64_OFFSET 0xcbf29ce484222325ull
static inline uint64_t cnn_fnv1a64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = (const unsigned char *)data;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* CRC-32 (IEEE, zlib's) over n bytes, continuing from crc (start with 0). */
uint32_t cnn_crc32(uint32_t crc, const void *data, size_t n);

/* The median of v[0, n) (the upper one of an even count; 0 when n is 0),
 * sorting v in place: the timings' robust figure, where a few calls that
 * lost the CPU on a shared machine would move a mean. */
double cnn_median(double *v, size_t n);

/* A growable NUL-terminated string; a failed allocation sets oom and stops
 * appending (the writer checks oom once at the end). Zero-initialise it;
 * free s when done. */
typedef struct cnn_strbuf {
    char *s;
    size_t len, cap;
    int oom;
} cnn_strbuf;

void cnn_sb_put(cnn_strbuf *b, const char *s, size_t n);
void cnn_sb_str(cnn_strbuf *b, const char *s);
/* Formatted, any length. */
void cnn_sb_fmt(cnn_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s as a JSON string literal: quotes, backslashes and control bytes escaped. */
void cnn_sb_json(cnn_strbuf *b, const char *s);
/* The same literal written to f. */
void cnn_json_fputs(FILE *f, const char *s);

#endif
