/* cnn_history.h: the per-epoch history of a run (Keras's History /
 * CSVLogger): a table with one row per epoch and named columns, written as
 * history.csv with the header "epoch,loss,accuracy,...,val_loss,..." and
 * read back from a checkpoint's copy when a run resumes.
 *
 * Epochs are numbered from 1 (as the progress lines "Epoch 1/10"; Keras's
 * CSVLogger counts from 0). Values are stored rounded to 9 significant
 * digits, so a table read back from text equals the one written, bit for
 * bit, and a resumed run writes the same files as an uninterrupted one.
 */
#ifndef CNN_HISTORY_H
#define CNN_HISTORY_H

#include <stddef.h>

#define CNN_HISTORY_MAX_COLS 16

typedef struct cnn_history {
    int n_cols;                           /* columns besides epoch */
    char cols[CNN_HISTORY_MAX_COLS][32];  /* "loss", "accuracy", "val_loss", ... */
    int n_rows, cap;
    double *rows;                         /* n_rows x n_cols */
} cnn_history;

void cnn_history_init(cnn_history *h, const char *const *cols, int n_cols);
void cnn_history_free(cnn_history *h);
/* Appends one epoch (values in column order). Returns 0 or -1 (memory). */
int cnn_history_add(cnn_history *h, const double *values);
/* Keeps the first n rows (a resumed run drops nothing it has not redone). */
void cnn_history_truncate(cnn_history *h, int n);
/* Appends a column holding v in every row. Returns 0, or -1 (memory, or no
 * room for another column). */
int cnn_history_add_column(cnn_history *h, const char *name, double v);
int cnn_history_col(const cnn_history *h, const char *name); /* index or -1 */
double cnn_history_get(const cnn_history *h, int row, const char *name); /* NAN if absent */

/* The table as CSV text (header + rows), malloc'ed; NULL when out of memory. */
char *cnn_history_csv(const cnn_history *h);
/* Reads CSV text written by cnn_history_csv into h (columns from its
 * header). Returns 0, or -1 when the text is not such a table. */
int cnn_history_parse(cnn_history *h, const char *csv);
/* Writes the CSV atomically (temporary file + rename). */
int cnn_history_write(const cnn_history *h, const char *path, char *err, size_t errlen);

/* Writes text to path atomically: PATH.tmp.PID (cnn_tmp_path), fsync, rename. */
int cnn_write_file_atomic(const char *path, const char *text, size_t len, char *err, size_t errlen);

#endif
