/* ast.c: construction and destruction of parse-tree nodes. */
#include "ast.h"

#include <stdlib.h>

ast_item *ast_item_new(char *opt_name, cnnc_loc opt_loc, ast_value value)
{
    ast_item *it = calloc(1, sizeof *it);
    it->opt_name = opt_name;
    it->opt_loc = opt_loc;
    it->value = value;
    return it;
}

ast_item *ast_items_reverse(ast_item *list)
{
    ast_item *done = NULL;
    while (list) {
        ast_item *next = list->next;
        list->next = done;
        done = list;
        list = next;
    }
    return done;
}

ast_stmt *ast_stmt_new(char *name, cnnc_loc loc, ast_item *items)
{
    ast_stmt *s = calloc(1, sizeof *s);
    s->name = name;
    s->loc = loc;
    s->items = items;
    return s;
}

ast_stmt *ast_stmts_reverse(ast_stmt *list)
{
    ast_stmt *done = NULL;
    while (list) {
        ast_stmt *next = list->next;
        list->next = done;
        done = list;
        list = next;
    }
    return done;
}

void ast_value_free(ast_value *v)
{
    free(v->text);
    v->text = NULL;
}

void ast_items_free(ast_item *items)
{
    while (items) {
        ast_item *next = items->next;
        free(items->opt_name);
        ast_value_free(&items->value);
        free(items);
        items = next;
    }
}

void ast_stmts_free(ast_stmt *stmts)
{
    while (stmts) {
        ast_stmt *next = stmts->next;
        free(stmts->name);
        ast_items_free(stmts->items);
        ast_stmts_free(stmts->block);
        free(stmts);
        stmts = next;
    }
}
