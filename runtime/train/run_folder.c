/* run_folder.c: the run folder's files that are not checkpoints: file
 * paths in it, the class list and split.csv. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn_data.h"
#include "cnn_history.h"
#include "cnn_run.h"
#include "cnn_util.h"

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

/* Appends s to b as a CSV field: quoted (with "" for ") when it holds a
 * comma, quote or line break. */
static void csv_put(cnn_strbuf *b, const char *s, int quote_if_needed)
{
    if (!(quote_if_needed && strpbrk(s, ",\"\r\n"))) {
        cnn_sb_str(b, s);
        return;
    }
    cnn_sb_put(b, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        cnn_sb_put(b, s, (size_t)(q - s) + 1);
        cnn_sb_put(b, "\"", 1);
    }
    cnn_sb_str(b, s);
    cnn_sb_put(b, "\"", 1);
}

/* split.csv in the run folder: every image the run trains or validates on,
 * `subset,label,class,path` (path relative to its data folder, or
 * "FILE#n" for an IDX file), in subset order. It lets another engine (e.g.
 * scripts/train_pytorch.py) train on exactly the same split. */
int cnn_write_split(const char *path, const cnn_dataset *train, const cnn_dataset *val, char *err,
                       size_t errlen)
{
    cnn_strbuf b = {0};
    cnn_sb_str(&b, "subset,label,class,path\n");
    for (int s = 0; s < 2 && !b.oom; s++) {
        const cnn_dataset *d = s ? val : train;
        for (int i = 0; d && i < cnn_dataset_size(d) && !b.oom; i++) {
            int l = cnn_dataset_label(d, i);
            cnn_sb_fmt(&b, "%s,%d,", s ? "validation" : "training", l);
            csv_put(&b, cnn_dataset_class_name(d, l), 1);
            cnn_sb_str(&b, ",");
            csv_put(&b, cnn_dataset_relpath(d, i), 1);
            cnn_sb_str(&b, "\n");
        }
    }
    int rc = -1;
    if (b.oom)
        cnn_set_err(err, errlen, "out of memory writing %s", path);
    else
        rc = cnn_write_file_atomic(path, b.s, b.len, err, errlen);
    free(b.s);
    return rc;
}
