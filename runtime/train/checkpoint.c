/* checkpoint.c: the resumable state of a training run (see cnn_checkpoint.h). */
#define _POSIX_C_SOURCE 200809L
#include "cnn_checkpoint.h"
#include "cnn_util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_finite.h"
#include "cnn_safetensors.h"

static uint64_t fnv_int(uint64_t h, long long v) { return cnn_fnv1a64(h, &v, sizeof v); }
static uint64_t fnv_str(uint64_t h, const char *s) { return cnn_fnv1a64(h, s ? s : "", s ? strlen(s) + 1 : 1); }

void cnn_model_arch_hash(const cnn_model *m, char out[17])
{
    uint64_t h = CNN_FNV1A64_OFFSET;
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
    free(s->settings);
    free(s->lr_changes);
    free(s->schedule);
    s->history = s->settings = s->lr_changes = s->schedule = NULL;
}

int cnn_checkpoint_nonfinite(const cnn_model *m, const float *params, const cnn_optim *o, char *what,
                             size_t n)
{
    int t = cnn_nonfinite_tensor(m, params);
    if (t >= 0) {
        snprintf(what, n, "%s", m->tensors[t].name);
        return 1;
    }
    for (int i = 0; i < cnn_optim_n_slots(o); i++)
        if (cnn_first_nonfinite(cnn_optim_slot_const(o, i), cnn_optim_size(o)) < cnn_optim_size(o)) {
            snprintf(what, n, "optimizer.%s", cnn_optim_slot_name(o, i));
            return 1;
        }
    return 0;
}

int cnn_checkpoint_save(const char *path, const cnn_model *m, const float *params,
                        const cnn_optim *o, const cnn_train_state *s, const char *settings,
                        uint64_t train_hash, uint64_t val_hash, const char *classes,
                        char *err, size_t errlen)
{
    /* A checkpoint is the last good state of a run: one that is not
     * finite would replace it (and its .prev) with a poisoned one. */
    char bad[96];
    if (cnn_checkpoint_nonfinite(m, params, o, bad, sizeof bad)) {
        cnn_set_err(err, errlen, "refusing to write %s: %s holds values that are not finite (NaN or infinite)", path,
                bad);
        return -1;
    }
    int ns = cnn_optim_n_slots(o);
    int n = m->n_tensors + ns;
    cnn_st_entry *e = calloc((size_t)n, sizeof *e);
    char (*slot_names)[48] = calloc((size_t)(ns ? ns : 1), sizeof *slot_names);
    if (!e || !slot_names) {
        free(e);
        free(slot_names);
        cnn_set_err(err, errlen, "out of memory writing %s", path);
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
        "lr_changes", s->lr_changes ? s->lr_changes : "",
        "classes", classes ? classes : "",
        /* written only with a learning-rate schedule that has state */
        s->schedule && *s->schedule ? "schedule" : NULL, s->schedule,
        NULL};
    int r = cnn_st_write(path, e, n, meta, 1, err, errlen);
    free(e);
    free(slot_names);
    return r;
}

/* The line of text whose key (the text before '=') is key[0, lk), with its
 * length in *len; NULL when there is none. */
static const char *find_key(const char *text, const char *key, size_t lk, size_t *len)
{
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, "\n");
        if (l > lk && p[lk] == '=' && !memcmp(p, key, lk)) {
            *len = l;
            return p;
        }
        p += l + (p[l] == '\n');
    }
    return NULL;
}

/* The first setting that differs between two "key=value" line lists,
 * matched by key, so that a setting one of them lacks is named as such
 * (not as a change of whatever line sits at its place). A line starting
 * with `skip` (when not NULL) may differ. */
static void first_difference(const char *was, const char *now, const char *skip, char *out, size_t n)
{
    size_t ls = skip ? strlen(skip) : 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *a = pass ? was : now, *b = pass ? now : was;
        for (const char *p = a; *p;) {
            size_t l = strcspn(p, "\n"), lk = strcspn(p, "=\n"), lq = 0;
            const char *q = skip && l >= ls && !memcmp(p, skip, ls) ? p : find_key(b, p, lk, &lq);
            if (!q) {
                if (pass == 0)
                    snprintf(out, n, "this run has %.*s, which the checkpoint lacks", (int)l, p);
                else
                    snprintf(out, n, "it was written with %.*s, which this run lacks", (int)l, p);
                return;
            }
            if (q != p && (lq != l || memcmp(p, q, l) != 0)) {
                snprintf(out, n, "it was written with %.*s, this run has %.*s", (int)lq, q, (int)l, p);
                return;
            }
            p += l + (p[l] == '\n');
        }
    }
    snprintf(out, n, "they are the same");
}

static int get_u64(const cnn_st_file *f, const char *key, uint64_t *v)
{
    const char *s = cnn_st_meta(f, key);
    if (!s || !*s)
        return -1;
    if (*s < '0' || *s > '9')
        return -1; /* strtoull would take "-1" as 2^64-1 */
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return *end || errno ? -1 : 0;
}

/* Settings equal line by line, except a line starting with `skip` (when
 * not NULL), which may differ. */
static int settings_equal(const char *a, const char *b, const char *skip)
{
    size_t ls = skip ? strlen(skip) : 0;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        int skipped = skip && la >= ls && lb >= ls && !memcmp(a, skip, ls) && !memcmp(b, skip, ls);
        if (!skipped && (la != lb || memcmp(a, b, la) != 0))
            return 0;
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    return 1;
}

int cnn_checkpoint_load(const char *path, const cnn_model *m, float *params, cnn_optim *o,
                        cnn_train_state *s, const char *settings, int lr_may_change, uint64_t train_hash,
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
        cnn_set_err(err, errlen, "%s is not a cnnc training checkpoint (format %s, expected %s)", path,
                fmt ? fmt : "unknown", CNN_CHECKPOINT_FORMAT);
        goto out;
    }
    if (!f.has_crc) {
        *corrupt = 1;
        cnn_set_err(err, errlen, "%s is corrupt: its crc32 entry is missing", path);
        goto out;
    }
    if (!name || strcmp(name, m->name) != 0 || !arch || strcmp(arch, my_arch) != 0) {
        const char *src = cnn_st_meta(&f, "source");
        cnn_set_err(err, errlen,
                "%s is a checkpoint of another model: '%s'%s%s%s (architecture %s), not '%s' from %s "
                "(architecture %s); train with another --out, or without --resume",
                path, name ? name : "?", src && *src ? " from " : "", src && *src ? src : "", "",
                arch ? arch : "?", m->name, m->source ? m->source : "?", my_arch);
        goto out;
    }
    const char *was = cnn_st_meta(&f, "settings");
    if (settings && (!was || !settings_equal(was, settings, lr_may_change ? "lr=" : NULL))) {
        char diff[512];
        first_difference(was ? was : "", settings, lr_may_change ? "lr=" : NULL, diff, sizeof diff);
        cnn_set_err(err, errlen,
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
        cnn_set_err(err, errlen,
                "%s was written for other data: the %s file list differs (hash %s, now %s); resume "
                "with the same data, or train with another --out",
                path, !was_th || strcmp(was_th, th) ? "training" : "validation",
                !was_th || strcmp(was_th, th) ? (was_th ? was_th : "?") : (was_vh ? was_vh : "?"),
                !was_th || strcmp(was_th, th) ? th : vh);
        goto out;
    }
    uint64_t epoch, step, seed, iters, be, wait;
    static const char *const keys[] = {"epoch", "step", "seed", "optimizer_iterations", "best_epoch", "wait"};
    uint64_t *vals[] = {&epoch, &step, &seed, &iters, &be, &wait};
    for (int i = 0; i < 6; i++)
        if (get_u64(&f, keys[i], vals[i])) {
            const char *v = cnn_st_meta(&f, keys[i]);
            cnn_set_err(err, errlen, "%s is corrupt: its training state field %s is %s%s%s, not a whole number from 0 "
                                 "to 2^64-1", path, keys[i], v ? "'" : "", v ? v : "missing", v ? "'" : "");
            *corrupt = 1;
            goto out;
        }
    if (!cnn_st_meta(&f, "best_value")) {
        cnn_set_err(err, errlen, "%s is corrupt: its training state field best_value is missing", path);
        *corrupt = 1;
        goto out;
    }
    /* Ranges: a valid CRC proves the file is what was written, not that
     * what was written (or edited and re-summed) makes sense. The checks
     * that need the run (steps per epoch, history rows) are
     * cnn_train_state_check's. */
    const char *bv = cnn_st_meta(&f, "best_value");
    char *bend;
    double best_value = strtod(bv, &bend);
    const char *range = NULL;
    if (epoch > CNN_MAX_EPOCHS)
        range = "epoch";
    else if (be > epoch)
        range = "best_epoch";
    else if (wait != epoch - be)
        range = "wait";
    else if (*bend || bend == bv || isnan(best_value) || (be > 0) != (isfinite(best_value) != 0))
        range = "best_value";
    else if (iters != step)
        range = "optimizer_iterations";
    if (range) {
        cnn_set_err(err, errlen, "%s is corrupt: its training state is out of range (%s=%s with epoch=%" PRIu64
                             ", best_epoch=%" PRIu64 ", step=%" PRIu64 ")",
                path, range, cnn_st_meta(&f, range), epoch, be, step);
        *corrupt = 1;
        goto out;
    }
    if (cnn_weights_get(m, &f, params, err, errlen)) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err);
        cnn_set_err(err, errlen, "%s: %s", path, tmp);
        goto out;
    }
    for (int i = 0; i < cnn_optim_n_slots(o); i++) {
        char key[64];
        snprintf(key, sizeof key, "optimizer.%s", cnn_optim_slot_name(o, i));
        int64_t shape[1] = {(int64_t)cnn_optim_size(o)};
        if (cnn_st_get(&f, key, 1, shape, CNN_LAYOUT_PLAIN, cnn_optim_slot(o, i), err, errlen)) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", err);
            cnn_set_err(err, errlen, "%s: optimizer state: %s", path, tmp);
            goto out;
        }
    }
    char bad[96];
    if (cnn_checkpoint_nonfinite(m, params, o, bad, sizeof bad)) {
        /* Older trainers could save a diverged run; this one never does. */
        cnn_set_err(err, errlen, "%s holds values that are not finite (%s): it was saved after the run diverged",
                path, bad);
        *corrupt = 1;
        goto out;
    }
    cnn_optim_set_iterations(o, iters);
    s->epoch = (int)epoch;
    s->step = step;
    s->seed = seed;
    s->best_value = best_value;
    s->best_epoch = (int)be;
    s->wait = (int)wait;
    const char *hist = cnn_st_meta(&f, "history");
    s->history = hist ? strdup(hist) : NULL;
    s->settings = was ? strdup(was) : NULL;
    const char *lc = cnn_st_meta(&f, "lr_changes");
    s->lr_changes = lc && *lc ? strdup(lc) : NULL;
    const char *sc = cnn_st_meta(&f, "schedule");
    s->schedule = sc && *sc ? strdup(sc) : NULL;
    r = 0;
out:
    cnn_st_close(&f);
    return r;
}
