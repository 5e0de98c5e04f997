/* statements.c: the statements of the language and their values.
 *
 * Each block's statements (top level, layers, preprocess, augment, train)
 * as a table of what each takes: how many positional values, which
 * options, its usage line. A statement's values are collected against its
 * table entry, and each value is read by a want_* reader that reports its
 * own error with the value's location and what would be right. The block
 * checkers (check.c, check_layers.c, check_images.c, check_train.c) sit on
 * top. */
#include "statements.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* ---- statement specifications ------------------------------------------ */

const stmt_spec top_specs[] = {
    {"model", 1, 1, {NULL}, "model NAME"},
    {"input", 1, 1, {NULL}, "input HxWxC"},
    {"preprocess", 0, 0, {NULL}, "preprocess { ... }"},
    {"augment", 0, 0, {NULL}, "augment { ... }"},
    {"layers", 0, 0, {NULL}, "layers { ... }"},
    {"train", 0, 0, {NULL}, "train { ... }"},
    {NULL, 0, 0, {NULL}, NULL},
};

const stmt_spec layer_specs[] = {
    {"conv2d", 2, 3, {"stride", "padding", "bias", "trainable", NULL},
     "conv2d FILTERS KxK [ACT] [stride=S] [padding=valid|same] [bias=true|false] [trainable=true|false]"},
    {"maxpool", 0, 1, {"stride", NULL}, "maxpool [PxP] [stride=S]"},
    {"avgpool", 0, 1, {"stride", NULL}, "avgpool [PxP] [stride=S]"},
    {"globalavgpool", 0, 0, {NULL}, "globalavgpool"},
    {"flatten", 0, 0, {NULL}, "flatten"},
    {"dense", 1, 2, {"trainable", NULL}, "dense UNITS [ACT] [trainable=true|false]"},
    {"dropout", 1, 1, {NULL}, "dropout RATE"},
    {"batchnorm", 0, 0, {"momentum", "epsilon", "trainable", NULL},
     "batchnorm [momentum=0.99] [epsilon=0.001] [trainable=true|false]"},
    {"relu", 0, 0, {NULL}, "relu"},
    {"sigmoid", 0, 0, {NULL}, "sigmoid"},
    {"tanh", 0, 0, {NULL}, "tanh"},
    {"softmax", 0, 0, {NULL}, "softmax"},
    {"leaky_relu", 0, 0, {"alpha", NULL}, "leaky_relu [alpha=0.3]"},
    {NULL, 0, 0, {NULL}, NULL},
};

const stmt_spec prep_specs[] = {
    {"crop_to_aspect_ratio", 0, 0, {NULL}, "crop_to_aspect_ratio"},
    {"grayscale", 0, 0, {NULL}, "grayscale"},
    {"edges", 0, 0, {NULL}, "edges"},
    {"brightness", 1, 1, {NULL}, "brightness DELTA"},
    {"rescale", 1, 1, {"offset", NULL}, "rescale R [offset=X]"},
    {NULL, 0, 0, {NULL}, NULL},
};

const stmt_spec aug_specs[] = {
    {"flip", 1, 1, {NULL}, "flip horizontal|vertical|horizontal_and_vertical"},
    {"rotate", 1, 1, {"fill", NULL}, "rotate F [fill=reflect|nearest|constant]"},
    {"zoom", 1, 1, {"fill", NULL}, "zoom F [fill=reflect|nearest|constant]"},
    {"shear", 1, 1, {"fill", NULL}, "shear F [fill=reflect|nearest|constant]"},
    {"translate", 1, 1, {"fill", NULL}, "translate F [fill=reflect|nearest|constant]"},
    {"brightness", 1, 1, {NULL}, "brightness F"},
    {"contrast", 1, 1, {NULL}, "contrast F"},
    {NULL, 0, 0, {NULL}, NULL},
};

const stmt_spec train_specs[] = {
    {"data", 1, 1, {NULL}, "data \"PATH\""},
    {"validation", 1, 1, {NULL}, "validation \"PATH\""},
    {"validation_split", 1, 1, {NULL}, "validation_split F"},
    {"seed", 1, 1, {NULL}, "seed N"},
    {"batch", 1, 1, {NULL}, "batch N"},
    {"epochs", 1, 1, {NULL}, "epochs N"},
    {"optimizer", 1, 1, {"lr", "learning_rate", "beta1", "beta2", "epsilon", "momentum", "nesterov", "rho",
                         "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", NULL},
     "optimizer adam|adamw|sgd|rmsprop [lr=X] ..."},
    {"loss", 1, 1, {NULL}, "loss binary_crossentropy|categorical_crossentropy"},
    {"metrics", 1, 4, {NULL}, "metrics accuracy [precision] [recall] [auc]"},
    {"early_stopping", 0, 0, {"monitor", "patience", NULL},
     "early_stopping [monitor=val_loss|val_accuracy|loss|accuracy] [patience=N]"},
    {"init", 1, 1, {"partial", NULL}, "init \"WEIGHTS.safetensors\" [partial=true|false]"},
    {"class_weight", 1, CNN_MAX_CLASS_WEIGHTS, {NULL}, "class_weight balanced | class_weight W0 W1 ... (one per class)"},
    {"step_decay", 0, 0, {"every", "factor", NULL}, "step_decay every=N [factor=0.1]"},
    {"cosine_decay", 0, 0, {"epochs", "warmup", "alpha", NULL}, "cosine_decay [epochs=N] [warmup=0] [alpha=0]"},
    {"reduce_lr_on_plateau", 0, 0, {"monitor", "factor", "patience", "min_delta", "cooldown", "min_lr", NULL},
     "reduce_lr_on_plateau [monitor=val_loss] [factor=0.1] [patience=10] [min_delta=0.0001] [cooldown=0] "
     "[min_lr=0]"},
    {NULL, 0, 0, {NULL}, NULL},
};

const stmt_spec *find_spec(const stmt_spec *specs, const char *name)
{
    for (const stmt_spec *s = specs; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

static int spec_names(const stmt_spec *specs, const char **out, int cap)
{
    int n = 0;
    for (const stmt_spec *s = specs; s->name && n < cap - 1; s++)
        out[n++] = s->name;
    out[n] = NULL;
    return n;
}

int collect_args(checker *c, const ast_stmt *st, const stmt_spec *spec, stmt_args *a)
{
    int ok = 1, seen_option = 0, too_many = 0, misplaced = 0;
    memset(a, 0, sizeof *a);
    for (const ast_item *it = st->items; it; it = it->next) {
        if (it->opt_name) {
            seen_option = 1;
            int known = 0;
            for (int i = 0; spec->options[i]; i++)
                if (strcmp(spec->options[i], it->opt_name) == 0)
                    known = 1;
            if (!known && strcmp(it->opt_name, "trainable") == 0 && find_spec(layer_specs, st->name)) {
                diag_error(c->d, it->opt_loc, "'%s' has no weights to freeze; trainable= is an option of conv2d, "
                           "dense and batchnorm", st->name);
                ok = 0;
                continue;
            }
            if (!known) {
                char list[256];
                if (spec->options[0]) {
                    names_join(list, sizeof list, (const char *const *)spec->options);
                    const char *near = names_closest(it->opt_name, (const char *const *)spec->options);
                    if (near)
                        diag_error(c->d, it->opt_loc, "'%s' has no option '%s'; did you mean '%s'? (it takes %s)",
                                   st->name, it->opt_name, near, list);
                    else
                        diag_error(c->d, it->opt_loc, "'%s' has no option '%s'; it takes %s",
                                   st->name, it->opt_name, list);
                } else {
                    diag_error(c->d, it->opt_loc, "'%s' takes no options (usage: %s)", st->name, spec->usage);
                }
                ok = 0;
                continue;
            }
            for (int i = 0; i < a->n_opts; i++)
                if (strcmp(a->opts[i]->opt_name, it->opt_name) == 0) {
                    diag_error(c->d, it->opt_loc, "option '%s' is given twice (first at column %d); give it once",
                               it->opt_name, a->opts[i]->opt_loc.col);
                    ok = 0;
                }
            if (a->n_opts < 8)
                a->opts[a->n_opts++] = it;
        } else {
            if (seen_option) {
                diag_error(c->d, it->value.loc,
                           "positional value '%s' after an option; options (name=value) come last (usage: %s)",
                           it->value.text, spec->usage);
                ok = 0;
                misplaced = 1;
                continue;
            }
            if (a->n_pos >= spec->max_args) {
                if (!too_many)
                    diag_error(c->d, it->value.loc, spec->max_args == 0
                                   ? "'%s' takes no values; unexpected '%s' (usage: %s)"
                                   : "too many values for '%s': unexpected '%s' (usage: %s)",
                               st->name, it->value.text, spec->usage);
                too_many = 1;
                ok = 0;
                continue;
            }
            a->pos[a->n_pos++] = &it->value;
        }
    }
    if (a->n_pos < spec->min_args && !misplaced) {
        diag_error(c->d, st->loc, "'%s' needs %s%d value%s, got %d (usage: %s)", st->name,
                   spec->min_args == spec->max_args ? "" : "at least ", spec->min_args,
                   spec->min_args == 1 ? "" : "s", a->n_pos, spec->usage);
        ok = 0;
    }
    return ok;
}

const ast_value *get_opt(const stmt_args *a, const char *name)
{
    for (int i = 0; i < a->n_opts; i++)
        if (strcmp(a->opts[i]->opt_name, name) == 0)
            return &a->opts[i]->value;
    return NULL;
}

/* ---- value readers: each reports its own error ------------------------- */

const char *kind_name(ast_value_kind k)
{
    switch (k) {
    case AV_NUMBER: return "a number";
    case AV_RATIO: return "a ratio";
    case AV_SHAPE: return "a shape";
    case AV_STRING: return "a string";
    case AV_WORD: return "a name";
    }
    return "a value";
}

int want_int(checker *c, const ast_value *v, const char *what, long lo, long hi, long *out)
{
    if (v->kind != AV_NUMBER || !v->is_digits) {
        if (v->kind == AV_NUMBER && v->num == floor(v->num) && v->num >= (double)lo && v->num <= (double)hi)
            diag_error(c->d, v->loc, "%s must be written as a whole number with digits only: '%s' -> '%ld'",
                       what, v->text, (long)v->num);
        else
            diag_error(c->d, v->loc, "%s must be a whole number from %ld to %ld, not %s '%s'",
                       what, lo, hi, kind_name(v->kind), v->text);
        return 0;
    }
    errno = 0;
    unsigned long long x = strtoull(v->text, NULL, 10);
    if (errno || x < (unsigned long long)lo || x > (unsigned long long)hi) {
        diag_error(c->d, v->loc, "%s must be from %ld to %ld, not %s", what, lo, hi, v->text);
        return 0;
    }
    *out = (long)x;
    return 1;
}

int want_u64(checker *c, const ast_value *v, const char *what, uint64_t *out)
{
    if (v->kind != AV_NUMBER || !v->is_digits) {
        diag_error(c->d, v->loc, "%s must be a whole number of digits only, not %s '%s'",
                   what, kind_name(v->kind), v->text);
        return 0;
    }
    errno = 0;
    unsigned long long x = strtoull(v->text, NULL, 10);
    if (errno) {
        diag_error(c->d, v->loc, "%s must fit in 64 bits (at most 18446744073709551615), not %s", what, v->text);
        return 0;
    }
    *out = (uint64_t)x;
    return 1;
}

/* A real in [lo, hi]; lo_open/hi_open exclude the ends. */
int want_real(checker *c, const ast_value *v, const char *what, double lo, int lo_open, double hi, int hi_open,
              double *out)
{
    if (v->kind != AV_NUMBER && v->kind != AV_RATIO) {
        diag_error(c->d, v->loc, "%s must be a number, not %s '%s'", what, kind_name(v->kind), v->text);
        return 0;
    }
    double x = v->num;
    if (!isfinite(x) || (lo_open ? x <= lo : x < lo) || (hi_open ? x >= hi : x > hi)) {
        char range[96];
        if (isinf(hi))
            snprintf(range, sizeof range, "%s %g", lo_open ? "above" : "at least", lo);
        else
            snprintf(range, sizeof range, "in %s%g, %g%s", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
        diag_error(c->d, v->loc, "%s must be %s, not %s", what, range, v->text);
        return 0;
    }
    *out = x;
    return 1;
}

/* A kernel, pool or stride: "KxK", "KhxKw" or a single N meaning NxN. */
int want_size2(checker *c, const ast_value *v, const char *what, long max, int *h, int *w)
{
    long a, b;
    if (v->kind == AV_NUMBER && v->is_digits) {
        if (!want_int(c, v, what, 1, max, &a))
            return 0;
        b = a;
    } else if (v->kind == AV_SHAPE && v->ndims == 2) {
        a = v->dims[0];
        b = v->dims[1];
        if (a < 1 || b < 1 || a > max || b > max) {
            diag_error(c->d, v->loc, "each side of the %s must be from 1 to %ld, not %s", what, max, v->text);
            return 0;
        }
    } else if (v->kind == AV_SHAPE) {
        diag_error(c->d, v->loc, "the %s has two sides (e.g. 3x3), not %d: '%s'", what, v->ndims, v->text);
        return 0;
    } else {
        diag_error(c->d, v->loc, "the %s must be a size like 3x3 (or 3 for 3x3), not %s '%s'", what,
                   kind_name(v->kind), v->text);
        return 0;
    }
    *h = (int)a;
    *w = (int)b;
    return 1;
}

int want_word(checker *c, const ast_value *v, const char *what, const char *const *choices, int *out)
{
    char list[256];
    names_join(list, sizeof list, choices);
    if (v->kind != AV_WORD) {
        diag_error(c->d, v->loc, "%s must be one of %s, not %s '%s'", what, list, kind_name(v->kind), v->text);
        return 0;
    }
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], v->text) == 0) {
            *out = i;
            return 1;
        }
    const char *near = names_closest(v->text, choices);
    if (near)
        diag_error(c->d, v->loc, "unknown %s '%s'; did you mean '%s'? (one of %s)", what, v->text, near, list);
    else
        diag_error(c->d, v->loc, "unknown %s '%s'; expected one of %s", what, v->text, list);
    return 0;
}

int want_bool(checker *c, const ast_value *v, const char *what, int *out)
{
    static const char *const bools[] = {"false", "true", NULL};
    return want_word(c, v, what, bools, out);
}

int want_string(checker *c, const ast_value *v, const char *what, char *out, size_t cap)
{
    if (v->kind != AV_STRING) {
        diag_error(c->d, v->loc, "%s must be a quoted string, e.g. \"data/fruits\", not %s '%s'", what,
                   kind_name(v->kind), v->text);
        return 0;
    }
    if (v->text[0] == '\0') {
        diag_error(c->d, v->loc, "%s is empty; give a path", what);
        return 0;
    }
    if (strlen(v->text) >= cap) {
        diag_error(c->d, v->loc, "%s is longer than %zu bytes", what, cap - 1);
        return 0;
    }
    strcpy(out, v->text);
    return 1;
}

/* ---- repeated statements ------------------------------------------------ */

/* Reports a statement that appears a second time in the same block. */
int check_once(checker *c, const ast_stmt *block, const ast_stmt *st, const char *why)
{
    for (const ast_stmt *p = block; p && p != st; p = p->next)
        if (strcmp(p->name, st->name) == 0) {
            diag_error(c->d, st->loc, "'%s' is given twice (first at line %d)%s", st->name, p->loc.line, why);
            return 0;
        }
    return 1;
}

/* ---- unknown statement names -------------------------------------------- */

void unknown_statement(checker *c, const ast_stmt *st, const char *where, const stmt_spec *specs)
{
    const char *names[32];
    spec_names(specs, names, 32);
    const char *near = names_closest(st->name, names);
    if (near) {
        diag_error(c->d, st->loc, "unknown %s '%s'; did you mean '%s'?", where, st->name, near);
        return;
    }
    /* Right word, wrong place? */
    struct { const stmt_spec *specs; const char *place; } homes[] = {
        {layer_specs, "a layer: put it inside 'layers { ... }'"},
        {train_specs, "a training setting: put it inside 'train { ... }'"},
        {aug_specs, "an augmentation: put it inside 'augment { ... }'"},
        {prep_specs, "a preprocessing step: put it inside 'preprocess { ... }'"},
        {top_specs, "a top-level statement: it cannot be inside a block"},
    };
    for (size_t i = 0; i < sizeof homes / sizeof homes[0]; i++)
        if (homes[i].specs != specs && find_spec(homes[i].specs, st->name)) {
            diag_error(c->d, st->loc, "'%s' is %s", st->name, homes[i].place);
            return;
        }
    char list[512];
    names_join(list, sizeof list, names);
    diag_error(c->d, st->loc, "unknown %s '%s'; expected %s", where, st->name, list);
}
