/* emit_dropout.c: inverted dropout, training only.
 *
 * Element e of image i in the batch of step `step` (i its position in the
 * whole batch, also when this process holds only a part of it) is kept when
 *   cnn_rng_uniform(seed, CNN_RNG_DROPOUT, step * 64 + layer, i * SIZE + e) >= rate
 * (layer: the 0-based position in the layer list; SIZE: floats per image),
 * and kept values are scaled by 1 / (1 - rate), as Keras and PyTorch do.
 * The mask (0 or the scale) is a pure function of the seed and those
 * counters, so it is the same for any thread count, and it is stored in
 * acts for backward (dx = dy * mask). Inference copies the input. */
#include <stdio.h>
#include <string.h>

#include "emit_batch_sum.h"
#include "emit_layers.h"
#include "emit_util.h"


static void dropout_forward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    char f[48];
    double rate = (double)L->l->rate;
    emit_batch_sum_helpers(em);
    emit_layer_comment(em, pl, L, "forward");
    em_function(em,
                  "static void %s_forward(const cnn_real *restrict in, cnn_real *restrict out, "
                  "cnn_real *restrict mask, int n, int training, uint64_t seed, uint64_t step)",
                  L->fn);
    em_line(em, "enum { SIZE = %zu, LAYER = %d };", L->out_size, L->index);
    snprintf(f, sizeof f, "%.9g", rate);
    em_line(em, "const double rate = (double)%s%sf;", f, strpbrk(f, ".e") ? "" : ".0");
    em_line(em, "const cnn_real scale = (cnn_real)(1.0 / (1.0 - rate));");
    em_open_block(em, "if (!training) {");
    em_line(em, "memcpy(out, in, (size_t)n * SIZE * sizeof(cnn_real));");
    em_line(em, "return;");
    em_close_block(em, "}");
    /* u = (r >> 11) * 2^-53 is exact, and so is rate * 2^53, so u >= rate
     * exactly when the integer r >> 11 >= ceil(rate * 2^53): the same mask,
     * with one mix per element (the key is per call) and no conversion to
     * double, so the loop vectorizes. */
    double t = rate * 9007199254740992.0;
    unsigned long long keep_from = (unsigned long long)t;
    if ((double)keep_from < t)
        keep_from++;
    em_line(em, "/* kept when cnn_rng_uniform(seed, CNN_RNG_DROPOUT, step * 64 + LAYER, i * SIZE + e) >= rate,");
    em_line(em, " * i.e. when the draw's top 53 bits >= ceil(rate * 2^53) */");
    em_line(em, "const uint64_t keep_from = %lluull;", keep_from);
    em_line(em, "const uint64_t key = cnn_rng_key(seed, CNN_RNG_DROPOUT, step * 64 + LAYER);");
    em_line(em, "const uint64_t first = (uint64_t)cnn_part()->first; /* i's position in the batch: first + i */");
    emit_image_loop(em);
    em_line(em, "const cnn_real *restrict xi = in + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict yi = out + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict mi = mask + (size_t)i * SIZE;");
    emit_simd_block(em, "e", "SIZE");
    em_line(em, "const uint64_t r = cnn_rng_u64_keyed(key, (first + (uint64_t)i) * SIZE + (uint64_t)e);");
    em_line(em, "const cnn_real m = (r >> 11) >= keep_from ? scale : (cnn_real)0;");
    em_line(em, "mi[e] = m;");
    em_line(em, "yi[e] = xi[e] * m;");
    em_close_block(em, "}");
    em_close_block(em, "} /* i */");
    em_close_block(em, "}");
    em_blank(em);
}

static void dropout_forward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                                 const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_forward(%s, %s, %s, n, training, seed, step);", L->fn, a->in, a->out, a->mask);
}

static void dropout_backward(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L)
{
    emit_layer_comment(em, pl, L, "backward");
    em_function(em,
                  "static void %s_backward(const cnn_real *restrict mask, const cnn_real *restrict dy, "
                  "cnn_real *restrict dx, int n)",
                  L->fn);
    em_line(em, "enum { SIZE = %zu };", L->out_size);
    emit_image_loop_work(em, L->out_size);
    em_line(em, "const cnn_real *restrict mi = mask + (size_t)i * SIZE;");
    em_line(em, "const cnn_real *restrict dyi = dy + (size_t)i * SIZE;");
    em_line(em, "cnn_real *restrict dxi = dx + (size_t)i * SIZE;");
    emit_simd_for(em, "e", "SIZE");
    em_line(em, "    dxi[e] = dyi[e] * mi[e];");
    em_close_block(em, "}");
    em_close_block(em, "}");
    em_blank(em);
}

static void dropout_backward_call(cnnc_emitter *em, const cnnc_plan *pl, const cnnc_plan_layer *L,
                                  const cnnc_args *a)
{
    (void)pl;
    em_line(em, "%s_backward(%s, %s, %s, n);", L->fn, a->mask, a->dy, a->dx);
}

const cnnc_layer_emitter emit_dropout_layer = {
    dropout_forward, dropout_forward_call, dropout_backward, dropout_backward_call,
};
