/* test_optim.c: the optimizers against hand-computed Keras updates.
 *
 * Each case checks (1) literal values worked out by hand for the first
 * step(s), and (2) ten steps against the Keras formulas evaluated here in
 * double. Epsilon placement is checked with epsilon = 1, where Keras's and
 * PyTorch's conventions give clearly different numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cnn_optim.h"

static int failures;

static void close_to(const char *what, double got, double want, double rel)
{
    double tol = rel * fmax(fabs(want), 1e-6);
    if (!(fabs(got - want) <= tol)) {
        printf("FAIL %s: got %.9g, want %.9g\n", what, got, want);
        failures++;
    }
}

static cnn_optimizer cfg(cnn_optimizer_kind k)
{
    return cnn_optim_defaults(k);
}

/* Gradient of element i at step t: varied signs and magnitudes. */
static float grad(int i, int t)
{
    return (float)(sin(1.7 * i + 0.3 * t + 0.1) * (1.0 + i));
}

static void test_defaults(void)
{
    cnn_optimizer a = cfg(CNN_OPT_ADAM), s = cfg(CNN_OPT_SGD), r = cfg(CNN_OPT_RMSPROP);
    close_to("adam lr", a.lr, 0.001, 0);
    close_to("adam beta1", a.beta1, 0.9, 0);
    close_to("adam beta2", a.beta2, 0.999, 0);
    close_to("adam epsilon", a.epsilon, 1e-7, 0);
    close_to("sgd lr", s.lr, 0.01, 0);
    close_to("sgd momentum", s.momentum, 0, 0);
    close_to("rmsprop lr", r.lr, 0.001, 0);
    close_to("rmsprop rho", r.rho, 0.9, 0);
    close_to("rmsprop epsilon", r.epsilon, 1e-7, 0);
    cnn_optimizer bad = a;
    bad.lr = -1;
    if (cnn_optim_check(&bad) == NULL || cnn_optim_create(&bad, 4) != NULL) {
        printf("FAIL negative lr accepted\n");
        failures++;
    }
}

static void test_adam_literal(void)
{
    /* One step, g = 0.5, p = 1, Keras defaults:
     * alpha = 0.001*sqrt(0.001)/0.1 = 3.16227766e-4, m = 0.05, v = 0.00025,
     * step = alpha*m/(sqrt(v)+1e-7) = 3.16227766e-4*0.05/(0.0158113883+1e-7)
     *      = 9.99993675e-4  ->  p = 0.999000006 */
    cnn_optimizer c = cfg(CNN_OPT_ADAM);
    cnn_optim *o = cnn_optim_create(&c, 1);
    float p = 1.0f, g = 0.5f;
    cnn_optim_step(o, &p, &g);
    close_to("adam step 1 (eps 1e-7)", p, 0.999000006, 1e-6);
    close_to("adam m", cnn_optim_slot(o, 0)[0], 0.05, 1e-6);
    close_to("adam v", cnn_optim_slot(o, 1)[0], 0.00025, 1e-6);
    if (cnn_optim_iterations(o) != 1) {
        printf("FAIL adam iterations\n");
        failures++;
    }
    cnn_optim_free(o);

    /* epsilon = 1, g = 1: Keras ("epsilon hat"): alpha = 0.001*sqrt(0.001)/0.1,
     * m = 0.1, v = 0.001: step = 3.16227766e-4*0.1/(0.0316227766+1)
     * = 3.06534e-5. PyTorch's placement would give 0.001*1/(1+1) = 5e-4. */
    c.epsilon = 1.0;
    o = cnn_optim_create(&c, 1);
    p = 0.0f;
    g = 1.0f;
    cnn_optim_step(o, &p, &g);
    close_to("adam epsilon placement", p, -3.06534e-5, 1e-4);
    cnn_optim_free(o);
}

static void test_sgd_literal(void)
{
    /* plain: p = 1 - 0.01*2 = 0.98 */
    cnn_optimizer c = cfg(CNN_OPT_SGD);
    cnn_optim *o = cnn_optim_create(&c, 1);
    float p = 1.0f, g = 2.0f;
    if (cnn_optim_n_slots(o) != 0) {
        printf("FAIL sgd without momentum has state\n");
        failures++;
    }
    cnn_optim_step(o, &p, &g);
    close_to("sgd plain", p, 0.98, 1e-6);
    cnn_optim_free(o);

    /* momentum 0.9, lr 0.1, g = 1 twice:
     * m1 = -0.1, p1 = 0.9; m2 = 0.9*-0.1 - 0.1 = -0.19, p2 = 0.71 */
    c.lr = 0.1;
    c.momentum = 0.9;
    o = cnn_optim_create(&c, 1);
    p = 1.0f;
    g = 1.0f;
    cnn_optim_step(o, &p, &g);
    close_to("sgd momentum step 1", p, 0.9, 1e-6);
    cnn_optim_step(o, &p, &g);
    close_to("sgd momentum step 2", p, 0.71, 1e-6);
    close_to("sgd momentum slot", cnn_optim_slot(o, 0)[0], -0.19, 1e-6);
    cnn_optim_free(o);

    /* Nesterov (Keras): m1 = -0.1, p1 = 1 + 0.9*-0.1 - 0.1 = 0.81;
     * m2 = -0.19, p2 = 0.81 + 0.9*-0.19 - 0.1 = 0.539 */
    c.nesterov = 1;
    o = cnn_optim_create(&c, 1);
    p = 1.0f;
    cnn_optim_step(o, &p, &g);
    close_to("sgd nesterov step 1", p, 0.81, 1e-6);
    cnn_optim_step(o, &p, &g);
    close_to("sgd nesterov step 2", p, 0.539, 1e-6);
    cnn_optim_free(o);
}

static void test_rmsprop_literal(void)
{
    /* g = 1, rho 0.9: v = 0.1; epsilon 1e-7: step = 0.001/sqrt(0.1000001)
     * = 3.16227608e-3. With epsilon = 1 (inside the sqrt, Keras):
     * 0.001/sqrt(1.1) = 9.53462589e-4 (PyTorch's eps outside: 7.5975e-4). */
    cnn_optimizer c = cfg(CNN_OPT_RMSPROP);
    cnn_optim *o = cnn_optim_create(&c, 1);
    float p = 0.0f, g = 1.0f;
    cnn_optim_step(o, &p, &g);
    close_to("rmsprop step 1", p, -3.16227608e-3, 1e-6);
    close_to("rmsprop velocity", cnn_optim_slot(o, 0)[0], 0.1, 1e-6);
    cnn_optim_free(o);
    c.epsilon = 1.0;
    o = cnn_optim_create(&c, 1);
    p = 0.0f;
    cnn_optim_step(o, &p, &g);
    close_to("rmsprop epsilon placement", p, -9.53462589e-4, 1e-6);
    cnn_optim_free(o);
}

/* Ten steps over 7 elements against the formulas in double. */
static void test_ten_steps(cnn_optimizer c, const char *name)
{
    enum { N = 7, STEPS = 10 };
    float p[N];
    double q[N], m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++)
        p[i] = (float)(q[i] = 0.1 * i - 0.3);
    cnn_optim *o = cnn_optim_create(&c, N);
    for (int t = 0; t < STEPS; t++) {
        float g[N];
        for (int i = 0; i < N; i++)
            g[i] = grad(i, t);
        cnn_optim_step(o, p, g);
        for (int i = 0; i < N; i++) {
            double gi = g[i];
            switch (c.kind) {
            case CNN_OPT_ADAM:
            case CNN_OPT_ADAMW: { /* decoupled weight decay first (tests/trainer/adamw_clip_ref.py checks it) */
                q[i] -= q[i] * c.lr * c.weight_decay;
                double tt = t + 1;
                double alpha = c.lr * sqrt(1 - pow(c.beta2, tt)) / (1 - pow(c.beta1, tt));
                m[i] += (gi - m[i]) * (1 - c.beta1);
                v[i] += (gi * gi - v[i]) * (1 - c.beta2);
                q[i] -= alpha * m[i] / (sqrt(v[i]) + c.epsilon);
                break;
            }
            case CNN_OPT_SGD:
                if (c.momentum == 0) {
                    q[i] -= c.lr * gi;
                } else {
                    m[i] = c.momentum * m[i] - c.lr * gi;
                    q[i] += c.nesterov ? c.momentum * m[i] - c.lr * gi : m[i];
                }
                break;
            case CNN_OPT_RMSPROP:
                v[i] = c.rho * v[i] + (1 - c.rho) * gi * gi;
                q[i] -= c.lr * gi / sqrt(v[i] + c.epsilon);
                break;
            }
        }
    }
    char what[96];
    for (int i = 0; i < N; i++) {
        snprintf(what, sizeof what, "%s 10 steps, element %d", name, i);
        /* float vs double over 10 steps: a few ulps of the accumulated update */
        double tol = 1e-5 * fmax(fabs(q[i]), 1.0);
        if (!(fabs(p[i] - q[i]) <= tol)) {
            printf("FAIL %s: got %.9g, want %.9g\n", what, p[i], q[i]);
            failures++;
        }
    }
    if (cnn_optim_iterations(o) != STEPS) {
        printf("FAIL %s iterations\n", name);
        failures++;
    }
    cnn_optim_free(o);
}

/* State round trip: a copy resumed from the slots continues identically. */
static void test_state_roundtrip(void)
{
    enum { N = 5 };
    cnn_optimizer c = cfg(CNN_OPT_ADAM);
    cnn_optim *a = cnn_optim_create(&c, N), *b = cnn_optim_create(&c, N);
    float pa[N] = {1, 2, 3, 4, 5}, pb[N];
    float g[N];
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < N; i++)
            g[i] = grad(i, t);
        cnn_optim_step(a, pa, g);
    }
    for (int i = 0; i < N; i++)
        pb[i] = pa[i];
    for (int s = 0; s < cnn_optim_n_slots(a); s++)
        for (int i = 0; i < N; i++)
            cnn_optim_slot(b, s)[i] = cnn_optim_slot(a, s)[i];
    cnn_optim_set_iterations(b, cnn_optim_iterations(a));
    for (int t = 3; t < 6; t++) {
        for (int i = 0; i < N; i++)
            g[i] = grad(i, t);
        cnn_optim_step(a, pa, g);
        cnn_optim_step(b, pb, g);
    }
    for (int i = 0; i < N; i++)
        if (pa[i] != pb[i]) {
            printf("FAIL resumed optimizer differs at %d: %.9g vs %.9g\n", i, pa[i], pb[i]);
            failures++;
        }
    cnn_optim_free(a);
    cnn_optim_free(b);
}

int main(void)
{
    test_defaults();
    test_adam_literal();
    test_sgd_literal();
    test_rmsprop_literal();
    cnn_optimizer c = cfg(CNN_OPT_ADAM);
    test_ten_steps(c, "adam");
    c.lr = 0.01;
    c.beta1 = 0.8;
    c.beta2 = 0.99;
    c.epsilon = 1e-3;
    test_ten_steps(c, "adam custom");
    c = cfg(CNN_OPT_SGD);
    test_ten_steps(c, "sgd");
    c.momentum = 0.9;
    test_ten_steps(c, "sgd momentum");
    c.nesterov = 1;
    test_ten_steps(c, "sgd nesterov");
    c = cfg(CNN_OPT_RMSPROP);
    test_ten_steps(c, "rmsprop");
    c.rho = 0.5;
    c.epsilon = 0.1;
    test_ten_steps(c, "rmsprop custom");
    c = cfg(CNN_OPT_ADAMW);
    c.lr = 0.01;
    c.weight_decay = 0.1;
    test_ten_steps(c, "adamw");
    test_state_roundtrip();
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("optimizer tests passed\n");
    return 0;
}
