/* run_folder.c: the run folder's files that are not checkpoints: the
 * folder itself, file paths in it, the class list and split.csv. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnn_checkpoint.h"
#include "cnn_util.h"
#include "cnn_data.h"
#include "cnn_finite.h"
#include "cnn_history.h"
#include "cnn_init.h"
#include "cnn_metrics.h"
#include "cnn_optim.h"
#include "cnn_step.h"
#include "cnn_plot.h"
#include "cnn_progress.h"
#include "cnn_run_lock.h"
#include "cnn_safetensors.h"
#include "cnn_train.h"

/* ---- shared helpers ------------------------------------------------------ */
#include "cnn_run.h"

/* mkdir -p */
int cnn_make_dirs(const char *path, char *err, size_t errlen)
{
    char p[CNN_MAX_PATH];
    snprintf(p, sizeof p, "%s", path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == 0) {
            char c = p[i];
            p[i] = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                cnn_set_err(err, errlen, "cannot create the folder %s: %s", p, strerror(errno));
                return -1;
            }
            p[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cnn_set_err(err, errlen, "%s is not a folder", path);
        return -1;
    }
    return 0;
}

void cnn_run_path(char *dst, size_t n, const char *dir, const char *file)
{
    snprintf(dst, n, "%s/%s", dir, file);
}

/* Class names joined by '\n' (the "classes" metadata entry). */
char *cnn_class_list(const cnn_dataset *d)
{
    size_t len = 1;
    int k = cnn_dataset_n_classes(d);
    for (int i = 0; i < k; i++)
        len += strlen(cnn_dataset_class_name(d, i)) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    s[0] = 0;
    for (int i = 0; i < k; i++) {
        if (i)
            strcat(s, "\n");
        strcat(s, cnn_dataset_class_name(d, i));
    }
    return s;
}

/* Appends s to the growing buffer *buf (length *len, capacity *cap), as a CSV
 * field: quoted (with "" for ") when it holds a comma, quote or line break. */
static int csv_put(char **buf, size_t *len, size_t *cap, const char *s, int quote_if_needed)
{
    size_t need = 2 * strlen(s) + 4;
    if (*len + need > *cap) {
        size_t nc = (*cap ? *cap * 2 : 65536) + need;
        char *nb = realloc(*buf, nc);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = nc;
    }
    int q = quote_if_needed && strpbrk(s, ",\"\r\n") != NULL;
    if (q)
        (*buf)[(*len)++] = '"';
    for (; *s; s++) {
        if (*s == '"' && q)
            (*buf)[(*len)++] = '"';
        (*buf)[(*len)++] = *s;
    }
    if (q)
        (*buf)[(*len)++] = '"';
    (*buf)[*len] = 0;
    return 0;
}

/* split.csv in the run folder: every image the run trains or validates on,
 * `subset,label,class,path` (path relative to its data folder, or
 * "FILE#n" for an IDX file), in subset order. It lets another engine (e.g.
 * scripts/train_pytorch.py) train on exactly the same split. */
int cnn_write_split(const char *path, const cnn_dataset *train, const cnn_dataset *val, char *err,
                       size_t errlen)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int bad = csv_put(&buf, &len, &cap, "subset,label,class,path\n", 0);
    for (int s = 0; s < 2 && !bad; s++) {
        const cnn_dataset *d = s ? val : train;
        for (int i = 0; d && i < cnn_dataset_size(d) && !bad; i++) {
            char lab[16];
            int l = cnn_dataset_label(d, i);
            snprintf(lab, sizeof lab, ",%d,", l);
            bad = csv_put(&buf, &len, &cap, s ? "validation" : "training", 0) ||
                  csv_put(&buf, &len, &cap, lab, 0) ||
                  csv_put(&buf, &len, &cap, cnn_dataset_class_name(d, l), 1) ||
                  csv_put(&buf, &len, &cap, ",", 0) || csv_put(&buf, &len, &cap, cnn_dataset_relpath(d, i), 1) ||
                  csv_put(&buf, &len, &cap, "\n", 0);
        }
    }
    int rc = -1;
    if (bad)
        cnn_set_err(err, errlen, "out of memory writing %s", path);
    else
        rc = cnn_write_file_atomic(path, buf, len, err, errlen);
    free(buf);
    return rc;
}
