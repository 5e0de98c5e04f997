/* parser.y: the .cnn grammar (pure bison, with locations).
 *
 * The grammar knows only the shape of statements:
 *     NAME item... [ '{' statements '}' ]
 * where an item is a value or `name = value`. Which names exist and what
 * they take is checked afterwards (check.c), so that errors can say what
 * would be right. A newline ends a statement; '}' also ends the statement
 * before it. Errors recover at the end of the line. */
%require "3.8"
%define api.pure full
%locations
%define parse.error custom
%define parse.lac full
%expect 0
%param {void *scanner} {cnnc_parse_ctx *ctx}

%code requires {
#include "parse.h"
}

%code {
#include <stdlib.h>
#include <string.h>

#include "lexer.h"

#undef yylex
static int yylex(YYSTYPE *lval, YYLTYPE *lloc, void *scanner, cnnc_parse_ctx *ctx)
{
    (void)ctx;
    return cnnc_lex(lval, lloc, scanner);
}

static cnnc_loc at(YYLTYPE l) { return (cnnc_loc){l.first_line, l.first_column}; }

static void yyerror(YYLTYPE *loc, void *scanner, cnnc_parse_ctx *ctx, const char *msg)
{
    (void)scanner;
    diag_error(ctx->diag, at(*loc), "%s", msg);
}
}

%union {
    char *str;
    ast_value val;
    ast_item *items;
    ast_stmt *stmt;
}

%token <str> WORD "name"
%token <val> NUMBER "number"
%token <val> SHAPE "shape"
%token <val> STRING "string"
%token EOL "end of line"
%token '{' "'{'" '}' "'}'" '=' "'='"

%type <val> value
%type <items> items item
%type <stmt> lines line statement block_body block_lines block_line

%destructor { free($$); } <str>
%destructor { ast_value_free(&$$); } <val>
%destructor { ast_items_free($$); } <items>
%destructor { ast_stmts_free($$); } <stmt>

%%

file:
    lines                       { ctx->result = ast_stmts_reverse($1); }
;

/* Lists are built backwards and reversed once complete (see ast.h). */
lines:
    %empty                      { $$ = NULL; }
  | lines line                  { $$ = $2 ? ($2->next = $1, $2) : $1; }
;

line:
    EOL                         { $$ = NULL; }
  | statement EOL               { $$ = $1; }
  | statement '{' block_body '}' EOL
                                { $$ = $1; $$->has_block = 1; $$->block_loc = at(@2);
                                  $$->block = ast_stmts_reverse($3); }
  | error EOL                   { $$ = NULL; yyerrok; }
;

statement:
    WORD items                  { $$ = ast_stmt_new($1, at(@1), ast_items_reverse($2)); }
;

items:
    %empty                      { $$ = NULL; }
  | items item                  { $$ = $2; $$->next = $1; }
;

item:
    value                       { $$ = ast_item_new(NULL, (cnnc_loc){0, 0}, $1); }
  | WORD '=' value              { $$ = ast_item_new($1, at(@1), $3); }
;

value:
    NUMBER
  | SHAPE
  | STRING
  | WORD                        { memset(&$$, 0, sizeof $$); $$.kind = AV_WORD; $$.loc = at(@1); $$.text = $1; }
;

/* Inside a block the last statement may be closed by the '}' itself. */
block_body:
    block_lines                 { $$ = $1; }
  | block_lines statement       { $$ = $2; $$->next = $1; }
;

block_lines:
    %empty                      { $$ = NULL; }
  | block_lines block_line      { $$ = $2 ? ($2->next = $1, $2) : $1; }
;

block_line:
    EOL                         { $$ = NULL; }
  | statement EOL               { $$ = $1; }
  | error EOL                   { $$ = NULL; yyerrok; }
;

%%

/* "unexpected X; expected Y or Z", with the names the user wrote in mind. */
static int yyreport_syntax_error(const yypcontext_t *pctx, void *scanner, cnnc_parse_ctx *ctx)
{
    (void)scanner;
    enum { MAX_EXPECTED = 6 };
    yysymbol_kind_t expected[MAX_EXPECTED];
    int n = yypcontext_expected_tokens(pctx, expected, MAX_EXPECTED);
    yysymbol_kind_t got = yypcontext_token(pctx);
    char msg[512];
    size_t len = 0;
    if (got == YYSYMBOL_YYEOF && ctx->brace_depth > 0) {
        diag_error(ctx->diag, ctx->open_brace,
                   "this '{' is never closed: the file ends inside its block; add '}'");
        return 0;
    }
    if (got == YYSYMBOL_YYEOF)
        len += (size_t)snprintf(msg + len, sizeof msg - len, "unexpected end of file");
    else if (got == YYSYMBOL_WORD || got == YYSYMBOL_NUMBER || got == YYSYMBOL_SHAPE)
        len += (size_t)snprintf(msg + len, sizeof msg - len, "unexpected %s '%s'",
                                yysymbol_name(got), ctx->last_text);
    else
        len += (size_t)snprintf(msg + len, sizeof msg - len, "unexpected %s", yysymbol_name(got));
    if (n > 0) {
        len += (size_t)snprintf(msg + len, sizeof msg - len, "; expected ");
        for (int i = 0; i < n && len < sizeof msg; i++)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s",
                                    i == 0 ? "" : i == n - 1 ? " or " : ", ",
                                    yysymbol_name(expected[i]));
    }
    diag_error(ctx->diag, at(*yypcontext_location(pctx)), "%s", msg);
    return 0;
}

ast_stmt *cnnc_parse(const cnnc_source *src, cnnc_diag *diag)
{
    cnnc_parse_ctx ctx = {.diag = diag, .result = NULL, .line = 1, .col = 1, .eof_eol_sent = 0};
    yyscan_t scanner;
    if (cnnc_lex_init_extra(&ctx, &scanner) != 0)
        return NULL;
    YY_BUFFER_STATE buf = cnnc__scan_bytes(src->text, (int)src->len, scanner);
    yyparse(scanner, &ctx);
    cnnc__delete_buffer(buf, scanner);
    cnnc_lex_destroy(scanner);
    return ctx.result;
}
