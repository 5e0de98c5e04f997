/* test_adamw_clip: ten steps of the runtime's optimizers with decoupled
 * weight decay and clipping (cnn_optim_step, cnn_clip_by_norm,
 * cnn_clip_by_global_norm) on the tiny
 * descriptor's four trainable tensors, with gradients that are a fixed
 * function of the step (some large enough to be clipped). Prints, per case,
 * one JSON object: the configuration, the tensors' ranges, the initial
 * parameters, the gradients of every step and the parameters after every
 * step, for adamw_clip_ref.py (a double transcription of Keras 3's rules,
 * and PyTorch's AdamW with clip_grad_norm_ / clip_grad_value_), with
 * the global norm of each step's gradients before clipping. */
#include <math.h>
#include <stdio.h>

#include "cnn_optim.h"
#include "cnn_step.h"
#include "tiny_model.h"

enum { STEPS = 10 };

static void print_vec(const float *v, int n)
{
    printf("[");
    for (int i = 0; i < n; i++)
        printf("%s%.9g", i ? ", " : "", (double)v[i]);
    printf("]");
}

static void case_run(const cnn_model *m, const char *name, cnn_optimizer cfg)
{
    float p[NP], g[NP];
    for (int i = 0; i < NP; i++)
        p[i] = 0.5f * sinf(0.7f * (float)i + 0.3f);
    cnn_optim *o = cnn_optim_create(&cfg, NT);
    if (!o) {
        printf("{\"error\": \"%s: %s\"}\n", name, cnn_optim_check(&cfg));
        return;
    }
    printf("{\"name\": \"%s\", \"kind\": \"%s\", \"lr\": %.17g, \"beta1\": %.17g, \"beta2\": %.17g, "
           "\"epsilon\": %.17g, \"momentum\": %.17g, \"weight_decay\": %.17g, \"clipnorm\": %.17g, "
           "\"clipvalue\": %.17g, \"global_clipnorm\": %.17g, \"tensors\": [",
           name, cnn_optim_kind_name(cfg.kind), cfg.lr, cfg.beta1, cfg.beta2, cfg.epsilon, cfg.momentum,
           cfg.weight_decay, cfg.clipnorm, cfg.clipvalue, cfg.global_clipnorm);
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].trainable)
            printf("%s[%zu, %zu]", t ? ", " : "", m->tensors[t].offset, m->tensors[t].count);
    printf("], \"p0\": ");
    print_vec(p, NT);
    static float gs[STEPS][NP], ps[STEPS][NP];
    double norms[STEPS] = {0};
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < NT; i++) /* tensor-sized swings: conv2d_1 large, dense_1.bias small */
            g[i] = (float)((i < 24 ? 2.0 : i < 27 ? 0.3 : i < 47 ? 1.0 : 0.01) * sin(1.3 * i + 0.9 * s + 0.1 * i * s));
        memcpy(gs[s], g, sizeof g);
        if (cfg.clipnorm > 0)
            cnn_clip_by_norm(m, g, cfg.clipnorm);
        if (cfg.global_clipnorm > 0)
            norms[s] = cnn_clip_by_global_norm(m, g, cfg.global_clipnorm);
        cnn_optim_step(o, p, g);
        memcpy(ps[s], p, sizeof p);
    }
    printf(", \"grads\": [");
    for (int s = 0; s < STEPS; s++) {
        printf("%s", s ? ", " : "");
        print_vec(gs[s], NT);
    }
    printf("], \"global_norms\": [");
    for (int s = 0; s < STEPS; s++)
        printf("%s%.17g", s ? ", " : "", norms[s]);
    printf("], \"params\": [");
    for (int s = 0; s < STEPS; s++) {
        printf("%s", s ? ", " : "");
        print_vec(ps[s], NT);
    }
    printf("]}\n");
    cnn_optim_free(o);
}

int main(void)
{
    cnn_model m = make_model("tiny");
    cnn_optimizer c = cnn_optim_defaults(CNN_OPT_ADAMW);
    c.lr = 0.01;
    c.weight_decay = 0.05;
    c.epsilon = 1e-10; /* where Keras and PyTorch put epsilon then matters less than float rounding */
    case_run(&m, "adamw", c);
    c.clipnorm = 0.5;
    case_run(&m, "adamw clipnorm", c);
    c.clipnorm = 0;
    c.clipvalue = 0.1;
    case_run(&m, "adamw clipvalue", c);
    c = cnn_optim_defaults(CNN_OPT_SGD);
    c.lr = 0.05;
    c.momentum = 0.9;
    c.weight_decay = 0.01;
    c.clipnorm = 1.0;
    case_run(&m, "sgd momentum weight_decay clipnorm", c);
    c = cnn_optim_defaults(CNN_OPT_RMSPROP);
    c.weight_decay = 0.1;
    c.clipvalue = 0.5;
    case_run(&m, "rmsprop weight_decay clipvalue", c);
    /* global_clipnorm: the gradients' global norm is 7.57 to 7.77 over
     * the ten steps; 3 clips every step, 7.65 about half of them */
    c = cnn_optim_defaults(CNN_OPT_ADAMW);
    c.lr = 0.01;
    c.weight_decay = 0.05;
    c.epsilon = 1e-10;
    c.global_clipnorm = 3.0;
    case_run(&m, "adamw global_clipnorm", c);
    c = cnn_optim_defaults(CNN_OPT_SGD);
    c.lr = 0.05;
    c.momentum = 0.9;
    c.global_clipnorm = 7.65;
    case_run(&m, "sgd momentum global_clipnorm", c);
    return 0;
}
