/* schedule.c: learning-rate schedules (see cnn_schedule.h). */
#include "cnn_schedule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_words.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

int cnn_schedule_maximizes(cnn_monitor m)
{
    return m == CNN_MON_VAL_ACCURACY || m == CNN_MON_ACCURACY;
}

cnn_schedule_cfg cnn_schedule_defaults(cnn_schedule_kind kind)
{
    cnn_schedule_cfg c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.every = 1;
    c.factor = 0.1;
    c.monitor = CNN_MON_VAL_LOSS;
    c.patience = 10;
    c.min_delta = 1e-4;
    return c;
}

void cnn_schedule_init(cnn_schedule *s, const cnn_schedule_cfg *cfg, double lr, int epochs)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->base_lr = lr;
    s->lr = lr;
    s->decay_epochs = cfg->decay_epochs > 0 ? cfg->decay_epochs : epochs - cfg->warmup;
    if (s->decay_epochs < 1)
        s->decay_epochs = 1;
    s->best = cnn_schedule_maximizes(cfg->monitor) ? -INFINITY : INFINITY;
}

void cnn_schedule_set_base(cnn_schedule *s, double lr)
{
    s->base_lr = lr;
    s->lr = lr;
}

double cnn_schedule_lr(const cnn_schedule *s, int e)
{
    const cnn_schedule_cfg *c = &s->cfg;
    switch (c->kind) {
    case CNN_SCHED_NONE:
        return s->base_lr;
    case CNN_SCHED_STEP:
        return s->base_lr * pow(c->factor, (double)(e / (c->every > 0 ? c->every : 1)));
    case CNN_SCHED_COSINE: {
        if (e < c->warmup)
            return s->base_lr * (double)(e + 1) / (double)c->warmup;
        int t = e - c->warmup, T = s->decay_epochs;
        if (t > T)
            t = T;
        double cosine = 0.5 * (1.0 + cos(M_PI * (double)t / (double)T));
        return s->base_lr * (c->alpha + (1.0 - c->alpha) * cosine);
    }
    case CNN_SCHED_PLATEAU:
        return s->lr;
    }
    return s->base_lr;
}

int cnn_schedule_epoch_end(cnn_schedule *s, double v)
{
    const cnn_schedule_cfg *c = &s->cfg;
    if (c->kind != CNN_SCHED_PLATEAU || isnan(v))
        return 0;
    if (s->cooldown_left > 0) {
        s->cooldown_left--;
        s->wait = 0;
    }
    int better = cnn_schedule_maximizes(c->monitor) ? v > s->best + c->min_delta : v < s->best - c->min_delta;
    if (better) {
        s->best = v;
        s->wait = 0;
        return 0;
    }
    if (s->cooldown_left > 0)
        return 0;
    if (++s->wait < c->patience)
        return 0;
    if (!(s->lr > c->min_lr))
        return 0;
    double lr = s->lr * c->factor;
    s->lr = lr > c->min_lr ? lr : c->min_lr;
    s->cooldown_left = c->cooldown;
    s->wait = 0;
    return 1;
}

void cnn_schedule_settings(const cnn_schedule_cfg *c, char *buf, size_t n)
{
    switch (c->kind) {
    case CNN_SCHED_NONE:
        snprintf(buf, n, "%s", "");
        break;
    case CNN_SCHED_STEP:
        snprintf(buf, n, "schedule=step every=%d factor=%.17g", c->every, c->factor);
        break;
    case CNN_SCHED_COSINE:
        snprintf(buf, n, "schedule=cosine epochs=%d warmup=%d alpha=%.17g", c->decay_epochs, c->warmup, c->alpha);
        break;
    case CNN_SCHED_PLATEAU:
        snprintf(buf, n, "schedule=plateau monitor=%s factor=%.17g patience=%d min_delta=%.17g cooldown=%d "
                         "min_lr=%.17g", cnn_word(cnn_monitor_words, c->monitor), c->factor, c->patience, c->min_delta,
                 c->cooldown, c->min_lr);
        break;
    }
}

void cnn_schedule_describe(const cnn_schedule_cfg *c, char *buf, size_t n)
{
    switch (c->kind) {
    case CNN_SCHED_NONE:
        snprintf(buf, n, "%s", "");
        break;
    case CNN_SCHED_STEP:
        snprintf(buf, n, "step decay: x%g every %d epoch%s", c->factor, c->every, c->every == 1 ? "" : "s");
        break;
    case CNN_SCHED_COSINE:
        if (c->decay_epochs > 0)
            snprintf(buf, n, "cosine decay over %d epoch%s to %g x lr", c->decay_epochs,
                     c->decay_epochs == 1 ? "" : "s", c->alpha);
        else
            snprintf(buf, n, "cosine decay over the run to %g x lr", c->alpha);
        if (c->warmup > 0)
            snprintf(buf + strlen(buf), n - strlen(buf), ", after %d warm-up epoch%s", c->warmup,
                     c->warmup == 1 ? "" : "s");
        break;
    case CNN_SCHED_PLATEAU:
        snprintf(buf, n, "reduce on plateau: x%g when %s has not improved by %g for %d epoch%s (cooldown %d, "
                         "min_lr %g)", c->factor, cnn_word(cnn_monitor_words, c->monitor), c->min_delta, c->patience,
                 c->patience == 1 ? "" : "s", c->cooldown, c->min_lr);
        break;
    }
}

const char *cnn_schedule_check(const cnn_schedule_cfg *c)
{
    switch (c->kind) {
    case CNN_SCHED_NONE:
        return NULL;
    case CNN_SCHED_STEP:
        if (c->every < 1 || c->every > 1000000)
            return "step_decay every must be from 1 to 1000000 epochs";
        if (!(c->factor > 0 && c->factor <= 1))
            return "step_decay factor must be in (0, 1]";
        return NULL;
    case CNN_SCHED_COSINE:
        if (c->decay_epochs < 0 || c->decay_epochs > 1000000)
            return "cosine_decay epochs must be from 1 to 1000000";
        if (c->warmup < 0 || c->warmup > 1000000)
            return "cosine_decay warmup must be from 0 to 1000000 epochs";
        if (!(c->alpha >= 0 && c->alpha <= 1))
            return "cosine_decay alpha must be in [0, 1]";
        return NULL;
    case CNN_SCHED_PLATEAU:
        if (!(c->factor > 0 && c->factor < 1))
            return "reduce_lr_on_plateau factor must be in (0, 1) (Keras refuses 1 and above)";
        if (c->patience < 0 || c->patience > 1000000)
            return "reduce_lr_on_plateau patience must be from 0 to 1000000 epochs";
        if (c->cooldown < 0 || c->cooldown > 1000000)
            return "reduce_lr_on_plateau cooldown must be from 0 to 1000000 epochs";
        if (!(c->min_delta >= 0 && c->min_delta <= 1e6))
            return "reduce_lr_on_plateau min_delta must be in [0, 1e6]";
        if (!(c->min_lr >= 0 && c->min_lr <= 10))
            return "reduce_lr_on_plateau min_lr must be in [0, 10]";
        return NULL;
    }
    return "unknown learning-rate schedule";
}

void cnn_schedule_state(const cnn_schedule *s, char *buf, size_t n)
{
    if (s->cfg.kind == CNN_SCHED_PLATEAU)
        snprintf(buf, n, "lr=%.17g best=%.17g wait=%d cooldown=%d", s->lr, s->best, s->wait, s->cooldown_left);
    else if (s->cfg.kind == CNN_SCHED_COSINE)
        snprintf(buf, n, "decay_epochs=%d", s->decay_epochs);
    else
        snprintf(buf, n, "%s", "");
}

/* "KEY=" at the start of a word of text: the number after it. */
static int field(const char *text, const char *key, double *v)
{
    size_t k = strlen(key);
    for (const char *p = text; (p = strstr(p, key)) != NULL; p += k) {
        if ((p == text || p[-1] == ' ') && p[k] == '=') {
            char *end;
            *v = strtod(p + k + 1, &end);
            return end != p + k + 1 && (*end == 0 || *end == ' ') ? 0 : -1;
        }
    }
    return -1;
}

static int whole(double v, double lo, double hi)
{
    return v == floor(v) && v >= lo && v <= hi;
}

int cnn_schedule_restore(cnn_schedule *s, const char *text, char *err, size_t errlen)
{
    double v;
    if (s->cfg.kind == CNN_SCHED_COSINE) {
        if (!text || field(text, "decay_epochs", &v) || !whole(v, 1, 1000000)) {
            snprintf(err, errlen, "the schedule state is out of range (decay_epochs)");
            return -1;
        }
        s->decay_epochs = (int)v;
        return 0;
    }
    if (s->cfg.kind != CNN_SCHED_PLATEAU)
        return 0;
    cnn_schedule r = *s;
    if (!text || field(text, "lr", &r.lr) || !(r.lr > 0 && r.lr <= 10) || r.lr < s->cfg.min_lr) {
        snprintf(err, errlen, "the schedule state is out of range (lr: a rate in (0, 10], at least min_lr)");
        return -1;
    }
    int maximize = cnn_schedule_maximizes(s->cfg.monitor);
    if (field(text, "best", &r.best) || isnan(r.best) ||
        (isinf(r.best) && r.best != (maximize ? -INFINITY : INFINITY))) {
        snprintf(err, errlen, "the schedule state is out of range (best: a number, or %s before the first epoch)",
                 maximize ? "-inf" : "inf");
        return -1;
    }
    /* wait passes patience only once the rate is at min_lr (Keras then stops reducing) */
    if (field(text, "wait", &v) || !whole(v, 0, 1000000) ||
        (v >= s->cfg.patience && v > 0 && r.lr > s->cfg.min_lr)) {
        snprintf(err, errlen, "the schedule state is out of range (wait: below patience while lr is above min_lr)");
        return -1;
    }
    r.wait = (int)v;
    if (field(text, "cooldown", &v) || !whole(v, 0, s->cfg.cooldown)) {
        snprintf(err, errlen, "the schedule state is out of range (cooldown: 0 to the cooldown setting)");
        return -1;
    }
    r.cooldown_left = (int)v;
    *s = r;
    return 0;
}
