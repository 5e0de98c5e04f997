/* checkpoint.c: the resumable state of a training run (see cnn_checkpoint.h). */
#define _POSIX_C_SOURCE 200809L
#include "cnn_checkpoint.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_safetensors.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv_int(uint64_t h, long long v) { return fnv(h, &v, sizeof v); }
static uint64_t fnv_str(uint64_t h, const char *s) { return fnv(h, s ? s : "", s ? strlen(s) + 1 : 1); }

void cnn_model_arch_hash(const cnn_model *m, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv_str(h, m->name);
    h = fnv_int(h, m->in_h);
    h = fnv_int(h, m->in_w);
    h = fnv_int(h, m->in_c);
    h = fnv_int(h, m->n_outputs);
    h = fnv_int(h, m->final_act);
    h = fnv_int(h, (long long)m->n_params);
    h = fnv_int(h, (long long)m->n_trainable);
    for (int i = 0; i < m->n_layers; i++) {
        const cnn_layer *l = &m->layers[i];
        h = fnv_int(h, l->kind);
        h = fnv_int(h, l->act);
        h = fnv_int(h, l->out.h);
        h = fnv_int(h, l->out.w);
        h = fnv_int(h, l->out.c);
        h = fnv_int(h, l->kh * 1000 + l->kw);
        h = fnv_int(h, l->sh * 1000 + l->sw);
    }
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        h = fnv_str(h, ti->name);
        for (int k = 0; k < ti->rank; k++)
            h = fnv_int(h, ti->shape[k]);
        h = fnv_int(h, (long long)ti->offset);
        h = fnv_int(h, ti->layout);
    }
    snprintf(out, 17, "%016" PRIx64, h);
}

void cnn_train_state_free(cnn_train_state *s)
{
    free(s->history);
    s->history = NULL;
}

int cnn_checkpoint_save(const char *path, const cnn_model *m, const float *params,
                        const cnn_optim *o, const cnn_train_state *s, const char *settings,
                        uint64_t train_hash, uint64_t val_hash, const char *classes,
                        char *err, size_t errlen)
{
    int ns = cnn_optim_n_slots(o);
    int n = m->n_tensors + ns;
    cnn_st_entry *e = calloc((size_t)n, sizeof *e);
    char (*slot_names)[48] = calloc((size_t)(ns ? ns : 1), sizeof *slot_names);
    if (!e || !slot_names) {
        free(e);
        free(slot_names);
        set_err(err, errlen, "out of memory writing %s", path);
        return -1;
    }
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        e[t].name = ti->name;
        e[t].rank = ti->rank;
        for (int k = 0; k < ti->rank; k++)
            e[t].shape[k] = ti->shape[k];
        e[t].data = params + ti->offset;
        e[t].layout = ti->layout;
    }
    for (int i = 0; i < ns; i++) {
        cnn_st_entry *x = &e[m->n_tensors + i];
        snprintf(slot_names[i], sizeof slot_names[i], "optimizer.%s", cnn_optim_slot_name(o, i));
        x->name = slot_names[i];
        x->rank = 1;
        x->shape[0] = (int64_t)cnn_optim_size(o);
        x->data = cnn_optim_slot_const(o, i);
        x->layout = CNN_LAYOUT_PLAIN;
    }
    char arch[17], epoch[24], step[24], seed[24], iters[24], best[40], best_epoch[24], wait[24],
        th[24], vh[24];
    cnn_model_arch_hash(m, arch);
    snprintf(epoch, sizeof epoch, "%d", s->epoch);
    snprintf(step, sizeof step, "%" PRIu64, s->step);
    snprintf(seed, sizeof seed, "%" PRIu64, s->seed);
    snprintf(iters, sizeof iters, "%" PRIu64, cnn_optim_iterations(o));
    snprintf(best, sizeof best, "%.17g", s->best_value);
    snprintf(best_epoch, sizeof best_epoch, "%d", s->best_epoch);
    snprintf(wait, sizeof wait, "%d", s->wait);
    snprintf(th, sizeof th, "%016" PRIx64, train_hash);
    snprintf(vh, sizeof vh, "%016" PRIx64, val_hash);
    const char *meta[] = {
        "format", CNN_CHECKPOINT_FORMAT,
        "model", m->name,
        "source", m->source ? m->source : "",
        "source_hash", m->source_hash ? m->source_hash : "",
        "arch_hash", arch,
        "settings", settings ? settings : "",
        "train_data_hash", th,
        "val_data_hash", vh,
        "seed", seed,
        "epoch", epoch,
        "step", step,
        "optimizer_iterations", iters,
        "best_value", best,
        "best_epoch", best_epoch,
        "wait", wait,
        "history", s->history ? s->history : "",
        "classes", classes ? classes : "",
        NULL};
    int r = cnn_st_write(path, e, n, meta, 1, err, errlen);
    free(e);
    free(slot_names);
    return r;
}

/* The first line that differs between two "key=value" line lists. */
static void first_difference(const char *was, const char *now, char *out, size_t n)
{
    const char *a = was, *b = now;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0) {
            snprintf(out, n, "it was written with %.*s, this run has %.*s", (int)la,
                     la ? a : "(nothing)", (int)lb, lb ? b : "(nothing)");
            if (!la)
                snprintf(out, n, "this run has %.*s, which the checkpoint lacks", (int)lb, b);
            if (!lb)
                snprintf(out, n, "it was written with %.*s, which this run lacks", (int)la, a);
            return;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    snprintf(out, n, "they are the same");
}

static int get_u64(const cnn_st_file *f, const char *key, uint64_t *v)
{
    const char *s = cnn_st_meta(f, key);
    if (!s || !*s)
        return -1;
    char *end;
    *v = strtoull(s, &end, 10);
    return *end ? -1 : 0;
}

int cnn_checkpoint_load(const char *path, const cnn_model *m, float *params, cnn_optim *o,
                        cnn_train_state *s, const char *settings, uint64_t train_hash,
                        uint64_t val_hash, int *corrupt, char *err, size_t errlen)
{
    cnn_st_file f;
    *corrupt = 0;
    memset(s, 0, sizeof *s);
    if (cnn_st_read(path, &f, err, errlen)) {
        *corrupt = 1;
        return -1;
    }
    int r = -1;
    const char *fmt = cnn_st_meta(&f, "format");
    const char *name = cnn_st_meta(&f, "model");
    const char *arch = cnn_st_meta(&f, "arch_hash");
    char my_arch[17];
    cnn_model_arch_hash(m, my_arch);
    if (!fmt || strcmp(fmt, CNN_CHECKPOINT_FORMAT) != 0) {
        set_err(err, errlen, "%s is not a cnnc training checkpoint (format %s, expected %s)", path,
                fmt ? fmt : "unknown", CNN_CHECKPOINT_FORMAT);
        goto out;
    }
    if (!f.has_crc) {
        *corrupt = 1;
        set_err(err, errlen, "%s is corrupt: its crc32 entry is missing", path);
        goto out;
    }
    if (!name || strcmp(name, m->name) != 0 || !arch || strcmp(arch, my_arch) != 0) {
        const char *src = cnn_st_meta(&f, "source");
        set_err(err, errlen,
                "%s is a checkpoint of another model: '%s'%s%s%s (architecture %s), not '%s' from %s "
                "(architecture %s); train with another --out, or without --resume",
                path, name ? name : "?", src && *src ? " from " : "", src && *src ? src : "", "",
                arch ? arch : "?", m->name, m->source ? m->source : "?", my_arch);
        goto out;
    }
    const char *was = cnn_st_meta(&f, "settings");
    if (settings && (!was || strcmp(was, settings) != 0)) {
        char diff[512];
        first_difference(was ? was : "", settings, diff, sizeof diff);
        set_err(err, errlen,
                "%s was written with other settings: %s; resume with the same settings, or train "
                "with another --out",
                path, diff);
        goto out;
    }
    char th[24], vh[24];
    snprintf(th, sizeof th, "%016" PRIx64, train_hash);
    snprintf(vh, sizeof vh, "%016" PRIx64, val_hash);
    const char *was_th = cnn_st_meta(&f, "train_data_hash"), *was_vh = cnn_st_meta(&f, "val_data_hash");
    if (!was_th || strcmp(was_th, th) != 0 || !was_vh || strcmp(was_vh, vh) != 0) {
        set_err(err, errlen,
                "%s was written for other data: the %s file list differs (hash %s, now %s); resume "
                "with the same data, or train with another --out",
                path, !was_th || strcmp(was_th, th) ? "training" : "validation",
                !was_th || strcmp(was_th, th) ? (was_th ? was_th : "?") : (was_vh ? was_vh : "?"),
                !was_th || strcmp(was_th, th) ? th : vh);
        goto out;
    }
    uint64_t epoch, step, seed, iters, be, wait;
    if (get_u64(&f, "epoch", &epoch) || get_u64(&f, "step", &step) || get_u64(&f, "seed", &seed) ||
        get_u64(&f, "optimizer_iterations", &iters) || get_u64(&f, "best_epoch", &be) ||
        get_u64(&f, "wait", &wait) || !cnn_st_meta(&f, "best_value")) {
        set_err(err, errlen, "%s is corrupt: its training state (epoch, step, seed) is incomplete", path);
        goto out;
    }
    if (cnn_weights_get(m, &f, params, err, errlen)) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err);
        set_err(err, errlen, "%s: %s", path, tmp);
        goto out;
    }
    for (int i = 0; i < cnn_optim_n_slots(o); i++) {
        char key[64];
        snprintf(key, sizeof key, "optimizer.%s", cnn_optim_slot_name(o, i));
        int64_t shape[1] = {(int64_t)cnn_optim_size(o)};
        if (cnn_st_get(&f, key, 1, shape, CNN_LAYOUT_PLAIN, cnn_optim_slot(o, i), err, errlen)) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", err);
            set_err(err, errlen, "%s: optimizer state: %s", path, tmp);
            goto out;
        }
    }
    cnn_optim_set_iterations(o, iters);
    s->epoch = (int)epoch;
    s->step = step;
    s->seed = seed;
    s->best_value = strtod(cnn_st_meta(&f, "best_value"), NULL);
    s->best_epoch = (int)be;
    s->wait = (int)wait;
    const char *hist = cnn_st_meta(&f, "history");
    s->history = hist ? strdup(hist) : NULL;
    r = 0;
out:
    cnn_st_close(&f);
    return r;
}
