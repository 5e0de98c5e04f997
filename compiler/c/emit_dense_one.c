/* emit_dense_one.c: cnnc export's one-image dense kernel.
 *
 * The trainer's forward is built for batches (tiles of images that share
 * each row of W, a k range cut into parts for threads). An exported model
 * runs one image per call, and a large layer is then bound by reading W
 * (fruit.cnn's first dense layer: 7.4 MB per image). This kernel streams W
 * once, front to back, R consecutive rows per step, each row into its own
 * set of vector accumulators (R x OUT/16 independent FMA chains), and
 * prefetches DENSE_ONE_AHEAD floats ahead of the rows it reads; y = bias +
 * the R partial sums, in that order, then the activation. The AVX-512
 * kernel and its portable twin sum in the same order.
 *
 * The sparse variant (dense_one_sparse): when the layer's input comes out
 * of a relu (through a maxpool, dropout or flatten), many inputs are
 * exactly 0 and their rows of W need not be read at all: the kernel first
 * lists the k whose input is not 0 (NaN included), in order, then streams
 * only those rows, R list entries per step, prefetching along the list.
 * Leaving out a row adds nothing that the plain sum would not: 0 * w is 0
 * for a finite w (cnnc export checks the layer's weights are finite, else
 * keeps the plain kernel), so the result is the plain sum's up to the sign
 * of a zero and the grouping of the rows into the R partial sums. */
#include "emit_dense_one.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dense_blocks.h"
#include "emit_util.h"

#define DENSE_ONE_AHEAD 1024 /* floats: 4 KB ahead of the row being read */
#define DENSE_ONE_SPARSE_AHEAD 4096 /* floats of list entries: the rows are far apart */
#define DENSE_ONE_ACC 8      /* vector accumulators */
#define DENSE_ONE_SPARSE_MAX_IN (1 << 24) /* the list holds each k as a real: exact below 2^24 */

int emit_dense_one_applies(const cnnc_plan_layer *L)
{
    return L->l->kind == CNN_DENSE && L->out_size % VEC == 0 && L->out_size <= (size_t)VEC * DENSE_ONE_ACC &&
           L->in_size * L->out_size >= 65536;
}

/* Whether the layer before `i`, through views, dropout and maxpools, ends
 * in a relu: its output then has exact zeros wherever the relu cut. */
static int input_from_relu(const cnnc_plan *pl, int i)
{
    for (int j = i - 1; j >= 0; j--) {
        const cnnc_plan_layer *B = &pl->layers[j];
        if (B->l->kind == CNN_ACTIVATION)
            return B->l->act == CNN_ACT_RELU;
        if (B->alias || B->l->kind == CNN_DROPOUT || B->l->kind == CNN_MAXPOOL)
            continue;
        return B->act == CNN_ACT_RELU;
    }
    return 0;
}

/* The image the layer's input is the flatten of (through dropout): its
 * shape, or NULL. */
static const cnn_shape *flattened(const cnnc_plan *pl, int i)
{
    for (int j = i - 1; j >= 0; j--) {
        const cnn_layer *l = pl->layers[j].l;
        if (l->kind == CNN_DROPOUT)
            continue;
        return l->kind == CNN_FLATTEN && l->in.rank == 3 ? &l->in : NULL;
    }
    return NULL;
}

int emit_dense_one_sparse_applies(const cnnc_plan *pl, const cnnc_plan_layer *L, const float *params)
{
    const cnn_shape *s = flattened(pl, L->index);
    if (!L->dense_one || L->in_size >= DENSE_ONE_SPARSE_MAX_IN || !input_from_relu(pl, L->index) || !s ||
        s->c % VEC != 0)
        return 0;
    const float *w = params + L->t_off[0];
    for (size_t k = 0; k < L->t_count[0]; k++)
        if (!isfinite(w[k]))
            return 0;
    return 1;
}

size_t emit_dense_one_pad_floats(const cnnc_plan_layer *L)
{
    return L->dense_one_sparse ? 2 * L->in_size : 0;
}

void emit_dense_one_sparse_order(const cnnc_plan *pl, const cnnc_plan_layer *L, const float *params, float *dst)
{
    const cnn_shape *s = flattened(pl, L->index);
    size_t c = (size_t)s->c, np = (size_t)s->h * s->w, out = L->out_size;
    const float *w = params + L->t_off[0];
    for (size_t k = 0; k < L->in_size; k++)
        memcpy(dst + ((k % c) * np + k / c) * out, w + k * out, out * sizeof *w);
}

/* The head of a block of R rows of W: its pointer, and a prefetch of the
 * row AHEAD rows on (the same in the AVX-512 kernel and its twin). */
static void emit_rows_and_prefetch(cnnc_emitter *em)
{
    em_line(em, "const cnn_real *restrict w = wgt + (size_t)k * OUT;");
    em_open_block(em, "if (k + R + AHEAD <= IN) {");
    em_line(em, "for (int q = 0; q < R * OUT; q += 16)");
    em_line(em, "    CNN_PREFETCH(w + (size_t)AHEAD * OUT + q, 0);");
    em_close_block(em, "}");
}

/* The sparse variant's list: nzk[0 .. nn) = the k (as reals) whose input
 * is not 0, in increasing order. */
static void emit_sparse_list(cnnc_emitter *em)
{
    em_line(em, "/* the inputs that are not 0 (NaN counts as not 0), in order: their values, and their rows");
    em_line(em, " * of W (channel-major: input k = p * C + c is row c * P + p) as reals, exact */");
    em_line(em, "int nn = 0;");
    em_raw(em, "#if CNN_AVX512_FLOAT\n");
    em_open_block(em, "{");
    em_line(em, "const __m512 lanes = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);");
    em_open_block(em, "for (int k0 = 0; k0 < IN; k0 += 16) { /* C is a multiple of 16: one pixel */");
    em_line(em, "const __m512 x = _mm512_loadu_ps(in + k0);");
    em_line(em, "const __mmask16 nz = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NEQ_UQ);");
    em_line(em, "const __m512 kv = _mm512_fmadd_ps(lanes, _mm512_set1_ps((float)P),");
    em_line(em, "                                  _mm512_set1_ps((float)((k0 %% C) * P + k0 / C)));");
    em_line(em, "unsigned c = nz; /* its bits counted (no popcnt instruction needed) */");
    em_line(em, "c = c - ((c >> 1) & 0x5555u);");
    em_line(em, "c = (c & 0x3333u) + ((c >> 2) & 0x3333u);");
    em_line(em, "c = (c + (c >> 4)) & 0x0F0Fu;");
    em_line(em, "c = (c + (c >> 8)) & 0x1Fu;");
    em_line(em, "_mm512_storeu_ps(nzk + nn, _mm512_maskz_compress_ps(nz, kv)); /* nn + 16 <= k0 + 16 <= IN */");
    em_line(em, "_mm512_storeu_ps(nzv + nn, _mm512_maskz_compress_ps(nz, x));");
    em_line(em, "nn += (int)c;");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_raw(em, "#else\n");
    em_open_block(em, "for (int k = 0; k < IN; k++) {");
    em_line(em, "nzk[nn] = (cnn_real)(k %% C * P + k / C);");
    em_line(em, "nzv[nn] = in[k];");
    em_line(em, "nn += in[k] != 0;");
    em_close_block(em, "}");
    em_raw(em, "#endif\n");
}

/* The head of a step of R list entries from j: a prefetch of the rows AHEAD
 * entries on (the same in the AVX-512 kernel and its twin). */
static void emit_sparse_prefetch(cnnc_emitter *em)
{
    em_open_block(em, "if (j + R + AHEAD <= nn) {");
    em_open_block(em, "for (int jj = 0; jj < R; jj++) {");
    em_line(em, "const cnn_real *restrict pf = wgt + (size_t)(int)nzk[j + AHEAD + jj] * OUT;");
    em_line(em, "for (int q = 0; q < OUT; q += 16)");
    em_line(em, "    CNN_PREFETCH(pf + q, 0);");
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* The AVX-512 steps: the plain kernel's over all rows, or the sparse
 * kernel's over the list. */
static void emit_avx512_steps(cnnc_emitter *em, int r, int nv, int sparse)
{
    if (sparse) {
        em_line(em, "const int nr = nn / R * R;");
        em_open_block(em, "for (int j = 0; j < nr; j += R) {");
        emit_sparse_prefetch(em);
        for (int j = 0; j < r; j++) {
            em_open_block(em, "{");
            em_line(em, "const cnn_real *restrict w = wgt + (size_t)(int)nzk[j + %d] * OUT;", j);
            em_line(em, "const __m512 v = _mm512_set1_ps(nzv[j + %d]);", j);
            for (int c = 0; c < nv; c++)
                em_line(em, "a%d_%d = _mm512_fmadd_ps(v, _mm512_loadu_ps(w + %d), a%d_%d);", j, c, c * VEC, j, c);
            em_close_block(em, "}");
        }
        em_close_block(em, "}");
        em_open_block(em, "for (int j = nr; j < nn; j++) {");
        em_line(em, "const __m512 v = _mm512_set1_ps(nzv[j]);");
        for (int c = 0; c < nv; c++)
            em_line(em, "a0_%d = _mm512_fmadd_ps(v, _mm512_loadu_ps(wgt + (size_t)(int)nzk[j] * OUT + %d), a0_%d);", c,
                    c * VEC, c);
        em_close_block(em, "}");
        return;
    } else {
        em_open_block(em, "for (int k = 0; k < kr; k += R) {");
        emit_rows_and_prefetch(em);
        for (int j = 0; j < r; j++) {
            em_open_block(em, "{");
            em_line(em, "const __m512 v = _mm512_set1_ps(in[k + %d]);", j);
            for (int c = 0; c < nv; c++)
                em_line(em, "a%d_%d = _mm512_fmadd_ps(v, _mm512_loadu_ps(w + %d * OUT + %d), a%d_%d);", j, c, j,
                        c * VEC, j, c);
            em_close_block(em, "}");
        }
        em_close_block(em, "}");
        em_open_block(em, "for (int k = kr; k < IN; k++) {");
    }
    em_line(em, "const __m512 v = _mm512_set1_ps(in[k]);");
    for (int c = 0; c < nv; c++)
        em_line(em, "a0_%d = _mm512_fmadd_ps(v, _mm512_loadu_ps(wgt + (size_t)k * OUT + %d), a0_%d);", c, c * VEC, c);
    em_close_block(em, "}");
}

/* The portable twin's steps, in the same order. */
static void emit_portable_steps(cnnc_emitter *em, int sparse)
{
    if (sparse) {
        em_line(em, "const int nr = nn / R * R;");
        em_open_block(em, "for (int j = 0; j < nr; j += R) {");
        emit_sparse_prefetch(em);
        em_open_block(em, "for (int jj = 0; jj < R; jj++) {");
        em_line(em, "const cnn_real *restrict w = wgt + (size_t)(int)nzk[j + jj] * OUT;");
        em_line(em, "const cnn_real v = nzv[j + jj];");
        emit_simd_for(em, "o", "OUT");
        em_line(em, "    a[jj][o] += v * w[o];");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_open_block(em, "for (int j = nr; j < nn; j++) {");
        em_line(em, "const cnn_real *restrict w = wgt + (size_t)(int)nzk[j] * OUT;");
        em_line(em, "const cnn_real v = nzv[j];");
        emit_simd_for(em, "o", "OUT");
        em_line(em, "    a[0][o] += v * w[o];");
        em_close_block(em, "}");
        return;
    } else {
        em_open_block(em, "for (int k = 0; k < kr; k += R) {");
        emit_rows_and_prefetch(em);
        em_open_block(em, "for (int j = 0; j < R; j++) {");
        em_line(em, "const cnn_real v = in[k + j];");
        emit_simd_for(em, "o", "OUT");
        em_line(em, "    a[j][o] += v * w[(size_t)j * OUT + o];");
        em_close_block(em, "}");
        em_close_block(em, "}");
        em_open_block(em, "for (int k = kr; k < IN; k++) {");
    }
    em_line(em, "const cnn_real v = in[k];");
    emit_simd_for(em, "o", "OUT");
    em_line(em, "    a[0][o] += v * wgt[(size_t)k * OUT + o];");
    em_close_block(em, "}");
}

void emit_dense_forward_one(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    int nv = (int)(L->out_size / VEC), r = DENSE_ONE_ACC / nv, sparse = L->dense_one_sparse;
    if (r > 4)
        r = 4;
    int ahead = (int)(((sparse ? DENSE_ONE_SPARSE_AHEAD : DENSE_ONE_AHEAD) + L->out_size - 1) / L->out_size);
    emit_layer_comment(em, pl, L,
                       sparse ? "forward, one image, the rows of its nonzero inputs (cnnc export: emit_dense_one.c)"
                              : "forward, one image (cnnc export: emit_dense_one.c)");
    em_function(em,
                "static void %s_forward_one(const cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out%s)",
                L->fn, sparse ? ", cnn_real *restrict nzk" : "");
    dense_emit_enums(em, L);
    em_line(em, "enum { R = %d, AHEAD = %d }; /* rows per step; rows prefetched ahead */", r, ahead);
    em_line(em, "cnn_real *restrict yi = out;");
    if (sparse) {
        const cnn_shape *s = flattened(pl, L->index);
        em_line(em, "enum { C = %d, P = %d }; /* the flattened image's channels and pixels */", s->c, s->h * s->w);
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [C][P][OUT]: rows in channel-major order */");
        em_line(em, "cnn_real *restrict nzv = nzk + IN;");
        emit_sparse_list(em);
    } else {
        em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [IN][OUT] */");
        em_line(em, "const int kr = IN / R * R;");
    }
    em_raw(em, "#if CNN_AVX512_FLOAT\n");
    for (int j = 0; j < r; j++)
        for (int c = 0; c < nv; c++)
            em_line(em, "__m512 a%d_%d = _mm512_setzero_ps();", j, c);
    emit_avx512_steps(em, r, nv, sparse);
    for (int c = 0; c < nv; c++) { /* bias + a0 + a1 + ..., left to right */
        char sum[512];
        int k = 0;
        for (int j = 1; j < r; j++)
            k += snprintf(sum + k, sizeof sum - (size_t)k, "_mm512_add_ps(");
        if (l->bias)
            k += snprintf(sum + k, sizeof sum - (size_t)k, "_mm512_add_ps(_mm512_loadu_ps(p + B_OFF + %d), a0_%d)",
                          c * VEC, c);
        else
            k += snprintf(sum + k, sizeof sum - (size_t)k, "a0_%d", c);
        for (int j = 1; j < r; j++)
            k += snprintf(sum + k, sizeof sum - (size_t)k, ", a%d_%d)", j, c);
        em_line(em, "_mm512_storeu_ps(yi + %d, %s);", c * VEC, sum);
    }
    em_raw(em, "#else /* the portable twin, summing in the same order */\n");
    em_line(em, "cnn_real a[R][OUT];");
    em_line(em, "for (int j = 0; j < R; j++)");
    em_line(em, "    for (int o = 0; o < OUT; o++)");
    em_line(em, "        a[j][o] = 0;");
    emit_portable_steps(em, sparse);
    emit_simd_block(em, "o", "OUT");
    em_line(em, l->bias ? "cnn_real y = p[B_OFF + o] + a[0][o];" : "cnn_real y = a[0][o];");
    em_line(em, "for (int j = 1; j < R; j++)");
    em_line(em, "    y += a[j][o];");
    em_line(em, "yi[o] = y;");
    em_close_block(em, "}");
    em_raw(em, "#endif\n");
    dense_emit_activation(em, L);
    em_close_block(em, "}");
    em_blank(em);
}

void emit_dense_forward_one_call(cnnc_emitter *em, const cnnc_plan_layer *L, const char *in, const char *out)
{
    em_line(em, "%s_forward_one(p, %s, %s%s);", L->fn, in, out, L->dense_one_sparse ? ", pad" : "");
}
