/* check_train.c: the train block: data, validation, batch, epochs, the
 * optimizer and its options, the loss, metrics, class weights, initial
 * weights, the learning-rate schedule and early stopping, each with Keras's
 * defaults (check.c sets them) and ranges; then what the settings require
 * of each other (a monitor on validation data needs some). */
#include <string.h>

#include "check_impl.h"
#include "cnn_words.h"
#include "names.h"
#include "statements.h"

static void check_optimizer(checker *c, const ast_stmt *st, const stmt_args *a)
{
    static const char *const takes[4][10] = {
        {"lr", "learning_rate", "beta1", "beta2", "epsilon", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
         NULL},
        {"lr", "learning_rate", "momentum", "nesterov", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", NULL},
        {"lr", "learning_rate", "rho", "epsilon", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", NULL},
        {"lr", "learning_rate", "beta1", "beta2", "epsilon", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
         NULL},
    };
    cnn_optimizer *o = &c->ir->config.optimizer;
    int k;
    if (!want_word(c, a->pos[0], "optimizer", cnn_optimizer_words, &k))
        return;
    o->kind = (cnn_optimizer_kind)k;
    o->lr = k == CNN_OPT_SGD ? 0.01 : 0.001;
    o->weight_decay = k == CNN_OPT_ADAMW ? 0.004 : 0.0; /* Keras 3's AdamW default */
    for (int i = 0; i < a->n_opts; i++) {
        const ast_item *it = a->opts[i];
        int ok = 0;
        for (int j = 0; takes[k][j]; j++)
            if (strcmp(takes[k][j], it->opt_name) == 0)
                ok = 1;
        if (!ok) {
            char list[128];
            names_join(list, sizeof list, takes[k]);
            diag_error(c->d, it->opt_loc, "optimizer %s has no option '%s'; it takes %s", cnn_optimizer_words[k],
                       it->opt_name, list);
        }
    }
    const ast_value *lr = get_opt(a, "lr"), *lr2 = get_opt(a, "learning_rate");
    if (lr && lr2) {
        diag_error(c->d, lr2->loc, "learning_rate and lr are the same option; give one");
        return;
    }
    const ast_value *v;
    double x;
    int b;
    if ((v = lr ? lr : lr2) && want_real(c, v, "the learning rate", 0, 1, 10, 0, &x))
        o->lr = x;
    if ((v = get_opt(a, "weight_decay")) && want_real(c, v, "weight_decay", 0, 0, 1, 0, &x))
        o->weight_decay = x;
    /* Keras takes one of clipnorm, clipvalue and global_clipnorm. */
    const ast_value *cn = get_opt(a, "clipnorm"), *cv = get_opt(a, "clipvalue"), *gn = get_opt(a, "global_clipnorm");
    if ((cn != NULL) + (cv != NULL) + (gn != NULL) > 1) {
        const ast_value *second = gn && (cn || cv) ? gn : cv;
        diag_error(c->d, second->loc, "%s and %s are both given; give one (Keras allows one clipping)",
                   cn ? "clipnorm" : "clipvalue", second == gn ? "global_clipnorm" : "clipvalue");
    } else if (cn && want_real(c, cn, "clipnorm", 0, 1, 1e6, 0, &x))
        o->clipnorm = x;
    else if (cv && want_real(c, cv, "clipvalue", 0, 1, 1e6, 0, &x))
        o->clipvalue = x;
    else if (gn && want_real(c, gn, "global_clipnorm", 0, 1, 1e6, 0, &x))
        o->global_clipnorm = x;
    if (k == CNN_OPT_ADAM || k == CNN_OPT_ADAMW) {
        if ((v = get_opt(a, "beta1")) && want_real(c, v, "beta1", 0, 0, 1, 1, &x))
            o->beta1 = x;
        if ((v = get_opt(a, "beta2")) && want_real(c, v, "beta2", 0, 0, 1, 1, &x))
            o->beta2 = x;
    }
    if (k != CNN_OPT_SGD && (v = get_opt(a, "epsilon")) && want_real(c, v, "epsilon", 0, 1, 1, 0, &x))
        o->epsilon = x;
    if (k == CNN_OPT_SGD) {
        if ((v = get_opt(a, "momentum")) && want_real(c, v, "momentum", 0, 0, 1, 1, &x))
            o->momentum = x;
        if ((v = get_opt(a, "nesterov")) && want_bool(c, v, "nesterov", &b))
            o->nesterov = b;
    }
    if (k == CNN_OPT_RMSPROP && (v = get_opt(a, "rho")) && want_real(c, v, "rho", 0, 0, 1, 1, &x))
        o->rho = x;
    (void)st;
}

/* step_decay, cosine_decay, reduce_lr_on_plateau: one schedule at most. */
static void check_schedule(checker *c, const ast_stmt *st, const stmt_args *a)
{
    cnn_schedule_cfg *sc = &c->ir->config.schedule;
    if (sc->kind != CNN_SCHED_NONE) {
        diag_error(c->d, st->loc, "'%s' and '%s' (line %d) are both learning-rate schedules; give one",
                   st->name, c->schedule_name, c->schedule_loc.line);
        return;
    }
    c->schedule_name = st->name;
    c->schedule_loc = st->loc;
    const ast_value *v;
    long n;
    double x;
    int k;
    if (strcmp(st->name, "step_decay") == 0) {
        sc->kind = CNN_SCHED_STEP;
        sc->factor = 0.1;
        sc->every = 1;
        if (!(v = get_opt(a, "every")))
            diag_error(c->d, st->loc, "step_decay needs every=N: the epochs between two decays (usage: "
                       "step_decay every=N [factor=0.1])");
        else if (want_int(c, v, "step_decay every", 1, 1000000, &n))
            sc->every = (int)n;
        if ((v = get_opt(a, "factor")) && want_real(c, v, "step_decay factor", 0, 1, 1, 0, &x))
            sc->factor = x;
    } else if (strcmp(st->name, "cosine_decay") == 0) {
        sc->kind = CNN_SCHED_COSINE;
        if ((v = get_opt(a, "epochs")) && want_int(c, v, "cosine_decay epochs", 1, 1000000, &n))
            sc->decay_epochs = (int)n;
        if ((v = get_opt(a, "warmup")) && want_int(c, v, "cosine_decay warmup", 0, 1000000, &n))
            sc->warmup = (int)n;
        if ((v = get_opt(a, "alpha")) && want_real(c, v, "cosine_decay alpha", 0, 0, 1, 0, &x))
            sc->alpha = x;
    } else {
        sc->kind = CNN_SCHED_PLATEAU;
        if ((v = get_opt(a, "monitor")) && want_word(c, v, "monitor", cnn_monitor_words, &k))
            sc->monitor = (cnn_monitor)k;
        if ((v = get_opt(a, "factor")) && want_real(c, v, "reduce_lr_on_plateau factor", 0, 1, 1, 1, &x))
            sc->factor = x;
        if ((v = get_opt(a, "patience")) && want_int(c, v, "reduce_lr_on_plateau patience", 0, 1000000, &n))
            sc->patience = (int)n;
        if ((v = get_opt(a, "min_delta")) && want_real(c, v, "reduce_lr_on_plateau min_delta", 0, 0, 1e6, 0, &x))
            sc->min_delta = x;
        if ((v = get_opt(a, "cooldown")) && want_int(c, v, "reduce_lr_on_plateau cooldown", 0, 1000000, &n))
            sc->cooldown = (int)n;
        if ((v = get_opt(a, "min_lr")) && want_real(c, v, "reduce_lr_on_plateau min_lr", 0, 0, 10, 0, &x))
            sc->min_lr = x;
    }
}

void check_train(checker *c, const ast_stmt *block)
{
    cnnc_ir *ir = c->ir;
    cnn_config *cfg = &ir->config;
    for (const ast_stmt *st = block; st; st = st->next) {
        const stmt_spec *spec = find_spec(train_specs, st->name);
        if (!spec) {
            unknown_statement(c, st, "training setting", train_specs);
            continue;
        }
        stmt_args a;
        int once = check_once(c, block, st,
                              strcmp(st->name, "data") == 0 ? "; a model trains on one dataset" : "; give it once");
        if (!collect_args(c, st, spec, &a) || !once)
            continue;
        const char *n = st->name;
        long v;
        double x;
        int k;
        if (strcmp(n, "data") == 0) {
            if (want_string(c, a.pos[0], "the data path", ir->data, sizeof ir->data))
                cfg->data = ir->data;
        } else if (strcmp(n, "validation") == 0) {
            c->validation_loc = st->loc;
            if (want_string(c, a.pos[0], "the validation path", ir->validation, sizeof ir->validation))
                cfg->validation = ir->validation;
        } else if (strcmp(n, "validation_split") == 0) {
            c->split_given = 1;
            c->split_loc = st->loc;
            if (want_real(c, a.pos[0], "validation_split", 0, 0, 1, 1, &x))
                cfg->validation_split = x;
        } else if (strcmp(n, "seed") == 0) {
            want_u64(c, a.pos[0], "the seed", &cfg->seed);
        } else if (strcmp(n, "batch") == 0) {
            if (want_int(c, a.pos[0], "the batch size", 1, 65536, &v))
                cfg->batch = (int)v;
        } else if (strcmp(n, "epochs") == 0) {
            if (want_int(c, a.pos[0], "the number of epochs", 1, 1000000, &v))
                cfg->epochs = (int)v;
        } else if (strcmp(n, "optimizer") == 0) {
            check_optimizer(c, st, &a);
        } else if (strcmp(n, "loss") == 0) {
            static const char *const losses[] = {"binary_crossentropy", "categorical_crossentropy",
                                                 "sparse_categorical_crossentropy", NULL};
            if (want_word(c, a.pos[0], "loss", losses, &k)) {
                cfg->loss = k == 0 ? CNN_LOSS_BINARY_CE : CNN_LOSS_CATEGORICAL_CE;
                c->loss_given = 1;
                c->loss_loc = a.pos[0]->loc;
            }
        } else if (strcmp(n, "metrics") == 0) {
            const char *const *metrics = cnn_metric_words; /* word k is bit 1 << k */
            c->metrics_loc = st->loc;
            int bits = 0;
            for (int i = 0; i < a.n_pos; i++)
                if (want_word(c, a.pos[i], "metric", metrics, &k)) {
                    if (bits & (1 << k))
                        diag_error(c->d, a.pos[i]->loc, "metric '%s' is listed twice", metrics[k]);
                    bits |= 1 << k;
                }
            cfg->metrics = bits | CNN_METRIC_ACCURACY;
            c->metrics_given = 1;
        } else if (strcmp(n, "class_weight") == 0) {
            c->class_weight_loc = st->loc;
            if (a.pos[0]->kind == AV_WORD) {
                static const char *const modes[] = {"balanced", NULL};
                if (want_word(c, a.pos[0], "class_weight", modes, &k)) {
                    if (a.n_pos > 1)
                        diag_error(c->d, a.pos[1]->loc, "class_weight balanced takes no values after it");
                    else
                        cfg->class_weight = CNN_CW_BALANCED;
                }
            } else {
                int ok = 1;
                double total = 0;
                for (int i = 0; i < a.n_pos; i++) {
                    ok &= want_real(c, a.pos[i], "a class weight", 0, 0, 1e6, 0, &x);
                    ir->class_weights[i] = x;
                    total += x;
                }
                if (ok && total == 0)
                    diag_error(c->d, st->loc, "every class weight is 0: nothing would be learned");
                else if (ok) {
                    cfg->class_weight = CNN_CW_EXPLICIT;
                    cfg->n_class_weights = a.n_pos;
                    cfg->class_weights = ir->class_weights;
                }
            }
        } else if (strcmp(n, "init") == 0) {
            int b;
            const ast_value *o;
            if (want_string(c, a.pos[0], "the initial weights path", ir->init, sizeof ir->init))
                cfg->init = ir->init;
            if ((o = get_opt(&a, "partial")) && want_bool(c, o, "partial", &b))
                cfg->init_partial = b;
        } else if (strcmp(n, "step_decay") == 0 || strcmp(n, "cosine_decay") == 0 ||
                   strcmp(n, "reduce_lr_on_plateau") == 0) {
            check_schedule(c, st, &a);
        } else if (strcmp(n, "early_stopping") == 0) {
            cfg->early_stopping = 1;
            const ast_value *o;
            if ((o = get_opt(&a, "monitor")) && want_word(c, o, "monitor", cnn_monitor_words, &k))
                cfg->monitor = (cnn_monitor)k;
            if ((o = get_opt(&a, "patience")) && want_int(c, o, "patience", 0, 100000, &v))
                cfg->patience = (int)v;
        }
    }
    if (cfg->validation && c->split_given)
        diag_error(c->d, c->split_loc,
                   "validation_split and validation are both given (validation at line %d); give a separate "
                   "validation folder or a split, not both", c->validation_loc.line);
    if (cfg->validation)
        cfg->validation_split = 0;
    const cnn_schedule_cfg *sc = &cfg->schedule;
    if (sc->kind == CNN_SCHED_PLATEAU && (sc->monitor == CNN_MON_VAL_LOSS || sc->monitor == CNN_MON_VAL_ACCURACY) &&
        !cfg->validation && cfg->validation_split == 0)
        diag_error(c->d, c->schedule_loc,
                   "reduce_lr_on_plateau monitors %s, but there is no validation data (validation_split is 0); "
                   "give a split, or monitor=loss", sc->monitor == CNN_MON_VAL_LOSS ? "val_loss" : "val_accuracy");
    if (cfg->early_stopping && (cfg->monitor == CNN_MON_VAL_LOSS || cfg->monitor == CNN_MON_VAL_ACCURACY) &&
        !cfg->validation && cfg->validation_split == 0)
        diag_error(c->d, c->split_loc.line ? c->split_loc : block->loc,
                   "early_stopping monitors %s, but there is no validation data (validation_split is 0); "
                   "give a split, or monitor=loss",
                   cfg->monitor == CNN_MON_VAL_LOSS ? "val_loss" : "val_accuracy");
}
