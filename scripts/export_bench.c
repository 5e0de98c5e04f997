/* export_bench.c: times an exported model (cnnc export) for
 * scripts/compare_onnx.py. Built with -DMODEL=NAME -DMODEL_HEADER="NAME_infer.h".
 *
 *   export_bench TENSOR.f32 SECONDS
 *
 * TENSOR.f32 is one preprocessed H x W x C image. Prints one JSON object:
 * the probabilities of NAME_predict_tensor on it, its images/s on one
 * thread (one image per call, for SECONDS after a warm-up; per second of
 * wall-clock time and per second of the process's CPU time), and the time
 * of one NAME_predict call on a 640x480 RGB image (resize and
 * preprocessing included; the best of several). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include MODEL_HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define M(x) CAT(MODEL, x)

static double clock_s(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: export_bench TENSOR.f32 SECONDS\n");
        return 2;
    }
    size_t n = (size_t)M(_INPUT_HEIGHT) * M(_INPUT_WIDTH) * M(_INPUT_CHANNELS);
    float *x = malloc(n * sizeof *x), probs[M(_CLASSES)];
    void *work = malloc(M(_WORK_BYTES));
    FILE *f = fopen(argv[1], "rb");
    if (!x || !work || !f || fread(x, sizeof *x, n, f) != n) {
        fprintf(stderr, "export_bench: cannot read %zu floats from %s\n", n, argv[1]);
        return 1;
    }
    fclose(f);
    double seconds = atof(argv[2]);
    for (int i = 0; i < 3; i++)
        M(_predict_tensor)(work, x, probs);
    long iters = 0;
    double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t;
    do {
        M(_predict_tensor)(work, x, probs);
        iters++;
        t = now();
    } while (t - t0 < seconds);
    double ips = (double)iters / (t - t0), cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;

    enum { PW = 640, PH = 480 };
    unsigned char *px = malloc((size_t)PW * PH * 3);
    unsigned s = 12345;
    for (size_t i = 0; i < (size_t)PW * PH * 3; i++) {
        s = s * 1103515245u + 12345u;
        px[i] = (unsigned char)(s >> 16);
    }
    float p2[M(_CLASSES)];
    double best = 1e30;
    for (int i = 0; i < 20; i++) {
        double a = now();
        M(_predict)(px, PW, PH, 3, p2);
        double b = now() - a;
        best = b < best ? b : best;
    }
    printf("{\"images_per_s\": %.3f, \"images_per_cpu_s\": %.3f, \"iterations\": %ld, "
           "\"predict_640x480_ms\": %.4f, \"probabilities\": [",
           ips, (double)iters / cpu, iters, best * 1e3);
    for (int k = 0; k < M(_CLASSES); k++)
        printf("%s%.9g", k ? ", " : "", (double)probs[k]);
    printf("]}\n");
    free(px);
    free(x);
    free(work);
    return 0;
}
