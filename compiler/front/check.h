/* check.h: semantic checks and shape inference, AST -> IR.
 *
 * Reports every error it finds (names, arity, ranges, order, repeats,
 * shapes, the head/loss match) through diag; the IR is valid only when
 * diag->errors is 0. */
#ifndef CNNC_CHECK_H
#define CNNC_CHECK_H

#include "ast.h"
#include "ir.h"

/* Fills *ir (which the caller zeroes or not: it is reset here). Returns 0
 * when the file is valid, 1 otherwise. */
int check_program(const ast_stmt *prog, const cnnc_source *src, cnnc_diag *diag, cnnc_ir *ir);

/* The whole front end: read-parse-check. Returns 0 and fills *ir when FILE
 * is valid; otherwise prints diagnostics to `out` and returns 1. */
int cnnc_compile_file(const char *path, FILE *out, cnnc_ir *ir);
int cnnc_compile_memory(const char *name, const char *data, size_t len, FILE *out, cnnc_ir *ir);

#endif
