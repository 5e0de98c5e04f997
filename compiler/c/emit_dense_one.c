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
 * kernel and its portable twin sum in the same order. */
#include "emit_dense_one.h"

#include <stdio.h>

#include "dense_blocks.h"
#include "emit_util.h"

#define DENSE_ONE_AHEAD 1024 /* floats: 4 KB ahead of the row being read */
#define DENSE_ONE_ACC 8      /* vector accumulators */

int emit_dense_one_applies(const cnnc_plan_layer *L)
{
    return L->l->kind == CNN_DENSE && L->out_size % VEC == 0 && L->out_size <= (size_t)VEC * DENSE_ONE_ACC &&
           L->in_size * L->out_size >= 65536;
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

void emit_dense_forward_one(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    const cnn_layer *l = L->l;
    int nv = (int)(L->out_size / VEC), r = DENSE_ONE_ACC / nv;
    if (r > 4)
        r = 4;
    int ahead = (int)((DENSE_ONE_AHEAD + L->out_size - 1) / L->out_size); /* rows */
    emit_layer_comment(em, pl, L, "forward, one image (cnnc export: emit_dense_one.c)");
    em_function(em,
                "static void %s_forward_one(const cnn_real *restrict p, const cnn_real *restrict in, "
                "cnn_real *restrict out)",
                L->fn);
    dense_emit_enums(em, L);
    em_line(em, "enum { R = %d, AHEAD = %d }; /* rows per step; rows prefetched ahead */", r, ahead);
    em_line(em, "const cnn_real *restrict wgt = p + W_OFF; /* [IN][OUT] */");
    em_line(em, "cnn_real *restrict yi = out;");
    em_line(em, "const int kr = IN / R * R;");
    em_raw(em, "#if CNN_AVX512_FLOAT\n");
    for (int j = 0; j < r; j++)
        for (int c = 0; c < nv; c++)
            em_line(em, "__m512 a%d_%d = _mm512_setzero_ps();", j, c);
    em_open_block(em, "for (int k = 0; k < kr; k += R) {");
    emit_rows_and_prefetch(em);
    for (int j = 0; j < r; j++) {
        em_open_block(em, "{");
        em_line(em, "const __m512 v = _mm512_set1_ps(in[k + %d]);", j);
        for (int c = 0; c < nv; c++)
            em_line(em, "a%d_%d = _mm512_fmadd_ps(v, _mm512_loadu_ps(w + %d * OUT + %d), a%d_%d);", j, c, j, c * VEC,
                    j, c);
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    em_open_block(em, "for (int k = kr; k < IN; k++) {");
    em_line(em, "const __m512 v = _mm512_set1_ps(in[k]);");
    for (int c = 0; c < nv; c++)
        em_line(em, "a0_%d = _mm512_fmadd_ps(v, _mm512_loadu_ps(wgt + (size_t)k * OUT + %d), a0_%d);", c, c * VEC, c);
    em_close_block(em, "}");
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
    em_open_block(em, "for (int k = 0; k < kr; k += R) {");
    emit_rows_and_prefetch(em);
    em_open_block(em, "for (int j = 0; j < R; j++) {");
    em_line(em, "const cnn_real v = in[k + j];");
    emit_simd_for(em, "o", "OUT");
    em_line(em, "    a[j][o] += v * w[(size_t)j * OUT + o];");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_open_block(em, "for (int k = kr; k < IN; k++) {");
    em_line(em, "const cnn_real v = in[k];");
    emit_simd_for(em, "o", "OUT");
    em_line(em, "    a[0][o] += v * wgt[(size_t)k * OUT + o];");
    em_close_block(em, "}");
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
    em_line(em, "%s_forward_one(p, %s, %s);", L->fn, in, out);
}
