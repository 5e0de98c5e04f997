/* bench.c: `NAME bench`: images/s and GFLOP/s of inference, the training
 * forward pass, the backward pass and a whole training step (forward, loss,
 * backward, optimizer) on random data, and the machine's FP32 peak measured
 * by an FMA probe in the same binary, so "% of peak" compares like with like.
 *
 * FLOP counts come from the descriptor (forward_flops, train_flops per image,
 * a multiply-add counting 2); the optimizer's few FLOPs per parameter are not
 * counted. Each phase runs for about --seconds after one warm-up call, and
 * its rate is that of the median call (robust to a busy machine). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

#include "cnn_dist.h"
#include "cnn_bench_loader.h"
#include "cnn_init.h"
#include "cnn_layer_timer.h"
#include "cnn_optim.h"
#include "cnn_progress.h"
#include "cnn_rng.h"
#include "cnn_run.h"
#include "cnn_step.h"
#include "cnn_train.h"
#include "cnn_util.h"

/* ---- the FMA peak probe ------------------------------------------------------ */

/* Runs `iters` rounds of ACC independent vector FMAs (enough accumulators to
 * cover FMA latency on two pipes) and returns the FLOPs done. The result is
 * folded into *sink so the compiler cannot drop the loop. */
#define ACC 12
static double fma_kernel(long iters, float *sink)
{
#if defined(__AVX512F__)
    /* Twelve named accumulators: an array would live in memory at -O2. */
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2), a3 = _mm512_set1_ps(3);
    __m512 a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7);
    __m512 a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
    for (long i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, x, y);
        a1 = _mm512_fmadd_ps(a1, x, y);
        a2 = _mm512_fmadd_ps(a2, x, y);
        a3 = _mm512_fmadd_ps(a3, x, y);
        a4 = _mm512_fmadd_ps(a4, x, y);
        a5 = _mm512_fmadd_ps(a5, x, y);
        a6 = _mm512_fmadd_ps(a6, x, y);
        a7 = _mm512_fmadd_ps(a7, x, y);
        a8 = _mm512_fmadd_ps(a8, x, y);
        a9 = _mm512_fmadd_ps(a9, x, y);
        a10 = _mm512_fmadd_ps(a10, x, y);
        a11 = _mm512_fmadd_ps(a11, x, y);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    *sink += _mm512_reduce_add_ps(s);
    return (double)iters * ACC * 16 * 2;
#elif defined(__AVX__) && defined(__FMA__)
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3);
    __m256 a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7);
    __m256 a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, x, y);
        a1 = _mm256_fmadd_ps(a1, x, y);
        a2 = _mm256_fmadd_ps(a2, x, y);
        a3 = _mm256_fmadd_ps(a3, x, y);
        a4 = _mm256_fmadd_ps(a4, x, y);
        a5 = _mm256_fmadd_ps(a5, x, y);
        a6 = _mm256_fmadd_ps(a6, x, y);
        a7 = _mm256_fmadd_ps(a7, x, y);
        a8 = _mm256_fmadd_ps(a8, x, y);
        a9 = _mm256_fmadd_ps(a9, x, y);
        a10 = _mm256_fmadd_ps(a10, x, y);
        a11 = _mm256_fmadd_ps(a11, x, y);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    for (int j = 0; j < 8; j++)
        *sink += out[j];
    return (double)iters * ACC * 8 * 2;
#else
    /* Portable fallback: fmaf over 16 lanes; the vectorizer may or may not
     * map it to hardware FMAs, so the "peak" is then only indicative. */
    float a[ACC][16];
    for (int k = 0; k < ACC; k++)
        for (int j = 0; j < 16; j++)
            a[k][j] = (float)k;
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < ACC; k++)
#pragma omp simd
            for (int j = 0; j < 16; j++)
                a[k][j] = fmaf(a[k][j], 0.999999f, 1e-7f);
    for (int k = 0; k < ACC; k++)
        for (int j = 0; j < 16; j++)
            *sink += a[k][j];
    return (double)iters * ACC * 16 * 2;
#endif
}

/* GFLOP/s of all threads running the probe at once: each thread runs short
 * chunks (2^16 rounds of 12 FMAs, about 0.1 ms at AVX-512 speed) for the given time and keeps its best
 * chunk's rate; the rates are summed. The best chunk, not the average, so
 * that other processes on a shared machine do not lower the "peak". */
static double fma_peak(double seconds)
{
    double total = 0;
#pragma omp parallel reduction(+ : total)
    {
        float sink = 0;
        const long iters = 1L << 16;
        double best = 0, start = cnn_now(), now = start;
        while (now - start < seconds) {
            double t0 = cnn_now();
            double flops = fma_kernel(iters, &sink);
            now = cnn_now();
            if (now > t0 && flops / (now - t0) > best)
                best = flops / (now - t0);
        }
        total += best + (sink == 12345.0f ? 1e-30 : 0.0);
    }
    return total * 1e-9;
}

/* ---- per-layer times ------------------------------------------------------------ */

/* FLOPs per image of a layer's forward pass and of its backward pass (the
 * input gradient only when a layer below needs it), as cnnc counts them. */
static void layer_flops(const cnn_model *m, int i, double *fwd, double *bwd)
{
    const cnn_layer *l = &m->layers[i];
    double macs = 0;
    if (l->kind == CNN_CONV2D)
        macs = (double)l->out.h * l->out.w * l->out.c * l->kh * l->kw * l->in.c;
    else if (l->kind == CNN_DENSE)
        macs = (double)l->in.h * l->in.w * l->in.c * l->out.c;
    *fwd = 2 * macs;
    *bwd = (i == 0 ? 1 : 2) * 2 * macs;
}

/* ---- timing the model ---------------------------------------------------------- */

#define MAX_SAMPLES 100000
static double samples[MAX_SAMPLES];

typedef struct phase {
    const char *name;
    double images_per_s, gflops, flops_per_image;
} phase;

/* The layer whose row holds the time of layer i when the generated code
 * fused i into it (a maxpool into the conv2d or batchnorm before it,
 * through a relu view; a relu into the batchnorm before it), or -1. The
 * rule mirrors what the compiler fuses; only rows with no time of their own
 * are asked. */
static int fused_into(const cnn_model *m, int i)
{
    const cnn_layer *l = m->layers;
    if (i > 0 && l[i].kind == CNN_ACTIVATION && l[i - 1].kind == CNN_BATCHNORM)
        return i - 1;
    if (l[i].kind != CNN_MAXPOOL || i == 0)
        return -1;
    int j = i - 1;
    if (j > 0 && l[j].kind == CNN_ACTIVATION && l[j - 1].kind == CNN_BATCHNORM)
        j--;
    return l[j].kind == CNN_CONV2D || l[j].kind == CNN_BATCHNORM ? j : -1;
}

/* Whether phase p runs another call: until t_end. The training step is a
 * collective under mpirun (cnn_step.h): rank 0's clock decides for all. */
static int keep_going(int p, double t_end)
{
    int go = cnn_now() < t_end;
    if (p == 3)
        cnn_dist_bcast(&go, sizeof go, 0);
    return go;
}

int cnn_cmd_bench(const cnn_model *m, const cnn_run_options *o)
{
    if (o->threads > 0)
        omp_set_num_threads(o->threads);
    int batch = o->cfg.batch;
    double secs = o->bench_seconds > 0 ? o->bench_seconds : 2.0;
    cnn_buffers b;
    size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    float *x = malloc((size_t)batch * img * sizeof(float));
    float *logits = malloc((size_t)batch * m->n_outputs * sizeof(float));
    float *dlogits = malloc((size_t)batch * m->n_outputs * sizeof(float));
    int *labels = malloc((size_t)batch * sizeof(int));
    float *start_params = NULL;
    cnn_bench_ab *ab = NULL;
    cnn_optimizer oc = o->cfg.optimizer;
    cnn_optim *opt = cnn_optim_create(&oc, m->n_trainable);
    int rc = 1;
    if (cnn_buffers_alloc(m, batch, &b) || !x || !logits || !dlogits || !labels || !opt) {
        cnn_error(m, "out of memory for batch %d", batch);
        goto out;
    }
    /* Random images in the model's input range after `rescale 1/255`-like
     * preprocessing, random labels. Speed depends on the values in one
     * place: the fused conv + maxpool backward skips the windows whose relu
     * output is 0, and real images leave more of them than these do
     * (fruit conv2d_2: 33% of (window, channel) pairs in bench, 78% over 10
     * epochs on fruits-dev; docs/benchmarks.md "What is compared"). */
    for (size_t i = 0; i < (size_t)batch * img; i++)
        x[i] = (float)cnn_rng_uniform(o->cfg.seed, 100, 0, i);
    int n_classes = m->n_outputs == 1 ? 2 : m->n_outputs;
    for (int i = 0; i < batch; i++)
        labels[i] = (int)(cnn_rng_u64(o->cfg.seed, 101, 0, (uint64_t)i) % (uint64_t)n_classes);
    cnn_init_params(m, b.params, o->cfg.seed);
    /* --weights: the step on given weights (a trained model's relu sparsity,
     * which random initial weights do not have). Either way the timed
     * backward and training steps start from these weights every time
     * (restored outside the timing): the bench's own updates on random
     * labels would otherwise carry the weights away from what is measured. */
    if (o->weights) {
        char *classes = NULL;
        if (cnn_load_weights(m, o, b.params, &classes))
            goto out;
        free(classes);
    }
    start_params = malloc(m->n_params * sizeof(float));
    if (!start_params) {
        cnn_error(m, "out of memory for a copy of the weights");
        goto out;
    }
    memcpy(start_params, b.params, m->n_params * sizeof(float));

    int threads = omp_get_max_threads();
    if (!o->json && !o->quiet) {
        printf("%s bench: batch %d, %d threads, input %dx%dx%d, %.1f MFLOP forward and %.1f MFLOP training per image\n",
               m->name, batch, threads, m->in_h, m->in_w, m->in_c, m->forward_flops * 1e-6, m->train_flops * 1e-6);
        if (o->weights)
            printf("weights: %s\n", o->weights);
        else
            printf("weights: random initial weights (seed %" PRIu64 ")\n", o->cfg.seed);
        fflush(stdout);
    }

    phase ph[4] = {{"inference", 0, 0, m->forward_flops},
                   {"forward (training)", 0, 0, m->forward_flops},
                   {"backward", 0, 0, m->train_flops - m->forward_flops},
                   {"training step", 0, 0, m->train_flops}};
    uint64_t step = 0;
    long timed_steps = 0;
    for (int p = 0; p < 4; p++) {
        double spent = 0;
        long images = 0;
        int n_t = 0;
        int warm = 1;
        double t_end = cnn_now() + secs;
        while (warm || keep_going(p, t_end)) {
            double t0 = 0, t1 = 0;
            switch (p) {
            case 0:
                t0 = cnn_now();
                m->forward(&b, x, logits, batch, 0, o->cfg.seed, step);
                t1 = cnn_now();
                break;
            case 1:
                t0 = cnn_now();
                m->forward(&b, x, logits, batch, 1, o->cfg.seed, step);
                t1 = cnn_now();
                break;
            case 2:
                memcpy(b.params, start_params, m->n_params * sizeof(float));
                memset(b.grads, 0, m->n_trainable * sizeof(float));
                m->forward(&b, x, logits, batch, 1, o->cfg.seed, step);
                m->loss(logits, labels, dlogits, batch);
                t0 = cnn_now();
                m->backward(&b, x, dlogits, batch);
                t1 = cnn_now();
                break;
            case 3:
                memcpy(b.params, start_params, m->n_params * sizeof(float));
                t0 = cnn_now();
                cnn_train_step(m, &b, opt, x, labels, logits, dlogits, batch, o->cfg.seed, step, 1);
                t1 = cnn_now();
                step++;
                break;
            }
            if (warm) {
                warm = 0;
                t_end = cnn_now() + secs;
                /* per-layer times come from the timed training steps */
                if (p == 3)
                    cnn_layer_timer_start();
                continue;
            }
            spent += t1 - t0;
            images += batch;
            if (n_t < MAX_SAMPLES)
                samples[n_t++] = t1 - t0;
            timed_steps += p == 3;
        }
        cnn_layer_timer_stop();
        /* The median call, not the mean: on a shared machine a few calls
         * that lost the CPU would otherwise dominate. */
        double med = cnn_median(samples, (size_t)n_t);
        ph[p].images_per_s = med > 0 ? batch / med : spent > 0 ? images / spent : 0;
        ph[p].gflops = ph[p].images_per_s * ph[p].flops_per_image * 1e-9;
    }
    double peak = fma_peak(secs < 1.5 ? secs : 1.5);

    /* Per layer: ms per batch of the timed training steps, and GFLOP/s for
     * the layers that carry the FLOPs (conv2d, dense). A layer that the
     * generated code fuses into its neighbour shows no time of its own. */
    double layer_time[CNN_MAX_LAYERS][2];
    int any_layer = 0;
    for (int i = 0; i < CNN_MAX_LAYERS; i++) {
        layer_time[i][0] = cnn_layer_timer_get(i, 0);
        layer_time[i][1] = cnn_layer_timer_get(i, 1);
        any_layer |= i < m->n_layers && (layer_time[i][0] > 0 || layer_time[i][1] > 0);
    }
    /* --data: the step beside the loader, after the phases (in JSON before
     * printing, as one more key) */
    const int with_data = o->cfg.data && o->cfg.data != m->defaults.data;
    if (with_data) {
        ab = malloc(sizeof *ab);
        if (!ab) {
            cnn_error(m, "out of memory for bench --data");
            goto out;
        }
    }
    if (with_data && o->json) {
        memcpy(b.params, start_params, m->n_params * sizeof(float));
        if (cnn_bench_loader_run(m, o, &b, opt, start_params, x, labels, secs, ab))
            goto out;
    }
    double per = timed_steps > 0 ? 1000.0 / (double)timed_steps : 0;

    if (o->json) {
        printf("{\"model\": \"%s\", \"batch\": %d, \"threads\": %d, \"train_images_per_s\": %.2f, "
               "\"infer_images_per_s\": %.2f, \"forward_images_per_s\": %.2f, \"backward_images_per_s\": %.2f, "
               "\"train_gflops\": %.2f, \"infer_gflops\": %.2f, \"forward_gflops\": %.2f, \"backward_gflops\": %.2f, "
               "\"peak_gflops\": %.2f, \"train_percent_of_peak\": %.2f, \"infer_percent_of_peak\": %.2f, "
               "\"forward_flops_per_image\": %.0f, \"train_flops_per_image\": %.0f, ",
               m->name, batch, threads, ph[3].images_per_s, ph[0].images_per_s, ph[1].images_per_s,
               ph[2].images_per_s, ph[3].gflops, ph[0].gflops, ph[1].gflops, ph[2].gflops, peak,
               peak > 0 ? 100 * ph[3].gflops / peak : 0, peak > 0 ? 100 * ph[0].gflops / peak : 0,
               m->forward_flops, m->train_flops);
        /* "weights": the file timed, or null for random initial weights */
        fputs("\"weights\": ", stdout);
        if (o->weights)
            cnn_json_fputs(stdout, o->weights);
        else
            fputs("null", stdout);
        /* "loader": bench --data's arms, or null */
        fputs(", \"loader\": ", stdout);
        if (ab)
            cnn_bench_loader_print(m, ab, 1, stdout);
        else
            fputs("null", stdout);
        fputs(", \"layers\": [", stdout);
        for (int i = 0; any_layer && i < m->n_layers && i < CNN_MAX_LAYERS; i++) {
            double ff, bf;
            layer_flops(m, i, &ff, &bf);
            double fms = layer_time[i][0] * per, bms = layer_time[i][1] * per;
            printf("%s{\"name\": \"%s\", \"forward_ms\": %.4f, \"backward_ms\": %.4f, "
                   "\"forward_gflops\": %.2f, \"backward_gflops\": %.2f}",
                   i ? ", " : "", m->layers[i].name, fms, bms, fms > 0 ? ff * batch / fms * 1e-6 : 0.0,
                   bms > 0 ? bf * batch / bms * 1e-6 : 0.0);
        }
        printf("]}\n");
    } else {
        printf("%-20s %12s %10s %10s %10s\n", "phase", "images/s", "ms/batch", "GFLOP/s", "% of peak");
        for (int p = 0; p < 4; p++)
            printf("%-20s %12.1f %10.2f %10.1f %9.1f%%\n", ph[p].name, ph[p].images_per_s,
                   ph[p].images_per_s > 0 ? 1000.0 * batch / ph[p].images_per_s : 0, ph[p].gflops,
                   peak > 0 ? 100 * ph[p].gflops / peak : 0);
        printf("FP32 peak by FMA probe (%d threads): %.1f GFLOP/s\n", threads, peak);
        if (any_layer) {
            printf("\nPer layer, in the training step (ms per batch of %d):\n", batch);
            printf("%-16s %10s %10s %10s %10s %10s\n", "layer", "fwd ms", "fwd GF/s", "bwd ms", "bwd GF/s",
                   "% of peak");
            for (int i = 0; i < m->n_layers && i < CNN_MAX_LAYERS; i++) {
                double ff, bf;
                layer_flops(m, i, &ff, &bf);
                double fms = layer_time[i][0] * per, bms = layer_time[i][1] * per;
                double fg = fms > 0 ? ff * batch / fms * 1e-6 : 0, bg = bms > 0 ? bf * batch / bms * 1e-6 : 0;
                double all = fms + bms > 0 ? (ff + bf) * batch / (fms + bms) * 1e-6 : 0;
                if (ff > 0)
                    printf("%-16s %10.3f %10.1f %10.3f %10.1f %9.1f%%\n", m->layers[i].name, fms, fg, bms, bg,
                           peak > 0 ? 100 * all / peak : 0);
                else if (fms == 0 && bms == 0 && fused_into(m, i) >= 0)
                    printf("%-16s %10s   (fused: its time is in %s's row)\n", m->layers[i].name, "-",
                           m->layers[fused_into(m, i)].name);
                else
                    printf("%-16s %10.3f %10s %10.3f %10s %10s\n", m->layers[i].name, fms, "-", bms, "-", "-");
            }
            for (int i = 0; i < m->n_layers && i < CNN_MAX_LAYERS; i++)
                for (int t = 0; t < m->layers[i].n_tensors; t++)
                    if (m->tensors[m->layers[i].first_tensor + t].update_in_backward)
                        printf("%s's backward includes the optimizer's update of %s (fused into it).\n",
                               m->layers[i].name, m->tensors[m->layers[i].first_tensor + t].name);
        }
        if (with_data) {
            fflush(stdout);
            memcpy(b.params, start_params, m->n_params * sizeof(float));
            if (cnn_bench_loader_run(m, o, &b, opt, start_params, x, labels, secs, ab))
                goto out;
            cnn_bench_loader_print(m, ab, 0, stdout);
        }
    }
    rc = 0;
out:
    free(ab);
    cnn_buffers_free(&b);
    free(x);
    free(logits);
    free(dlogits);
    free(labels);
    free(start_params);
    cnn_optim_free(opt);
    return rc;
}
