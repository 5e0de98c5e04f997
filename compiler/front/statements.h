/* statements.h: the statements of the language and reading their values
 * (statements.c), for the block checkers. Internal to the front end. */
#ifndef CNNC_STATEMENTS_H
#define CNNC_STATEMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "check_impl.h"

/* What one statement takes: positional values (min_args to max_args), its
 * options by name, and the usage line its errors quote. */
typedef struct stmt_spec {
    const char *name;
    int min_args, max_args;
    const char *const options[16]; /* NULL-terminated */
    const char *usage;
} stmt_spec;

/* One table per block, each ending with a NULL name. top_specs is in the
 * order the statements must come in (the TOP_* indices). */
extern const stmt_spec top_specs[], layer_specs[], prep_specs[], aug_specs[], train_specs[];
enum { TOP_MODEL, TOP_INPUT, TOP_PREPROCESS, TOP_AUGMENT, TOP_LAYERS, TOP_TRAIN, TOP_COUNT };

/* The entry named `name` in a table, or NULL. */
const stmt_spec *find_spec(const stmt_spec *specs, const char *name);

/* The positional values and options of a statement, checked against its spec. */
typedef struct stmt_args {
    const ast_value *pos[CNN_MAX_CLASS_WEIGHTS]; /* class_weight lists one value per class */
    int n_pos;
    const ast_item *opts[8];
    int n_opts;
} stmt_args;

/* Fills *a from st's items; reports unknown, repeated and misplaced options
 * and a wrong number of values. Returns 1 when all is well. */
int collect_args(checker *c, const ast_stmt *st, const stmt_spec *spec, stmt_args *a);
/* The value of option `name`, or NULL when it is not given. */
const ast_value *get_opt(const stmt_args *a, const char *name);

/* "a number", "a shape", ...: what a value is, for error messages. */
const char *kind_name(ast_value_kind k);

/* Value readers: each checks one value, reports its own error (what is
 * wrong and what would be right, at the value's location) and returns 0,
 * or stores it and returns 1. `what` names the value in the message. */
int want_int(checker *c, const ast_value *v, const char *what, long lo, long hi, long *out);
int want_u64(checker *c, const ast_value *v, const char *what, uint64_t *out);
/* A real in [lo, hi]; lo_open/hi_open exclude the ends. */
int want_real(checker *c, const ast_value *v, const char *what, double lo, int lo_open, double hi, int hi_open,
              double *out);
/* A kernel, pool or stride: "KxK", "KhxKw" or a single N meaning NxN. */
int want_size2(checker *c, const ast_value *v, const char *what, long max, int *h, int *w);
/* One of `choices` (NULL-terminated): its index. */
int want_word(checker *c, const ast_value *v, const char *what, const char *const *choices, int *out);
int want_bool(checker *c, const ast_value *v, const char *what, int *out);
/* A quoted, non-empty string that fits in cap bytes, copied to out. */
int want_string(checker *c, const ast_value *v, const char *what, char *out, size_t cap);

/* Reports st when a statement of the same name comes before it in `block`
 * (`why` ends the message); returns 0 then. */
int check_once(checker *c, const ast_stmt *block, const ast_stmt *st, const char *why);

/* Reports a statement that `specs` does not know: the nearest name, or the
 * block it belongs in, or the list of what `where` takes. */
void unknown_statement(checker *c, const ast_stmt *st, const char *where, const stmt_spec *specs);

#endif
