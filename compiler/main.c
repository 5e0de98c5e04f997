/* main.c: the cnnc command line (README.md; tests/frontend/cli.sh holds it to this contract):
 *
 *   cnnc summary FILE.cnn                 Keras-style table, FLOPs, memory
 *   cnnc check FILE.cnn                   diagnostics only
 *   cnnc FILE.cnn -o DIR                  DIR/NAME.c and DIR/NAME.h
 *   cnnc build FILE.cnn [-o BIN]          a standalone trainer binary
 *   cnnc --emit pytorch FILE.cnn -o F.py  the same network as a PyTorch module
 *   cnnc export FILE.cnn --weights W.safetensors -o DIR [--web]
 *                                         DIR/NAME_infer.c and .h: freestanding inference;
 *                                         --web: DIR/NAME.wasm, NAME.js, index.html
 *   cnnc compare FILE.cnn [flags]         the speed comparison (compare.c)
 *
 * Exit status: 0 on success, 1 on any error (with a message). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cnn_util.h"
#include "compare.h"
#include "emit.h"
#include "emit_web.h"
#include "locate.h"
#include "plan.h"
#include "summary.h"

#ifndef CNNC_VERSION
#define CNNC_VERSION "0.0.0"
#endif

static void usage(FILE *out)
{
    fputs("usage: cnnc summary FILE.cnn                   print the model: layers, shapes, parameters, FLOPs, memory\n"
          "       cnnc check FILE.cnn                     check the file; print errors only\n"
          "       cnnc FILE.cnn -o DIR                    write DIR/NAME.c and DIR/NAME.h\n"
          "       cnnc build FILE.cnn [-o BIN] [-v] [--mpi]\n"
          "                                               build a standalone trainer (default ./NAME); --mpi:\n"
          "                                               one that also trains data-parallel under mpirun\n"
          "                                               (docs/distributed.md)\n"
          "       cnnc --emit c|pytorch FILE.cnn -o OUT   write the C model (OUT is a folder) or a PyTorch module\n"
          "       cnnc export FILE.cnn --weights W.safetensors -o DIR [--web]\n"
          "                                               write DIR/NAME_infer.c and .h: freestanding inference\n"
          "                                               C with the trained weights embedded (docs/deploy.md);\n"
          "                                               --web: also DIR/NAME.wasm, NAME.js and index.html, a\n"
          "                                               page that classifies images in the browser\n"
          "       cnnc compare FILE.cnn [flags]           time the trainer against the reference engine and PyTorch\n"
          "                                               (cnnc compare --help lists its flags)\n"
          "       cnnc --version | --help\n"
          "\n"
          "The language is described in docs/language.md and man cnnc. Errors are printed as\n"
          "FILE:LINE:COL: error: MESSAGE; the exit status is 1 and no file is written.\n",
          out);
}

typedef struct cli {
    const char *command; /* summary, check, build, export, emit */
    const char *emit;    /* c or pytorch */
    const char *input, *output;
    const char *weights; /* export */
    int web;             /* export --web */
    int mpi;             /* build --mpi */
    int verbose;
} cli;

static int parse_cli(int argc, char **argv, cli *o)
{
    memset(o, 0, sizeof *o);
    int i = 1;
    if (i < argc && (!strcmp(argv[i], "summary") || !strcmp(argv[i], "check") || !strcmp(argv[i], "build") ||
                     !strcmp(argv[i], "export")))
        o->command = argv[i++];
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-o") || !strcmp(a, "--emit") || !strcmp(a, "--weights")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cnnc: error: %s needs a value\n", a);
                return 1;
            }
            if (a[1] == 'o')
                o->output = argv[++i];
            else if (!strcmp(a, "--weights"))
                o->weights = argv[++i];
            else
                o->emit = argv[++i];
        } else if (!strcmp(a, "--web")) {
            o->web = 1;
        } else if (!strcmp(a, "--mpi")) {
            o->mpi = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "cnnc: error: unknown option '%s' (see cnnc --help)\n", a);
            return 1;
        } else if (o->input) {
            fprintf(stderr, "cnnc: error: more than one input file ('%s' and '%s')\n", o->input, a);
            return 1;
        } else {
            o->input = a;
        }
    }
    if (!o->input) {
        fprintf(stderr, "cnnc: error: no input file\n");
        usage(stderr);
        return 1;
    }
    if (o->emit && o->command) {
        fprintf(stderr, "cnnc: error: --emit cannot be combined with '%s'\n", o->command);
        return 1;
    }
    if (o->emit && strcmp(o->emit, "c") && strcmp(o->emit, "pytorch")) {
        fprintf(stderr, "cnnc: error: unknown --emit target '%s'; expected c or pytorch\n", o->emit);
        return 1;
    }
    if (o->weights && (!o->command || strcmp(o->command, "export"))) {
        fprintf(stderr, "cnnc: error: --weights belongs to 'cnnc export'\n");
        return 1;
    }
    if (o->web && (!o->command || strcmp(o->command, "export"))) {
        fprintf(stderr, "cnnc: error: --web belongs to 'cnnc export'\n");
        return 1;
    }
    if (o->mpi && (!o->command || strcmp(o->command, "build"))) {
        fprintf(stderr, "cnnc: error: --mpi belongs to 'cnnc build'\n");
        return 1;
    }
    if (o->command && !strcmp(o->command, "export") && (!o->weights || !o->output)) {
        fprintf(stderr, "cnnc: error: export needs %s: cnnc export FILE.cnn --weights W.safetensors -o DIR\n",
                !o->weights ? "the trained weights" : "an output folder");
        return 1;
    }
    if (!o->command)
        o->command = "emit";
    if (!o->emit)
        o->emit = "c";
    if (!strcmp(o->command, "emit") && !o->output) {
        fprintf(stderr, "cnnc: error: no output given: write -o %s\n",
                strcmp(o->emit, "c") ? "FILE.py" : "DIR");
        return 1;
    }
    if ((!strcmp(o->command, "summary") || !strcmp(o->command, "check")) && o->output) {
        fprintf(stderr, "cnnc: error: '%s' writes no file; drop -o\n", o->command);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("cnnc %s\n", CNNC_VERSION);
        return 0;
    }
    if (argc == 1 || (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))) {
        usage(argc == 1 ? stderr : stdout);
        return argc == 1 ? 1 : 0;
    }
    if (!strcmp(argv[1], "compare")) {
        int help = 0;
        for (int i = 2; i < argc; i++)
            help |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
        cnnc_layout l;
        if (cnnc_locate(&l, argv[0], CNNC_NEED_TOOLS | (help ? 0 : CNNC_NEED_RUNTIME)))
            return 1;
        return compare_exec(&l, argc - 2, argv + 2);
    }
    cli o;
    if (parse_cli(argc, argv, &o))
        return 1;
    cnnc_layout l;
    if (!strcmp(o.command, "build") && cnnc_locate(&l, argv[0], CNNC_NEED_RUNTIME))
        return 1;
    cnnc_ir *ir = calloc(1, sizeof *ir);
    int rc = cnnc_compile_file(o.input, stderr, ir);
    if (rc == 0) {
        if (!strcmp(o.command, "summary")) {
            /* the activations the trainer will keep: the plan's */
            static cnnc_plan pl;
            print_summary(ir, plan_build(&pl, ir) == 0 ? pl.act_floats : ir->act_floats, stdout);
        }
        else if (!strcmp(o.command, "export")) {
            /* the toolchain is checked before any file is written */
            rc = o.web ? web_toolchain_check(o.verbose) : 0;
            if (!rc)
                rc = emit_export(ir, o.weights, o.output);
            if (!rc && o.web)
                rc = emit_web(ir, o.output, o.verbose);
        }
        else if (!strcmp(o.command, "build"))
            rc = build_trainer(ir, o.output, l.include, l.library, o.mpi, o.verbose);
        else if (!strcmp(o.command, "emit") && !strcmp(o.emit, "c")) {
            /* -o DIR: made when missing, as `mkdir -p` would */
            char err[1024];
            rc = cnn_make_dirs(o.output, err, sizeof err);
            if (rc)
                fprintf(stderr, "cnnc: error: %s\n", err);
            else
                rc = emit_c(ir, o.output);
        } else if (!strcmp(o.command, "emit"))
            rc = emit_pytorch(ir, o.output);
    }
    free(ir);
    return rc ? 1 : 0;
}
