/* spawn.h: running a tool (the C compiler, clang, wasm-ld) directly, with
 * no shell, and waiting for it. */
#ifndef CNNC_SPAWN_H
#define CNNC_SPAWN_H

/* Runs argv (argv[0] looked up in $PATH), waits, and returns its exit
 * status: 127 when it could not be started, 128 + N when signal N ended it.
 * verbose: the command line is printed to stderr first. quiet: the tool's
 * stdout and stderr go to /dev/null (for probes), and a tool that cannot be
 * started is not reported. */
int spawn_wait(char *const argv[], int verbose, int quiet);

#endif
