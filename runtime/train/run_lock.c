/* run_lock.c: one trainer per run folder (see cnn_run_lock.h). */
#define _POSIX_C_SOURCE 200809L
#include "cnn_run_lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cnn_model.h"

int cnn_run_lock(const char *out, char *err, size_t errlen)
{
    char path[CNN_MAX_PATH + 64];
    snprintf(path, sizeof path, "%s/lock", out);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create the run folder's lock %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char buf[32] = "";
            ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
            buf[k > 0 ? k : 0] = 0;
            long pid = strtol(buf, NULL, 10);
            char who[48] = "another process";
            if (pid > 0)
                snprintf(who, sizeof who, "process %ld", pid);
            snprintf(err, errlen, "the run folder %s is in use by another trainer (%s holds %s); wait for it to "
                     "finish, or give another --out", out, who, path);
            close(fd);
            return -1;
        }
        snprintf(err, errlen, "cannot lock the run folder %s (%s); make sure no other trainer uses it", out,
                 strerror(e));
        close(fd);
        return -2;
    }
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    /* A pid that cannot be written only makes a refusal less precise. */
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len)
        err[0] = 0;
    return fd;
}

void cnn_run_remove_stale(const char *out)
{
    DIR *d = opendir(out);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        static const char *const ours[] = {"checkpoint.safetensors", "best.safetensors", "model.safetensors",
                                           "history.csv", "timing.csv", "curves.svg", "split.csv", "diverged", NULL};
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t || !t[5] || strspn(t + 5, "0123456789") != strlen(t + 5))
            continue;
        int mine = 0;
        for (int i = 0; ours[i]; i++)
            mine |= strlen(ours[i]) == (size_t)(t - e->d_name) && !strncmp(e->d_name, ours[i], strlen(ours[i]));
        if (!mine)
            continue; /* not a file the trainer writes: leave it */
        char path[CNN_MAX_PATH + 300];
        snprintf(path, sizeof path, "%s/%s", out, e->d_name);
        unlink(path);
    }
    closedir(d);
}
