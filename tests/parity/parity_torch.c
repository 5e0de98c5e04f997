/* parity_torch.c: the C half of the PyTorch parity test.
 *
 * Runs one network on fixed weights and inputs and writes everything PyTorch
 * must reproduce to OUTDIR/c_results.safetensors (PyTorch names and layouts):
 *   init/<tensor>        the weights both sides start from (Glorot from the
 *                        seed, then every value moved a little so biases,
 *                        gammas, betas and running statistics are not 0/1)
 *   x, labels            N images (NHWC) and their labels
 *   train/logits, train/loss, train/dlogits, grad/<tensor>
 *                        one training-mode forward (batch statistics, dropout
 *                        masks of step 0) and backward
 *   train/after/<tensor> the weights after that forward (running statistics)
 *   eval/logits          an inference-mode forward on the initial weights
 *   opt/<optimizer>/<tensor>, opt/<optimizer>/losses
 *                        the weights after 10 training steps (forward, loss,
 *                        backward, update with runtime/train/cnn_optim.h) of each
 *                        optimizer in the table below
 * With the generated model (PARITY_MODEL defined: the driver is compiled
 * together with cnnc's NAME.c) the engine is the generated code, and the
 * reference engine's results are written too under ref/...; without it, the
 * driver reads a .cnn with the compiler's front end and the engine is the
 * reference engine, which checks the oracle itself against PyTorch.
 *
 * Compiled with -DCNN_REAL=double -DPARITY_NO_OPTIM (the generated code and
 * the reference engine in double) it writes no optimizer results, and
 * PyTorch (float64) must then agree to rounding.
 *
 * usage: parity_torch [MODEL.cnn] OUTDIR [--batch N] [--steps K] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_init.h"
#ifndef PARITY_NO_OPTIM
#include "cnn_optim.h"
#endif
#include "cnn_reference.h"
#include "cnn_rng.h"
#include "parity_io.h"

#ifdef PARITY_MODEL
extern const cnn_model PARITY_MODEL;
#else
#include "check.h"
#include "ir_model.h"
#endif

#define PARITY_SEED 20261124u

#ifndef PARITY_NO_OPTIM
/* The optimizers both sides run (torch_parity.py has the same table).
 * Learning rates are a tenth of Keras's defaults: with the defaults, the
 * first steps on these untrained networks overshoot (the loss jumps several
 * fold), and such a chaotic trajectory amplifies float rounding until two
 * correct implementations part. */
static const struct {
    const char *name;
    cnn_optimizer cfg;
} optimizers[] = {
    {"sgd", {.kind = CNN_OPT_SGD, .lr = 0.001}},
    {"sgd_momentum", {.kind = CNN_OPT_SGD, .lr = 0.001, .momentum = 0.9}},
    {"sgd_nesterov", {.kind = CNN_OPT_SGD, .lr = 0.001, .momentum = 0.9, .nesterov = 1}},
    {"adam", {.kind = CNN_OPT_ADAM, .lr = 0.0001, .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-7}},
    {"rmsprop", {.kind = CNN_OPT_RMSPROP, .lr = 0.0001, .epsilon = 1e-7, .rho = 0.9}},
};
#endif

/* One engine: the generated model or the reference engine. */
typedef struct engine {
    const cnn_model *m;
    int generated;
    cnn_buffers b;
    cnn_ref *r;
} engine;

static int engine_open(engine *e, const cnn_model *m, int generated, int batch)
{
    memset(e, 0, sizeof *e);
    e->m = m;
    e->generated = generated;
    e->b.grads = calloc(m->n_params ? m->n_params : 1, sizeof(cnn_real));
    if (generated) {
        e->b.batch_cap = batch;
        e->b.acts = calloc((size_t)batch * m->act_floats + 1, sizeof(cnn_real));
        e->b.work = calloc(m->work_floats(batch) + 1, sizeof(cnn_real));
        return e->b.grads && e->b.acts && e->b.work ? 0 : -1;
    }
    char err[256];
    e->r = cnn_ref_create(m, batch, err, sizeof err);
    if (!e->r)
        fprintf(stderr, "parity_torch: %s\n", err);
    return e->b.grads && e->r ? 0 : -1;
}

static void engine_close(engine *e)
{
    free(e->b.grads);
    free(e->b.acts);
    free(e->b.work);
    cnn_ref_free(e->r);
}

/* forward + loss + backward (grads zeroed first); returns the loss. */
static double engine_step(engine *e, cnn_real *params, const cnn_real *x, const int *labels, cnn_real *logits,
                          cnn_real *dlogits, int n, uint64_t step)
{
    const cnn_model *m = e->m;
    memset(e->b.grads, 0, m->n_params * sizeof(cnn_real));
    double loss;
    if (e->generated) {
        e->b.params = params;
        m->forward(&e->b, x, logits, n, 1, PARITY_SEED, step);
        loss = m->loss(logits, labels, dlogits, n);
        m->backward(&e->b, x, dlogits, n);
    } else {
        cnn_ref_forward(e->r, params, x, logits, n, 1, PARITY_SEED, step);
        loss = cnn_ref_loss(m, logits, labels, dlogits, n);
        cnn_ref_backward(e->r, params, x, dlogits, e->b.grads, NULL, n);
    }
    return loss;
}

static void engine_eval(engine *e, cnn_real *params, const cnn_real *x, cnn_real *logits, int n)
{
    if (e->generated) {
        e->b.params = params;
        e->m->forward(&e->b, x, logits, n, 0, PARITY_SEED, 0);
    } else {
        cnn_ref_forward(e->r, params, x, logits, n, 0, PARITY_SEED, 0);
    }
}

/* Results of one engine under prefix ("" or "ref/"). */
static int dump_engine(pio_file *f, const char *prefix, engine *e, const cnn_real *init, const cnn_real *x,
                       const int *labels, int n, int steps)
{
    const cnn_model *m = e->m;
    size_t np = m->n_params;
    cnn_real *p = malloc(np * sizeof(cnn_real));
    cnn_real *logits = malloc((size_t)n * m->n_outputs * sizeof(cnn_real));
    cnn_real *dlogits = malloc((size_t)n * m->n_outputs * sizeof(cnn_real));
    cnn_real losses[64];
    char name[128];
    int rc = 0, shp[2] = {n, m->n_outputs}, one = 1;

    memcpy(p, init, np * sizeof(cnn_real));
    cnn_real loss = (cnn_real)engine_step(e, p, x, labels, logits, dlogits, n, 0);
    snprintf(name, sizeof name, "%strain/logits", prefix);
    rc |= pio_add(f, name, 2, shp, logits);
    snprintf(name, sizeof name, "%strain/dlogits", prefix);
    rc |= pio_add(f, name, 2, shp, dlogits);
    snprintf(name, sizeof name, "%strain/loss", prefix);
    rc |= pio_add(f, name, 1, &one, &loss);
    snprintf(name, sizeof name, "%sgrad/", prefix);
    rc |= pio_add_params(f, name, m, e->b.grads, 1);
    snprintf(name, sizeof name, "%strain/after/", prefix);
    rc |= pio_add_params(f, name, m, p, 0);

    memcpy(p, init, np * sizeof(cnn_real));
    engine_eval(e, p, x, logits, n);
    snprintf(name, sizeof name, "%seval/logits", prefix);
    rc |= pio_add(f, name, 2, shp, logits);

#ifdef PARITY_NO_OPTIM
    (void)losses;
    (void)steps;
#else
    for (size_t k = 0; k < sizeof optimizers / sizeof optimizers[0] && steps > 0; k++) {
        memcpy(p, init, np * sizeof(cnn_real));
        cnn_optim *o = cnn_optim_create(&optimizers[k].cfg, m->n_trainable);
        if (!o) {
            fprintf(stderr, "parity_torch: cnn_optim_create(%s) failed\n", optimizers[k].name);
            rc = -1;
            break;
        }
        for (int s = 0; s < steps; s++) {
            losses[s] = (cnn_real)engine_step(e, p, x, labels, logits, dlogits, n, (uint64_t)s);
            cnn_optim_step(o, p, e->b.grads);
        }
        cnn_optim_free(o);
        snprintf(name, sizeof name, "%sopt/%s/", prefix, optimizers[k].name);
        rc |= pio_add_params(f, name, m, p, 0);
        snprintf(name, sizeof name, "%sopt/%s/losses", prefix, optimizers[k].name);
        rc |= pio_add(f, name, 1, &steps, losses);
    }
#endif
    free(p);
    free(logits);
    free(dlogits);
    return rc;
}

int main(int argc, char **argv)
{
    const char *outdir = NULL;
    int batch = 4, steps = 10;
#ifdef PARITY_MODEL
    const cnn_model *m = &PARITY_MODEL;
    int first = 1;
#else
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.cnn OUTDIR [--batch N] [--steps K]\n", argv[0]);
        return 2;
    }
    static cnnc_ir ir;
    static cnn_model irm;
    if (cnnc_compile_file(argv[1], stderr, &ir))
        return 1;
    ir_model_from_ir(&ir, &irm);
    const cnn_model *m = &irm;
    int first = 2;
#endif
    if (argc <= first) {
        fprintf(stderr, "usage: %s %sOUTDIR [--batch N] [--steps K]\n", argv[0], first == 2 ? "MODEL.cnn " : "");
        return 2;
    }
    outdir = argv[first];
    for (int i = first + 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
    }
    if (batch < 1 || batch > 64 || steps < 0 || steps > 64) {
        fprintf(stderr, "parity_torch: --batch must be 1..64 and --steps 0..64\n");
        return 2;
    }

    size_t in_size = (size_t)m->in_h * m->in_w * m->in_c, np = m->n_params;
    cnn_real *init = malloc(np * sizeof(cnn_real));
    cnn_real *x = malloc((size_t)batch * in_size * sizeof(cnn_real));
    cnn_real *labels_r = malloc((size_t)batch * sizeof(cnn_real));
    int *labels = malloc((size_t)batch * sizeof(int));
    cnn_init_params(m, init, PARITY_SEED);
    /* Glorot kernels as they are; biases, gammas, betas and running
     * statistics moved off 0 and 1, where a missing term would hide. */
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        if (ti->init == CNN_INIT_GLOROT_UNIFORM)
            continue;
        int is_var = strstr(ti->name, "running_var") != NULL;
        for (size_t j = 0; j < ti->count; j++) {
            double u = cnn_rng_uniform(PARITY_SEED, 200, (uint64_t)t, j);
            if (is_var)
                init[ti->offset + j] = (cnn_real)(0.5 + u); /* stays positive */
            else
                init[ti->offset + j] += (cnn_real)(0.2 * (u - 0.5));
        }
    }
    for (size_t j = 0; j < (size_t)batch * in_size; j++)
        x[j] = (cnn_real)(2 * cnn_rng_uniform(PARITY_SEED, 201, 0, j) - 1); /* as after rescale 1/127.5 offset=-1 */
    /* Both sides start from float32 values, whatever cnn_real is. */
    for (size_t j = 0; j < np; j++)
        init[j] = (cnn_real)(float)init[j];
    for (size_t j = 0; j < (size_t)batch * in_size; j++)
        x[j] = (cnn_real)(float)x[j];
    for (int i = 0; i < batch; i++) {
        labels[i] = (int)(cnn_rng_u64(PARITY_SEED, 202, 0, (uint64_t)i) % (uint64_t)(m->n_outputs > 1 ? m->n_outputs : 2));
        labels_r[i] = (cnn_real)labels[i];
    }

    pio_file *f = pio_create();
    char seed_s[32], buf[64];
    snprintf(seed_s, sizeof seed_s, "%u", PARITY_SEED);
    pio_meta(f, "seed", seed_s);
    pio_meta(f, "model", m->name);
#ifdef PARITY_MODEL
    pio_meta(f, "engine", "generated");
#else
    pio_meta(f, "engine", "reference");
#endif
#ifdef PARITY_NO_OPTIM
    steps = 0; /* runtime/train/cnn_optim.h works on float only */
#endif
    snprintf(buf, sizeof buf, "%d", steps);
    pio_meta(f, "steps", buf);
    pio_meta(f, "precision", sizeof(cnn_real) == sizeof(double) ? "float64" : "float32");
    int rc = 0;
    int xs[4] = {batch, m->in_h, m->in_w, m->in_c};
    rc |= pio_add(f, "x", 4, xs, x);
    rc |= pio_add(f, "labels", 1, &batch, labels_r);
    rc |= pio_add_params(f, "init/", m, init, 0);

    engine e;
#ifdef PARITY_MODEL
    if (engine_open(&e, m, 1, batch))
        return 1;
    rc |= dump_engine(f, "", &e, init, x, labels, batch, steps);
    engine_close(&e);
    if (engine_open(&e, m, 0, batch))
        return 1;
    rc |= dump_engine(f, "ref/", &e, init, x, labels, batch, 0);
    engine_close(&e);
#else
    if (engine_open(&e, m, 0, batch))
        return 1;
    rc |= dump_engine(f, "", &e, init, x, labels, batch, steps);
    engine_close(&e);
#endif
    char path[4096];
    snprintf(path, sizeof path, "%s/c_results.safetensors", outdir);
    rc |= pio_write(f, path);
    pio_free(f);
    free(init);
    free(x);
    free(labels_r);
    free(labels);
    if (rc) {
        fprintf(stderr, "parity_torch: failed to write %s\n", path);
        return 1;
    }
    return 0;
}
