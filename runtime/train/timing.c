/* timing.c: the per-epoch timing table behind timing.csv (see cnn_timing.h). */
#define _POSIX_C_SOURCE 200809L
#include "cnn_timing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cols[CNN_TIMING_COLS] = {"images", "seconds", "train_seconds", "batch_seconds",
                                                  "val_images", "val_seconds"};

void cnn_timing_init(cnn_history *t)
{
    cnn_history_init(t, cols, CNN_TIMING_COLS);
}

/* The file's text, malloc'ed; NULL when it cannot be read or is not a
 * small text file (the table of a few thousand epochs is far below 1 MB). */
static char *read_small(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *s = malloc(cap + 1);
    if (s)
        n = fread(s, 1, cap, f);
    int whole = s && !ferror(f) && fgetc(f) == EOF;
    fclose(f);
    if (!whole) {
        free(s);
        return NULL;
    }
    s[n] = 0;
    return s;
}

int cnn_timing_resume(cnn_history *t, const char *path, int epochs)
{
    cnn_timing_init(t);
    char *text = read_small(path);
    cnn_history old;
    int have = text && cnn_history_parse(&old, text) == 0;
    free(text);
    if (have) {
        int same = old.n_cols == t->n_cols;
        for (int c = 0; same && c < t->n_cols; c++)
            same = !strcmp(old.cols[c], t->cols[c]);
        for (int r = 0; same && r < old.n_rows && r < epochs; r++)
            if (cnn_history_add(t, old.rows + (size_t)r * old.n_cols)) {
                cnn_history_free(&old);
                return -1;
            }
        cnn_history_free(&old);
    }
    double none[CNN_TIMING_COLS];
    for (int c = 0; c < CNN_TIMING_COLS; c++)
        none[c] = NAN;
    while (t->n_rows < epochs)
        if (cnn_history_add(t, none))
            return -1;
    return 0;
}
