/* trainer.c: the trainer binary's command line: `NAME train | evaluate |
 * predict | summary | bench`, flags that override every setting of the
 * model's train block, and --help with the defaults of this model. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_checkpoint.h"
#include "cnn_dist.h"
#include "cnn_names.h"
#include "cnn_optim.h"
#include "cnn_preview.h"
#include "cnn_schedule.h"
#include "cnn_summary.h"
#include "cnn_train.h"
#include "cnn_trainer.h"
#include "cnn_wait_policy.h"
#include "cnn_words.h"

typedef enum cmd { CMD_TRAIN, CMD_EVALUATE, CMD_PREDICT, CMD_SUMMARY, CMD_BENCH, CMD_PREVIEW, CMD_NONE } cmd;
static const char *const cmd_names[] = {"train", "evaluate", "predict", "summary", "bench", "preview", NULL};
/* --lr-schedule's words, by cnn_schedule_kind */
static const char *const sched_kinds[] = {"none", "step", "cosine", "plateau", NULL};

static const char *metric_list(int bits, char *buf, size_t n)
{
    buf[0] = 0;
    for (int i = 0; cnn_metric_words[i]; i++)
        if (bits & (1 << i)) {
            if (buf[0])
                strncat(buf, ",", n - strlen(buf) - 1);
            strncat(buf, cnn_metric_words[i], n - strlen(buf) - 1);
        }
    return buf[0] ? buf : "none";
}

static void usage(FILE *f, const cnn_model *m, cmd c)
{
    const cnn_config *d = &m->defaults;
    const cnn_optimizer *op = &d->optimizer;
    char mbuf[64];
    const char *src = m->source ? m->source : "the model";
    if (c == CMD_NONE) {
        fprintf(f,
                "%s: a trainer for the network of %s (built by cnnc)\n\n"
                "Usage:\n"
                "  %s train [--data DIR] [--validation DIR] [--epochs N] [--batch N] [--lr X] [--seed N]\n"
                "        [--threads N] [--out DIR] [--resume] [--strict] [more: %s train --help]\n"
                "  %s evaluate --data DIR [--weights FILE] [--json]\n"
                "  %s predict [--weights FILE] [--json] IMAGE|FOLDER...\n"
                "  %s summary\n"
                "  %s bench [--weights FILE] [--data DIR] [--batch N] [--threads N] [--json]\n"
                "  %s preview --data DIR -o grid.png [--count N] [--epoch E] [--seed S]\n\n"
                "`%s COMMAND --help` lists each command's flags and their defaults.\n",
                m->name, src, m->name, m->name, m->name, m->name, m->name, m->name, m->name, m->name);
        return;
    }
    switch (c) {
    case CMD_TRAIN:
        fprintf(f, "Usage: %s train [flags]\n\nTrains the network; every flag overrides the train block of %s.\n\n", m->name, src);
        fprintf(f, "Data:\n");
        fprintf(f, "  --data PATH              folder with a subfolder per class, or an IDX images file (default: %s)\n",
                d->data ? d->data : "none, required");
        fprintf(f, "  --validation PATH        separate validation folder or IDX file (default: %s)\n",
                d->validation ? d->validation : "none: split");
        fprintf(f, "  --validation-split F     fraction held out for validation, stratified; 0 = none (default: %g)\n",
                d->validation ? 0.0 : d->validation_split);
        fprintf(f, "  --strict                 a corrupt or unreadable image is an error, not skipped\n");
        fprintf(f, "  --cache-dir DIR          where decoded images spill over --memory (default: $TMPDIR or /tmp)\n");
        fprintf(f, "  --memory MB              RAM for decoded images (default: half the RAM, at least 2048)\n");
        fprintf(f, "  --exact-resize           full JPEG decode before resizing, as Keras (slower)\n");
        fprintf(f, "Training:\n");
        fprintf(f, "  --epochs N               (default: %d)\n", d->epochs);
        fprintf(f, "  --batch N                (default: %d)\n", d->batch);
        fprintf(f, "  --seed N                 split, shuffling, initialisation, dropout, augmentation (default: %" PRIu64 ")\n", d->seed);
        fprintf(f, "  --optimizer NAME         adam, adamw, sgd or rmsprop (default: %s)\n", cnn_optim_kind_name(op->kind));
        fprintf(f, "  --lr X                   learning rate (default: %g)\n", op->lr);
        fprintf(f, "  --beta1 X, --beta2 X     adam, adamw (default: %g, %g)\n",
                op->kind == CNN_OPT_ADAM || op->kind == CNN_OPT_ADAMW ? op->beta1 : 0.9,
                op->kind == CNN_OPT_ADAM || op->kind == CNN_OPT_ADAMW ? op->beta2 : 0.999);
        fprintf(f, "  --epsilon X              adam, adamw, rmsprop (default: %g)\n",
                op->kind != CNN_OPT_SGD ? op->epsilon : 1e-7);
        fprintf(f, "  --momentum X             sgd (default: %g)\n", op->kind == CNN_OPT_SGD ? op->momentum : 0.0);
        fprintf(f, "  --nesterov               sgd with Nesterov momentum (default: %s)\n",
                op->kind == CNN_OPT_SGD && op->nesterov ? "on" : "off");
        fprintf(f, "  --rho X                  rmsprop (default: %g)\n", op->kind == CNN_OPT_RMSPROP ? op->rho : 0.9);
        fprintf(f, "  --weight-decay X         decoupled weight decay, every optimizer (default: %g; adamw's own: 0.004)\n",
                op->weight_decay);
        fprintf(f, "  --clipnorm X             clip each tensor's gradient to this L2 norm (default: %s)\n",
                op->clipnorm > 0 ? "the train block's" : "off");
        fprintf(f, "  --clipvalue X            clip each gradient element to [-X, X] (default: %s)\n",
                op->clipvalue > 0 ? "the train block's" : "off");
        fprintf(f, "  --global-clipnorm X      clip all the gradients together to this L2 norm (default: %s)\n",
                op->global_clipnorm > 0 ? "the train block's" : "off");
        fprintf(f, "  --loss NAME              binary_crossentropy or categorical_crossentropy; must suit the last layer (default: %s)\n",
                cnn_word(cnn_loss_words, d->loss));
        fprintf(f, "  --metrics LIST           comma-separated: accuracy,precision,recall,auc (default: %s)\n",
                metric_list(d->metrics, mbuf, sizeof mbuf));
        fprintf(f, "  --early-stopping         stop when --monitor stops improving, restore the best weights (default: %s)\n",
                d->early_stopping ? "on" : "off");
        fprintf(f, "  --no-early-stopping\n");
        fprintf(f, "  --monitor NAME           val_loss, val_accuracy, loss or accuracy (default: %s)\n",
                cnn_word(cnn_monitor_words, d->monitor));
        fprintf(f, "  --patience N             epochs without improvement (default: %d)\n", d->patience);
        fprintf(f, "  --class-weight W         balanced, none, or one weight per class (1,2.5): Keras's class_weight "
                   "(default: %s)\n", d->class_weight == CNN_CW_BALANCED ? "balanced"
                                      : d->class_weight == CNN_CW_EXPLICIT ? "the train block's" : "none");
        fprintf(f, "Learning-rate schedule (one value per epoch):\n");
        fprintf(f, "  --lr-schedule KIND       none, step, cosine or plateau (default: %s)\n",
                cnn_word(sched_kinds, d->schedule.kind));
        fprintf(f, "  --decay-every N          step: epochs between decays\n");
        fprintf(f, "  --decay-factor F         step, plateau: the multiplier (default: 0.1)\n");
        fprintf(f, "  --decay-epochs N, --warmup N, --alpha F\n");
        fprintf(f, "                           cosine: decay epochs (default: the rest of the run), linear warm-up\n"
                   "                           epochs (0), final rate as a fraction of --lr (0)\n");
        fprintf(f, "  --plateau-monitor M, --plateau-patience N, --min-delta F, --cooldown N, --min-lr X\n");
        fprintf(f, "                           plateau (Keras ReduceLROnPlateau; defaults val_loss, 10, 0.0001, 0, 0)\n");
        fprintf(f, "Starting weights:\n");
        fprintf(f, "  --init FILE              start from the tensors of a safetensors file, matched by name and shape (default: %s)\n",
                d->init ? d->init : "none: fresh initialization");
        fprintf(f, "  --init-partial           skip (and name) the tensors --init lacks or has in another shape (default: %s)\n",
                d->init_partial ? "on" : "off");
        fprintf(f, "Run:\n");
        fprintf(f, "  --out DIR                run folder (default: runs/%s)\n", m->name);
        fprintf(f, "  --resume                 continue from DIR/checkpoint.safetensors\n");
        fprintf(f, "  --threads N              OpenMP threads (default: all cores, or OMP_NUM_THREADS)\n");
        fprintf(f, "  --progress MODE          auto, bar or plain (default: auto: a bar on a terminal)\n");
        fprintf(f, "  --quiet                  only errors and the final summary\n");
        break;
    case CMD_EVALUATE:
        fprintf(f, "Usage: %s evaluate --data PATH [flags]\n\nLoss, metrics, per-class accuracy and confusion matrix on a dataset.\n\n", m->name);
        fprintf(f, "  --data PATH              folder with a subfolder per class, or an IDX images file (required)\n");
        fprintf(f, "  --weights FILE           safetensors weights (default: runs/%s/model.safetensors, or --out DIR)\n", m->name);
        fprintf(f, "  --out DIR                run folder whose model.safetensors to use (default: runs/%s)\n", m->name);
        fprintf(f, "  --batch N                (default: %d)\n", d->batch);
        fprintf(f, "  --json                   one JSON object: data, images, loss, accuracy, [precision, recall, auc,]\n"
                   "                           classes, class_accuracy, confusion ([true][predicted])\n");
        fprintf(f, "  --threads N, --strict, --exact-resize, --memory MB, --cache-dir DIR, --quiet\n");
        break;
    case CMD_PREDICT:
        fprintf(f, "Usage: %s predict [flags] IMAGE|FOLDER...\n\nOne line per image: PATH<TAB>CLASS<TAB>PROBABILITY of that class.\n"
                   "A folder stands for every file under it, recursively, as train reads a class folder.\n\n", m->name);
        fprintf(f, "  --weights FILE           safetensors weights (default: runs/%s/model.safetensors, or --out DIR)\n", m->name);
        fprintf(f, "  --out DIR                run folder whose model.safetensors to use (default: runs/%s)\n", m->name);
        fprintf(f, "  --json                   one JSON object per image: {\"path\", \"class\", \"probabilities\"}\n");
        fprintf(f, "  --batch N, --threads N, --exact-resize\n");
        break;
    case CMD_SUMMARY:
        fprintf(f, "Usage: %s summary\n\nThe layers, output shapes, parameters and FLOPs of the network.\n", m->name);
        break;
    case CMD_PREVIEW:
        fprintf(f, "Usage: %s preview --data DIR -o grid.png [flags]\n\nA PNG grid of training images exactly as the "
                   "network receives them in an epoch\n(preprocessing and augmentation by the training loader), each "
                   "beside its original,\nwith its file name and class.\n\n", m->name);
        fprintf(f, "  --data PATH              folder with a subfolder per class, or an IDX images file (default: %s)\n",
                d->data ? d->data : "none, required");
        fprintf(f, "  -o FILE, --output FILE   the PNG to write (required)\n");
        fprintf(f, "  --count N                images shown, the first of the epoch's order (default: 16)\n");
        fprintf(f, "  --epoch E                the epoch whose order and augmentation are shown, from 1 (default: 1)\n");
        fprintf(f, "  --seed N                 as train's: the split, the order, the augmentation (default: %" PRIu64 ")\n",
                d->seed);
        fprintf(f, "  --validation-split F, --validation DIR, --batch N, --strict, --exact-resize, --memory MB,\n"
                   "  --cache-dir DIR, --threads N, --quiet   as train's\n");
        break;
    case CMD_BENCH:
        fprintf(f, "Usage: %s bench [flags]\n\nImages/s and GFLOP/s of inference, forward, backward and a whole\n"
                   "training step on random data, and %% of the FP32 peak measured by an FMA probe.\n\n", m->name);
        fprintf(f, "  --weights FILE           time the step on these safetensors weights (e.g. a trained\n"
                   "                           model.safetensors: its relu sparsity) instead of random initial ones\n");
        fprintf(f, "  --data PATH              also time the step as an epoch runs it, with the loader making\n"
                   "                           each batch from PATH's training images between steps, against\n"
                   "                           bench's way, in turn in one process (docs/benchmarks.md)\n");
        fprintf(f, "  --validation-split F, --validation DIR, --strict, --exact-resize, --memory MB,\n"
                   "  --cache-dir DIR          as train's, for --data\n");
        fprintf(f, "  --batch N                (default: %d)\n", d->batch);
        fprintf(f, "  --threads N              (default: all cores, or OMP_NUM_THREADS)\n");
        fprintf(f, "  --seconds S              time per phase, and per arm with --data (default: 2)\n");
        fprintf(f, "  --optimizer NAME, --lr X the optimizer timed in the training step (default: %s)\n",
                cnn_optim_kind_name(op->kind));
        fprintf(f, "  --json                   one JSON object (train_images_per_s, infer_images_per_s, peak_gflops, ...)\n");
        break;
    default:
        break;
    }
}

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

#define T (1u << CMD_TRAIN)
#define E (1u << CMD_EVALUATE)
#define P (1u << CMD_PREDICT)
#define S (1u << CMD_SUMMARY)
#define B (1u << CMD_BENCH)
#define V (1u << CMD_PREVIEW)
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
                         "--lr-schedule too", sched_flags[i], cnn_word(sched_kinds, c->kind),
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
        int k = cnn_word_index(sched_kinds, v);
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
static void unknown_flag(const cnn_model *m, cmd c, const char *arg, const char *name)
{
    const char *mine[sizeof flags / sizeof flags[0] + 1];
    int n = 0;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].cmds & (1u << c))
            mine[n++] = flags[i].name;
    mine[n] = NULL;
    const char *near = cnn_names_closest(name, mine);
    if (near && strcmp(near, name))
        cnn_error(m, "%s does not take %s; did you mean --%s? (`%s %s --help` lists its flags)", cmd_names[c], arg,
                  near, m->name, cmd_names[c]);
    else
        cnn_error(m, "%s does not take %s (`%s %s --help` lists its flags)", cmd_names[c], arg, m->name,
                  cmd_names[c]);
}

static const flag *find_flag(const char *name)
{
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strcmp(flags[i].name, name))
            return &flags[i];
    return NULL;
}

static int trainer_main(const cnn_model *m, int argc, char **argv);

/* Under mpirun (an --mpi trainer) every process runs the same command on
 * its part of each batch (cnn_dist.h); alone, one process. */
int cnn_trainer_main(const cnn_model *m, int argc, char **argv)
{
    cnn_dist_init(&argc, &argv);
    return cnn_dist_finish(trainer_main(m, argc, argv));
}

static int trainer_main(const cnn_model *m, int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr, m, CMD_NONE);
        return 1;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout, m, CMD_NONE);
        return 0;
    }
    cmd c = CMD_NONE;
    for (int i = 0; cmd_names[i]; i++)
        if (!strcmp(argv[1], cmd_names[i]))
            c = (cmd)i;
    if (c == CMD_NONE) {
        const char *near = argv[1][0] != '-' ? cnn_names_closest(argv[1], cmd_names) : NULL;
        if (near)
            cnn_error(m, "unknown command '%s'; did you mean '%s'? (`%s --help` for usage)", argv[1], near, m->name);
        else
            cnn_error(m, "unknown command '%s': expected train, evaluate, predict, summary, bench or preview "
                         "(`%s --help` for usage)", argv[1], m->name);
        return 1;
    }

    if (c != CMD_SUMMARY)
        cnn_wait_policy_init(argv);

    static cnn_run_options o;
    memset(&o, 0, sizeof o);
    sched_set_mask = 0;
    o.cfg = m->defaults;
    o.tty = -1;
    snprintf(o.out, sizeof o.out, "runs/%s", m->name);
    char **images = calloc((size_t)argc, sizeof *images);
    if (!images) {
        cnn_error(m, "out of memory");
        return 1;
    }
    o.images = images;

    int lr_given = 0, opt_changed = 0, opt_set[11] = {0}, gave_val = 0, gave_split = 0;
    double opt_vals[11] = {0};
    int only_positional = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || !strcmp(a, "-")) {
            if (c != CMD_PREDICT) {
                cnn_error(m, "unexpected argument '%s' for %s (`%s %s --help` lists the flags)", a,
                          cmd_names[c], m->name, cmd_names[c]);
                free(images);
                return 1;
            }
            images[o.n_images++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            only_positional = 1;
            continue;
        }
        if (!strcmp(a, "-o") && c == CMD_PREVIEW)
            a = "--output"; /* as cnnc's -o */
        if (!strcmp(a, "-h")) {
            usage(stdout, m, c);
            free(images);
            return 0;
        }
        if (a[1] != '-') {
            cnn_error(m, "unknown flag '%s' (flags are written --name; `%s %s --help` lists them)", a, m->name,
                      cmd_names[c]);
            free(images);
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
            free(images);
            return 1;
        }
        if (!strcmp(name, "help")) {
            usage(stdout, m, c);
            free(images);
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
                free(images);
                return 1;
            }
        } else if (eq) {
            int bv;
            if (parse_bool_word(eq + 1, &bv)) {
                cnn_error(m, "%s: expected true or false", a);
                free(images);
                return 1;
            }
            if (!bv) {
                /* --resume=false and the like switch the flag off. */
                if (!strcmp(name, "early-stopping"))
                    o.cfg.early_stopping = 0;
                if (!strcmp(name, "nesterov"))
                    opt_set[6] = 2;
                if (!strcmp(name, "init-partial"))
                    o.cfg.init_partial = 0;
                continue;
            }
        }
        gave_val |= !strcmp(name, "validation");
        gave_split |= !strcmp(name, "validation-split");
        if (gave_val && gave_split) {
            cnn_error(m, "give --validation DIR or --validation-split F, not both");
            free(images);
            return 1;
        }
        if (apply_flag(m, &o, name, v, &lr_given, &opt_changed, opt_vals, opt_set)) {
            free(images);
            return 1;
        }
    }
    /* Optimizer flags apply after --optimizer, whatever their order. */
    cnn_optimizer *op = &o.cfg.optimizer;
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
        free(images);
        return 1;
    }
    const char *why = cnn_optim_check(op);
    if (why) {
        cnn_error(m, "%s", why);
        free(images);
        return 1;
    }
    if (sched_apply(m, &o.cfg.schedule)) {
        free(images);
        return 1;
    }
    if (op->nesterov && op->kind == CNN_OPT_SGD && op->momentum == 0.0)
        cnn_warning(m, "--nesterov has no effect with momentum 0; give --momentum too");

    int rc;
    switch (c) {
    case CMD_TRAIN: rc = cnn_cmd_train(m, &o); break;
    case CMD_EVALUATE: rc = cnn_cmd_evaluate(m, &o); break;
    case CMD_PREDICT: rc = cnn_cmd_predict(m, &o); break;
    case CMD_SUMMARY: cnn_summary_print(stdout, m); rc = 0; break;
    case CMD_BENCH: rc = cnn_cmd_bench(m, &o); break;
    case CMD_PREVIEW: rc = cnn_cmd_preview(m, &o); break;
    default: rc = 1;
    }
    free(images);
    fflush(stdout);
    return rc;
}
