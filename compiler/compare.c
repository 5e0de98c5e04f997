/* compare.c: `cnnc compare FILE.cnn [flags]` runs the comparison script
 * (compare.py in the tools folder: the trainer's bench, the generic
 * reference engine, the PyTorch twin; see docs/benchmarks.md) with
 * /usr/bin/python3 (Debian's, where python3-torch installs torch; `python3`
 * from PATH when there is none). The script gets this cnnc and its runtime
 * through the variables it reads: CNNC, CNNC_RUNTIME_INCLUDE,
 * CNNC_RUNTIME_LIB and, for an installed cnnc, CNNC_REFERENCE_SRC (the
 * reference engine's sources in PREFIX/share/cnnc/reference). */
#define _POSIX_C_SOURCE 200809L
#include "compare.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int compare_exec(const cnnc_layout *l, int n, char **args)
{
    char script[CNNC_PATH_MAX + 16];
    snprintf(script, sizeof script, "%s/compare.py", l->tools);
    const char *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    char **argv = calloc((size_t)n + 3, sizeof *argv);
    if (!argv) {
        fputs("cnnc: error: out of memory\n", stderr);
        return 1;
    }
    argv[0] = (char *)python;
    argv[1] = script;
    for (int i = 0; i < n; i++)
        argv[i + 2] = args[i];
    if (setenv("CNNC", l->exe, 1) || setenv("CNNC_RUNTIME_INCLUDE", l->include, 1) ||
        setenv("CNNC_RUNTIME_LIB", l->library, 1) || setenv("CNNC_COMPARE_PROG", "cnnc compare", 1) ||
        (*l->reference && setenv("CNNC_REFERENCE_SRC", l->reference, 1))) {
        fprintf(stderr, "cnnc: error: cannot set the environment: %s\n", strerror(errno));
        free(argv);
        return 1;
    }
    fflush(stdout);
    execvp(python, argv);
    fprintf(stderr, "cnnc: error: cnnc compare needs Python 3, and '%s' cannot be run: %s (apt-get install python3)\n",
            python, strerror(errno));
    free(argv);
    return 1;
}
