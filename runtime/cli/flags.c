/* flags.c: the trainer's command line after the command word: flags that
 * override every setting of the model's train block (a Keras user's
 * model.fit arguments), their values checked, into cnn_run_options. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_checkpoint.h" /* CNN_MAX_EPOCHS */
#include "cnn_flags.h"
#include "cnn_names.h"
#include "cnn_optim.h"
#include "cnn_schedule.h"
#include "cnn_words.h"

/* An option of another optimizer (--momentum with adam) is refused, as the
 * train block refuses `optimizer adam momentum=0.9`: silently ignoring it
 * would train something else than what was asked. opt_set is indexed as
 * in cnn_trainer_main: lr, beta1, beta2, epsilon, momentum, rho, nesterov. */
static int refuse_foreign_options(const cnn_model *m, cnn_optimizer_kind k, const int *opt_set)
{
    static const char *const names[7] = {"lr", "beta1", "beta2", "epsilon", "momentum", "rho", "nesterov"};
    static const char *const takes[4] = {"--lr, --beta1, --beta2 and --epsilon", "--lr, --momentum and --nesterov",
                                         "--lr, --rho and --epsilon", "--lr, --beta1, --beta2 and --epsilon"};
    /* which optimizers take each option: bit per cnn_optimizer_kind
     * (adam 1, sgd 2, rmsprop 4, adamw 8) */
    static const unsigned owner[7] = {15, 1 | 8, 1 | 8, 1 | 4 | 8, 2, 4, 2};
    for (int i = 1; i < 7; i++)
        if (opt_set[i] && !(owner[i] & (1u << k))) {
            cnn_error(m, "--%s does not apply to %s, which takes %s; give --optimizer %s to use it", names[i],
                      cnn_optim_kind_name(k), takes[k & 3], i == 1 || i == 2 ? "adam" : i == 4 || i == 6 ? "sgd" : "rmsprop");
            return 1;
        }
    return 0;
}

/* ---- value parsing --------------------------------------------------------- */

static int parse_int(const char *s, long lo, long hi, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (!*s || *end || errno || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

static int parse_real(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(x))
        return -1;
    *v = x;
    return 0;
}

static int parse_bool_word(const char *s, int *v)
{
    if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "on") || !strcmp(s, "yes"))
        *v = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "off") || !strcmp(s, "no"))
        *v = 0;
    else
        return -1;
    return 0;
}

static int parse_metrics(const char *s, int *bits)
{
    *bits = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int i = strcmp(tok, "acc") == 0 ? 0 : cnn_word_index(cnn_metric_words, tok); /* Keras's short name */
        if (i < 0)
            return -1;
        *bits |= 1 << i;
    }
    return 0;
}

/* Flags that take a value, by command (bit per command). */
typedef struct flag {
    const char *name;
    int takes_value;
    unsigned cmds; /* 1 << cmd */
} flag;

#define T (1u << CNN_CMD_TRAIN)
#define E (1u << CNN_CMD_EVALUATE)
#define P (1u << CNN_CMD_PREDICT)
#define S (1u << CNN_CMD_SUMMARY)
#define B (1u << CNN_CMD_BENCH)
#define V (1u << CNN_CMD_PREVIEW)
static const flag flags[] = {
    {"data", 1, T | E | B | V}, {"validation", 1, T | B | V}, {"validation-split", 1, T | B | V}, {"epochs", 1, T},
    {"batch", 1, T | E | P | B | V}, {"lr", 1, T | B}, {"learning-rate", 1, T | B}, {"seed", 1, T | E | P | B | V},
    {"optimizer", 1, T | B}, {"beta1", 1, T | B}, {"beta2", 1, T | B}, {"epsilon", 1, T | B},
    {"momentum", 1, T | B}, {"nesterov", 0, T | B}, {"rho", 1, T | B}, {"loss", 1, T},
    {"metrics", 1, T}, {"early-stopping", 0, T}, {"no-early-stopping", 0, T}, {"monitor", 1, T},
    {"patience", 1, T}, {"threads", 1, T | E | P | B | V}, {"out", 1, T | E | P}, {"resume", 0, T},
    {"strict", 0, T | E | B | V}, {"weights", 1, E | P | B}, {"json", 0, E | P | B}, {"quiet", 0, T | E | B | V},
    {"progress", 1, T}, {"cache-dir", 1, T | E | B | V}, {"memory", 1, T | E | B | V}, {"exact-resize", 0, T | E | P | B | V},
    {"seconds", 1, B}, {"output", 1, V}, {"count", 1, V}, {"epoch", 1, V}, {"help", 0, T | E | P | S | B | V},
    {"init", 1, T}, {"init-partial", 0, T},
    {"lr-schedule", 1, T}, {"decay-every", 1, T}, {"decay-factor", 1, T}, {"decay-epochs", 1, T},
    {"warmup", 1, T}, {"alpha", 1, T}, {"plateau-monitor", 1, T}, {"plateau-patience", 1, T},
    {"min-delta", 1, T}, {"cooldown", 1, T}, {"min-lr", 1, T}, {"class-weight", 1, T},
    {"weight-decay", 1, T | B}, {"clipnorm", 1, T | B}, {"clipvalue", 1, T | B}, {"global-clipnorm", 1, T | B},
};
#undef T
#undef E
#undef P
#undef S
#undef B
#undef V

/* The schedule's option flags, applied after every flag is read (so that
 * --lr-schedule may come after them), each checked against the kind. */
enum { SF_EVERY, SF_FACTOR, SF_EPOCHS, SF_WARMUP, SF_ALPHA, SF_MONITOR, SF_PATIENCE, SF_MIN_DELTA, SF_COOLDOWN,
       SF_MIN_LR, SF_COUNT };
static const char *const sched_flags[SF_COUNT] = {"decay-every", "decay-factor", "decay-epochs", "warmup", "alpha",
                                                  "plateau-monitor", "plateau-patience", "min-delta", "cooldown",
                                                  "min-lr"};
static double sched_vals[SF_COUNT];
static unsigned sched_set_mask;

static void sched_set(const char *f, double v)
{
    for (int i = 0; i < SF_COUNT; i++)
        if (!strcmp(f, sched_flags[i])) {
            sched_vals[i] = v;
            sched_set_mask |= 1u << i;
        }
}

/* Applies the schedule flags to c; returns 0, or 1 after an error. */
static int sched_apply(const cnn_model *m, cnn_schedule_cfg *c)
{
    /* which kinds each flag applies to: bit 1 step, 2 cosine, 3 plateau */
    static const unsigned takes[SF_COUNT] = {2, 2 | 8, 4, 4, 4, 8, 8, 8, 8, 8};
    for (int i = 0; i < SF_COUNT; i++) {
        if (!(sched_set_mask & (1u << i)))
            continue;
        if (!(takes[i] & (1u << c->kind))) {
            cnn_error(m, "--%s does not apply to the learning-rate schedule %s (it is an option of %s); give "
                         "--lr-schedule too", sched_flags[i], cnn_word(cnn_lr_schedule_words, c->kind),
                      takes[i] == 2 ? "step" : takes[i] == 4 ? "cosine" : takes[i] == 8 ? "plateau" : "step and plateau");
            return 1;
        }
        double v = sched_vals[i];
        switch (i) {
        case SF_EVERY: c->every = (int)v; break;
        case SF_FACTOR: c->factor = v; break;
        case SF_EPOCHS: c->decay_epochs = (int)v; break;
        case SF_WARMUP: c->warmup = (int)v; break;
        case SF_ALPHA: c->alpha = v; break;
        case SF_MONITOR: c->monitor = (cnn_monitor)(int)v; break;
        case SF_PATIENCE: c->patience = (int)v; break;
        case SF_MIN_DELTA: c->min_delta = v; break;
        case SF_COOLDOWN: c->cooldown = (int)v; break;
        case SF_MIN_LR: c->min_lr = v; break;
        }
    }
    const char *why = cnn_schedule_check(c);
    if (why) {
        cnn_error(m, "%s", why);
        return 1;
    }
    return 0;
}

static int bad_value(const cnn_model *m, const char *flag_name, const char *v, const char *want)
{
    cnn_error(m, "--%s %s: expected %s", flag_name, v, want);
    return 1;
}

/* Applies one flag; returns 0, or 1 after reporting an error. */
static int apply_flag(const cnn_model *m, cnn_run_options *o, const char *f, const char *v, int *lr_given,
                      int *opt_changed, double *opt_vals, int *opt_set)
{
    cnn_config *c = &o->cfg;
    long iv;
    double dv;
    if (!strcmp(f, "data")) {
        c->data = v;
    } else if (!strcmp(f, "validation")) {
        c->validation = v;
    } else if (!strcmp(f, "validation-split")) {
        if (parse_real(v, &dv) || dv < 0 || dv >= 1)
            return bad_value(m, f, v, "a fraction in [0, 1)");
        c->validation_split = dv;
        c->validation = NULL;
    } else if (!strcmp(f, "epochs")) {
        /* The train block's range: a run of 0 epochs would train nothing. */
        if (parse_int(v, 1, CNN_MAX_EPOCHS, &iv))
            return bad_value(m, f, v, "a whole number of epochs from 1 to 1000000");
        c->epochs = (int)iv;
    } else if (!strcmp(f, "batch")) {
        if (parse_int(v, 1, 65536, &iv))
            return bad_value(m, f, v, "a batch size from 1 to 65536");
        c->batch = (int)iv;
    } else if (!strcmp(f, "lr") || !strcmp(f, "learning-rate")) {
        /* The language's range, (0, 10]: a larger rate only diverges, and
         * one beyond float's range (1e300) would be infinite in the update. */
        if (parse_real(v, &dv) || dv <= 0 || dv > 10)
            return bad_value(m, f, v, "a positive learning rate such as 0.001, at most 10 (the range (0, 10] of "
                                      "the train block's lr)");
        opt_vals[0] = dv;
        opt_set[0] = 1;
        *lr_given = 1;
    } else if (!strcmp(f, "seed")) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (!*v || *end || errno || v[0] == '-')
            return bad_value(m, f, v, "a non-negative whole number");
        c->seed = s;
    } else if (!strcmp(f, "optimizer")) {
        int w = cnn_word_index(cnn_optimizer_words, v);
        if (w < 0)
            return bad_value(m, f, v, "adam, adamw, sgd or rmsprop");
        cnn_optimizer_kind k = (cnn_optimizer_kind)w;
        if (k != c->optimizer.kind) {
            c->optimizer = cnn_optim_defaults(k);
            *opt_changed = 1;
        }
    } else if (!strcmp(f, "beta1") || !strcmp(f, "beta2") || !strcmp(f, "epsilon") || !strcmp(f, "momentum") ||
               !strcmp(f, "rho")) {
        int i = !strcmp(f, "beta1") ? 1 : !strcmp(f, "beta2") ? 2 : !strcmp(f, "epsilon") ? 3
              : !strcmp(f, "momentum") ? 4 : 5;
        /* The train block's ranges: epsilon in (0, 1], the others in [0, 1). */
        if (parse_real(v, &dv) || (i == 3 ? !(dv > 0 && dv <= 1) : !(dv >= 0 && dv < 1)))
            return bad_value(m, f, v, i == 3 ? "a number in (0, 1]" : "a number in [0, 1)");
        opt_vals[i] = dv;
        opt_set[i] = 1;
    } else if (!strcmp(f, "weight-decay") || !strcmp(f, "clipnorm") || !strcmp(f, "clipvalue") ||
               !strcmp(f, "global-clipnorm")) {
        int i = !strcmp(f, "weight-decay") ? 7 : !strcmp(f, "clipnorm") ? 8 : !strcmp(f, "clipvalue") ? 9 : 10;
        /* the train block's ranges: weight_decay in [0, 1], clipping in (0, 1e6] (0 switches it off) */
        if (parse_real(v, &dv) || dv < 0 || dv > (i == 7 ? 1.0 : 1e6))
            return bad_value(m, f, v, i == 7 ? "a number in [0, 1]" : "a number in (0, 1e6], or 0 for none");
        opt_vals[i] = dv;
        opt_set[i] = 1;
    } else if (!strcmp(f, "nesterov")) {
        opt_set[6] = 1;
    } else if (!strcmp(f, "loss")) {
        int binary = m->n_outputs == 1;
        if (!strcmp(v, "binary_crossentropy")) {
            if (!binary) {
                cnn_error(m, "--loss binary_crossentropy needs one sigmoid unit; %s ends in %d softmax units "
                             "(use categorical_crossentropy)", m->name, m->n_outputs);
                return 1;
            }
        } else if (!strcmp(v, "categorical_crossentropy") || !strcmp(v, "sparse_categorical_crossentropy")) {
            if (binary) {
                cnn_error(m, "--loss %s needs a softmax layer; %s ends in one sigmoid unit "
                             "(use binary_crossentropy)", v, m->name);
                return 1;
            }
        } else {
            return bad_value(m, f, v, "binary_crossentropy or categorical_crossentropy");
        }
    } else if (!strcmp(f, "metrics")) {
        int bits;
        if (parse_metrics(v, &bits))
            return bad_value(m, f, v, "a comma-separated list of accuracy, precision, recall, auc");
        if ((bits & (CNN_METRIC_PRECISION | CNN_METRIC_RECALL | CNN_METRIC_AUC)) && m->n_outputs != 1) {
            cnn_error(m, "--metrics %s: precision, recall and auc need a binary model (one sigmoid unit)", v);
            return 1;
        }
        c->metrics = bits | CNN_METRIC_ACCURACY; /* accuracy is always reported, as the curves need it */
    } else if (!strcmp(f, "early-stopping")) {
        c->early_stopping = 1;
    } else if (!strcmp(f, "no-early-stopping")) {
        c->early_stopping = 0;
    } else if (!strcmp(f, "monitor")) {
        int w = cnn_word_index(cnn_monitor_words, v);
        if (w < 0)
            return bad_value(m, f, v, "val_loss, val_accuracy, loss or accuracy");
        c->monitor = (cnn_monitor)w;
    } else if (!strcmp(f, "patience")) {
        if (parse_int(v, 0, 100000, &iv))
            return bad_value(m, f, v, "a whole number of epochs from 0 to 100000");
        c->patience = (int)iv;
    } else if (!strcmp(f, "threads")) {
        if (parse_int(v, 1, 1024, &iv))
            return bad_value(m, f, v, "a thread count from 1 to 1024");
        o->threads = (int)iv;
    } else if (!strcmp(f, "out")) {
        if (strlen(v) >= sizeof o->out - 1 || !*v)
            return bad_value(m, f, v, "a folder path");
        snprintf(o->out, sizeof o->out, "%s", v);
    } else if (!strcmp(f, "resume")) {
        o->resume = 1;
    } else if (!strcmp(f, "strict")) {
        o->strict = 1;
    } else if (!strcmp(f, "weights")) {
        o->weights = v;
    } else if (!strcmp(f, "json")) {
        o->json = 1;
    } else if (!strcmp(f, "quiet")) {
        o->quiet = 1;
    } else if (!strcmp(f, "progress")) {
        if (!strcmp(v, "auto"))
            o->tty = -1;
        else if (!strcmp(v, "bar"))
            o->tty = 1;
        else if (!strcmp(v, "plain"))
            o->tty = 0;
        else
            return bad_value(m, f, v, "auto, bar or plain");
    } else if (!strcmp(f, "cache-dir")) {
        o->cache_dir = v;
    } else if (!strcmp(f, "memory")) {
        /* At most 2^24 MB (16 TB): larger values would overflow size_t
         * arithmetic on the way to bytes. */
        if (parse_real(v, &dv) || dv <= 0 || dv > 16777216.0)
            return bad_value(m, f, v, "megabytes, a positive number up to 16777216 (16 TB)");
        o->memory_mb = dv;
    } else if (!strcmp(f, "exact-resize")) {
        o->exact_resize = 1;
    } else if (!strcmp(f, "output")) {
        if (!*v)
            return bad_value(m, f, v, "a file name such as grid.png");
        o->output = v;
    } else if (!strcmp(f, "count")) {
        if (parse_int(v, 1, 1024, &iv))
            return bad_value(m, f, v, "a number of images from 1 to 1024");
        o->count = (int)iv;
    } else if (!strcmp(f, "epoch")) {
        if (parse_int(v, 1, CNN_MAX_EPOCHS, &iv))
            return bad_value(m, f, v, "an epoch from 1 to 1000000");
        o->view_epoch = (int)iv;
    } else if (!strcmp(f, "init")) {
        if (!*v)
            return bad_value(m, f, v, "a safetensors weights file");
        c->init = v;
    } else if (!strcmp(f, "init-partial")) {
        c->init_partial = 1;
    } else if (!strcmp(f, "class-weight")) {
        static double given[CNN_MAX_CLASS_WEIGHTS];
        if (!strcmp(v, "none")) {
            c->class_weight = CNN_CW_NONE;
        } else if (!strcmp(v, "balanced")) {
            c->class_weight = CNN_CW_BALANCED;
        } else {
            int k = 0;
            double total = 0;
            const char *p = v;
            for (;;) {
                char *end;
                errno = 0;
                double w = strtod(p, &end);
                if (end == p || errno || !isfinite(w) || w < 0 || w > 1e6 || k == CNN_MAX_CLASS_WEIGHTS ||
                    (*end && *end != ','))
                    return bad_value(m, f, v, "balanced, none, or one weight per class separated by commas "
                                              "(each in [0, 1e6]), e.g. 1,2.5");
                given[k++] = w;
                total += w;
                if (!*end)
                    break;
                p = end + 1;
            }
            int classes = m->n_outputs == 1 ? 2 : m->n_outputs;
            if (k != classes) {
                cnn_error(m, "--class-weight %s gives %d weight%s; %s has %d classes: give one per class", v, k,
                          k == 1 ? "" : "s", m->name, classes);
                return 1;
            }
            if (total == 0)
                return bad_value(m, f, v, "weights that are not all 0");
            c->class_weight = CNN_CW_EXPLICIT;
            c->n_class_weights = k;
            c->class_weights = given;
        }
    } else if (!strcmp(f, "lr-schedule")) {
        int k = cnn_word_index(cnn_lr_schedule_words, v);
        if (k < 0)
            return bad_value(m, f, v, "none, step, cosine or plateau");
        if ((cnn_schedule_kind)k != c->schedule.kind)
            c->schedule = cnn_schedule_defaults((cnn_schedule_kind)k);
    } else if (!strcmp(f, "decay-every") || !strcmp(f, "decay-epochs") || !strcmp(f, "warmup") ||
               !strcmp(f, "plateau-patience") || !strcmp(f, "cooldown")) {
        if (parse_int(v, !strcmp(f, "decay-every") || !strcmp(f, "decay-epochs") ? 1 : 0, 1000000, &iv))
            return bad_value(m, f, v, "a whole number of epochs, at most 1000000");
        sched_set(f, (double)iv);
    } else if (!strcmp(f, "decay-factor") || !strcmp(f, "alpha") || !strcmp(f, "min-delta") ||
               !strcmp(f, "min-lr")) {
        if (parse_real(v, &dv) || dv < 0)
            return bad_value(m, f, v, "a number, 0 or more");
        sched_set(f, dv);
    } else if (!strcmp(f, "plateau-monitor")) {
        int k = cnn_word_index(cnn_monitor_words, v);
        if (k < 0)
            return bad_value(m, f, v, "val_loss, val_accuracy, loss or accuracy");
        sched_set(f, (double)k);
    } else if (!strcmp(f, "seconds")) {
        if (parse_real(v, &dv) || dv <= 0 || dv > 3600)
            return bad_value(m, f, v, "seconds, a positive number");
        o->bench_seconds = dv;
    }
    return 0;
}

/* "train does not take --batch-size; did you mean --batch?": the nearest
 * of the command's own flags, by the compiler's rule (cnn_names.h). */
static void unknown_flag(const cnn_model *m, cnn_cmd c, const char *arg, const char *name)
{
    const char *mine[sizeof flags / sizeof flags[0] + 1];
    int n = 0;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].cmds & (1u << c))
            mine[n++] = flags[i].name;
    mine[n] = NULL;
    const char *near = cnn_names_closest(name, mine);
    if (near && strcmp(near, name))
        cnn_error(m, "%s does not take %s; did you mean --%s? (`%s %s --help` lists its flags)", cnn_cmd_names[c], arg,
                  near, m->name, cnn_cmd_names[c]);
    else
        cnn_error(m, "%s does not take %s (`%s %s --help` lists its flags)", cnn_cmd_names[c], arg, m->name,
                  cnn_cmd_names[c]);
}

static const flag *find_flag(const char *name)
{
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strcmp(flags[i].name, name))
            return &flags[i];
    return NULL;
}

/* The flags in order, then the optimizer's and the schedule's options
 * applied and checked together (their order on the line does not matter).
 * -1 to run, else the exit status; o->images is allocated here. */
static int parse(const cnn_model *m, cnn_cmd c, int argc, char **argv, cnn_run_options *o)
{
    memset(o, 0, sizeof *o);
    sched_set_mask = 0;
    o->cfg = m->defaults;
    o->tty = -1;
    snprintf(o->out, sizeof o->out, "runs/%s", m->name);
    char **images = calloc((size_t)argc, sizeof *images);
    if (!images) {
        cnn_error(m, "out of memory");
        return 1;
    }
    o->images = images;

    int lr_given = 0, opt_changed = 0, opt_set[11] = {0}, gave_val = 0, gave_split = 0;
    double opt_vals[11] = {0};
    int only_positional = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || !strcmp(a, "-")) {
            if (c != CNN_CMD_PREDICT) {
                cnn_error(m, "unexpected argument '%s' for %s (`%s %s --help` lists the flags)", a,
                          cnn_cmd_names[c], m->name, cnn_cmd_names[c]);
                return 1;
            }
            images[o->n_images++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            only_positional = 1;
            continue;
        }
        if (!strcmp(a, "-o") && c == CNN_CMD_PREVIEW)
            a = "--output"; /* as cnnc's -o */
        if (!strcmp(a, "-h")) {
            cnn_usage(stdout, m, c);
            return 0;
        }
        if (a[1] != '-') {
            cnn_error(m, "unknown flag '%s' (flags are written --name; `%s %s --help` lists them)", a, m->name,
                      cnn_cmd_names[c]);
            return 1;
        }
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        snprintf(name, sizeof name, "%.*s", (int)(nl < 63 ? nl : 63), a + 2);
        /* Keras-style underscores are accepted: --validation_split. */
        for (char *p = name; *p; p++)
            if (*p == '_')
                *p = '-';
        const flag *fl = find_flag(name);
        if (!fl || !(fl->cmds & (1u << c))) {
            unknown_flag(m, c, a, name);
            return 1;
        }
        if (!strcmp(name, "help")) {
            cnn_usage(stdout, m, c);
            return 0;
        }
        const char *v = NULL;
        if (fl->takes_value) {
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else {
                cnn_error(m, "%s needs a value", a);
                return 1;
            }
        } else if (eq) {
            int bv;
            if (parse_bool_word(eq + 1, &bv)) {
                cnn_error(m, "%s: expected true or false", a);
                return 1;
            }
            if (!bv) {
                /* --resume=false and the like switch the flag off. */
                if (!strcmp(name, "early-stopping"))
                    o->cfg.early_stopping = 0;
                if (!strcmp(name, "nesterov"))
                    opt_set[6] = 2;
                if (!strcmp(name, "init-partial"))
                    o->cfg.init_partial = 0;
                continue;
            }
        }
        gave_val |= !strcmp(name, "validation");
        gave_split |= !strcmp(name, "validation-split");
        if (gave_val && gave_split) {
            cnn_error(m, "give --validation DIR or --validation-split F, not both");
            return 1;
        }
        if (apply_flag(m, o, name, v, &lr_given, &opt_changed, opt_vals, opt_set)) {
            return 1;
        }
    }
    /* Optimizer flags apply after --optimizer, whatever their order. */
    cnn_optimizer *op = &o->cfg.optimizer;
    if (opt_set[0])
        op->lr = opt_vals[0];
    if (opt_set[1])
        op->beta1 = opt_vals[1];
    if (opt_set[2])
        op->beta2 = opt_vals[2];
    if (opt_set[3])
        op->epsilon = opt_vals[3];
    if (opt_set[4])
        op->momentum = opt_vals[4];
    if (opt_set[5])
        op->rho = opt_vals[5];
    if (opt_set[6])
        op->nesterov = opt_set[6] == 1;
    if (opt_set[7])
        op->weight_decay = opt_vals[7];
    /* A clipping flag (8 clipnorm, 9 clipvalue, 10 global_clipnorm) replaces
     * the train block's other clipping; two flags are refused below. */
    double *clip[3] = {&op->clipnorm, &op->clipvalue, &op->global_clipnorm};
    for (int i = 0; i < 3; i++)
        if (opt_set[8 + i]) {
            *clip[i] = opt_vals[8 + i];
            for (int j = 0; j < 3; j++)
                if (j != i && !opt_set[8 + j] && *clip[i] > 0)
                    *clip[j] = 0;
        }
    (void)lr_given;
    (void)opt_changed;
    if (refuse_foreign_options(m, op->kind, opt_set)) {
        return 1;
    }
    const char *why = cnn_optim_check(op);
    if (why) {
        cnn_error(m, "%s", why);
        return 1;
    }
    if (sched_apply(m, &o->cfg.schedule)) {
        return 1;
    }
    if (op->nesterov && op->kind == CNN_OPT_SGD && op->momentum == 0.0)
        cnn_warning(m, "--nesterov has no effect with momentum 0; give --momentum too");

    return -1;
}

int cnn_flags_parse(const cnn_model *m, cnn_cmd c, int argc, char **argv, cnn_run_options *o)
{
    int rc = parse(m, c, argc, argv, o);
    if (rc >= 0) {
        free(o->images);
        o->images = NULL;
    }
    return rc;
}
