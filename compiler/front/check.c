/* check.c: from the parse tree to the checked IR: the checker's driver.
 *
 * Three passes over a file's statements:
 *   1. top level (here): order, repeats and required statements; each block
 *      is handed to its own checker (check_images.c for preprocess and
 *      augment, check_layers.c, check_train.c);
 *   2. layers (check_layers.c): each statement's values and options are
 *      checked and the layer recorded with its own settings;
 *   3. shapes (shapes.c): every layer's input and output shape, padding,
 *      parameter tensors, costs; then the head is matched with the loss and
 *      metrics.
 * Every error is reported with the location of the value at fault and says
 * what would be right (statements.c's readers); checking goes on after an
 * error so that all of them are reported at once. */
#include "check.h"

#include <string.h>

#include "check_impl.h"
#include "cnn_util.h"
#include "parse.h"
#include "statements.h"

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
