/* parity_io.h: a minimal safetensors writer for the parity tests: tensors
 * are F32, or F64 when cnn_real is double. The tests exchange weights, inputs and results with
 * PyTorch through it; kept separate from the runtime's checkpoint code so
 * the oracle does not depend on the code it checks. */
#ifndef CNN_PARITY_IO_H
#define CNN_PARITY_IO_H

#include <stddef.h>

#include "cnn_model.h"

typedef struct pio_file pio_file;

pio_file *pio_create(void);
/* Adds a copy of data (count values) under name with
 * the given shape (rank <= 4). Returns 0, or -1 when out of memory. */
int pio_add(pio_file *f, const char *name, int rank, const int *shape, const cnn_real *data);
/* Adds every tensor of model m from params, named prefix + tensor name, in
 * PyTorch layout (OIHW, [out][in]); trainable_only skips running stats. */
int pio_add_params(pio_file *f, const char *prefix, const cnn_model *m, const cnn_real *params, int trainable_only);
/* A string metadata entry (the "__metadata__" object); key and value must
 * not need JSON escapes. */
int pio_meta(pio_file *f, const char *key, const char *value);
/* Writes the file. Returns 0, or -1 (message on stderr). */
int pio_write(pio_file *f, const char *path);
void pio_free(pio_file *f);

#endif
