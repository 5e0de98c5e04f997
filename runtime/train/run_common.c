/* run_common.c: what the trainer's commands (train, evaluate, predict)
 * and `bench` share: messages, the batch buffers, thread and data options,
 * a pass without training (validation, evaluate), loading weights. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn_checkpoint.h"
#include "cnn_dist.h"
#include "cnn_finite.h"
#include "cnn_run.h"
#include "cnn_safetensors.h"

/* "NAME: KIND: message" on stderr, after what stdout holds so far. Under
 * mpirun, an error of a rank other than 0 goes through cnn_dist_error
 * (printed once when every rank reaches it alike). */
static void report(const cnn_model *m, const char *kind, const char *fmt, va_list ap)
{
    fflush(stdout);
    char prefix[160], msg[4096];
    snprintf(prefix, sizeof prefix, "%s: %s: ", m->name, kind);
    va_list copy;
    va_copy(copy, ap);
    const int len = vsnprintf(msg, sizeof msg, fmt, copy);
    va_end(copy);
    if (len >= 0 && (size_t)len < sizeof msg && !strcmp(kind, "error") && cnn_dist_error(prefix, msg))
        return;
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cnn_error(const cnn_model *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(m, "error", fmt, ap);
    va_end(ap);
}

void cnn_warning(const cnn_model *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(m, "warning", fmt, ap);
    va_end(ap);
}

void *cnn_alloc_floats(size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes); /* first touch now, never inside a step */
    return p;
}

int cnn_buffers_alloc(const cnn_model *m, int batch_cap, cnn_buffers *b)
{
    memset(b, 0, sizeof *b);
    b->batch_cap = batch_cap;
    b->params = cnn_alloc_floats(m->n_params);
    b->grads = cnn_alloc_floats(m->n_params);
    b->acts = cnn_alloc_floats((size_t)batch_cap * m->act_floats);
    b->work = cnn_alloc_floats(m->work_floats ? m->work_floats(batch_cap) : 0);
    if (!b->params || !b->grads || !b->acts || !b->work) {
        cnn_buffers_free(b);
        return -1;
    }
    return 0;
}

void cnn_buffers_free(cnn_buffers *b)
{
    free(b->params);
    free(b->grads);
    free(b->acts);
    free(b->work);
    memset(b, 0, sizeof *b);
}

void cnn_apply_threads(int threads)
{
    if (threads > 0)
        omp_set_num_threads(threads);
}

/* The data options of a run. */
void cnn_data_options_from(const cnn_run_options *o, cnn_data_options *d, FILE *log)
{
    cnn_data_options_init(d);
    d->path = o->cfg.data;
    d->validation = o->cfg.validation;
    d->validation_split = o->cfg.validation ? 0.0 : o->cfg.validation_split;
    d->seed = o->cfg.seed;
    d->strict = o->strict;
    d->memory_budget = o->memory_mb > 0 ? (size_t)(o->memory_mb * 1048576.0) : 0;
    d->cache_dir = o->cache_dir;
    d->threads = o->threads;
    d->exact_resize = o->exact_resize;
    d->log = log;
    d->share = cnn_dist_data_share(); /* under mpirun each process decodes its share of the files */
}

int cnn_check_default_data(const cnn_model *m, const cnn_run_options *o)
{
    const cnn_config *c = &o->cfg;
    struct stat st;
    if (!c->data || c->data != m->defaults.data || stat(c->data, &st) == 0)
        return 0;
    cnn_error(m, "%s: %s; this path comes from the train block of %s (data \"%s\", relative to the folder "
                 "the trainer runs in): give --data DIR to use another", c->data, strerror(errno),
              m->source ? m->source : "the model", c->data);
    return 1;
}

/* Runs the model in inference mode over every batch of the loader and
 * accumulates metrics; a batch whose loss is not finite makes the mean loss
 * NaN or infinite (cnn_metrics_add), which the caller checks. */
void cnn_eval_pass(const cnn_model *m, cnn_buffers *b, cnn_loader *l, float *logits,
                      cnn_metrics *mt, uint64_t seed, uint64_t step)
{
    const float *x;
    const int *labels;
    cnn_metrics_reset(mt);
    cnn_loader_begin(l, 0, 0);
    int n;
    while ((n = cnn_loader_next(l, &x, &labels, NULL)) > 0) {
        m->forward(b, x, logits, n, 0, seed, step);
        double loss = m->loss(logits, labels, NULL, n);
        cnn_metrics_add(mt, logits, labels, n, loss);
    }
}

/* Opens a weights file (OUT/model.safetensors unless --weights) into params;
 * *classes gets its class names ('\n'-joined, malloc'ed, NULL if none). */
int cnn_load_weights(const cnn_model *m, const cnn_run_options *o, float *params, char **classes)
{
    char path[CNN_MAX_PATH + 64], err[1024];
    if (o->weights)
        snprintf(path, sizeof path, "%s", o->weights);
    else
        cnn_run_path(path, sizeof path, o->out, "model.safetensors");
    cnn_st_file f;
    if (cnn_st_read(path, &f, err, sizeof err)) {
        if (!o->weights && errno == ENOENT)
            cnn_error(m, "%s; train first (`%s train`), or give --weights FILE", err, m->name);
        else
            cnn_error(m, "%s", err);
        return -1;
    }
    const char *name = cnn_st_meta(&f, "model"), *arch = cnn_st_meta(&f, "arch_hash");
    char my_arch[17];
    cnn_model_arch_hash(m, my_arch);
    if (name && arch && (strcmp(name, m->name) != 0 || strcmp(arch, my_arch) != 0)) {
        cnn_error(m, "%s holds the weights of another model ('%s', architecture %s), not of '%s' (architecture %s)",
                  path, name, arch, m->name, my_arch);
        cnn_st_close(&f);
        return -1;
    }
    if (cnn_weights_get(m, &f, params, err, sizeof err)) {
        cnn_error(m, "%s: %s", path, err);
        cnn_st_close(&f);
        return -1;
    }
    int bad = cnn_nonfinite_tensor(m, params);
    if (bad >= 0) {
        cnn_error(m, "%s holds weights that are not finite (%s has NaN or infinite values): the run that saved "
                     "them diverged; use an earlier checkpoint, or train again with a lower --lr",
                  path, m->tensors[bad].name);
        cnn_st_close(&f);
        return -1;
    }
    if (!f.has_crc)
        cnn_warning(m, "%s has no crc32 entry (as PyTorch writes safetensors files): nothing checks that it is "
                       "intact", path);
    const char *cl = cnn_st_meta(&f, "classes");
    *classes = cl && *cl ? strdup(cl) : NULL;
    cnn_st_close(&f);
    return 0;
}

/* Splits a '\n'-joined list in place into at most max names. */
int cnn_split_classes(char *s, const char **names, int max)
{
    int n = 0;
    while (s && *s && n < max) {
        names[n++] = s;
        char *nl = strchr(s, '\n');
        if (!nl)
            break;
        *nl = 0;
        s = nl + 1;
    }
    return n;
}
