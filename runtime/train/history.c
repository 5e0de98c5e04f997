/* history.c: the per-epoch table behind history.csv (see cnn_history.h). */
#define _POSIX_C_SOURCE 200809L
#include "cnn_history.h"
#include "cnn_util.h"
#include "cnn_safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cnn_history_init(cnn_history *h, const char *const *cols, int n_cols)
{
    memset(h, 0, sizeof *h);
    if (n_cols > CNN_HISTORY_MAX_COLS)
        n_cols = CNN_HISTORY_MAX_COLS;
    h->n_cols = n_cols;
    for (int i = 0; i < n_cols; i++)
        snprintf(h->cols[i], sizeof h->cols[i], "%s", cols[i]);
}

void cnn_history_free(cnn_history *h)
{
    free(h->rows);
    h->rows = NULL;
    h->n_rows = h->cap = 0;
}

/* Rounded to 9 significant digits through text, so that the value read back
 * from history.csv or a checkpoint is the same double. */
static double canon(double v)
{
    if (!isfinite(v))
        return v;
    char s[40];
    snprintf(s, sizeof s, "%.9g", v);
    return strtod(s, NULL);
}

int cnn_history_add(cnn_history *h, const double *values)
{
    if (h->n_rows == h->cap) {
        int cap = h->cap ? h->cap * 2 : 16;
        double *r = realloc(h->rows, (size_t)cap * (size_t)(h->n_cols ? h->n_cols : 1) * sizeof *r);
        if (!r)
            return -1;
        h->rows = r;
        h->cap = cap;
    }
    for (int c = 0; c < h->n_cols; c++)
        h->rows[(size_t)h->n_rows * h->n_cols + c] = canon(values[c]);
    h->n_rows++;
    return 0;
}

void cnn_history_truncate(cnn_history *h, int n)
{
    if (n >= 0 && n < h->n_rows)
        h->n_rows = n;
}

int cnn_history_add_column(cnn_history *h, const char *name, double v)
{
    const int n = h->n_cols + 1;
    if (n > CNN_HISTORY_MAX_COLS || strlen(name) >= sizeof h->cols[0])
        return -1;
    double *rows = malloc((size_t)(h->n_rows ? h->n_rows : 1) * (size_t)n * sizeof *rows);
    if (!rows)
        return -1;
    for (int r = 0; r < h->n_rows; r++) {
        for (int c = 0; c < h->n_cols; c++)
            rows[(size_t)r * n + c] = h->rows[(size_t)r * h->n_cols + c];
        rows[(size_t)r * n + h->n_cols] = canon(v);
    }
    free(h->rows);
    h->rows = rows;
    h->cap = h->n_rows ? h->n_rows : 1;
    snprintf(h->cols[h->n_cols], sizeof h->cols[0], "%s", name);
    h->n_cols = n;
    return 0;
}

int cnn_history_col(const cnn_history *h, const char *name)
{
    for (int c = 0; c < h->n_cols; c++)
        if (!strcmp(h->cols[c], name))
            return c;
    return -1;
}

double cnn_history_get(const cnn_history *h, int row, const char *name)
{
    int c = cnn_history_col(h, name);
    if (c < 0 || row < 0 || row >= h->n_rows)
        return NAN;
    return h->rows[(size_t)row * h->n_cols + c];
}

char *cnn_history_csv(const cnn_history *h)
{
    cnn_strbuf b = {0};
    cnn_sb_str(&b, "epoch");
    for (int c = 0; c < h->n_cols; c++)
        cnn_sb_fmt(&b, ",%s", h->cols[c]);
    cnn_sb_str(&b, "\n");
    for (int r = 0; r < h->n_rows; r++) {
        cnn_sb_fmt(&b, "%d", r + 1);
        for (int c = 0; c < h->n_cols; c++) {
            double v = h->rows[(size_t)r * h->n_cols + c];
            if (isnan(v))
                cnn_sb_str(&b, ",nan");
            else
                cnn_sb_fmt(&b, ",%.9g", v);
        }
        cnn_sb_str(&b, "\n");
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

int cnn_history_parse(cnn_history *h, const char *csv)
{
    memset(h, 0, sizeof *h);
    const char *p = csv;
    size_t l = strcspn(p, "\n");
    if (l < 5 || strncmp(p, "epoch", 5) != 0)
        return -1;
    const char *q = p + 5;
    while (q < p + l && *q == ',') {
        q++;
        size_t w = strcspn(q, ",\n");
        if (h->n_cols >= CNN_HISTORY_MAX_COLS || w == 0 || w >= sizeof h->cols[0])
            return -1;
        memcpy(h->cols[h->n_cols], q, w);
        h->cols[h->n_cols][w] = 0;
        h->n_cols++;
        q += w;
    }
    p += l + (p[l] == '\n');
    double vals[CNN_HISTORY_MAX_COLS];
    while (*p) {
        char *end;
        long e = strtol(p, &end, 10);
        if (end == p || e != h->n_rows + 1) {
            cnn_history_free(h);
            return -1;
        }
        p = end;
        for (int c = 0; c < h->n_cols; c++) {
            if (*p != ',') {
                cnn_history_free(h);
                return -1;
            }
            p++;
            vals[c] = strtod(p, &end);
            if (end == p) {
                cnn_history_free(h);
                return -1;
            }
            p = end;
        }
        if (*p == '\n')
            p++;
        else if (*p) {
            cnn_history_free(h);
            return -1;
        }
        if (cnn_history_add(h, vals)) {
            cnn_history_free(h);
            return -1;
        }
    }
    return 0;
}

int cnn_write_file_atomic(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
    char tmp[4096];
    cnn_tmp_path(tmp, sizeof tmp, path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        cnn_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    /* Each failure reports its own errno, never one left over from an
     * earlier call that succeeded. */
    int e = 0;
    if (fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0)
        e = errno ? errno : EIO;
    if (fclose(f) != 0 && !e)
        e = errno ? errno : EIO;
    if (e) {
        cnn_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(e));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        cnn_set_err(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int cnn_history_write(const cnn_history *h, const char *path, char *err, size_t errlen)
{
    char *s = cnn_history_csv(h);
    if (!s) {
        cnn_set_err(err, errlen, "out of memory writing %s", path);
        return -1;
    }
    int r = cnn_write_file_atomic(path, s, strlen(s), err, errlen);
    free(s);
    return r;
}
