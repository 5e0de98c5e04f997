/* build.c: `cnnc build FILE.cnn [-o BIN]`: one standalone trainer in one step.
 *
 * Emits NAME.c / NAME.h into a fresh temporary folder, compiles them with
 * the system C compiler against the runtime's headers and libcnnrt.a, and
 * moves the binary into place only when everything worked. The compiler is
 * $CC (default `cc`; words split on blanks, so `CC="ccache gcc"` works),
 * run directly (no shell). The caller finds the runtime (locate.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cnn_util.h"
#include "emit.h"
#include "spawn.h"

#define MAX_ARGS 64

static int build_error(const char *fmt, const char *a, const char *b)
{
    fputs("cnnc: error: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 1;
}

/* Copies src to dst through dst.tmpXXXXXX and a rename (for moves across
 * file systems); the result is executable. */
static int copy_file(const char *src, const char *dst)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", dst) >= sizeof tmp)
        return -1;
    int out = mkstemp(tmp);
    if (out < 0)
        return -1;
    int in = open(src, O_RDONLY);
    int bad = in < 0;
    char buf[1 << 16];
    while (!bad) {
        ssize_t k = read(in, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            bad = k < 0;
            break;
        }
        for (ssize_t done = 0; done < k;) {
            ssize_t w = write(out, buf + done, (size_t)(k - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                bad = 1;
                break;
            }
            done += w;
        }
    }
    if (in >= 0)
        close(in);
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(out, 0777 & ~mask) != 0)
        bad = 1;
    if (close(out) != 0)
        bad = 1;
    if (bad || rename(tmp, dst) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

/* The output path is checked before anything is compiled (a compile takes
 * seconds to minutes): its folder is made when missing, must be writable,
 * and the path itself must not be a folder. */
static int check_output(const char *out_path)
{
    char parent[4096], err[1024];
    if ((size_t)snprintf(parent, sizeof parent, "%s", out_path) >= sizeof parent)
        return build_error("%s: path too long%s", out_path, "");
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, "%s", slash ? "/" : ".");
    if (cnn_make_dirs(parent, err, sizeof err))
        return build_error("%s%s", err, "");
    if (access(parent, W_OK) != 0)
        return build_error("cannot write into %s: %s", parent, strerror(errno));
    struct stat st;
    if (stat(out_path, &st) == 0 && S_ISDIR(st.st_mode))
        return build_error("%s is a folder; give the trainer's file name, e.g. -o %s/trainer", out_path, out_path);
    return 0;
}


/* With --mpi: the runtime's MPI backend, libcnnrt_mpi.a beside libcnnrt.a,
 * linked whole (nothing names it: a constructor installs it, cnn_dist.h),
 * and the compiler is $MPICC or mpicc, which adds MPI's headers and
 * libraries. */
static int mpi_library(const char *rt_lib, char *buf, size_t size)
{
    const char *slash = strrchr(rt_lib, '/');
    size_t dir = slash ? (size_t)(slash - rt_lib + 1) : 0;
    if ((size_t)snprintf(buf, size, "%.*slibcnnrt_mpi.a", (int)dir, rt_lib) >= size)
        return -1;
    return access(buf, R_OK);
}

int build_trainer(const cnnc_ir *ir, const char *out_path, const char *rt_inc, const char *rt_lib, int mpi,
                  int verbose)
{
    char mpi_lib[4200];
    if (mpi && mpi_library(rt_lib, mpi_lib, sizeof mpi_lib) != 0)
        return build_error("--mpi: %s is missing: this cnnc was built without MPI (install libopenmpi-dev and "
                           "rebuild cnnc)%s", mpi_lib, "");
    char def_out[CNN_MAX_NAME + 8], dir[4096], src[4600], bin[4600], hdr[4600], inc[4200];
    if (!out_path) {
        snprintf(def_out, sizeof def_out, "./%s", ir->name);
        out_path = def_out;
    }
    if (check_output(out_path))
        return 1;
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    if ((size_t)snprintf(dir, sizeof dir, "%s/cnnc-build-XXXXXX", tmpdir) >= sizeof dir || !mkdtemp(dir))
        return build_error("cannot create a temporary folder in %s: %s", tmpdir, strerror(errno));
    snprintf(src, sizeof src, "%s/%s.c", dir, ir->name);
    snprintf(hdr, sizeof hdr, "%s/%s.h", dir, ir->name);
    snprintf(bin, sizeof bin, "%s/%s.bin", dir, ir->name);
    snprintf(inc, sizeof inc, "-I%s", rt_inc);

    int rc = emit_c(ir, dir);
    if (rc == 0) {
        /* $CC, split on blanks */
        const char *cc_env = getenv(mpi ? "MPICC" : "CC");
        static char cc[1024];
        snprintf(cc, sizeof cc, "%s", cc_env && *cc_env ? cc_env : mpi ? "mpicc" : "cc");
        char *argv[MAX_ARGS];
        int k = 0;
        for (char *tok = strtok(cc, " \t"); tok && k < MAX_ARGS - 24; tok = strtok(NULL, " \t"))
            argv[k++] = tok;
        if (k == 0)
            argv[k++] = "cc";
        char inc_dir[4200];
        snprintf(inc_dir, sizeof inc_dir, "-I%s", dir);
        char *rest[] = {"-std=c11", "-O2", "-march=native", "-ffp-contract=fast", "-fopenmp", "-DCNN_TRAINER_MAIN",
                        inc, inc_dir, src, NULL};
        char *link[] = {(char *)rt_lib, "-ljpeg", "-lpng", "-lz", "-lm", "-lpthread", "-o", bin, NULL};
        char *whole[] = {"-Wl,--whole-archive", mpi_lib, "-Wl,--no-whole-archive", NULL};
        for (int j = 0; rest[j]; j++)
            argv[k++] = rest[j];
        for (int j = 0; mpi && whole[j]; j++)
            argv[k++] = whole[j];
        for (int j = 0; link[j]; j++)
            argv[k++] = link[j];
        argv[k] = NULL;
        int st = spawn_wait(argv, verbose, 0);
        if (st != 0) {
            fprintf(stderr, "cnnc: error: the C compiler failed (exit status %d) building %s\n", st,
                    out_path);
            rc = 1;
        } else if (rename(bin, out_path) != 0) {
            if (errno != EXDEV || copy_file(bin, out_path) != 0) {
                rc = build_error("cannot write %s: %s", out_path, strerror(errno));
            }
        }
    }
    remove(src);
    remove(hdr);
    remove(bin);
    if (rmdir(dir) != 0 && verbose)
        fprintf(stderr, "cnnc: warning: could not remove %s\n", dir);
    if (rc == 0 && verbose)
        fprintf(stderr, "cnnc: built %s\n", out_path);
    return rc;
}
