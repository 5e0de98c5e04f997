/* locate.c: the runtime's and the tools' locations (see locate.h). */
#define _POSIX_C_SOURCE 200809L
#include "locate.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The build tree's own cnnc finds its runtime through a file next to it,
 * BUILD/compiler/cnnc-build-tree (CMake writes it: "include=DIR",
 * "library=FILE", "tools=DIR" lines), never through paths compiled in: an
 * installed cnnc then holds no path of the folder it was built in, and a
 * copy elsewhere does not silently reach back into a build folder. */
#define CNNC_BUILD_TREE_FILE "cnnc-build-tree"

/* The installed layout, relative to the folder holding the executable
 * (cmake/Install.cmake derives them from GNUInstallDirs). */
#ifndef CNNC_REL_INCLUDE
#define CNNC_REL_INCLUDE "../include/cnnc"
#endif
#ifndef CNNC_REL_LIBRARY
#define CNNC_REL_LIBRARY "../lib/libcnnrt.a"
#endif
#ifndef CNNC_REL_DATA
#define CNNC_REL_DATA "../share/cnnc"
#endif

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* dst = dir/rel, or rel when it is absolute; each leading "../" of rel
 * drops the last component of dir instead (dir is the folder of a resolved
 * executable, so it holds no symbolic link: PREFIX/bin + ../lib = PREFIX/lib,
 * the path printed in messages and `cnnc build -v`). A path too long for
 * dst becomes empty (and so is not found). */
static void join(char *dst, const char *dir, const char *rel)
{
    if (rel[0] == '/') {
        if ((size_t)snprintf(dst, CNNC_PATH_MAX, "%s", rel) >= CNNC_PATH_MAX)
            dst[0] = '\0';
        return;
    }
    char base[CNNC_PATH_MAX];
    snprintf(base, sizeof base, "%s", dir);
    while (!strncmp(rel, "../", 3)) {
        char *slash = strrchr(base, '/');
        if (!slash || slash == base)
            break;
        *slash = '\0';
        rel += 3;
    }
    if ((size_t)snprintf(dst, CNNC_PATH_MAX, "%s/%s", base, rel) >= CNNC_PATH_MAX)
        dst[0] = '\0';
}

/* Reads BINDIR/cnnc-build-tree into l's include, library and tools; returns
 * 0 when the file exists and names all three (l is left alone otherwise). */
static int read_build_tree(cnnc_layout *l, const char *bindir)
{
    static char got[3][CNNC_PATH_MAX];
    char path[CNNC_PATH_MAX + 32], line[CNNC_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/" CNNC_BUILD_TREE_FILE, bindir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        int k = !strcmp(line, "include") ? 0 : !strcmp(line, "library") ? 1 : !strcmp(line, "tools") ? 2 : -1;
        if (k >= 0 && !(found & 1 << k) && strlen(eq + 1) < CNNC_PATH_MAX) {
            memcpy(got[k], eq + 1, strlen(eq + 1) + 1);
            found |= 1 << k;
        }
    }
    fclose(f);
    if (found != 7)
        return -1;
    memcpy(l->include, got[0], CNNC_PATH_MAX);
    memcpy(l->library, got[1], CNNC_PATH_MAX);
    memcpy(l->tools, got[2], CNNC_PATH_MAX);
    return 0;
}

static int find_exe(char *exe, const char *argv0)
{
    ssize_t n = readlink("/proc/self/exe", exe, CNNC_PATH_MAX - 1);
    if (n > 0) {
        exe[n] = '\0';
        return 0;
    }
    char buf[PATH_MAX];
    if (argv0 && strchr(argv0, '/') && realpath(argv0, buf)) {
        snprintf(exe, CNNC_PATH_MAX, "%s", buf);
        return 0;
    }
    return -1;
}

int cnnc_locate(cnnc_layout *l, const char *argv0, int need)
{
    memset(l, 0, sizeof *l);
    char bindir[CNNC_PATH_MAX] = "";
    if (find_exe(l->exe, argv0) == 0) {
        snprintf(bindir, sizeof bindir, "%s", l->exe);
        char *slash = strrchr(bindir, '/');
        if (slash)
            *(slash == bindir ? slash + 1 : slash) = '\0';
    }

    char model_h[CNNC_PATH_MAX + 16];
    l->kind = "unknown";
    if (*bindir) {
        join(l->include, bindir, CNNC_REL_INCLUDE);
        join(l->library, bindir, CNNC_REL_LIBRARY);
        join(l->tools, bindir, CNNC_REL_DATA);
        join(l->reference, bindir, CNNC_REL_DATA "/reference");
        snprintf(model_h, sizeof model_h, "%s/cnn_model.h", l->include);
        if (exists(model_h) || exists(l->library))
            l->kind = "installed";
        else if (read_build_tree(l, bindir) == 0) {
            l->kind = "build tree";
            l->reference[0] = '\0';
        }
    }
    const char *env_inc = getenv("CNNC_RUNTIME_INCLUDE");
    const char *env_lib = getenv("CNNC_RUNTIME_LIB");
    if (env_inc && *env_inc)
        snprintf(l->include, sizeof l->include, "%s", env_inc);
    if (env_lib && *env_lib)
        snprintf(l->library, sizeof l->library, "%s", env_lib);

    char where[CNNC_PATH_MAX + 64];
    if (!strcmp(l->kind, "installed"))
        snprintf(where, sizeof where, "an installed cnnc looks for it relative to itself, %s", l->exe);
    else
        snprintf(where, sizeof where, "the build tree's runtime");
    if (need & CNNC_NEED_RUNTIME) {
        if (!strcmp(l->kind, "unknown") && !(env_inc && *env_inc && env_lib && *env_lib)) {
            fprintf(stderr,
                    "cnnc: error: cannot find cnnc's runtime: %s is neither installed (no %s/cnn_model.h) nor the "
                    "build tree's cnnc; install cnnc (cmake --install BUILD --prefix PREFIX), or set "
                    "CNNC_RUNTIME_INCLUDE and CNNC_RUNTIME_LIB\n",
                    *l->exe ? l->exe : "this cnnc", *l->include ? l->include : "PREFIX/include/cnnc");
            return 1;
        }
        snprintf(model_h, sizeof model_h, "%s/cnn_model.h", l->include);
        if (!exists(model_h)) {
            fprintf(stderr, "cnnc: error: runtime headers not found: %s does not exist (%s; %s)\n", model_h,
                    env_inc && *env_inc ? "from CNNC_RUNTIME_INCLUDE" : where,
                    env_inc && *env_inc ? "fix or unset it" : "reinstall cnnc, or set CNNC_RUNTIME_INCLUDE");
            return 1;
        }
        if (!exists(l->library)) {
            fprintf(stderr, "cnnc: error: runtime library %s not found (%s; %s)\n", l->library,
                    env_lib && *env_lib ? "from CNNC_RUNTIME_LIB" : where,
                    env_lib && *env_lib                    ? "fix or unset it"
                    : !strcmp(l->kind, "build tree")       ? "build the cnnrt target, or set CNNC_RUNTIME_LIB"
                                                           : "reinstall cnnc, or set CNNC_RUNTIME_LIB");
            return 1;
        }
    }
    if (need & CNNC_NEED_TOOLS) {
        char script[CNNC_PATH_MAX + 16];
        snprintf(script, sizeof script, "%s/compare.py", l->tools);
        if (!strcmp(l->kind, "unknown") || !exists(script)) {
            fprintf(stderr, "cnnc: error: the comparison's scripts are not found (%s%s); reinstall cnnc\n",
                    *l->tools ? "no " : "no installed or build-tree cnnc", *l->tools ? script : "");
            return 1;
        }
    }
    return 0;
}
