/* check.c: from the parse tree to the checked IR.
 *
 * Three passes over a file's statements:
 *   1. top level: order, repeats and required statements; each block is
 *      handed to its own checker (preprocess, augment, layers, train);
 *   2. layers: each statement's values and options are checked and the
 *      layer recorded with its own settings;
 *   3. shapes: every layer's input and output shape, padding, parameter
 *      tensors, costs; then the head is matched with the loss and metrics.
 * Every error is reported with the location of the value at fault and says
 * what would be right; checking goes on after an error so that all of them
 * are reported at once. */
#include "check.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_impl.h"
#include "cnn_util.h"
#include "keywords.h"
#include "names.h"
#include "parse.h"

/* ---- statement specifications ------------------------------------------ */

typedef struct stmt_spec {
    const char *name;
    int min_args, max_args;
    const char *const options[16]; /* NULL-terminated */
    const char *usage;
} stmt_spec;

static const stmt_spec top_specs[] = {
    {"model", 1, 1, {NULL}, "model NAME"},
    {"input", 1, 1, {NULL}, "input HxWxC"},
    {"preprocess", 0, 0, {NULL}, "preprocess { ... }"},
    {"augment", 0, 0, {NULL}, "augment { ... }"},
    {"layers", 0, 0, {NULL}, "layers { ... }"},
    {"train", 0, 0, {NULL}, "train { ... }"},
    {NULL, 0, 0, {NULL}, NULL},
};
enum { TOP_MODEL, TOP_INPUT, TOP_PREPROCESS, TOP_AUGMENT, TOP_LAYERS, TOP_TRAIN, TOP_COUNT };

static const stmt_spec layer_specs[] = {
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

static const stmt_spec prep_specs[] = {
    {"crop_to_aspect_ratio", 0, 0, {NULL}, "crop_to_aspect_ratio"},
    {"grayscale", 0, 0, {NULL}, "grayscale"},
    {"edges", 0, 0, {NULL}, "edges"},
    {"brightness", 1, 1, {NULL}, "brightness DELTA"},
    {"rescale", 1, 1, {"offset", NULL}, "rescale R [offset=X]"},
    {NULL, 0, 0, {NULL}, NULL},
};

static const stmt_spec aug_specs[] = {
    {"flip", 1, 1, {NULL}, "flip horizontal|vertical|horizontal_and_vertical"},
    {"rotate", 1, 1, {"fill", NULL}, "rotate F [fill=reflect|nearest|constant]"},
    {"zoom", 1, 1, {"fill", NULL}, "zoom F [fill=reflect|nearest|constant]"},
    {"shear", 1, 1, {"fill", NULL}, "shear F [fill=reflect|nearest|constant]"},
    {"translate", 1, 1, {"fill", NULL}, "translate F [fill=reflect|nearest|constant]"},
    {"brightness", 1, 1, {NULL}, "brightness F"},
    {"contrast", 1, 1, {NULL}, "contrast F"},
    {NULL, 0, 0, {NULL}, NULL},
};

static const stmt_spec train_specs[] = {
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



static const stmt_spec *find_spec(const stmt_spec *specs, const char *name)
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

/* The positional values and options of a statement, checked against its spec. */
typedef struct stmt_args {
    const ast_value *pos[CNN_MAX_CLASS_WEIGHTS]; /* class_weight lists one value per class */
    int n_pos;
    const ast_item *opts[8];
    int n_opts;
} stmt_args;

static int collect_args(checker *c, const ast_stmt *st, const stmt_spec *spec, stmt_args *a)
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

static const ast_value *get_opt(const stmt_args *a, const char *name)
{
    for (int i = 0; i < a->n_opts; i++)
        if (strcmp(a->opts[i]->opt_name, name) == 0)
            return &a->opts[i]->value;
    return NULL;
}

/* ---- value readers: each reports its own error ------------------------- */

static const char *kind_name(ast_value_kind k)
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

static int want_int(checker *c, const ast_value *v, const char *what, long lo, long hi, long *out)
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

static int want_u64(checker *c, const ast_value *v, const char *what, uint64_t *out)
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
static int want_real(checker *c, const ast_value *v, const char *what, double lo, int lo_open, double hi,
                     int hi_open, double *out)
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
static int want_size2(checker *c, const ast_value *v, const char *what, long max, int *h, int *w)
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

static int want_word(checker *c, const ast_value *v, const char *what, const char *const *choices, int *out)
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

static int want_bool(checker *c, const ast_value *v, const char *what, int *out)
{
    static const char *const bools[] = {"false", "true", NULL};
    return want_word(c, v, what, bools, out);
}

static int want_string(checker *c, const ast_value *v, const char *what, char *out, size_t cap)
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
static int check_once(checker *c, const ast_stmt *block, const ast_stmt *st, const char *why)
{
    for (const ast_stmt *p = block; p && p != st; p = p->next)
        if (strcmp(p->name, st->name) == 0) {
            diag_error(c->d, st->loc, "'%s' is given twice (first at line %d)%s", st->name, p->loc.line, why);
            return 0;
        }
    return 1;
}

/* ---- unknown statement names -------------------------------------------- */

static void unknown_statement(checker *c, const ast_stmt *st, const char *where, const stmt_spec *specs)
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

/* ---- layers block ------------------------------------------------------------ */

static int parse_act(checker *c, const ast_value *v, cnn_act *out)
{
    int i;
    if (!want_word(c, v, "activation", kw_activations, &i))
        return 0;
    *out = (cnn_act)i;
    return 1;
}

static void check_layer_stmt(checker *c, const ast_stmt *st)
{
    const stmt_spec *spec = find_spec(layer_specs, st->name);
    if (!spec) {
        unknown_statement(c, st, "layer", layer_specs);
        return;
    }
    stmt_args a;
    if (!collect_args(c, st, spec, &a))
        return;
    if (c->n_layers == CNN_MAX_LAYERS) {
        diag_error(c->d, st->loc, "too many layers: cnnc supports at most %d", CNN_MAX_LAYERS);
        return;
    }
    pending_layer *p = &c->layers[c->n_layers];
    memset(p, 0, sizeof *p);
    p->st = st;
    p->kind_index = (int)(spec - layer_specs);
    cnn_layer *L = &p->L;
    L->line = st->loc.line;
    L->sh = L->sw = 1;
    L->kh = L->kw = 1;
    L->act = CNN_ACT_LINEAR;
    L->alpha = 0.3f;
    L->first_tensor = -1;
    p->act_loc = st->loc;
    int ok = 1;
    const ast_value *v;
    long n;
    double x;
    int b;

    if (strcmp(st->name, "conv2d") == 0) {
        L->kind = CNN_CONV2D;
        L->bias = 1;
        ok &= want_int(c, a.pos[0], "the number of filters", 1, 65536, &n);
        L->filters = (int)n;
        ok &= want_size2(c, a.pos[1], "kernel", 1024, &L->kh, &L->kw);
        if (a.n_pos > 2) {
            ok &= parse_act(c, a.pos[2], &L->act);
            p->act_loc = a.pos[2]->loc;
        }
        if ((v = get_opt(&a, "stride")))
            ok &= want_size2(c, v, "stride", 1024, &L->sh, &L->sw);
        if ((v = get_opt(&a, "padding"))) {
            static const char *const pads[] = {"valid", "same", NULL};
            int i;
            ok &= want_word(c, v, "padding", pads, &i);
            L->same = i == 1;
        }
        if ((v = get_opt(&a, "bias")) && want_bool(c, v, "bias", &b))
            L->bias = b;
    } else if (strcmp(st->name, "maxpool") == 0 || strcmp(st->name, "avgpool") == 0) {
        L->kind = st->name[0] == 'm' ? CNN_MAXPOOL : CNN_AVGPOOL;
        L->kh = L->kw = 2;
        if (a.n_pos > 0)
            ok &= want_size2(c, a.pos[0], "pool size", 1024, &L->kh, &L->kw);
        L->sh = L->kh;
        L->sw = L->kw;
        if ((v = get_opt(&a, "stride")))
            ok &= want_size2(c, v, "stride", 1024, &L->sh, &L->sw);
    } else if (strcmp(st->name, "globalavgpool") == 0) {
        L->kind = CNN_GLOBALAVGPOOL;
    } else if (strcmp(st->name, "flatten") == 0) {
        L->kind = CNN_FLATTEN;
    } else if (strcmp(st->name, "dense") == 0) {
        L->kind = CNN_DENSE;
        L->bias = 1;
        ok &= want_int(c, a.pos[0], "the number of units", 1, 1 << 20, &n);
        L->filters = (int)n;
        if (a.n_pos > 1) {
            ok &= parse_act(c, a.pos[1], &L->act);
            p->act_loc = a.pos[1]->loc;
        }
    } else if (strcmp(st->name, "dropout") == 0) {
        L->kind = CNN_DROPOUT;
        ok &= want_real(c, a.pos[0], "the dropout rate", 0, 0, 1, 1, &x);
        L->rate = (float)x;
    } else if (strcmp(st->name, "batchnorm") == 0) {
        L->kind = CNN_BATCHNORM;
        L->momentum = 0.99f;
        L->epsilon = 0.001f;
        if ((v = get_opt(&a, "momentum")) && want_real(c, v, "batchnorm momentum", 0, 0, 1, 1, &x))
            L->momentum = (float)x;
        if ((v = get_opt(&a, "epsilon")) && want_real(c, v, "batchnorm epsilon", 0, 1, 1, 0, &x))
            L->epsilon = (float)x;
    } else {
        /* a standalone activation: relu, sigmoid, tanh, softmax, leaky_relu */
        L->kind = CNN_ACTIVATION;
        for (int i = 0; kw_activations[i]; i++)
            if (strcmp(kw_activations[i], st->name) == 0)
                L->act = (cnn_act)i;
        if ((v = get_opt(&a, "alpha")) && want_real(c, v, "leaky_relu alpha", 0, 0, 1, 0, &x))
            L->alpha = (float)x;
    }
    /* trainable=false (Keras's layer.trainable = False): only layers with weights take it */
    if ((v = get_opt(&a, "trainable")) && want_bool(c, v, "trainable", &b))
        L->frozen = !b;
    if (ok)
        c->n_layers++;
}

/* ---- preprocess and augment ------------------------------------------------- */

static void check_preprocess(checker *c, const ast_stmt *block)
{
    cnnc_ir *ir = c->ir;
    for (const ast_stmt *st = block; st; st = st->next) {
        const stmt_spec *spec = find_spec(prep_specs, st->name);
        if (!spec) {
            unknown_statement(c, st, "preprocessing step", prep_specs);
            continue;
        }
        stmt_args a;
        if (!collect_args(c, st, spec, &a) || !check_once(c, block, st, "; each step appears once"))
            continue;
        double x;
        if (strcmp(st->name, "crop_to_aspect_ratio") == 0) {
            if (st != block)
                diag_error(c->d, st->loc,
                           "crop_to_aspect_ratio happens before resizing, so it must be written first in "
                           "'preprocess'");
            ir->crop_to_aspect_ratio = 1;
            continue;
        }
        cnn_prep_step step = {CNN_PREP_GRAYSCALE, 0, 0};
        if (strcmp(st->name, "grayscale") == 0) {
            if (ir->in_c == 1)
                diag_warning(c->d, st->loc, "grayscale does nothing when the input has 1 channel");
        } else if (strcmp(st->name, "edges") == 0) {
            step.kind = CNN_PREP_EDGES;
        } else if (strcmp(st->name, "brightness") == 0) {
            step.kind = CNN_PREP_BRIGHTNESS;
            if (!want_real(c, a.pos[0], "brightness delta (a fraction of the full range)", -1, 0, 1, 0, &x))
                continue;
            step.value = x;
        } else {
            step.kind = CNN_PREP_RESCALE;
            if (!want_real(c, a.pos[0], "the rescale factor", -INFINITY, 0, INFINITY, 0, &x))
                continue;
            if (x == 0) {
                diag_error(c->d, a.pos[0]->loc, "rescale 0 would make every pixel 0; write e.g. 'rescale 1/255'");
                continue;
            }
            step.value = x;
            const ast_value *v = get_opt(&a, "offset");
            if (v && want_real(c, v, "the rescale offset", -1e6, 0, 1e6, 0, &x))
                step.offset = x;
        }
        if (ir->n_preprocess < CNN_MAX_PREPROCESS)
            ir->preprocess[ir->n_preprocess++] = step;
    }
}

static void check_augment(checker *c, const ast_stmt *block)
{
    cnn_augment *au = &c->ir->augment;
    for (const ast_stmt *st = block; st; st = st->next) {
        const stmt_spec *spec = find_spec(aug_specs, st->name);
        if (!spec) {
            unknown_statement(c, st, "augmentation", aug_specs);
            continue;
        }
        stmt_args a;
        if (!collect_args(c, st, spec, &a) || !check_once(c, block, st, "; each augmentation appears once"))
            continue;
        int i;
        double x;
        cnn_fill fill = CNN_FILL_REFLECT;
        const ast_value *fv = get_opt(&a, "fill");
        if (fv && want_word(c, fv, "fill mode", kw_fills, &i))
            fill = (cnn_fill)i;
        const char *n = st->name;
        if (strcmp(n, "flip") == 0) {
            if (want_word(c, a.pos[0], "flip mode", kw_flips, &i))
                au->flip = i + 1; /* 1 horizontal, 2 vertical, 3 both: the CNN_FLIP_* bits */
        } else if (strcmp(n, "rotate") == 0) {
            if (want_real(c, a.pos[0], "rotate (a fraction of a full turn)", 0, 1, 0.5, 0, &x)) {
                au->rotate = x;
                au->rotate_fill = fill;
            }
        } else if (strcmp(n, "zoom") == 0) {
            if (want_real(c, a.pos[0], "zoom", 0, 1, 1, 1, &x)) {
                au->zoom = x;
                au->zoom_fill = fill;
            }
        } else if (strcmp(n, "shear") == 0) {
            if (want_real(c, a.pos[0], "shear", 0, 1, 1, 0, &x)) {
                au->shear = x;
                au->shear_fill = fill;
            }
        } else if (strcmp(n, "translate") == 0) {
            if (want_real(c, a.pos[0], "translate (a fraction of the width and height)", 0, 1, 1, 0, &x)) {
                au->translate = x;
                au->translate_fill = fill;
            }
        } else if (strcmp(n, "brightness") == 0) {
            if (want_real(c, a.pos[0], "brightness (a fraction of the full range)", 0, 1, 1, 0, &x))
                au->brightness = x;
        } else {
            if (want_real(c, a.pos[0], "contrast", 0, 1, 1, 0, &x))
                au->contrast = x;
        }
    }
}

/* ---- train block --------------------------------------------------------------- */

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
    if (!want_word(c, a->pos[0], "optimizer", kw_optimizers, &k))
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
            diag_error(c->d, it->opt_loc, "optimizer %s has no option '%s'; it takes %s", kw_optimizers[k], it->opt_name,
                       list);
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
        if ((v = get_opt(a, "monitor")) && want_word(c, v, "monitor", kw_monitors, &k))
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

static void check_train(checker *c, const ast_stmt *block)
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
            static const char *const metrics[] = {"accuracy", "precision", "recall", "auc", NULL};
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
            if ((o = get_opt(&a, "monitor")) && want_word(c, o, "monitor", kw_monitors, &k))
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

/* ---- the top level ---------------------------------------------------------------- */

static void defaults(cnnc_ir *ir)
{
    cnn_config *cfg = &ir->config;
    cfg->validation_split = 0.2;
    cfg->seed = 123;
    cfg->batch = 32;
    cfg->epochs = 10;
    cfg->optimizer.kind = CNN_OPT_ADAM;
    cfg->optimizer.lr = 0.001;
    cfg->optimizer.beta1 = 0.9;
    cfg->optimizer.beta2 = 0.999;
    cfg->optimizer.epsilon = 1e-7;
    cfg->optimizer.rho = 0.9;
    cfg->metrics = CNN_METRIC_ACCURACY;
    cfg->monitor = CNN_MON_VAL_LOSS;
    cfg->patience = 3;
    /* reduce_lr_on_plateau's Keras defaults (the kind stays none) */
    cfg->schedule.factor = 0.1;
    cfg->schedule.patience = 10;
    cfg->schedule.min_delta = 1e-4;
    cfg->schedule.monitor = CNN_MON_VAL_LOSS;
}

static int is_c_keyword(const char *w)
{
    static const char *const kw[] = {
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
        "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
        "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
        "volatile", "while", "main", NULL};
    for (int i = 0; kw[i]; i++)
        if (strcmp(kw[i], w) == 0)
            return 1;
    return strcmp(w, "cnn") == 0 || strncmp(w, "cnn_", 4) == 0 || w[0] == '_';
}

int check_program(const ast_stmt *prog, const cnnc_source *src, cnnc_diag *d, cnnc_ir *ir)
{
    memset(ir, 0, sizeof *ir);
    defaults(ir);
    snprintf(ir->source_base, sizeof ir->source_base, "%s", source_basename(src));
    snprintf(ir->source_hash, sizeof ir->source_hash, "%016llx",
             (unsigned long long)cnn_fnv1a64(CNN_FNV1A64_OFFSET, src->text, src->len));
    int syntax_errors = d->errors;
    checker c;
    memset(&c, 0, sizeof c);
    c.d = d;
    c.ir = ir;

    const ast_stmt *seen[TOP_COUNT] = {NULL};
    int last_order = -1;
    const char *order_names[TOP_COUNT] = {"model", "input", "preprocess", "augment", "layers", "train"};
    for (const ast_stmt *st = prog; st; st = st->next) {
        const stmt_spec *spec = find_spec(top_specs, st->name);
        if (!spec) {
            unknown_statement(&c, st, "statement", top_specs);
            continue;
        }
        int which = (int)(spec - top_specs);
        if (seen[which]) {
            diag_error(d, st->loc, "'%s' is given twice (first at line %d); %s", st->name, seen[which]->loc.line,
                       which >= TOP_PREPROCESS ? "put everything in one block" : "give it once");
            continue;
        }
        seen[which] = st;
        if (which == TOP_MODEL && st != prog)
            diag_error(d, st->loc, "'model' must be the first statement of the file");
        else if (which < last_order)
            diag_error(d, st->loc, "'%s' must come before '%s': the order is model, input, preprocess, augment, "
                       "layers, train", st->name, order_names[last_order]);
        if (which > last_order)
            last_order = which;
        int is_block = which >= TOP_PREPROCESS;
        if (is_block && !st->has_block) {
            diag_error(d, st->loc, "'%s' opens a block: write '%s {' and close it with '}'", st->name, st->name);
            continue;
        }
        if (!is_block && st->has_block) {
            diag_error(d, st->block_loc, "'%s' does not take a block (usage: %s)", st->name, spec->usage);
            continue;
        }
        stmt_args a;
        if (!collect_args(&c, st, spec, &a))
            continue;
        switch (which) {
        case TOP_MODEL:
            if (a.pos[0]->kind != AV_WORD) {
                diag_error(d, a.pos[0]->loc, "the model name must be a name like 'fruit', not %s '%s'",
                           kind_name(a.pos[0]->kind), a.pos[0]->text);
            } else if (strlen(a.pos[0]->text) > 32) {
                diag_error(d, a.pos[0]->loc, "the model name is longer than 32 characters");
            } else if (is_c_keyword(a.pos[0]->text)) {
                diag_error(d, a.pos[0]->loc,
                           "'%s' cannot name a model: it names the generated C functions, so it may not be a C "
                           "keyword, 'main' or 'cnn' (the runtime's names, cnn_model...), or start with '_' or 'cnn_'",
                           a.pos[0]->text);
            } else {
                snprintf(ir->name, sizeof ir->name, "%s", a.pos[0]->text);
            }
            break;
        case TOP_INPUT: {
            const ast_value *v = a.pos[0];
            c.input_loc = v->loc;
            if (v->kind != AV_SHAPE || v->ndims != 3) {
                diag_error(d, v->loc, "the input needs all three of HxWxC, e.g. 128x128x3, not '%s'", v->text);
                break;
            }
            if (v->dims[2] != 1 && v->dims[2] != 3) {
                diag_error(d, v->loc, "the input has %ld channels; C must be 1 (grayscale) or 3 (RGB)", v->dims[2]);
                break;
            }
            if (v->dims[0] < 1 || v->dims[1] < 1 || v->dims[0] > 4096 || v->dims[1] > 4096) {
                diag_error(d, v->loc, "the input height and width must be from 1 to 4096, not %s", v->text);
                break;
            }
            ir->in_h = (int)v->dims[0];
            ir->in_w = (int)v->dims[1];
            ir->in_c = (int)v->dims[2];
            c.have_input = 1;
            break;
        }
        case TOP_PREPROCESS:
            check_preprocess(&c, st->block);
            break;
        case TOP_AUGMENT:
            check_augment(&c, st->block);
            break;
        case TOP_LAYERS:
            c.layers_loc = st->loc;
            if (!st->block)
                diag_error(d, st->block_loc, "the 'layers' block is empty; a network needs at least one layer");
            for (const ast_stmt *l = st->block; l; l = l->next)
                check_layer_stmt(&c, l);
            break;
        case TOP_TRAIN:
            check_train(&c, st->block);
            break;
        }
    }
    /* After a syntax error the tree is partial: a "missing" statement or a
     * shape computed from half a layer list would only be noise. */
    if (syntax_errors == 0) {
        cnnc_loc top = prog ? prog->loc : (cnnc_loc){1, 1};
        if (!seen[TOP_MODEL])
            diag_error(d, top, "missing 'model NAME': a .cnn file starts with it");
        if (!seen[TOP_INPUT])
            diag_error(d, seen[TOP_MODEL] ? seen[TOP_MODEL]->loc : top,
                       "missing 'input HxWxC' (e.g. 'input 128x128x3') after 'model'");
        if (!seen[TOP_LAYERS])
            diag_error(d, top, "missing 'layers { ... }': a model needs at least one layer");
    }
    /* Shapes need the input and every layer statement valid. */
    int layer_stmts = 0;
    if (seen[TOP_LAYERS])
        for (const ast_stmt *l = seen[TOP_LAYERS]->block; l; l = l->next)
            layer_stmts++;
    if (syntax_errors == 0 && c.have_input && c.n_layers > 0 && layer_stmts == c.n_layers) {
        int before = d->errors;
        infer_shapes(&c);
        if (d->errors == before)
            check_head(&c);
    }
    return d->errors ? 1 : 0;
}

/* Parse and check one source; prints its diagnostics to `out`; frees it. */
static int compile_source(cnnc_source *src, FILE *out, cnnc_ir *ir)
{
    cnnc_diag d;
    diag_init(&d, src, out);
    ast_stmt *prog = cnnc_parse(src, &d);
    check_program(prog, src, &d, ir);
    diag_finish(&d);
    int rc = d.errors ? 1 : 0;
    ast_stmts_free(prog);
    source_free(src);
    return rc;
}

int cnnc_compile_memory(const char *name, const char *data, size_t len, FILE *out, cnnc_ir *ir)
{
    return compile_source(source_from_memory(name, data, len), out, ir);
}

int cnnc_compile_file(const char *path, FILE *out, cnnc_ir *ir)
{
    cnnc_source *src = source_read(path);
    if (!src)
        return 1;
    return compile_source(src, out, ir);
}
