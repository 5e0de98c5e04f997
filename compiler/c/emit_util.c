/* emit_util.c: the C back end's ground floor above the writer: C literals
 * that read back exactly, the per-image loop and its OpenMP pragma, the
 * vector width and loop (OMP(simd) and its for), the comment that opens every layer
 * function, and the argmax-byte row of the fused maxpools' backward. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cnn_words.h"
#include "emit_util.h"

int emit_error(const char *fmt, ...)
{
    va_list ap;
    fputs("cnnc: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* A float as a C literal that reads back as the same float: %.9g is enough,
 * and a '.' or an exponent makes it a floating literal before the `f`. */
const char *emit_float_lit(char *buf, size_t size, double v)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.9g", (double)(float)v);
    if (!strpbrk(tmp, ".eEn"))
        strcat(tmp, ".0");
    snprintf(buf, size, "%sf", tmp);
    return buf;
}

/* A double as a C literal that reads back exactly (%.17g). */
const char *emit_double_lit(char *buf, size_t size, double v)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.17g", v);
    if (!strpbrk(tmp, ".eEn"))
        strcat(tmp, ".0");
    snprintf(buf, size, "%s", tmp);
    return buf;
}

const char *emit_real(char *buf, size_t size, double v)
{
    char f[48];
    snprintf(buf, size, "(cnn_real)%s", emit_float_lit(f, sizeof f, v));
    return buf;
}

static void simd_loop(cnnc_emitter *em, int simd, const char *var, const char *from, const char *note,
                      const char *end_fmt, va_list ap, int block)
{
    char end[256], head[512];
    vsnprintf(end, sizeof end, end_fmt, ap);
    int k = snprintf(head, sizeof head, "for (int %s = %s; %s < %s; %s++)%s", var, from, var, end, var,
                     block ? " {" : "");
    if (note && k > 0 && (size_t)k < sizeof head)
        snprintf(head + k, sizeof head - (size_t)k, " /* %s */", note);
    if (simd)
        em_line(em, "OMP(simd)");
    if (block)
        em_open_block(em, "%s", head);
    else
        em_line(em, "%s", head);
}

static void simd_head(cnnc_emitter *em, int simd, const char *var, const char *end_fmt, va_list ap, int block)
{
    simd_loop(em, simd, var, "0", NULL, end_fmt, ap, block);
}

void emit_simd_range(cnnc_emitter *em, const char *var, const char *from, const char *note, const char *end_fmt, ...)
{
    va_list ap;
    va_start(ap, end_fmt);
    simd_loop(em, 1, var, from, note, end_fmt, ap, 0);
    va_end(ap);
}

void emit_simd_for(cnnc_emitter *em, const char *var, const char *end_fmt, ...)
{
    va_list ap;
    va_start(ap, end_fmt);
    simd_head(em, 1, var, end_fmt, ap, 0);
    va_end(ap);
}

void emit_simd_for_if(cnnc_emitter *em, int simd, const char *var, const char *end_fmt, ...)
{
    va_list ap;
    va_start(ap, end_fmt);
    simd_head(em, simd, var, end_fmt, ap, 0);
    va_end(ap);
}

void emit_simd_block_if(cnnc_emitter *em, int simd, const char *var, const char *end_fmt, ...)
{
    va_list ap;
    va_start(ap, end_fmt);
    simd_head(em, simd, var, end_fmt, ap, 1);
    va_end(ap);
}

void emit_simd_block(cnnc_emitter *em, const char *var, const char *end_fmt, ...)
{
    va_list ap;
    va_start(ap, end_fmt);
    simd_head(em, 1, var, end_fmt, ap, 1);
    va_end(ap);
}

int vec_width(int n, int c)
{
    int w = n - c * VEC;
    return w < VEC ? w : VEC;
}

void emit_image_loop(cnnc_emitter *em)
{
    em_line(em, "OMP(parallel for schedule(static))");
    em_open_block(em, "for (int i = 0; i < n; i++) {");
}

const char *emit_par_if(char *buf, size_t size, size_t work_per_image)
{
    size_t k = work_per_image ? (EMIT_PAR_MIN_WORK + work_per_image - 1) / work_per_image : 0;
    if (k <= 1)
        buf[0] = 0;
    else if (k > 1000000)
        snprintf(buf, size, " if(0)");
    else
        snprintf(buf, size, " if(n >= %zu)", k);
    return buf;
}

void emit_image_loop_work(cnnc_emitter *em, size_t work_per_image)
{
    char c[48];
    em_line(em, "OMP(parallel for schedule(static)%s)", emit_par_if(c, sizeof c, work_per_image));
    em_open_block(em, "for (int i = 0; i < n; i++) {");
}

const char *emit_shape_str(char *buf, size_t size, const cnn_shape *s)
{
    if (s->rank == 1)
        snprintf(buf, size, "%d", s->c);
    else
        snprintf(buf, size, "%dx%dx%d", s->h, s->w, s->c);
    return buf;
}

void emit_layer_comment(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                        const char *direction)
{
    char si[32], so[32];
    const cnn_layer *l = L->l;
    em_line(em, "/* %s %s, %s:%d: %s", l->name, direction, pl->ir->source_base, l->line, L->stmt);
    em_line(em, " * %s -> %s per image (NHWC)%s%s", emit_shape_str(si, sizeof si, &l->in),
            emit_shape_str(so, sizeof so, &l->out),
            L->act != l->act && !L->fuse_relu ? "; the final " : "",
            L->act != l->act && !L->fuse_relu ? cnn_act_words[l->act] : "");
    if (L->fuse_relu)
        em_line(em, " * (and the relu on the next line of the .cnn: that layer is a view of this output)");
    if (L->act != l->act && l->kind != CNN_ACTIVATION && !L->fuse_relu)
        em_line(em, " * (the final %s is left to the loss: this layer outputs logits)",
                cnn_act_words[l->act]);
    for (int t = 0; t < l->n_tensors; t++) {
        const cnn_tensor_info *ti = &pl->ir->tensors[l->first_tensor + t];
        const char *lay = ti->layout == CNN_LAYOUT_HWIO ? " [kh][kw][in][out]"
                          : ti->layout == CNN_LAYOUT_IO  ? " [in][out]"
                                                         : "";
        em_line(em, " * %s: p[%zu, %zu)%s%s", ti->name, ti->offset, ti->offset + ti->count, lay,
                ti->trainable ? "" : " (not trained)");
    }
    em_line(em, " */");
}

void emit_argmax_row(cnnc_emitter *em, const char *channels)
{
    em_line(em, "cnn_real kfr[POW * %s]; /* the argmax bytes of pooled row py, as reals */", channels);
    emit_simd_for(em, "e", "POW * %s", channels);
    em_line(em, "    kfr[e] = (cnn_real)am[(size_t)py * POW * %s + e];", channels);
}
