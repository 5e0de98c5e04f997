/* test_reference.c: the oracle checked. Compiled with -DCNN_REAL=double.
 *   1. hand-computed forward values (TensorFlow 'same' padding with stride,
 *      pools, global average, batchnorm statistics, dropout, losses);
 *   2. HWIO and PyTorch-order layouts give the same network from one seed;
 *   3. finite-difference gradient checks of every layer kind and option,
 *      alone and in whole networks, in training and inference mode.
 * Exit status 0 when everything holds, 1 otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_init.h"
#include "cnn_reference.h"
#include "gradcheck_util.h"
#include "model_builder.h"

static int failures;

#define CHECK(cond, ...)                                     \
    do {                                                     \
        if (!(cond)) {                                       \
            failures++;                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                    \
            fputc('\n', stderr);                             \
        }                                                    \
    } while (0)

static int near(double a, double b, double tol) { return fabs(a - b) <= tol * (1 + fabs(b)); }

/* Runs a forward pass; returns the engine (caller frees) so layer outputs can be read. */
static cnn_ref *run(const cnn_model *m, cnn_real *params, const cnn_real *x, cnn_real *logits, int n, int training)
{
    char err[256];
    cnn_ref *r = cnn_ref_create(m, n, err, sizeof err);
    if (!r) {
        fprintf(stderr, "cnn_ref_create: %s\n", err);
        exit(1);
    }
    cnn_ref_forward(r, params, x, logits, n, training, 42, 3);
    return r;
}

static void test_conv_same_stride(void)
{
    /* 4x4 input 1..16, 3x3 ones kernel, stride 2, same: total padding 1,
     * all of it at the bottom and right (TensorFlow). */
    tmodel t;
    tm_begin(&t, 4, 4, 1, 1);
    tm_conv(&t, 1, 3, 3, 2, 2, 1, 1, CNN_ACT_LINEAR);
    tm_flatten(&t);
    tm_dense(&t, 1, 0, CNN_ACT_SIGMOID);
    const cnn_model *m = tm_end(&t);
    CHECK(t.layers[0].pad_top == 0 && t.layers[0].pad_bottom == 1, "same padding split");
    cnn_real params[64] = {0}, x[16], logits[1];
    for (int j = 0; j < 9; j++)
        params[m->tensors[0].offset + j] = 1;
    params[m->tensors[1].offset] = 0.5; /* bias */
    for (int j = 0; j < 4; j++)
        params[m->tensors[2].offset + j] = (cnn_real)(j + 1);
    for (int j = 0; j < 16; j++)
        x[j] = j + 1;
    cnn_ref *r = run(m, params, x, logits, 1, 0);
    const cnn_real *c = cnn_ref_layer_output(r, 0);
    double want[4] = {54.5, 45.5, 72.5, 54.5};
    for (int j = 0; j < 4; j++)
        CHECK(near(c[j], want[j], 1e-12), "conv same[%d] = %g, want %g", j, c[j], want[j]);
    CHECK(near(logits[0], 54.5 + 2 * 45.5 + 3 * 72.5 + 4 * 54.5, 1e-12), "dense logit %g", logits[0]);
    cnn_ref_free(r);

    /* valid padding, stride 1, two channels in, OIHW layout: out = sum x*w */
    tm_begin(&t, 3, 3, 2, 0);
    tm_conv(&t, 1, 2, 2, 1, 1, 0, 0, CNN_ACT_RELU);
    tm_flatten(&t);
    tm_dense(&t, 1, 0, CNN_ACT_SIGMOID);
    m = tm_end(&t);
    cnn_real p2[64] = {0}, x2[18], l2[1];
    for (int j = 0; j < 8; j++)
        p2[j] = (cnn_real)(j % 2 ? -1 : 1) * (j + 1); /* OIHW: [0][ci][ky][kx] */
    for (int j = 0; j < 18; j++)
        x2[j] = (cnn_real)(j % 5) - 1;
    r = run(m, p2, x2, l2, 1, 0);
    c = cnn_ref_layer_output(r, 0);
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++) {
            double s = 0;
            for (int ci = 0; ci < 2; ci++)
                for (int ky = 0; ky < 2; ky++)
                    for (int kx = 0; kx < 2; kx++)
                        s += x2[((oy + ky) * 3 + ox + kx) * 2 + ci] * p2[(ci * 2 + ky) * 2 + kx];
            s = s > 0 ? s : 0;
            CHECK(near(c[oy * 2 + ox], s, 1e-12), "conv valid relu (%d,%d) = %g want %g", oy, ox, c[oy * 2 + ox], s);
        }
    cnn_ref_free(r);
}

static void test_pools(void)
{
    tmodel t;
    tm_begin(&t, 4, 5, 1, 1);
    tm_pool(&t, CNN_MAXPOOL, 2, 2, 2, 2); /* 2x2 out, last column dropped */
    tm_gap(&t);
    tm_dense(&t, 1, 0, CNN_ACT_SIGMOID);
    const cnn_model *m = tm_end(&t);
    cnn_real params[1] = {1}, x[20], logits[1];
    for (int j = 0; j < 20; j++)
        x[j] = (cnn_real)((j * 7) % 11);
    cnn_ref *r = run(m, params, x, logits, 1, 0);
    const cnn_real *p = cnn_ref_layer_output(r, 0);
    /* rows: 0 7 3 10 6 | 2 9 5 1 8 | 4 0 7 3 10 | 6 2 9 5 1 */
    double want[4] = {9, 10, 6, 9};
    for (int j = 0; j < 4; j++)
        CHECK(p[j] == want[j], "maxpool[%d] = %g want %g", j, p[j], want[j]);
    CHECK(near(cnn_ref_layer_output(r, 1)[0], 8.5, 1e-12), "globalavgpool");
    cnn_ref_free(r);

    tm_begin(&t, 3, 3, 2, 1);
    tm_pool(&t, CNN_AVGPOOL, 2, 2, 1, 1);
    tm_flatten(&t);
    tm_dense(&t, 1, 0, CNN_ACT_SIGMOID);
    m = tm_end(&t);
    cnn_real p8[8] = {0}, x2[18], l2[1];
    for (int j = 0; j < 18; j++)
        x2[j] = j;
    r = run(m, p8, x2, l2, 1, 0);
    p = cnn_ref_layer_output(r, 0);
    /* channel 0 holds 0,2,4,...,16 as a 3x3 grid; window (0,0) = 0,2,6,8 */
    CHECK(near(p[0], 4, 1e-12) && near(p[1], 5, 1e-12) && near(p[6], 12, 1e-12), "avgpool %g %g %g", p[0], p[1],
          p[6]);
    cnn_ref_free(r);
}

static void test_batchnorm_and_dropout(void)
{
    tmodel t;
    tm_begin(&t, 2, 3, 2, 1);
    tm_batchnorm(&t, 0.9f, 1e-3f);
    tm_dropout(&t, 0.25f);
    tm_flatten(&t);
    tm_dense(&t, 3, 1, CNN_ACT_SOFTMAX);
    const cnn_model *m = tm_end(&t);
    cnn_real *params = calloc(m->n_params, sizeof(cnn_real));
    cnn_init_params(m, params, 5);
    const int n = 4;
    cnn_real x[4 * 12], logits[4 * 3];
    for (int j = 0; j < n * 12; j++)
        x[j] = (cnn_real)(sin(j * 1.7) * 3 + (j % 2) * 2); /* channel 1 offset by 2 */
    cnn_ref *r = run(m, params, x, logits, n, 1);
    const cnn_real *y = cnn_ref_layer_output(r, 0);
    for (int c = 0; c < 2; c++) {
        double s = 0, s2 = 0, xs = 0, xs2 = 0;
        for (int p = 0; p < n * 6; p++) {
            s += y[p * 2 + c];
            s2 += y[p * 2 + c] * y[p * 2 + c];
            xs += x[p * 2 + c];
            xs2 += x[p * 2 + c] * x[p * 2 + c];
        }
        double xm = xs / (n * 6), xv = xs2 / (n * 6) - xm * xm;
        CHECK(fabs(s / (n * 6)) < 1e-12, "batchnorm mean %g", s / (n * 6));
        CHECK(near(s2 / (n * 6), xv / (xv + 1e-3), 1e-9), "batchnorm var %g", s2 / (n * 6));
        /* Keras: running = 0.9*running + 0.1*batch, biased variance */
        double mom = m->layers[0].momentum; /* 0.9f, a float */
        CHECK(near(params[m->tensors[2].offset + c], (1 - mom) * xm, 1e-9), "running_mean");
        CHECK(near(params[m->tensors[3].offset + c], mom + (1 - mom) * xv, 1e-9), "running_var");
    }
    /* dropout: every value either dropped or scaled by 1/(1-rate) */
    const cnn_real *d = cnn_ref_layer_output(r, 1);
    int dropped = 0;
    for (int j = 0; j < n * 12; j++) {
        if (d[j] == 0)
            dropped++;
        else
            CHECK(near(d[j], y[j] / 0.75, 1e-12), "dropout scale");
    }
    CHECK(dropped > 0 && dropped < n * 12, "dropout dropped %d of %d", dropped, n * 12);
    cnn_ref_free(r);

    /* inference: running statistics, no dropout */
    r = run(m, params, x, logits, n, 0);
    y = cnn_ref_layer_output(r, 0);
    d = cnn_ref_layer_output(r, 1);
    for (int j = 0; j < n * 12; j++) {
        int c = j % 2;
        double rm = params[m->tensors[2].offset + c], rv = params[m->tensors[3].offset + c];
        CHECK(near(y[j], (x[j] - rm) / sqrt(rv + 1e-3), 1e-9), "batchnorm inference");
        CHECK(d[j] == y[j], "dropout in inference");
    }
    cnn_ref_free(r);
    free(params);

    /* a large dropout layer keeps about 1-rate of its values */
    tm_begin(&t, 50, 50, 4, 1);
    tm_dropout(&t, 0.3f);
    tm_gap(&t);
    tm_dense(&t, 1, 1, CNN_ACT_SIGMOID);
    m = tm_end(&t);
    params = calloc(m->n_params, sizeof(cnn_real));
    cnn_real *big = malloc(10000 * sizeof(cnn_real)), l1[1];
    for (int j = 0; j < 10000; j++)
        big[j] = 1;
    r = run(m, params, big, l1, 1, 1);
    int kept = 0;
    for (int j = 0; j < 10000; j++)
        kept += cnn_ref_layer_output(r, 0)[j] != 0;
    CHECK(kept > 6800 && kept < 7200, "dropout kept %d of 10000 at rate 0.3", kept);
    cnn_ref_free(r);
    free(big);
    free(params);
}

static void test_losses(void)
{
    tmodel t;
    tm_begin(&t, 1, 1, 2, 1);
    tm_dense(&t, 1, 1, CNN_ACT_SIGMOID);
    const cnn_model *mb = tm_end(&t);
    cnn_real z[3] = {0, 40, -3}, dz[3];
    int y[3] = {1, 0, 0};
    double want = (log(2.0) + 40 + log1p(exp(-40.0)) + log1p(exp(-3.0))) / 3;
    CHECK(near(cnn_ref_loss(mb, z, y, dz, 3), want, 1e-12), "binary loss");
    CHECK(near(dz[0], (0.5 - 1) / 3, 1e-12) && near(dz[2], 1 / (1 + exp(3.0)) / 3, 1e-12), "binary dlogits");

    tmodel t2;
    tm_begin(&t2, 1, 1, 2, 1);
    tm_dense(&t2, 4, 1, CNN_ACT_SOFTMAX);
    const cnn_model *mc = tm_end(&t2);
    cnn_real z4[8] = {1, 1, 1, 1, 1000, 0, 0, 0}, d4[8];
    int y4[2] = {2, 1};
    CHECK(near(cnn_ref_loss(mc, z4, y4, d4, 2), (log(4.0) + 1000) / 2, 1e-12), "categorical loss");
    CHECK(near(d4[2], (0.25 - 1) / 2, 1e-12) && near(d4[4], 0.5, 1e-12), "categorical dlogits");
}

/* From one seed, HWIO/IO and OIHW/[out][in] layouts hold the same network. */
static void test_layouts(void)
{
    tmodel a, b;
    const cnn_model *ms[2];
    tmodel *ts[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        tm_begin(ts[k], 7, 6, 3, k);
        tm_conv(ts[k], 4, 3, 2, 2, 1, 1, 1, CNN_ACT_TANH);
        tm_conv(ts[k], 5, 2, 3, 1, 2, 0, 0, CNN_ACT_RELU);
        tm_flatten(ts[k]);
        tm_dense(ts[k], 3, 1, CNN_ACT_SOFTMAX);
        ms[k] = tm_end(ts[k]);
    }
    cnn_real *pa = calloc(ms[0]->n_params, sizeof(cnn_real)), *pb = calloc(ms[1]->n_params, sizeof(cnn_real));
    cnn_init_params(ms[0], pa, 9);
    cnn_init_params(ms[1], pb, 9);
    cnn_real x[2 * 126], la[6], lb[6];
    for (int j = 0; j < 2 * 126; j++)
        x[j] = (cnn_real)cos(j * 0.37);
    cnn_ref *ra = run(ms[0], pa, x, la, 2, 0), *rb = run(ms[1], pb, x, lb, 2, 0);
    for (int j = 0; j < 6; j++)
        CHECK(near(la[j], lb[j], 1e-12), "layouts differ at logit %d: %g vs %g", j, la[j], lb[j]);
    cnn_ref_free(ra);
    cnn_ref_free(rb);
    free(pa);
    free(pb);
}

typedef void (*net_fn)(tmodel *t, int hwio);

static void net_conv_valid(tmodel *t, int hw) { tm_begin(t, 6, 5, 2, hw); tm_conv(t, 3, 3, 3, 1, 1, 0, 1, CNN_ACT_TANH); tm_flatten(t); tm_dense(t, 1, 1, CNN_ACT_SIGMOID); }
static void net_conv_same_s2(tmodel *t, int hw) { tm_begin(t, 7, 6, 3, hw); tm_conv(t, 4, 3, 3, 2, 2, 1, 1, CNN_ACT_LEAKY_RELU); tm_flatten(t); tm_dense(t, 3, 1, CNN_ACT_SOFTMAX); }
static void net_conv_nobias_rect(tmodel *t, int hw) { tm_begin(t, 8, 7, 2, hw); tm_conv(t, 3, 3, 1, 1, 2, 1, 0, CNN_ACT_SIGMOID); tm_conv(t, 2, 1, 3, 2, 1, 0, 0, CNN_ACT_RELU); tm_flatten(t); tm_dense(t, 1, 0, CNN_ACT_SIGMOID); }
static void net_conv_same_even(tmodel *t, int hw) { tm_begin(t, 6, 6, 1, hw); tm_conv(t, 2, 4, 4, 3, 3, 1, 1, CNN_ACT_LINEAR); tm_conv(t, 2, 2, 2, 1, 1, 1, 1, CNN_ACT_SOFTMAX); tm_gap(t); tm_dense(t, 2, 1, CNN_ACT_SOFTMAX); }
static void net_maxpool(tmodel *t, int hw) { tm_begin(t, 7, 7, 2, hw); tm_conv(t, 3, 2, 2, 1, 1, 0, 1, CNN_ACT_TANH); tm_pool(t, CNN_MAXPOOL, 2, 2, 2, 2); tm_pool(t, CNN_MAXPOOL, 2, 2, 1, 1); tm_flatten(t); tm_dense(t, 1, 1, CNN_ACT_SIGMOID); }
static void net_avgpool(tmodel *t, int hw) { tm_begin(t, 7, 8, 2, hw); tm_pool(t, CNN_AVGPOOL, 3, 2, 2, 3); tm_conv(t, 2, 2, 2, 1, 1, 0, 1, CNN_ACT_TANH); tm_flatten(t); tm_dense(t, 3, 1, CNN_ACT_SOFTMAX); }
static void net_gap(tmodel *t, int hw) { tm_begin(t, 5, 4, 3, hw); tm_conv(t, 4, 3, 3, 1, 1, 1, 1, CNN_ACT_RELU); tm_gap(t); tm_dense(t, 2, 1, CNN_ACT_SOFTMAX); }
static void net_dense_stack(tmodel *t, int hw) { tm_begin(t, 3, 3, 2, hw); tm_flatten(t); tm_dense(t, 6, 1, CNN_ACT_TANH); tm_dense(t, 5, 0, CNN_ACT_LEAKY_RELU); tm_dense(t, 4, 1, CNN_ACT_SOFTMAX); tm_dense(t, 3, 1, CNN_ACT_LINEAR); tm_act(t, CNN_ACT_SOFTMAX, 0); }
static void net_dropout(tmodel *t, int hw) { tm_begin(t, 4, 4, 2, hw); tm_conv(t, 3, 2, 2, 1, 1, 0, 1, CNN_ACT_TANH); tm_dropout(t, 0.4f); tm_flatten(t); tm_dense(t, 4, 1, CNN_ACT_SIGMOID); tm_dropout(t, 0.5f); tm_dense(t, 1, 1, CNN_ACT_SIGMOID); }
static void net_batchnorm(tmodel *t, int hw) { tm_begin(t, 5, 5, 2, hw); tm_conv(t, 3, 3, 3, 1, 1, 0, 1, CNN_ACT_LINEAR); tm_batchnorm(t, 0.99f, 1e-3f); tm_act(t, CNN_ACT_TANH, 0); tm_flatten(t); tm_dense(t, 4, 0, CNN_ACT_LINEAR); tm_batchnorm(t, 0.9f, 0.01f); tm_act(t, CNN_ACT_SIGMOID, 0); tm_dense(t, 1, 1, CNN_ACT_SIGMOID); }
static void net_activations(tmodel *t, int hw) { tm_begin(t, 4, 3, 3, hw); tm_act(t, CNN_ACT_TANH, 0); tm_conv(t, 4, 2, 2, 1, 1, 0, 1, CNN_ACT_LINEAR); tm_act(t, CNN_ACT_LEAKY_RELU, 0.1f); tm_act(t, CNN_ACT_SIGMOID, 0); tm_act(t, CNN_ACT_SOFTMAX, 0); tm_act(t, CNN_ACT_RELU, 0); tm_flatten(t); tm_dense(t, 1, 1, CNN_ACT_LINEAR); tm_act(t, CNN_ACT_SIGMOID, 0); }
static void net_fruit_like(tmodel *t, int hw) { tm_begin(t, 12, 12, 3, hw); tm_conv(t, 4, 3, 3, 1, 1, 0, 1, CNN_ACT_RELU); tm_pool(t, CNN_MAXPOOL, 2, 2, 2, 2); tm_conv(t, 5, 3, 3, 1, 1, 0, 1, CNN_ACT_RELU); tm_pool(t, CNN_MAXPOOL, 2, 2, 2, 2); tm_flatten(t); tm_dense(t, 6, 1, CNN_ACT_RELU); tm_dense(t, 1, 1, CNN_ACT_SIGMOID); }
static void net_everything(tmodel *t, int hw) { tm_begin(t, 9, 8, 3, hw); tm_conv(t, 4, 3, 3, 2, 1, 1, 0, CNN_ACT_LINEAR); tm_batchnorm(t, 0.99f, 1e-3f); tm_act(t, CNN_ACT_LEAKY_RELU, 0.3f); tm_pool(t, CNN_AVGPOOL, 2, 2, 1, 1); tm_dropout(t, 0.2f); tm_conv(t, 3, 2, 2, 1, 1, 1, 1, CNN_ACT_RELU); tm_pool(t, CNN_MAXPOOL, 2, 2, 2, 2); tm_flatten(t); tm_dense(t, 5, 1, CNN_ACT_TANH); tm_dense(t, 4, 1, CNN_ACT_SOFTMAX); }

static void test_gradients(void)
{
    struct { const char *name; net_fn fn; } nets[] = {
        {"conv_valid", net_conv_valid}, {"conv_same_s2", net_conv_same_s2},
        {"conv_nobias_rect", net_conv_nobias_rect}, {"conv_same_even", net_conv_same_even},
        {"maxpool", net_maxpool}, {"avgpool", net_avgpool}, {"gap", net_gap},
        {"dense_stack", net_dense_stack}, {"dropout", net_dropout}, {"batchnorm", net_batchnorm},
        {"activations", net_activations}, {"fruit_like", net_fruit_like}, {"everything", net_everything},
    };
    for (size_t k = 0; k < sizeof nets / sizeof nets[0]; k++)
        for (int hwio = 0; hwio < 2; hwio++)
            for (int training = 0; training < 2; training++) {
                tmodel t;
                nets[k].fn(&t, hwio);
                const cnn_model *m = tm_end(&t);
                gc_result g = gradcheck_model(m, 3, training, 1000 + k, 40);
                int bad = g.failed > 0 || g.checked == 0 || g.skipped * 10 > g.checked;
                printf("%-18s %s %-9s checked %4d skipped %2d failed %d worst %.2e%s\n", nets[k].name,
                       hwio ? "hwio" : "oihw", training ? "training" : "inference", g.checked, g.skipped, g.failed,
                       g.worst, bad ? "  FAIL" : "");
                if (bad)
                    failures++;
            }
}

int main(void)
{
    test_conv_same_stride();
    test_pools();
    test_batchnorm_and_dropout();
    test_losses();
    test_layouts();
    test_gradients();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("\nreference engine: all checks passed\n");
    return 0;
}
