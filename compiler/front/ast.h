/* ast.h: the parse tree of a .cnn file, before any checking.
 *
 * The language has one statement shape, `NAME value... option=value...`,
 * optionally followed by a `{ ... }` block of such statements. The parser
 * keeps exactly that; what a word means is decided by check.c, since no
 * word is reserved. */
#ifndef CNNC_AST_H
#define CNNC_AST_H

#include "diag.h"

typedef enum ast_value_kind {
    AV_NUMBER,  /* 16, -0.1, 1e-3 */
    AV_RATIO,   /* 1/255 */
    AV_SHAPE,   /* 3x3, 128x128x3 */
    AV_STRING,  /* "data/fruits" (escapes resolved) */
    AV_WORD     /* relu, horizontal, true */
} ast_value_kind;

#define AST_MAX_DIMS 4

typedef struct ast_value {
    ast_value_kind kind;
    cnnc_loc loc;
    char *text;         /* the token as written (strings: the decoded contents) */
    double num;         /* numbers and ratios */
    int is_digits;      /* a number written with digits only: an integer */
    int ndims;          /* shapes */
    long dims[AST_MAX_DIMS];
} ast_value;

/* One element after the statement name: a positional value or name=value. */
typedef struct ast_item {
    char *opt_name;     /* NULL for a positional value */
    cnnc_loc opt_loc;
    ast_value value;
    struct ast_item *next;
} ast_item;

typedef struct ast_stmt {
    char *name;
    cnnc_loc loc;
    ast_item *items;
    int has_block;
    cnnc_loc block_loc;          /* the '{' */
    struct ast_stmt *block;      /* statements inside { } */
    struct ast_stmt *next;
} ast_stmt;

ast_item *ast_item_new(char *opt_name, cnnc_loc opt_loc, ast_value value);
ast_stmt *ast_stmt_new(char *name, cnnc_loc loc, ast_item *items);
/* The parser builds lists by prepending (constant time, so a huge input
 * cannot make parsing quadratic) and reverses each list once it is complete. */
ast_item *ast_items_reverse(ast_item *list);
ast_stmt *ast_stmts_reverse(ast_stmt *list);
void ast_value_free(ast_value *v);
void ast_items_free(ast_item *items);
void ast_stmts_free(ast_stmt *stmts);

#endif
