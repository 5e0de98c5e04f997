/* gen_random_cnn.c: writes a random valid .cnn network from a seed.
 *
 * usage: gen_random_cnn SEED OUT.cnn
 *
 * The network is a random stack: on the image, convolutions (valid or same
 * padding, square or rectangular kernels, strides 1-3, with or without bias,
 * any fused activation), max and average pools (sizes, strides), a relu or
 * linear conv followed by a tiling maxpool (fused by the fast kernels; with
 * a batchnorm, and a relu, between them at times: fused too), batchnorm
 * (momentum, epsilon), dropout, standalone activations (leaky_relu with a
 * slope); then flatten or globalavgpool; then dense layers, dropout,
 * batchnorm and activations; then a sigmoid-binary or softmax head, fused or
 * standalone. Shapes are tracked so every file is valid (the parity test
 * fails if cnnc rejects one). Sizes stay small so the generated C compiles
 * and runs in a fraction of a second. Draws come from runtime/include/cnn_rng.h, so
 * a seed always gives the same file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cnn_rng.h"

typedef struct gen {
    uint64_t seed, n;
    FILE *f;
    int h, w, c;
} gen;

/* Uniform integer in [lo, hi]. */
static int rnd(gen *g, int lo, int hi)
{
    uint64_t r = cnn_rng_u64(g->seed, 1000, 0, g->n++);
    return lo + (int)(r % (uint64_t)(hi - lo + 1));
}

static const char *const acts[] = {"linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu"};

static const char *random_act(gen *g)
{
    /* relu-like activations more often, as in real networks */
    static const int pick[] = {0, 1, 1, 1, 2, 3, 4, 5, 5};
    return acts[pick[rnd(g, 0, 8)]];
}

static int min2(int a, int b) { return a < b ? a : b; }

/* A conv2d with activation `act` (NULL: a random one). */
static void conv(gen *g, const char *act)
{
    int filters = rnd(g, 1, 6);
    int kh = rnd(g, 1, 4), kw = rnd(g, 0, 3) ? kh : rnd(g, 1, 4);
    int stride = rnd(g, 0, 2) ? 1 : rnd(g, 2, 3);
    int same = rnd(g, 0, 1);
    if (!same && (kh > g->h || kw > g->w)) {
        kh = min2(kh, g->h);
        kw = min2(kw, g->w);
    }
    if (kh == kw && rnd(g, 0, 1))
        fprintf(g->f, "    conv2d %d %d", filters, kh); /* a single N means NxN */
    else
        fprintf(g->f, "    conv2d %d %dx%d", filters, kh, kw);
    if (act)
        fprintf(g->f, " %s", act);
    else if (rnd(g, 0, 4))
        fprintf(g->f, " %s", random_act(g));
    if (stride != 1)
        fprintf(g->f, " stride=%d", stride);
    if (same)
        fprintf(g->f, " padding=same");
    else if (rnd(g, 0, 3) == 0)
        fprintf(g->f, " padding=valid");
    if (rnd(g, 0, 2) == 0)
        fprintf(g->f, " bias=false");
    else if (rnd(g, 0, 5) == 0)
        fprintf(g->f, " bias=true");
    fprintf(g->f, "\n");
    if (same) {
        g->h = (g->h + stride - 1) / stride;
        g->w = (g->w + stride - 1) / stride;
    } else {
        g->h = (g->h - kh) / stride + 1;
        g->w = (g->w - kw) / stride + 1;
    }
    g->c = filters;
}

static void pool(gen *g)
{
    const char *kind = rnd(g, 0, 1) ? "maxpool" : "avgpool";
    int ph = min2(rnd(g, 1, 3), g->h), pw = min2(rnd(g, 0, 2) ? ph : rnd(g, 1, 3), g->w);
    int stride = 0;
    switch (rnd(g, 0, 3)) {
    case 0: /* default: maxpool alone means 2x2 */
        if (g->h >= 2 && g->w >= 2) {
            fprintf(g->f, "    %s\n", kind);
            g->h = (g->h - 2) / 2 + 1;
            g->w = (g->w - 2) / 2 + 1;
            return;
        }
        break;
    case 1:
        stride = rnd(g, 1, 3);
        break;
    default:
        break;
    }
    if (ph == pw && rnd(g, 0, 1))
        fprintf(g->f, "    %s %d", kind, ph);
    else
        fprintf(g->f, "    %s %dx%d", kind, ph, pw);
    if (stride)
        fprintf(g->f, " stride=%d", stride);
    fprintf(g->f, "\n");
    int sh = stride ? stride : ph, sw = stride ? stride : pw;
    g->h = (g->h - ph) / sh + 1;
    g->w = (g->w - pw) / sw + 1;
}

static void batchnorm(gen *g);

/* A relu or linear conv2d, then a maxpool whose windows tile its output:
 * the pair the fast kernels fuse (compiler/c/emit_conv_pool.c); one time in
 * three with a batchnorm (and then a relu, one time in two) before the
 * pool: the fused batchnorm + maxpool (compiler/c/emit_bn_pool.c). */
static void conv_pool(gen *g)
{
    conv(g, rnd(g, 0, 2) ? "relu" : "linear");
    if (rnd(g, 0, 2) == 0) {
        batchnorm(g);
        if (rnd(g, 0, 1))
            fprintf(g->f, "    relu\n");
    }
    int ph = min2(rnd(g, 1, 3), g->h), pw = min2(rnd(g, 0, 2) ? ph : rnd(g, 1, 3), g->w);
    fprintf(g->f, "    maxpool %dx%d\n", ph, pw);
    g->h /= ph;
    g->w /= pw;
}

static void batchnorm(gen *g)
{
    fprintf(g->f, "    batchnorm");
    if (rnd(g, 0, 1))
        fprintf(g->f, " momentum=0.%d", rnd(g, 5, 99));
    if (rnd(g, 0, 2) == 0)
        fprintf(g->f, " epsilon=%de-%d", rnd(g, 1, 9), rnd(g, 2, 5));
    fprintf(g->f, "\n");
}

static void dropout(gen *g)
{
    fprintf(g->f, "    dropout 0.%d\n", rnd(g, 1, 6));
}

static void activation(gen *g)
{
    const char *a = acts[rnd(g, 1, 5)];
    fprintf(g->f, "    %s", a);
    if (a[0] == 'l' && rnd(g, 0, 1))
        fprintf(g->f, " alpha=0.%02d", rnd(g, 1, 50));
    fprintf(g->f, "\n");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SEED OUT.cnn\n", argv[0]);
        return 2;
    }
    gen g = {strtoull(argv[1], NULL, 10), 0, fopen(argv[2], "w"), 0, 0, 0};
    if (!g.f) {
        perror(argv[2]);
        return 1;
    }
    g.h = rnd(&g, 4, 14);
    g.w = rnd(&g, 4, 14);
    g.c = rnd(&g, 0, 1) ? 3 : 1;
    fprintf(g.f, "# random network, seed %s (tests/parity/gen_random_cnn.c)\n", argv[1]);
    fprintf(g.f, "model rand_%s\ninput %dx%dx%d\n\nlayers {\n", argv[1], g.h, g.w, g.c);

    int image_layers = rnd(&g, 1, 5);
    for (int i = 0; i < image_layers; i++) {
        switch (rnd(&g, 0, 9)) {
        case 0: case 1: case 2: conv(&g, NULL); break;
        case 3: conv_pool(&g); break;
        case 4: case 5: pool(&g); break;
        case 6: batchnorm(&g); break;
        case 7: dropout(&g); break;
        default: activation(&g); break;
        }
    }
    if (rnd(&g, 0, 2) == 0)
        fprintf(g.f, "    globalavgpool\n");
    else
        fprintf(g.f, "    flatten\n");

    int vector_layers = rnd(&g, 0, 3);
    for (int i = 0; i < vector_layers; i++) {
        switch (rnd(&g, 0, 5)) {
        case 0: case 1: case 2:
            fprintf(g.f, "    dense %d", rnd(&g, 1, 10));
            if (rnd(&g, 0, 3))
                fprintf(g.f, " %s", random_act(&g));
            fprintf(g.f, "\n");
            break;
        case 3: batchnorm(&g); break;
        case 4: dropout(&g); break;
        default: activation(&g); break;
        }
    }
    int binary = rnd(&g, 0, 1), fused = rnd(&g, 0, 1);
    int units = binary ? 1 : rnd(&g, 2, 6);
    const char *head = binary ? "sigmoid" : "softmax";
    if (fused)
        fprintf(g.f, "    dense %d %s\n", units, head);
    else
        fprintf(g.f, "    dense %d\n    %s\n", units, head);
    fprintf(g.f, "}\n");
    if (fclose(g.f) != 0) {
        perror(argv[2]);
        return 1;
    }
    return 0;
}
