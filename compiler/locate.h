/* locate.h: where cnnc finds the runtime it builds trainers with, and the
 * tools of `cnnc compare`.
 *
 * Two layouts, told apart by where the running executable is
 * (/proc/self/exe):
 *   installed   PREFIX/bin/cnnc next to PREFIX/include/cnnc/cnn_model.h,
 *               PREFIX/lib/libcnnrt.a and PREFIX/share/cnnc/ (the compare
 *               scripts and the reference engine's sources). Found relative
 *               to the executable, so a prefix that is moved still works.
 *   build tree  BUILD/compiler/cnnc with the source tree's runtime/include,
 *               BUILD/runtime/libcnnrt.a and SOURCE/scripts, read from
 *               BUILD/compiler/cnnc-build-tree, which CMake writes next to
 *               the build tree's own cnnc (the executable holds no build
 *               path; a copy elsewhere does not silently reach back into a
 *               build folder).
 * $CNNC_RUNTIME_INCLUDE (the folder with cnn_model.h) and $CNNC_RUNTIME_LIB
 * (libcnnrt.a) override either layout. */
#ifndef CNNC_LOCATE_H
#define CNNC_LOCATE_H

#define CNNC_PATH_MAX 4096

typedef struct cnnc_layout {
    char exe[CNNC_PATH_MAX];       /* this cnnc, absolute */
    char include[CNNC_PATH_MAX];   /* folder holding cnn_model.h */
    char library[CNNC_PATH_MAX];   /* libcnnrt.a */
    char tools[CNNC_PATH_MAX];     /* folder holding compare.py */
    char reference[CNNC_PATH_MAX]; /* installed: bench_reference.c, the engine's .c files and
                                      their headers; empty in the build tree */
    const char *kind;              /* "installed", "build tree" or "unknown" */
} cnnc_layout;

/* What a caller needs found. */
enum { CNNC_NEED_RUNTIME = 1, CNNC_NEED_TOOLS = 2 };

/* Fills *l and checks that what `need` asks for exists. Returns 0, or
 * prints "cnnc: error: ..." naming the missing file and the way out
 * (reinstall, or the environment variable) and returns 1. argv0 is used
 * only where /proc/self/exe cannot be read. */
int cnnc_locate(cnnc_layout *l, const char *argv0, int need);

#endif
