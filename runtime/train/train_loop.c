/* train_loop.c: `NAME train`: data, buffers, the epoch loop, validation,
 * early stopping, checkpoints and the run folder's files.
 *
 * Determinism: everything random is keyed by (seed, epoch, index) in the
 * loader and by (seed, step) in forward(); the optimizer is element-wise and
 * every reduction here runs in batch order on one thread. A run resumed from
 * the checkpoint of epoch k therefore repeats epochs k+1... of an
 * uninterrupted run bit for bit (for the same thread count; the generated
 * code makes its own part thread-count independent too). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnn_checkpoint.h"
#include "cnn_dist.h"
#include "cnn_dist_check.h"
#include "cnn_class_weight.h"
#include "cnn_util.h"
#include "cnn_words.h"
#include "cnn_data.h"
#include "cnn_finite.h"
#include "cnn_history.h"
#include "cnn_init.h"
#include "cnn_init_from.h"
#include "cnn_interrupt.h"
#include "cnn_metrics.h"
#include "cnn_optim.h"
#include "cnn_step.h"
#include "cnn_plot.h"
#include "cnn_progress.h"
#include "cnn_run_lock.h"
#include "cnn_safetensors.h"
#include "cnn_schedule.h"
#include "cnn_timing.h"
#include "cnn_run.h"
#include "cnn_train.h"

/* ---- the settings a resume must not change --------------------------------- */

static void settings_text(const cnn_model *m, const cnn_run_options *o, char *s, size_t n)
{
    const cnn_config *c = &o->cfg;
    const cnn_optimizer *op = &c->optimizer;
    size_t k = 0;
    k += (size_t)snprintf(s + k, n - k, "model=%s\n", m->name);
    k += (size_t)snprintf(s + k, n - k, "seed=%" PRIu64 "\nbatch=%d\n", c->seed, c->batch);
    if (c->validation)
        k += (size_t)snprintf(s + k, n - k, "validation=%s\n", c->validation);
    else
        k += (size_t)snprintf(s + k, n - k, "validation_split=%.17g\n", c->validation_split);
    k += (size_t)snprintf(s + k, n - k, "optimizer=%s\nlr=%.17g\n", cnn_optim_kind_name(op->kind), op->lr);
    switch (op->kind) {
    case CNN_OPT_ADAM:
    case CNN_OPT_ADAMW:
        k += (size_t)snprintf(s + k, n - k, "beta1=%.17g\nbeta2=%.17g\nepsilon=%.17g\n", op->beta1,
                              op->beta2, op->epsilon);
        break;
    case CNN_OPT_SGD:
        k += (size_t)snprintf(s + k, n - k, "momentum=%.17g\nnesterov=%d\n", op->momentum, op->nesterov);
        break;
    case CNN_OPT_RMSPROP:
        k += (size_t)snprintf(s + k, n - k, "rho=%.17g\nepsilon=%.17g\n", op->rho, op->epsilon);
        break;
    }
    /* written only when set, so the settings of runs without them stay as they were */
    if (op->weight_decay > 0)
        k += (size_t)snprintf(s + k, n - k, "weight_decay=%.17g\n", op->weight_decay);
    if (op->clipnorm > 0)
        k += (size_t)snprintf(s + k, n - k, "clipnorm=%.17g\n", op->clipnorm);
    if (op->clipvalue > 0)
        k += (size_t)snprintf(s + k, n - k, "clipvalue=%.17g\n", op->clipvalue);
    if (op->global_clipnorm > 0)
        k += (size_t)snprintf(s + k, n - k, "global_clipnorm=%.17g\n", op->global_clipnorm);
    k += (size_t)snprintf(s + k, n - k, "exact_resize=%d", o->exact_resize);
    char sched[512];
    cnn_schedule_settings(&c->schedule, sched, sizeof sched);
    if (*sched && k < n)
        k += (size_t)snprintf(s + k, n - k, "\n%s", sched);
    if (c->class_weight == CNN_CW_BALANCED && k < n)
        k += (size_t)snprintf(s + k, n - k, "\nclass_weight=balanced");
    for (int i = 0; c->class_weight == CNN_CW_EXPLICIT && i < c->n_class_weights && k < n; i++)
        k += (size_t)snprintf(s + k, n - k, "%s%.9g", i ? "," : "\nclass_weight=", c->class_weights[i]);
}

/* ---- early stopping / best weights ---------------------------------------- */

/* Keras's EarlyStopping(mode="auto"): accuracies are maximised, losses
 * minimised; an improvement is strictly better (min_delta = 0). */
static int improves(const char *mon, double v, double best)
{
    if (!isfinite(v))
        return 0;
    if (strstr(mon, "accuracy"))
        return v > best;
    return v < best;
}

/* ---- the run's state ------------------------------------------------------- */

typedef struct run {
    const cnn_model *m;
    const cnn_run_options *o;
    cnn_dataset *train, *val;
    cnn_loader *tl, *vl;
    cnn_buffers b;
    float *logits, *dlogits;
    cnn_optim *opt;
    cnn_schedule sched;
    float *class_weight;  /* Keras's class_weight, one per class; NULL: none */
    int n_classes;
    cnn_metrics tm, vm;
    cnn_history hist;
    cnn_history timing; /* timing.csv (cnn_timing.h) */
    char *classes;
    char settings[8192]; /* room for 256 class weights */
    char ckpt[CNN_MAX_PATH + 64], best[CNN_MAX_PATH + 64], final[CNN_MAX_PATH + 64];
    char csv[CNN_MAX_PATH + 64], svg[CNN_MAX_PATH + 64], diverged[CNN_MAX_PATH + 64];
    char timing_csv[CNN_MAX_PATH + 64];
    int ckpt_epoch; /* epoch of this run's checkpoint on disk, -1 when there is none */
    double lr_now;  /* the learning rate of the epoch in progress (the schedule's) */
    /* What the steps of the epoch loop below share. */
    cnn_train_state st;
    int writer;              /* rank 0, which owns the run folder */
    FILE *log;               /* stdout, NULL with --quiet */
    const char *mnames[8];   /* the metrics, Keras's names */
    int nm, nc;              /* metrics; history columns (training, validation, lr) */
    char valnames[8][32];    /* "val_" + a metric's name */
    const char *mon;         /* early stopping's monitor */
    const char *plateau_mon; /* reduce_lr_on_plateau's monitor */
    uint64_t th, vh;         /* the training and validation data's hashes */
    int resumed;
    cnn_progress pg;
    int steps;               /* batches per epoch */
    const char *pnames[2 * 8 + 1];
    double pvals[2 * 8 + 1];
    double prev_lr;          /* the progress line shows lr when it changes */
} run;

static void run_free(run *r)
{
    cnn_loader_free(r->tl);
    cnn_loader_free(r->vl);
    cnn_dataset_free(r->train);
    cnn_dataset_free(r->val);
    cnn_buffers_free(&r->b);
    free(r->logits);
    free(r->dlogits);
    cnn_optim_free(r->opt);
    cnn_metrics_free(&r->tm);
    cnn_metrics_free(&r->vm);
    cnn_history_free(&r->hist);
    cnn_history_free(&r->timing);
    free(r->classes);
    free(r->class_weight);
}

/* note: NULL, or the "interrupted" metadata entry (where Ctrl-C stopped the run). */
static int save_weights(run *r, const char *path, int epoch, const char *note, char *err, size_t errlen)
{
    int bad = cnn_nonfinite_tensor(r->m, r->b.params);
    if (bad >= 0) {
        snprintf(err, errlen, "refusing to write %s: %s holds values that are not finite (NaN or infinite)", path,
                 r->m->tensors[bad].name);
        return -1;
    }
    if (cnn_dist_rank() != 0) /* rank 0 writes the run folder; the weights are the same on every rank */
        return 0;
    char arch[17], ep[16];
    cnn_model_arch_hash(r->m, arch);
    snprintf(ep, sizeof ep, "%d", epoch);
    const char *meta[] = {"format", "pt",
                          "model", r->m->name,
                          "source", r->m->source ? r->m->source : "",
                          "source_hash", r->m->source_hash ? r->m->source_hash : "",
                          "arch_hash", arch,
                          "epoch", ep,
                          "classes", r->classes ? r->classes : "",
                          note ? "interrupted" : NULL, note,
                          NULL};
    return cnn_weights_save(r->m, r->b.params, path, meta, err, errlen);
}

/* Keras's class_weight for this run: balanced from the training split's
 * counts, or the configuration's list (one per class of the data); printed
 * with the class names. */
static int set_class_weights(run *r, char *err, size_t errlen)
{
    const cnn_config *c = &r->o->cfg;
    int k = cnn_dataset_n_classes(r->train);
    int model_k = r->m->n_outputs == 1 ? 2 : r->m->n_outputs;
    if (k != model_k) {
        snprintf(err, errlen, "class_weight: the data has %d classes, the network %d", k, model_k);
        return -1;
    }
    if (c->class_weight == CNN_CW_EXPLICIT && c->n_class_weights != k) {
        snprintf(err, errlen, "class_weight gives %d weights, but the data has %d classes (%s, ...): give one per "
                              "class, in the order of the sorted class folders", c->n_class_weights, k,
                 cnn_dataset_class_name(r->train, 0));
        return -1;
    }
    r->class_weight = malloc((size_t)k * sizeof(float));
    if (!r->class_weight) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->n_classes = k;
    if (c->class_weight == CNN_CW_BALANCED) {
        int count[CNN_MAX_CLASS_WEIGHTS];
        for (int i = 0; i < k && i < CNN_MAX_CLASS_WEIGHTS; i++)
            count[i] = cnn_dataset_class_count(r->train, i);
        if (k > CNN_MAX_CLASS_WEIGHTS) {
            snprintf(err, errlen, "class_weight balanced supports at most %d classes", CNN_MAX_CLASS_WEIGHTS);
            return -1;
        }
        if (cnn_class_weights_balanced(count, k, r->class_weight))
            cnn_warning(r->m, "class_weight balanced: a class has no training image; its weight is 0");
    } else {
        for (int i = 0; i < k; i++)
            r->class_weight[i] = (float)c->class_weights[i];
    }
    if (!r->o->quiet) {
        printf("Class weights (%s):", c->class_weight == CNN_CW_BALANCED
                                          ? "balanced: n / (classes x count) over the training split"
                                          : "given");
        for (int i = 0; i < k; i++)
            printf("%s %s %.4g", i ? "," : "", cnn_dataset_class_name(r->train, i), (double)r->class_weight[i]);
        printf("\n");
    }
    return 0;
}

/* The checks of a loaded checkpoint that need the run: every epoch takes
 * the same number of steps (the batch and the data are the same, or the
 * load refused it), the history has one row per epoch, and its columns are
 * this run's (--metrics unchanged: another set of columns would rewrite
 * history.csv without the earlier metrics). On success r->hist holds the
 * checkpoint's history. Returns 0, 1 when the checkpoint is inconsistent
 * (corrupt: the caller may try .prev), -1 when it is intact but refused. */
static int check_resumed(run *r, const char *path, const cnn_train_state *st, char *err, size_t errlen)
{
    uint64_t steps = (uint64_t)cnn_loader_batches(r->tl);
    /* A run interrupted by Ctrl-C is saved between two steps of an epoch. */
    if (st->step < (uint64_t)st->epoch * steps || st->step >= (uint64_t)(st->epoch + 1) * steps) {
        snprintf(err, errlen, "%s is corrupt: its training state is out of range (step=%" PRIu64 " after %d epochs "
                              "of %" PRIu64 " steps)", path, st->step, st->epoch, steps);
        return 1;
    }
    cnn_history h2;
    if (!st->history || cnn_history_parse(&h2, st->history) != 0) {
        snprintf(err, errlen, "%s is corrupt: its history is not a table", path);
        return 1;
    }
    if (h2.n_rows != st->epoch) {
        snprintf(err, errlen, "%s is corrupt: its training state is out of range (epoch=%d with %d rows of "
                              "history)", path, st->epoch, h2.n_rows);
        cnn_history_free(&h2);
        return 1;
    }
    /* A trainer without learning-rate schedules wrote no lr column; its
     * rate was the settings' lr (the same as this run's, or the settings
     * check refused the checkpoint, except after a divergence): filled in. */
    int old_lr = h2.n_cols == r->hist.n_cols - 1 && !strcmp(r->hist.cols[r->hist.n_cols - 1], "lr") &&
                 cnn_history_col(&h2, "lr") < 0;
    int same = h2.n_cols == r->hist.n_cols - old_lr;
    for (int i = 0; same && i < h2.n_cols; i++)
        same = !strcmp(h2.cols[i], r->hist.cols[i]);
    if (same && old_lr) {
        const char *was = st->settings ? strstr(st->settings, "\nlr=") : NULL; /* model= comes first */
        double lr = was ? strtod(was + 4, NULL) : NAN;
        if (!(lr > 0 && lr <= 10)) {
            snprintf(err, errlen, "%s is corrupt: its settings have no learning rate", path);
            cnn_history_free(&h2);
            return 1;
        }
        if (cnn_history_add_column(&h2, "lr", lr)) {
            snprintf(err, errlen, "out of memory");
            cnn_history_free(&h2);
            return -1;
        }
        printf("Note: %s was written by a trainer without the lr column in history.csv; its %d epoch%s ran at "
               "lr %g, filled in.\n", path, st->epoch, cnn_plural(st->epoch), lr);
    }
    if (!same) {
        char was[512] = "", now[512] = "";
        for (int i = 0; i < h2.n_cols; i++)
            snprintf(was + strlen(was), sizeof was - strlen(was), "%s%s", i ? "," : "", h2.cols[i]);
        for (int i = 0; i < r->hist.n_cols; i++)
            snprintf(now + strlen(now), sizeof now - strlen(now), "%s%s", i ? "," : "", r->hist.cols[i]);
        snprintf(err, errlen, "%s records the columns %s, this run has %s (another --metrics, or validation "
                              "data added or removed); resume with the same --metrics, or train with another --out",
                 path, was, now);
        cnn_history_free(&h2);
        return -1;
    }
    cnn_history_free(&r->hist);
    r->hist = h2;
    char serr[256];
    if (cnn_schedule_restore(&r->sched, st->schedule, serr, sizeof serr)) {
        snprintf(err, errlen, "%s is corrupt: %s", path, serr);
        return 1;
    }
    return 0;
}

/* Loads a checkpoint for --resume, falling back to .prev when the newest is
 * corrupt. Returns 1 when resumed, 0 when there is nothing to resume, -1 on a
 * refusal (reported). */
static int try_resume(run *r, cnn_train_state *st, uint64_t th, uint64_t vh)
{
    char err[1024];
    struct stat sb;
    /* After a divergence the last good checkpoint may be resumed with
     * another learning rate (what the divergence message suggests). */
    int lr_may_change = stat(r->diverged, &sb) == 0;
    if (stat(r->ckpt, &sb) != 0) {
        char prev[CNN_MAX_PATH + 80];
        snprintf(prev, sizeof prev, "%s.prev", r->ckpt);
        if (stat(prev, &sb) != 0) {
            printf("Nothing to resume in %s (no checkpoint.safetensors); starting from epoch 1.\n", r->o->out);
            return 0;
        }
    }
    int corrupt = 0;
    if (cnn_checkpoint_load(r->ckpt, r->m, r->b.params, r->opt, st, r->settings, lr_may_change, th, vh, &corrupt,
                            err, sizeof err) == 0) {
        int k = check_resumed(r, r->ckpt, st, err, sizeof err);
        if (k == 0)
            return 1;
        corrupt = k > 0;
        cnn_train_state_free(st);
    }
    if (!corrupt) {
        cnn_error(r->m, "cannot resume: %s", err);
        return -1;
    }
    char prev[CNN_MAX_PATH + 80], err2[1024];
    snprintf(prev, sizeof prev, "%s.prev", r->ckpt);
    if (stat(prev, &sb) != 0) {
        cnn_error(r->m, "cannot resume: %s; there is no previous checkpoint (%s) to fall back on. "
                        "Train without --resume to start again.", err, prev);
        return -1;
    }
    cnn_optim_reset(r->opt);
    if (cnn_checkpoint_load(prev, r->m, r->b.params, r->opt, st, r->settings, lr_may_change, th, vh, &corrupt,
                            err2, sizeof err2) == 0) {
        if (check_resumed(r, prev, st, err2, sizeof err2) == 0) {
            cnn_warning(r->m, "%s; resuming from the previous checkpoint %s (epoch %d)", err, prev, st->epoch);
            return 1;
        }
        cnn_train_state_free(st);
    }
    cnn_error(r->m, "cannot resume: %s; and the previous checkpoint is refused too: %s", err, err2);
    return -1;
}

/* The run diverged (`what` says where): reports it, says which checkpoint
 * is kept, and leaves the `diverged` file in the run folder, which allows
 * the next --resume to change the learning rate. Nothing poisoned is saved:
 * the checkpoint, best and final weights are written only from finite
 * states. */
static void report_divergence(run *r, const cnn_progress *pg, const char *what)
{
    if (cnn_dist_rank() != 0) /* the same on every rank (the loss is the whole batch's): rank 0 reports it */
        return;
    const cnn_model *m = r->m;
    const cnn_run_options *o = r->o;
    fflush(stdout);
    if (pg->tty && !o->quiet)
        fputc('\n', stdout);
    fflush(stdout);
    cnn_error(m, "the run diverged: %s; training stopped.", what);
    /* The rate in effect is the schedule's; --lr sets its base. A tenth of
     * the base gives a tenth of the rate at every epoch of a step or cosine
     * schedule; a plateau restarts from --lr (cnn_schedule_set_base), so
     * there the suggestion is a tenth of the current rate. */
    const double base = r->sched.base_lr, now = r->lr_now;
    const int scheduled = o->cfg.schedule.kind != CNN_SCHED_NONE && now != base;
    const double lr = o->cfg.schedule.kind == CNN_SCHED_PLATEAU ? now / 10 : base / 10;
    char rate[160], then[96] = "", text[1024];
    if (scheduled) {
        snprintf(rate, sizeof rate, "The learning rate in effect, %g (the schedule's rate from --lr %g), is probably "
                                    "too high", now, base);
        snprintf(then, sizeof then, " (the schedule then gives %g at that epoch)", now / 10);
        snprintf(text, sizeof text, "%s with lr=%g (the schedule's rate from --lr %g)", what, now, base);
    } else {
        snprintf(rate, sizeof rate, "The learning rate (%g) is probably too high", now);
        snprintf(text, sizeof text, "%s with lr=%g", what, now);
    }
    if (r->ckpt_epoch > 0) {
        fprintf(stderr, "  The last good checkpoint (end of epoch %d, finite weights) is kept: %s\n", r->ckpt_epoch,
                r->ckpt);
        fprintf(stderr, "  %s: resume it with a lower one, e.g. `--resume --lr %g`%s.\n", rate, lr, then);
        char err[1024];
        snprintf(text + strlen(text), sizeof text - strlen(text), "; checkpoint epoch %d\n", r->ckpt_epoch);
        if (cnn_write_file_atomic(r->diverged, text, strlen(text), err, sizeof err))
            cnn_warning(m, "%s", err);
    } else {
        fprintf(stderr, "  No epoch finished, so there is no checkpoint.\n");
        fprintf(stderr, "  %s: try --lr %g%s.\n", rate, lr, then);
    }
}

/* After a Ctrl-C: the checkpoint (unless the epoch's own was just written)
 * and model.safetensors, each written atomically, and how to resume.
 * batch > 0: the run stopped after that batch of epoch st->epoch + 1;
 * -1: after epoch st->epoch. Returns CNN_EXIT_INTERRUPTED, or 1 when a file
 * could not be written. */
static int save_interrupted(run *r, const cnn_progress *pg, cnn_train_state *st, int batch, int steps, uint64_t th,
                            uint64_t vh)
{
    const cnn_model *m = r->m;
    const cnn_run_options *o = r->o;
    char err[1024], where[128];
    fflush(stdout);
    if (pg->tty && !o->quiet && batch > 0)
        fputc('\n', stdout);
    if (batch > 0) {
        snprintf(where, sizeof where, "epoch %d, batch %d of %d", st->epoch + 1, batch, steps);
        if (!st->history) /* stopped in the first epoch: the history is its header */
            st->history = cnn_history_csv(&r->hist);
        if (cnn_checkpoint_save(r->ckpt, m, r->b.params, r->opt, st, r->settings, th, vh, r->classes, err,
                                sizeof err)) {
            cnn_error(m, "%s", err);
            return 1;
        }
    } else {
        snprintf(where, sizeof where, "the end of epoch %d", st->epoch);
    }
    if (save_weights(r, r->final, st->epoch, batch > 0 ? where : NULL, err, sizeof err)) {
        cnn_error(m, "%s", err);
        return 1;
    }
    printf("Interrupted at %s. Saved %s and %s (the weights at that point).\n", where, r->ckpt, r->final);
    printf("Resume with: %s train --resume --out %s (with this run's other flags)\n", m->name, o->out);
    fflush(stdout);
    return CNN_EXIT_INTERRUPTED;
}

/* ---- set-up ---------------------------------------------------------------- */

/* The checks that need no data, the threads, the run folder (created and
 * locked) and its file names. Returns 0, or -1 when the run cannot start
 * (reported; nothing to free). */
static int open_run(run *r, int *lock_fd)
{
    const cnn_model *m = r->m;
    const cnn_run_options *o = r->o;
    const cnn_config *c = &o->cfg;
    char err[1024];
    if (!c->data) {
        cnn_error(m, "no training data: give --data DIR (a folder with a subfolder per class, or an "
                     "IDX file), or set `data \"...\"` in the train block of %s", m->source ? m->source : "the model");
        return -1;
    }
    if (cnn_check_default_data(m, o))
        return -1;
    /* --init's file is checked before the data are read (minutes, for a large set) */
    if (c->init && !o->resume && cnn_init_from_file(m, NULL, c->init, c->init_partial, NULL, err, sizeof err)) {
        cnn_error(m, "%s", err);
        return -1;
    }
    cnn_apply_threads(o->threads);
    if (cnn_make_dirs(o->out, err, sizeof err)) {
        cnn_error(m, "%s", err);
        return -1;
    }
    /* Under mpirun rank 0 alone owns the run folder (docs/distributed.md). */
    r->writer = cnn_dist_rank() == 0;
    *lock_fd = r->writer ? cnn_run_lock(o->out, err, sizeof err) : -3;
    if (*lock_fd == -1) {
        cnn_error(m, "%s", err);
        return -1;
    }
    if (*lock_fd == -2)
        cnn_warning(m, "%s", err);
    if (r->writer)
        cnn_run_remove_stale(o->out);
    cnn_run_path(r->ckpt, sizeof r->ckpt, o->out, "checkpoint.safetensors");
    cnn_run_path(r->best, sizeof r->best, o->out, "best.safetensors");
    cnn_run_path(r->final, sizeof r->final, o->out, "model.safetensors");
    cnn_run_path(r->csv, sizeof r->csv, o->out, "history.csv");
    cnn_run_path(r->svg, sizeof r->svg, o->out, "curves.svg");
    cnn_run_path(r->diverged, sizeof r->diverged, o->out, "diverged");
    cnn_run_path(r->timing_csv, sizeof r->timing_csv, o->out, "timing.csv");
    r->ckpt_epoch = -1;
    return 0;
}

/* The data (and split.csv), the class weights, the loaders, the buffers,
 * the optimizer, the settings, the schedule, the history's columns and the
 * monitors. Returns 0, or -1 (reported). */
static int set_up(run *r)
{
    const cnn_model *m = r->m;
    const cnn_run_options *o = r->o;
    const cnn_config *c = &o->cfg;
    char err[1024];
    char split_csv[CNN_MAX_PATH + 64];
    cnn_run_path(split_csv, sizeof split_csv, o->out, "split.csv");

    cnn_data_options dopt;
    cnn_data_options_from(o, &dopt, r->log);
    if (cnn_data_open(m, &dopt, &r->train, &r->val, err, sizeof err)) {
        cnn_error(m, "%s", err);
        return -1;
    }
    if (cnn_dataset_size(r->train) == 0) {
        cnn_error(m, "no training images in %s", c->data);
        return -1;
    }
    if (r->writer && cnn_write_split(split_csv, r->train, r->val, err, sizeof err)) {
        cnn_error(m, "%s", err);
        return -1;
    }
    int batch = c->batch;
    r->classes = cnn_class_list(r->train);
    if (c->class_weight != CNN_CW_NONE && set_class_weights(r, err, sizeof err)) {
        cnn_error(m, "%s", err);
        return -1;
    }
    r->tl = cnn_loader_create(m, r->train, batch, 1, c->seed, err, sizeof err);
    if (r->tl && r->val)
        r->vl = cnn_loader_create(m, r->val, batch, 0, c->seed, err, sizeof err);
    if (!r->tl || (r->val && !r->vl) || cnn_dist_check_run(batch, r->train, r->val, err, sizeof err)) {
        cnn_error(m, "%s", err);
        return -1;
    }
    if (cnn_buffers_alloc(m, batch, &r->b) || !(r->logits = cnn_alloc_floats((size_t)batch * m->n_outputs)) ||
        !(r->dlogits = cnn_alloc_floats((size_t)batch * m->n_outputs)) ||
        cnn_metrics_init(&r->tm, m->n_outputs, m->final_act) ||
        cnn_metrics_init(&r->vm, m->n_outputs, m->final_act)) {
        cnn_error(m, "out of memory for batch %d (%.0f MB of activations); try a smaller --batch", batch,
                  (double)batch * (double)m->act_floats * 4.0 / 1048576.0);
        return -1;
    }
    r->opt = cnn_optim_create(&c->optimizer, m->n_trainable);
    if (!r->opt) {
        const char *why = cnn_optim_check(&c->optimizer);
        cnn_error(m, "%s", why ? why : "out of memory for the optimizer state");
        return -1;
    }
    settings_text(m, o, r->settings, sizeof r->settings);
    cnn_schedule_init(&r->sched, &c->schedule, c->optimizer.lr, c->epochs);

    /* History columns: Keras names, training metrics then validation ones. */
    r->nm = cnn_metrics_names(c->metrics, r->mnames);
    const char *cols[CNN_HISTORY_MAX_COLS];
    int nc = 0;
    for (int i = 0; i < r->nm; i++)
        cols[nc++] = r->mnames[i];
    if (r->val)
        for (int i = 0; i < r->nm; i++) {
            snprintf(r->valnames[i], sizeof r->valnames[i], "val_%s", r->mnames[i]);
            cols[nc++] = r->valnames[i];
        }
    cols[nc++] = "lr"; /* the rate of the epoch (Keras logs it as learning_rate) */
    r->nc = nc;
    cnn_history_init(&r->hist, cols, nc);
    cnn_timing_init(&r->timing);
    for (int i = 0; i < nc; i++)
        r->pnames[i] = cols[i];

    r->mon = cnn_word(cnn_monitor_words, c->monitor);
    if (!r->val && !strncmp(r->mon, "val_", 4)) {
        if (c->early_stopping)
            cnn_warning(m, "early stopping monitors %s, but there is no validation data; monitoring %s", r->mon,
                        r->mon + 4);
        r->mon += 4;
    }

    /* reduce_lr_on_plateau's monitor falls back as early stopping's does */
    r->plateau_mon = cnn_word(cnn_monitor_words, c->schedule.monitor);
    if (c->schedule.kind == CNN_SCHED_PLATEAU && !r->val && !strncmp(r->plateau_mon, "val_", 4)) {
        cnn_warning(m, "reduce_lr_on_plateau monitors %s, but there is no validation data; monitoring %s",
                    r->plateau_mon, r->plateau_mon + 4);
        r->plateau_mon += 4;
    }

    r->th = cnn_dataset_hash(r->train);
    r->vh = r->val ? cnn_dataset_hash(r->val) : 0;
    return 0;
}

/* A resumed run whose settings differ from its checkpoint's: only the
 * learning rate can (cnn_checkpoint_load), and only after a divergence;
 * the change is recorded. Returns 0, or -1 (reported). */
static int record_lr_change(run *r)
{
    const cnn_config *c = &r->o->cfg;
    cnn_train_state *st = &r->st;
    const char *was = strstr(st->settings, "\nlr="), *why = NULL; /* model= comes first */
    char because[1024] = "", line[1200];
    FILE *f = fopen(r->diverged, "r");
    if (f) {
        if (fgets(because, sizeof because, f))
            because[strcspn(because, "\n")] = 0;
        fclose(f);
        why = because;
    }
    double was_lr = was ? strtod(was + 4, NULL) : NAN;
    snprintf(line, sizeof line, "epoch %d: lr %g -> %g after a divergence (%s)", st->epoch, was_lr,
             c->optimizer.lr, why && *why ? why : "see the run's output");
    size_t have = st->lr_changes ? strlen(st->lr_changes) : 0;
    char *nl = realloc(st->lr_changes, have + strlen(line) + 2);
    if (!nl) {
        cnn_error(r->m, "out of memory");
        return -1;
    }
    snprintf(nl + have, strlen(line) + 2, "%s%s", have ? "\n" : "", line);
    st->lr_changes = nl;
    printf("Resuming after a divergence with lr %g instead of %g (recorded in the checkpoint).\n",
           c->optimizer.lr, was_lr);
    cnn_schedule_set_base(&r->sched, c->optimizer.lr);
    return 0;
}

/* The starting state: the checkpoint's with --resume (when there is one),
 * else fresh weights (or --init's); then the run's opening lines. Returns
 * 0, or -1 (reported). */
static int start(run *r)
{
    const cnn_model *m = r->m;
    const cnn_run_options *o = r->o;
    const cnn_config *c = &o->cfg;
    cnn_train_state *st = &r->st;
    char err[1024];
    st->seed = c->seed;
    st->best_value = strstr(r->mon, "accuracy") ? -INFINITY : INFINITY;
    if (o->resume) {
        int k = try_resume(r, st, r->th, r->vh);
        if (k < 0)
            return -1;
        r->resumed = k;
    }
    if (r->resumed) {
        r->ckpt_epoch = st->epoch;
        if (st->settings && strcmp(st->settings, r->settings) != 0 && record_lr_change(r))
            return -1;
        cnn_history_free(&r->timing);
        if (cnn_timing_resume(&r->timing, r->timing_csv, st->epoch)) {
            cnn_error(m, "out of memory");
            return -1;
        }
        printf("Resuming from %s: %d of %d epoch%s done, step %" PRIu64 ".\n", r->ckpt, st->epoch, c->epochs,
               cnn_plural(c->epochs),
               st->step);
    } else {
        struct stat sb;
        if (stat(r->ckpt, &sb) == 0)
            printf("Note: %s holds an earlier run; this new run replaces its files (the earlier checkpoint "
                   "is kept as checkpoint.safetensors.prev until epoch 2). Use --resume to continue it instead.\n",
                   o->out);
        cnn_init_params(m, r->b.params, c->seed);
        if (c->init && cnn_init_from_file(m, r->b.params, c->init, c->init_partial, stdout, err, sizeof err)) {
            cnn_error(m, "%s", err);
            return -1;
        }
    }

    char arch[17];
    cnn_model_arch_hash(m, arch);
    if (r->log)
        printf("Training %s: %d image%s, %d validation, batch %d, %d epoch%s, %s lr=%g, seed %" PRIu64
               ", %d thread%s; run folder %s\n",
               m->name, cnn_dataset_size(r->train), cnn_plural(cnn_dataset_size(r->train)),
               r->val ? cnn_dataset_size(r->val) : 0, c->batch, c->epochs, cnn_plural(c->epochs),
               cnn_optim_kind_name(c->optimizer.kind), c->optimizer.lr, c->seed, omp_get_max_threads(),
               cnn_plural(omp_get_max_threads()), o->out);
    if (r->log && c->schedule.kind != CNN_SCHED_NONE) {
        char d[512];
        cnn_schedule_describe(&c->schedule, d, sizeof d);
        printf("Learning rate: %s\n", d);
    }
    return 0;
}

/* ---- one epoch ------------------------------------------------------------- */

typedef struct epoch_tally {
    double t_epoch; /* when the epoch started */
    double lr;      /* the epoch's learning rate */
    int batches;    /* the batch count reached (from the resumed one on) */
    long images;    /* training images of this epoch's steps */
} epoch_tally;

/* The training phase of epoch `epoch` from batch `skip` on: every step,
 * checked, with the progress line. Fills times' training columns and
 * row's training metrics and lr. Returns 0 when the epoch is done, the
 * batch count after a Ctrl-C (the epoch unfinished), -1 when the run
 * diverged (reported). */
static int train_epoch(run *r, int epoch, int skip, epoch_tally *t, double *times, double *row)
{
    const cnn_model *m = r->m;
    const cnn_run_options *o = r->o;
    const cnn_config *c = &o->cfg;
    const int steps = r->steps, nm = r->nm;
    double t_batches = 0;
    cnn_metrics_reset(&r->tm);
    double lr = cnn_schedule_lr(&r->sched, epoch);
    cnn_optim_set_lr(r->opt, lr);
    r->lr_now = lr;
    t->lr = lr;
    if (!o->quiet)
        cnn_progress_begin(&r->pg, epoch + 1, c->epochs, steps);
    /* A run resumed after a Ctrl-C starts where it stopped; the epoch's
     * training metrics then cover the batches after it (as Keras's
     * BackupAndRestore resumed mid-epoch). */
    cnn_loader_begin(r->tl, epoch, skip);
    const float *x;
    const int *labels, *idx;
    int n, bi = skip;
    long images = 0;
    for (;;) {
        double t_batch = cnn_now();
        n = cnn_loader_next(r->tl, &x, &labels, &idx);
        t_batches += cnn_now() - t_batch;
        if (n <= 0)
            break;
        double loss = cnn_train_step_weighted(m, &r->b, r->opt, x, labels, r->logits, r->dlogits, n, c->seed,
                                              r->st.step, 1, r->class_weight, r->n_classes);
        /* Every step: the loss before the update, and the weights (and
         * batchnorm statistics) after it, so that the last update of an
         * epoch is checked too. */
        int bad = isfinite(loss) ? cnn_step_nonfinite(m, &r->b, r->opt) : -1;
        if (!isfinite(loss) || bad >= 0) {
            char what[512], imgs[256] = "";
            size_t k = 0;
            for (int i = 0; i < n && i < 4 && k < sizeof imgs; i++)
                k += (size_t)snprintf(imgs + k, sizeof imgs - k, " %s",
                                      idx ? cnn_dataset_path(r->train, idx[i]) : "?");
            if (!isfinite(loss))
                snprintf(what, sizeof what, "the loss is %s at epoch %d, batch %d of %d", isnan(loss) ? "NaN" : "infinite",
                         epoch + 1, bi + 1, steps);
            else
                snprintf(what, sizeof what, "the weights of %s are not finite (NaN or infinite) after the update "
                         "of epoch %d, batch %d of %d", m->tensors[bad].name, epoch + 1, bi + 1, steps);
            report_divergence(r, &r->pg, what);
            fprintf(stderr, "  Images of that batch:%s%s\n", imgs, n > 4 ? " ..." : "");
            return -1;
        }
        r->st.step++;
        bi++;
        images += n;
        cnn_metrics_add(&r->tm, r->logits, labels, n, loss);
        if (!o->quiet && r->pg.tty) {
            for (int i = 0; i < nm; i++)
                r->pvals[i] = cnn_metrics_value(&r->tm, r->mnames[i]);
            cnn_progress_update(&r->pg, bi, images, r->pnames, r->pvals, nm);
        }
        if (cnn_interrupt_pending() && bi < steps)
            return bi;
    }
    t->batches = bi;
    t->images = images;
    times[CNN_TIMING_IMAGES] = (double)images;
    times[CNN_TIMING_TRAIN] = cnn_now() - t->t_epoch;
    times[CNN_TIMING_BATCH] = t_batches;
    for (int i = 0; i < nm; i++)
        row[i] = cnn_metrics_value(&r->tm, r->mnames[i]);
    row[r->nc - 1] = lr;
    return 0;
}

/* The validation pass after epoch `epoch`: fills times' validation columns
 * and row's validation metrics. Returns 0, or -1 when the validation loss
 * is not finite (the run diverged, reported). */
static int validate(run *r, int epoch, double *times, double *row)
{
    const cnn_config *c = &r->o->cfg;
    double t_val = cnn_now();
    cnn_eval_pass(r->m, &r->b, r->vl, r->logits, &r->vm, c->seed, r->st.step);
    times[CNN_TIMING_VAL] = cnn_now() - t_val;
    times[CNN_TIMING_VAL_IMAGES] = (double)r->vm.n;
    for (int i = 0; i < r->nm; i++)
        row[r->nm + i] = cnn_metrics_value(&r->vm, r->mnames[i]);
    double vl = cnn_metrics_loss(&r->vm);
    if (!isfinite(vl)) {
        char what[256];
        snprintf(what, sizeof what, "the validation loss is %s after epoch %d", isnan(vl) ? "NaN" : "infinite",
                 epoch + 1);
        report_divergence(r, &r->pg, what);
        return -1;
    }
    return 0;
}

/* The epoch's results: the state checked, the history row, the progress
 * line's end, the schedule's step, the best weights and early stopping
 * (*stop set when the run stops after this epoch). Returns 0, or -1
 * (reported). */
static int close_epoch(run *r, int epoch, const epoch_tally *t, const double *row, int *stop)
{
    const cnn_model *m = r->m;
    const cnn_run_options *o = r->o;
    const cnn_config *c = &o->cfg;
    cnn_train_state *st = &r->st;
    const int nc = r->nc;
    const double lr = t->lr;
    char err[1024];
    {
        /* The optimizer's state too: a non-finite slot would poison the
         * next update; the checkpoint must not hold one. */
        char bad[96];
        if (cnn_checkpoint_nonfinite(m, r->b.params, r->opt, bad, sizeof bad)) {
            char what[256];
            snprintf(what, sizeof what, "%s is not finite (NaN or infinite) after epoch %d", bad, epoch + 1);
            report_divergence(r, &r->pg, what);
            return -1;
        }
    }
    if (cnn_history_add(&r->hist, row)) {
        cnn_error(m, "out of memory");
        return -1;
    }
    if (!o->quiet) {
        for (int i = 0; i < nc; i++)
            r->pvals[i] = r->hist.rows[(size_t)(r->hist.n_rows - 1) * nc + i];
        cnn_progress_end(&r->pg, t->batches, t->images, r->pnames, r->pvals, lr != r->prev_lr ? nc : nc - 1);
    }
    r->prev_lr = lr;
    if (cnn_schedule_epoch_end(&r->sched, cnn_history_get(&r->hist, r->hist.n_rows - 1, r->plateau_mon)) &&
        r->log)
        printf("Epoch %d: ReduceLROnPlateau: %s has not improved for %d epoch%s; learning rate %g -> %g\n",
               epoch + 1, r->plateau_mon, c->schedule.patience, c->schedule.patience == 1 ? "" : "s", lr,
               cnn_schedule_lr(&r->sched, epoch + 1));

    /* Best weights and early stopping (Keras's EarlyStopping, min_delta 0). */
    double cur = cnn_history_get(&r->hist, r->hist.n_rows - 1, r->mon);
    *stop = 0;
    if (improves(r->mon, cur, st->best_value)) {
        st->best_value = cur;
        st->best_epoch = epoch + 1;
        st->wait = 0;
        if (save_weights(r, r->best, epoch + 1, NULL, err, sizeof err)) {
            cnn_error(m, "%s", err);
            return -1;
        }
    } else {
        /* Keras: stop after `patience` epochs without improvement (never
         * after the first epoch, nor after one that improved). */
        st->wait++;
        *stop = c->early_stopping && st->wait >= c->patience && epoch > 0;
    }
    return 0;
}

/* The epoch's files: history.csv, curves.svg, the checkpoint, then
 * timing.csv (its row's seconds cover everything before). Returns 0, or
 * -1 (reported). */
static int save_epoch(run *r, int epoch, const epoch_tally *t, double *times)
{
    const cnn_model *m = r->m;
    cnn_train_state *st = &r->st;
    char err[1024];
    /* The checkpoint goes last: a run killed before it redoes this epoch. */
    st->epoch = epoch + 1;
    free(st->history);
    st->history = cnn_history_csv(&r->hist);
    char sched_state[256];
    cnn_schedule_state(&r->sched, sched_state, sizeof sched_state);
    free(st->schedule);
    st->schedule = *sched_state ? strdup(sched_state) : NULL;
    if (r->writer && (cnn_history_write(&r->hist, r->csv, err, sizeof err) ||
                      cnn_plot_write(&r->hist, m->name, r->svg, err, sizeof err) ||
                      cnn_checkpoint_save(r->ckpt, m, r->b.params, r->opt, st, r->settings, r->th, r->vh,
                                          r->classes, err, sizeof err))) {
        cnn_error(m, "%s", err);
        return -1;
    }
    r->ckpt_epoch = st->epoch;
    if (r->writer)
        unlink(r->diverged); /* the checkpoint now holds this run's settings */
    times[CNN_TIMING_SECONDS] = cnn_now() - t->t_epoch;
    cnn_history_truncate(&r->timing, epoch); /* rows of epochs a resume redoes */
    if (cnn_history_add(&r->timing, times)) {
        cnn_error(m, "out of memory");
        return -1;
    }
    if (r->writer && cnn_history_write(&r->timing, r->timing_csv, err, sizeof err)) {
        cnn_error(m, "%s", err);
        return -1;
    }
    return 0;
}

/* ---- the run's end ---------------------------------------------------------- */

/* After the last epoch (or early stopping): the best weights restored,
 * model.safetensors, the final validation report. Returns the exit status. */
static int finish(run *r, int stopped_early)
{
    const cnn_model *m = r->m;
    const cnn_run_options *o = r->o;
    const cnn_config *c = &o->cfg;
    cnn_train_state *st = &r->st;
    char err[1024];
    int restored = 0;
    /* Early stopping restores the best weights, as Keras's
     * EarlyStopping(restore_best_weights=True). */
    if (stopped_early && st->best_epoch > 0 && st->best_epoch != stopped_early) {
        cnn_st_file f;
        if (cnn_st_read(r->best, &f, err, sizeof err) || cnn_weights_get(m, &f, r->b.params, err, sizeof err)) {
            cnn_error(m, "cannot restore the best weights: %s", err);
            if (f.buf)
                cnn_st_close(&f);
            return 1;
        }
        cnn_st_close(&f);
        restored = 1;
    }
    if (stopped_early)
        printf("Early stopping after epoch %d: %s has not improved for %d epoch%s%s (best %.4f at epoch %d).\n",
               stopped_early, r->mon, c->patience, cnn_plural(c->patience), restored ? "; restored the best weights" : "", st->best_value,
               st->best_epoch);
    /* After early stopping the model is the best epoch's, and says so. */
    int final_epoch = restored ? st->best_epoch : st->epoch;
    if (save_weights(r, r->final, final_epoch, NULL, err, sizeof err)) {
        cnn_error(m, "%s", err);
        return 1;
    }
    /* Every file of the run is written: from here on Ctrl-C ends the
     * trainer at once (only the final report would be lost). */
    cnn_interrupt_remove();
    if (cnn_interrupt_pending()) {
        /* Ctrl-C came during the last step, or after it: the run had done
         * all its work. It still ends as an interrupted run (status 130, as
         * a Python script stopped by KeyboardInterrupt), saying so. */
        printf("Interrupted after the run's last step: %s. Saved %s (%s, epoch %d) and %s; "
               "the final validation report is skipped.\n",
               stopped_early ? "early stopping had ended it" : "all its epochs were done, nothing is left to resume",
               r->final, restored ? "the best weights, restored by early stopping" : "final weights", final_epoch,
               r->ckpt);
        if (!stopped_early)
            printf("To train further: %s train --resume --epochs N --out %s (N above %d, with this run's other "
                   "flags)\n", m->name, o->out, c->epochs);
        fflush(stdout);
        return CNN_EXIT_INTERRUPTED;
    }
    if (r->val && st->epoch > 0) {
        /* The last epoch's validation pass used the final weights unless they
         * were restored (or the run had nothing left to do after a resume). */
        if (restored || r->vm.n == 0)
            cnn_eval_pass(m, &r->b, r->vl, r->logits, &r->vm, c->seed, st->step);
        const char *names[64];
        int k = cnn_dataset_n_classes(r->val);
        for (int i = 0; i < k && i < 64; i++)
            names[i] = cnn_dataset_class_name(r->val, i);
        printf("Validation (%ld image%s): loss %.4f, accuracy %.4f", r->vm.n, cnn_plural(r->vm.n), cnn_metrics_loss(&r->vm),
               cnn_metrics_accuracy(&r->vm));
        if (r->vm.binary && (c->metrics & CNN_METRIC_PRECISION))
            printf(", precision %.4f", cnn_metrics_precision(&r->vm));
        if (r->vm.binary && (c->metrics & CNN_METRIC_RECALL))
            printf(", recall %.4f", cnn_metrics_recall(&r->vm));
        if (r->vm.binary && (c->metrics & CNN_METRIC_AUC))
            printf(", auc %.4f", cnn_metrics_auc(&r->vm));
        printf("\n");
        cnn_metrics_print_report(stdout, &r->vm, k <= 64 ? names : NULL, "the validation data");
    }
    if (restored)
        printf("Saved %s (the best weights, epoch %d, restored by early stopping)", r->final, final_epoch);
    else
        printf("Saved %s (final weights, epoch %d)", r->final, st->epoch);
    if (st->best_epoch > 0)
        printf(" and %s (epoch %d, %s %.4f)", r->best, st->best_epoch, r->mon, st->best_value);
    printf("; history.csv, curves.svg and checkpoint.safetensors in %s\n", o->out);
    return 0;
}

/* ---- the training command -------------------------------------------------- */

int cnn_cmd_train(const cnn_model *m, const cnn_run_options *o)
{
    run R;
    memset(&R, 0, sizeof R);
    run *r = &R;
    r->m = m;
    r->o = o;
    r->log = o->quiet ? NULL : stdout;
    const cnn_config *c = &o->cfg;
    cnn_train_state *st = &r->st;
    int rc = 1, lock_fd = -3;
    if (open_run(r, &lock_fd))
        return 1;
    if (set_up(r) || start(r))
        goto out;

    cnn_progress_init(&r->pg, stdout, o->quiet ? 0 : o->tty);
    r->steps = cnn_loader_batches(r->tl);
    int stopped_early = 0;
    /* A resumed run that had already stopped early stays stopped. */
    if (r->resumed && c->early_stopping && st->wait > 0 && st->wait >= c->patience && st->epoch > 1) {
        stopped_early = st->epoch;
        printf("The run stopped early at epoch %d; nothing left to train.\n", st->epoch);
    }
    r->prev_lr = c->optimizer.lr;
    if (st->epoch > 0 && r->hist.n_rows == st->epoch)
        r->prev_lr = cnn_history_get(&r->hist, st->epoch - 1, "lr");
    /* Ctrl-C from here on stops after the step in progress, saved. */
    cnn_interrupt_install();
    int interrupted = 0, skip = (int)(st->step - (uint64_t)st->epoch * (uint64_t)r->steps);

    for (int epoch = st->epoch; epoch < c->epochs && !stopped_early; epoch++) {
        epoch_tally t = {.t_epoch = cnn_now()};
        double times[CNN_TIMING_COLS] = {0};
        double row[CNN_HISTORY_MAX_COLS];
        int k = train_epoch(r, epoch, skip, &t, times, row);
        skip = 0;
        if (k < 0)
            goto out;
        if (k > 0) {
            interrupted = k;
            break;
        }
        int stop = 0;
        if ((r->val && validate(r, epoch, times, row)) || close_epoch(r, epoch, &t, row, &stop) ||
            save_epoch(r, epoch, &t, times))
            goto out;
        if (stop) {
            stopped_early = epoch + 1;
            break;
        }
        if (cnn_interrupt_pending() && epoch + 1 < c->epochs) {
            interrupted = -1; /* at the end of an epoch: its checkpoint is written */
            break;
        }
    }
    if (interrupted)
        rc = save_interrupted(r, &r->pg, st, interrupted, r->steps, r->th, r->vh);
    else
        rc = finish(r, stopped_early);
out:
    cnn_interrupt_remove();
    cnn_train_state_free(st);
    run_free(r);
    if (lock_fd >= 0)
        close(lock_fd); /* releases the run folder */
    return rc;
}
