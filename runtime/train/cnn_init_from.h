/* cnn_init_from.h: starting a training run from the weights of a
 * safetensors file (`train --init FILE`, the train block's `init`).
 *
 * Tensors are matched by name (PyTorch's state_dict keys: conv2d_1.weight)
 * and on-disk shape. Without `partial`, every tensor of the model must be
 * in the file with its shape, and every tensor of the file must be the
 * model's (PyTorch's load_state_dict(strict=True)); the error names each
 * tensor at fault. With `partial`, the tensors that differ in shape or that
 * the file lacks keep their fresh initialization and are named, and the
 * file's other tensors are named and ignored (a re-headed network: the same
 * trunk, a new last layer). The optimizer's state in a checkpoint file
 * ("optimizer.*") is never used. */
#ifndef CNN_INIT_FROM_H
#define CNN_INIT_FROM_H

#include <stddef.h>
#include <stdio.h>

#include "cnn_model.h"

/* Loads the matching tensors of `path` into params (already initialized
 * fresh). With params NULL it only checks, writes nothing and prints
 * nothing: the trainer checks the file before it spends time on the data.
 * Prints which tensors were loaded and which were not to `log` (may be
 * NULL). Returns 0, or -1 with a message in err. */
int cnn_init_from_file(const cnn_model *m, float *params, const char *path, int partial, FILE *log, char *err,
                       size_t errlen);

#endif
