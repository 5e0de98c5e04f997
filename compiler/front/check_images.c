/* check_images.c: the preprocess and augment blocks, the steps applied to
 * every image: each step's values are checked and recorded in the IR
 * (preprocessing in the order written, augmentations once each). */
#include <math.h>
#include <string.h>

#include "check_impl.h"
#include "cnn_words.h"
#include "statements.h"

void check_preprocess(checker *c, const ast_stmt *block)
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

void check_augment(checker *c, const ast_stmt *block)
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
        if (fv && want_word(c, fv, "fill mode", cnn_fill_words, &i))
            fill = (cnn_fill)i;
        const char *n = st->name;
        if (strcmp(n, "flip") == 0) {
            if (want_word(c, a.pos[0], "flip mode", cnn_flip_words, &i))
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
