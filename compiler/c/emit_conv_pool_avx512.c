/* emit_conv_pool_avx512.c: AVX-512 kernels of the fused conv + maxpool
 * backward, each under #if CNN_AVX512_FLOAT with its portable twin in the
 * #else: the weight gradient of a conv with few input floats per kernel
 * row (a first layer on 1 or 3 channels) from the pool windows by lane
 * permutes, and (at the end of the file) the windows' input gradient with
 * each window's patch in registers, with the pooled row's gradient and
 * argmax offsets transposed to per-channel lists for the dW walk.
 *
 * Why: in a conv followed by a 2x2 maxpool, dz is zero except at each
 * window's argmax, a different conv output per channel. The dense weight
 * gradient (conv_emit_dw over the scattered dz band) spends PKH * PKW FMAs
 * per window, kernel tap and channel vector, 3 of 4 on zeros. The window
 * path of emit_conv_pool_backward.c runs its vectors over a kernel row's input
 * floats, which does not pay when a row is shorter than a vector (fruit's
 * conv2d_1: 3x3 on 3 channels is 9 floats). Here the vector runs over 16
 * output channels, as in the dense path, and each lane takes the input under
 * its own argmax: the window's input rows are loaded once (16 floats each,
 * every column any window position reads), and for each tap one two-source
 * permute (vpermt2ps) gathers, per lane, the input of the row pair (ky,
 * ky + SH) at index  b[lane] + (kx * IC + ci),  with b = the argmax's column
 * offset, +16 for the lower row of the window. One permute and one FMA per
 * window, tap and vector instead of PKH * PKW FMAs, which makes fruit
 * conv2d_1's backward about half as long as the dense path's.
 *
 * Plain C cannot say a per-lane permute (gcc turns the select of the four
 * positions' inputs into four masked broadcast loads, slower than the dense
 * path), so this is intrinsics, under #if CNN_AVX512_FLOAT; the dense path
 * is its portable twin in the #else, and the gradient checks (double) run
 * that one. AVX-512 masked loads are slow on AMD Zen 5 (a masked load of
 * the gradient alone is slower than none, of the rows too slower than the
 * dense path), so the gradient is masked with plain bit operations and the
 * rows are loaded whole, with a masked load only where a 16-float load
 * would run past the image's last row (docs/codegen.md, "Backward: the
 * first layer, by lane permutes"). */
#include <stdio.h>

#include "conv_blocks.h"
#include "emit_conv_pool_avx512.h"
#include "emit_util.h"


/* Input floats one window row spans: the columns of all its positions. */
static int row_span(const cnn_layer *l, const cnn_layer *pool)
{
    return ((pool->kw - 1) * l->sw + l->kw) * l->in.c;
}

/* Input rows a window reads, from its first: kernel rows of every position. */
static int window_rows(const cnn_layer *l, const cnn_layer *pool)
{
    return (pool->kh - 1) * l->sh + l->kh;
}

int conv_pool_dw_permute_applies(const cnn_layer *l, const cnn_layer *pool, int needs_dx)
{
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    /* the permute sees two rows of 16 floats: the top and bottom positions'
     * rows of one kernel row; codes < 128 so that NO_GRAD's bit 7 masks */
    if (needs_dx || pool->kh > 2 || pool->kh * pool->kw > 16 || row_span(l, pool) > VEC)
        return 0;
    /* whole output-channel vectors; the taps' accumulators fit the 32
     * registers with the gradient and the index (the rows, up to 6, may be
     * reloaded: a permute takes its second row from memory) */
    if (l->out.c % VEC != 0 || l->kh * l->kw * l->in.c > 27 || window_rows(l, pool) > 6)
        return 0;
    /* only the image's last row can make a 16-float load run past it */
    return pw * l->in.c >= VEC;
}

/* In the backward image loop (xs, am, dyi, dwi, s): the image's dW and db,
 * for each block of 16 output channels over all windows. */
void conv_pool_emit_dw_permute(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool)
{
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    int nr = window_rows(l, pool), taps = l->kw * l->in.c, span = row_span(l, pool);
    int bottom = (pool->kh - 1) * l->sh; /* the bottom position's rows, below the top's */
    int step = pool->kw * l->sw * l->in.c; /* input floats from a window to the next */
    /* the first window column whose 16-float loads of the image's last row run past it */
    int tail_px = (pw * l->in.c - VEC) / step + 1;
    em_line(em, "/* dW and db from the windows, 16 output channels at a time: per window, each lane's");
    em_line(em, " * input under its own argmax, by a two-row permute (emit_conv_pool_avx512.c) */");
    em_line(em, "(void)dzb;");
    em_open_block(em, "for (int cb = 0; cb < OC / 16; cb++) {");
    for (int ky = 0; ky < l->kh; ky++)
        for (int t = 0; t < taps; t++)
            em_line(em, "__m512 g%d = _mm512_setzero_ps(); /* dW row %d */", ky * taps + t, ky * taps + t);
    if (l->bias)
        em_line(em, "__m512 sb = _mm512_setzero_ps(); /* db */");
    em_line(em, "/* argmax code -> the permute index of its input: column offset, +16 in the bottom row */");
    {
        char tab[256];
        int n = 0;
        for (int k = 0; k < 16; k++) {
            int wy = k / pool->kw, wx = k % pool->kw;
            int v = k < pool->kh * pool->kw ? wx * l->sw * l->in.c + (wy ? VEC : 0) : 0;
            n += snprintf(tab + n, sizeof tab - n, "%s%d", k ? ", " : "", v);
        }
        em_line(em, "const __m512i pos = _mm512_setr_epi32(%s);", tab);
    }
    em_open_block(em, "for (int py = 0; py < POH; py++) {");
    em_line(em, "const cnn_real *restrict xr = xs + (size_t)py * PKH * SH * PW * IC;");
    em_open_block(em, "for (int px = 0; px < POW; px++) {");
    {
        /* the input rows pooled row py + 1 adds, 512 bytes ahead of this
         * window's columns, a line every `every` windows: the hardware
         * prefetcher does not run ahead across the band's rows. The
         * gradient and codes of the next row are not fetched: they gain
         * nothing here */
        int advance = pool->kh * l->sh, rows = advance < nr ? advance : nr; /* rows the next band adds */
        int every = 1; /* windows per line (a power of 2) */
        while (every * 2 * step * (int)sizeof(float) <= 64)
            every *= 2;
        if (every > 1)
            em_open_block(em, "if (py + 1 < POH && (px & %d) == 0) { /* row py + 1's new input rows, ahead */",
                          every - 1);
        else
            em_open_block(em, "if (py + 1 < POH) { /* row py + 1's new input rows, ahead */");
        em_line(em, "const char *nx = (const char *)(xr + (size_t)%d * PW * IC + (size_t)px * %d) + 512;",
                advance + nr - rows, step);
        for (int r = 0; r < rows; r++)
            em_line(em, "CNN_PREFETCH(nx + (size_t)%d * PW * IC * sizeof(cnn_real), 0);", r);
        em_close_block(em, "}");
    }
    em_line(em, "const size_t at = ((size_t)py * POW + px) * OC + (size_t)cb * 16;");
    em_line(em, "const __m512i k = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(am + at)));");
    em_line(em, "/* NO_GRAD (%d) has bit 7 set and the argmax codes do not: that bit, spread over", NO_GRAD);
    em_line(em, " * the lane, clears the gradient where none flows (no masked load: slow here) */");
    em_line(em, "const __m512i off = _mm512_srai_epi32(_mm512_slli_epi32(k, 24), 31);");
    em_line(em, "const __m512 d = _mm512_castsi512_ps(");
    em_line(em, "    _mm512_andnot_si512(off, _mm512_castps_si512(_mm512_loadu_ps(dyi + at))));");
    if (l->bias)
        em_line(em, "sb = _mm512_add_ps(sb, d);");
    em_line(em, "const __m512i b = _mm512_permutexvar_epi32(k, pos);");
    em_line(em, "const cnn_real *restrict xw = xr + (size_t)px * %d;", step);
    for (int r = 0; r < nr; r++) {
        /* row r of the last window row is the image's last row (ph - 1)
         * only when r is the window's last and the windows reach it */
        int last = (pool->out.h - 1) * pool->kh * l->sh + r == ph - 1;
        if (last && tail_px < pool->out.w) {
            em_line(em, "const __m512 r%d = py == POH - 1 && px >= %d /* the image's end */", r, tail_px);
            em_line(em, "    ? _mm512_maskz_loadu_ps(0x%x, xw + %d * PW * IC)", (1u << span) - 1, r);
            em_line(em, "    : _mm512_loadu_ps(xw + %d * PW * IC);", r);
        } else {
            em_line(em, "const __m512 r%d = _mm512_loadu_ps(xw + %d * PW * IC);", r, r);
        }
    }
    for (int t = 0; t < taps; t++) {
        em_open_block(em, "{ /* kx %d, ci %d */", t / l->in.c, t % l->in.c);
        em_line(em, "const __m512i ix = _mm512_add_epi32(b, _mm512_set1_epi32(%d));", t);
        for (int ky = 0; ky < l->kh; ky++) {
            int r = ky * taps + t;
            em_line(em, "g%d = _mm512_fmadd_ps(d, _mm512_permutex2var_ps(r%d, ix, r%d), g%d);", r, ky,
                    ky + bottom, r);
        }
        em_close_block(em, "}");
    }
    em_close_block(em, "} /* px */");
    em_close_block(em, "} /* py */");
    for (int r = 0; r < l->kh * taps; r++)
        em_line(em, "_mm512_storeu_ps(dwi + (size_t)%d * OC + (size_t)cb * 16, g%d);", r, r);
    if (l->bias)
        em_line(em, "_mm512_storeu_ps(s + (size_t)cb * 16, sb);");
    em_close_block(em, "} /* cb */");
}

/* The input gradient of the windows backward, a window at a time.
 *
 * The portable walk (emit_conv_pool_backward.c, emit_channel_walk) adds, per channel
 * and live window, dp * the channel's kernel into dx at the argmax: one
 * read-modify-write of dx per tap, about 2.6 cycles a vector on fruit's
 * conv2d_2, bound by the stores. Here a window's whole dx patch (the input
 * pixels any of its positions reaches: 4x4 for a 3x3 kernel under 2x2
 * windows) stays in registers while all its live channels add to it, and
 * goes to dx once. Which patch pixels a channel's taps land on depends on
 * its argmax position, so the channels are first grouped by position (a
 * compare and a compress of the channel numbers per 16 channels), and each
 * position has its own loop with fixed registers. It replaces a
 * read-modify-write per tap and live channel with 16 per window, which
 * shortens fruit conv2d_2's backward by about a fifth (docs/codegen.md,
 * "Backward: from the windows"). */

/* In the dx patch's window loop: window px's share of what pooled row
 * py + 1 reads first, fetched while this row computes. Its pooled gradient
 * and argmax codes come from far (dense_1's dx, the forward's codes), and
 * the prep reads them in one burst that the hardware prefetcher cannot run
 * ahead of. The next band's input rows are fetched too; dx's new rows (for
 * writing) gain nothing and are not fetched. */
static void emit_next_row_prefetch(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool)
{
    int span = (pool->kh - 1) * l->sh + l->kh, step = pool->kh * l->sh;
    int rows = step < span ? step : span; /* input rows the next band adds */
    int ph, pw;
    conv_padded_dims(l, &ph, &pw);
    int lines = (rows * pw * l->in.c * (int)sizeof(float) + 63) / 64; /* of those rows */
    int per = (lines + pool->out.w - 1) / pool->out.w;                 /* lines a window fetches */
    em_open_block(em, "if (py + 1 < POH) { /* row py + 1: window px's gradient and codes, 1/POW of its new input rows */");
    em_line(em, "const char *ny = (const char *)(dyi + ((size_t)(py + 1) * POW + px) * OC);");
    for (int b = 0; b < l->out.c * (int)sizeof(float); b += 64)
        em_line(em, "CNN_PREFETCH(ny + %d, 0);", b);
    em_line(em, "CNN_PREFETCH(am + ((size_t)(py + 1) * POW + px) * OC, 0);");
    em_line(em, "const char *nx = (const char *)(xb + (size_t)%d * PW * IC) + (size_t)px * %d * 64;",
            step + span - rows, per);
    for (int q = 0; q < per; q++) {
        int past = (pool->out.w - 1) * per + q >= lines; /* the last windows may run past the rows */
        if (past)
            em_line(em, "if (px * %d + %d < %d)", per, q, lines);
        em_line(em, "%sCNN_PREFETCH(nx + %d, 0);", past ? "    " : "", q * 64);
    }
    em_close_block(em, "}");
}

int conv_pool_dx_patch_applies(const cnn_layer *l, const cnn_layer *pool)
{
    int pr = (pool->kh - 1) * l->sh + l->kh, pc = (pool->kw - 1) * l->sw + l->kw;
    return l->sh == 1 && l->sw == 1 && l->in.c % VEC == 0 && l->out.c % VEC == 0 &&
           pool->kh * pool->kw <= 16 && pr * pc * (l->in.c / VEC) <= 16;
}

void conv_pool_emit_dx_patch(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool)
{
    int nvi = l->in.c / VEC, npos = pool->kh * pool->kw;
    int pr = (pool->kh - 1) * l->sh + l->kh, pc = (pool->kw - 1) * l->sw + l->kw;
    em_line(em, "/* dx: each window's %dx%d-pixel patch in registers (emit_conv_pool_avx512.c) */", pr, pc);
    em_open_block(em, "for (int px = 0; px < POW; px++) {");
    emit_next_row_prefetch(em, l, pool);
    em_line(em, "/* the live channels, grouped by argmax position */");
    for (int q = 0; q < npos; q++)
        em_line(em, "int l%d[OC + 16], n%d = 0;", q, q);
    em_open_block(em, "for (int c0 = 0; c0 < OC; c0 += 16) {");
    em_line(em, "const __m512i k = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(am + ((size_t)py * POW + px) * OC + c0)));");
    em_line(em, "const __m512i ch = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(c0));");
    for (int q = 0; q < npos; q++) {
        em_open_block(em, "{");
        em_line(em, "const __mmask16 m = _mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(%d));", q);
        em_line(em, "_mm512_storeu_si512(l%d + n%d, _mm512_maskz_compress_epi32(m, ch));", q, q);
        em_line(em, "n%d += __builtin_popcount(m);", q);
        em_close_block(em, "}");
    }
    em_close_block(em, "}");
    for (int r = 0; r < pr * pc * nvi; r++)
        em_line(em, "__m512 p%d = _mm512_setzero_ps();", r);
    for (int q = 0; q < npos; q++) {
        int wy = q / pool->kw, wx = q % pool->kw;
        em_open_block(em, "for (int j = 0; j < n%d; j++) { /* position %d: row %d, column %d */", q, q, wy, wx);
        em_line(em, "const int co = l%d[j];", q);
        em_line(em, "const __m512 d = _mm512_set1_ps(dT[co][px]);");
        em_line(em, "const cnn_real *restrict wc = flip + (size_t)co * IC; /* the rotated kernel: W[.][.][.][co] */");
        for (int ky = 0; ky < l->kh; ky++)
            for (int kx = 0; kx < l->kw; kx++)
                for (int v = 0; v < nvi; v++) {
                    int r = ((wy * l->sh + ky) * pc + wx * l->sw + kx) * nvi + v;
                    int rot = (l->kh - 1 - ky) * l->kw + (l->kw - 1 - kx);
                    em_line(em, "p%d = _mm512_fmadd_ps(d, _mm512_loadu_ps(wc + (size_t)%d * OC * IC + %d), p%d);", r,
                            rot, v * VEC, r);
                }
        em_close_block(em, "}");
    }
    em_line(em, "cnn_real *restrict dw = xd + (size_t)px * PKW * SW * IC;");
    for (int y = 0; y < pr; y++)
        for (int x = 0; x < pc; x++)
            for (int v = 0; v < nvi; v++) {
                int r = (y * pc + x) * nvi + v;
                em_line(em, "_mm512_storeu_ps(dw + (size_t)%d * PW * IC + %d, _mm512_add_ps(_mm512_loadu_ps(dw + (size_t)%d * PW * IC + %d), p%d));",
                        y, x * l->in.c + v * VEC, y, x * l->in.c + v * VEC, r);
            }
    em_close_block(em, "} /* px */");
}

/* The pooled row's gradient, transposed (emit_conv_pool_backward.c's window walk).
 *
 * The dW walk runs per output channel over the windows that pass it a
 * gradient: it needs, per channel, the list of those windows' gradients and
 * argmax input offsets. The pooled gradient and the codes are [window][channel];
 * a scalar scan per channel and window (compare, select, store) cost about
 * as much as the walk's FMAs it feeds. Here 16 windows x 16 channels at a
 * time go through registers: the code masks the gradient (0 where NO_GRAD)
 * and becomes the input offset of its argmax (a permute from a table), db
 * sums the masked rows, and a 16x16 transpose (cnn_transpose16_ps) writes
 * dT[channel][window] and aT[channel][window], windows padded to a multiple
 * of 16 with zeros. Each channel's list is then two compresses
 * (conv_pool_emit_live_list): vector compares, permutes and transposes do
 * for 256 (window, channel) pairs what the scan (and the four prep loops
 * over the row that fed it) did one pair at a time. */
void conv_pool_emit_row_lists(cnnc_emitter *em, const cnn_layer *l, const cnn_layer *pool)
{
    int wp = (pool->out.w + VEC - 1) / VEC * VEC;
    char tab[256];
    int n = 0;
    for (int k = 0; k < 16; k++) {
        int v = k < pool->kh * pool->kw ? ((k / pool->kw) * l->sh * (l->in.w + l->pad_left + l->pad_right) +
                                           (k % pool->kw) * l->sw) * l->in.c
                                         : 0;
        n += snprintf(tab + n, sizeof tab - n, "%s%d", k ? ", " : "", v);
    }
    em_line(em, "/* pooled row py per channel: its gradient (0 where none flows) and each window's");
    em_line(em, " * argmax input offset from xb, [OC][%d windows] (emit_conv_pool_avx512.c) */", wp);
    em_line(em, "cnn_real dT[OC][%d] __attribute__((aligned(64)));", wp);
    em_line(em, "int aT[OC][%d] __attribute__((aligned(64)));", wp);
    em_open_block(em, "{");
    em_line(em, "const __m512i jo = _mm512_setr_epi32(%s); /* code -> offset of its input */", tab);
    em_open_block(em, "for (int cb = 0; cb < OC; cb += 16) {");
    if (l->bias)
        em_line(em, "__m512 sb = _mm512_loadu_ps(s + cb);");
    em_open_block(em, "for (int pb = 0; pb < %d; pb += 16) {", wp);
    em_line(em, "__m512 r[16];");
    em_line(em, "__m512i q[16];");
    em_open_block(em, "for (int t = 0; t < 16; t++) {");
    em_line(em, "const int px = pb + t;");
    em_open_block(em, "if (px < POW) {");
    em_line(em, "const size_t at = ((size_t)py * POW + px) * OC + cb;");
    em_line(em, "const __m512i k = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(am + at)));");
    em_line(em, "/* NO_GRAD (%d) has bit 7 set and the codes do not: that bit, spread over the", NO_GRAD);
    em_line(em, " * lane, clears the gradient where none flows (no masked load: slow here) */");
    em_line(em, "const __m512i off = _mm512_srai_epi32(_mm512_slli_epi32(k, 24), 31);");
    em_line(em, "r[t] = _mm512_castsi512_ps(_mm512_andnot_si512(off, _mm512_castps_si512(_mm512_loadu_ps(dyi + at))));");
    if (l->bias)
        em_line(em, "sb = _mm512_add_ps(sb, r[t]);");
    em_line(em, "q[t] = _mm512_add_epi32(_mm512_set1_epi32(px * PKW * SW * IC),");
    em_line(em, "                        _mm512_permutexvar_epi32(_mm512_and_si512(k, _mm512_set1_epi32(15)), jo));");
    em_close_block(em, "} else { /* padding: no gradient */");
    em->indent++;
    em_line(em, "r[t] = _mm512_setzero_ps();");
    em_line(em, "q[t] = _mm512_setzero_si512();");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_line(em, "cnn_transpose16_ps(r);");
    em_line(em, "cnn_transpose16_ps((__m512 *)q);");
    em_open_block(em, "for (int t = 0; t < 16; t++) {");
    em_line(em, "_mm512_store_ps(&dT[cb + t][pb], r[t]);");
    em_line(em, "_mm512_store_si512(&aT[cb + t][pb], q[t]);");
    em_close_block(em, "}");
    em_close_block(em, "}");
    if (l->bias)
        em_line(em, "_mm512_storeu_ps(s + cb, sb);");
    em_close_block(em, "}");
    em_close_block(em, "}");
}

/* In the channel loop (co): the windows of dT[co] with a gradient, as lists
 * of their gradient (ld) and input offset (la), nl long. A gradient of
 * exactly 0 adds nothing to dW and is left out with the dead windows. */
void conv_pool_emit_live_list(cnnc_emitter *em, const cnn_layer *pool)
{
    int wp = (pool->out.w + VEC - 1) / VEC * VEC;
    em_line(em, "cnn_real ld[%d]; /* co's windows with a gradient: the gradient, and its input at xb + la */",
            wp + VEC);
    em_line(em, "int la[%d], nl = 0;", wp + VEC);
    em_open_block(em, "for (int pb = 0; pb < %d; pb += 16) {", wp);
    em_line(em, "const __m512 d = _mm512_load_ps(&dT[co][pb]);");
    em_line(em, "const __mmask16 m = _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ);");
    em_line(em, "_mm512_storeu_ps(ld + nl, _mm512_maskz_compress_ps(m, d));");
    em_line(em, "_mm512_storeu_si512(la + nl, _mm512_maskz_compress_epi32(m, _mm512_load_si512(&aT[co][pb])));");
    em_line(em, "nl += __builtin_popcount(m);");
    em_close_block(em, "}");
}
