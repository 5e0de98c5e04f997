/* emit_util.h: C literals, the per-image loop and its pragma, vector widths
 * and loops, layer comments and the argmax-byte row (emit_util.c): what
 * every emitter above uses. */
#ifndef CNNC_EMIT_UTIL_H
#define CNNC_EMIT_UTIL_H

#include <stddef.h>

#include "plan.h"

/* Prints "cnnc: error: ..." and a newline to stderr; returns 1. */
int emit_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* A float as a C literal that reads back as the same float (%.9g, with a
 * '.' or exponent before the `f`); a double that reads back exactly (%.17g). */
const char *emit_float_lit(char *buf, size_t size, double v);
const char *emit_double_lit(char *buf, size_t size, double v);

/* A float constant as a C expression of type cnn_real, exact for float. */
const char *emit_real(char *buf, size_t size, double v);

/* "HxWxC", or "C" for a rank-1 shape. */
const char *emit_shape_str(char *buf, size_t size, const cnn_shape *s);

/* The comment that opens a layer function: name, .cnn line, statement, shapes. */
void emit_layer_comment(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                        const char *direction);

/* A vector loop: "OMP(simd)", then "for (int VAR = 0; VAR < END; VAR++)"
 * with END printf-formatted from end_fmt; its body follows (one line
 * indented by four spaces, or a block). emit_simd_block writes the head
 * with " {" and goes one level deeper; the caller closes the block. The
 * _if forms write the pragma only when `simd` is nonzero (a loop whose body
 * may call a function that does not vectorize). */
void emit_simd_for(cnnc_emitter *em, const char *var, const char *end_fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void emit_simd_block(cnnc_emitter *em, const char *var, const char *end_fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void emit_simd_for_if(cnnc_emitter *em, int simd, const char *var, const char *end_fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void emit_simd_block_if(cnnc_emitter *em, int simd, const char *var, const char *end_fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* The general head, one-line body: VAR from FROM (a C expression) up to END,
 * and with `note` (NULL: none) a comment after the head. */
void emit_simd_range(cnnc_emitter *em, const char *var, const char *from, const char *note, const char *end_fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Writes the per-image loop head "for (int i = 0; i < n; i++) {" preceded by
 * the OpenMP pragma; the caller closes the block. */
void emit_image_loop(cnnc_emitter *em);

/* Starting a team costs microseconds on an idle machine, and on a loaded one
 * (more runnable threads than cores) a scheduler time slice per region: the
 * waiting thread spins, then sleeps until the other one runs. Loops with less
 * than this much work per batch (FMAs or floats touched) run on the calling
 * thread. Results do not change: every loop is thread-count independent. */
#define EMIT_PAR_MIN_WORK ((size_t)1 << 17)

/* " if(n >= K)" (with a leading space) for an OpenMP parallel pragma over work
 * proportional to n, so that batches under EMIT_PAR_MIN_WORK stay serial;
 * "" when even one image is enough work. */
const char *emit_par_if(char *buf, size_t size, size_t work_per_image);

/* emit_image_loop with the emit_par_if clause. */
void emit_image_loop_work(cnnc_emitter *em, size_t work_per_image);

/* Accumulators are arrays of one vector (16 floats) each, so every simd loop
 * runs exactly once and the compiler keeps them in registers (a 64-wide
 * array would stay a 4-iteration loop over memory at -O2). */
#define VEC 16

/* Floats in vector c of n (VEC, or fewer in the last one). */
int vec_width(int n, int c);

/* A fused maxpool (conv + pool, batchnorm + pool) keeps one byte per pooled
 * value: the window position of the maximum, or NO_GRAD when the window
 * passes no gradient back (relu of a maximum <= 0). */
#define NO_GRAD 255

/* In a backward loop over pooled rows `py`, with `am` the image's argmax
 * bytes: kfr[POW * channels], row py's bytes as reals. One row-long loop:
 * gcc 12 converts 16 bytes at a time through 128-bit pieces that are stored
 * and reloaded as one vector (a failed store forwarding per window), but a
 * row at a time in full-width registers. */
void emit_argmax_row(cnnc_emitter *em, const char *channels);

#endif
