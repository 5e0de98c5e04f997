/* emit_batch_sum.h: the batch's sums in generated code (emit_batch_sum.c):
 * the part of the batch this process holds and the fixed tree in which the
 * sums over its images run (docs/codegen.md, "Threads and determinism"). */
#ifndef CNNC_EMIT_BATCH_SUM_H
#define CNNC_EMIT_BATCH_SUM_H

#include "emitter.h"

/* The helpers, once per file (the drivers' preamble writes them, and a
 * layer function that uses them calls this first, for files without it):
 *   cnn_part_begin(bp, n)  the drivers, before any layer: b->part, or one
 *                          chunk of all n images and no other process;
 *   cnn_part()             the part: chunk, n_chunks, first, n_global, bp;
 *   cnn_tree_sum(v, stride, len, out)  out[k] = the chunk-tree sum over this
 *                          process's images i of v[i * stride + k], any len;
 *   cnn_part_reduce(v, count)  the sums over this process's images (its
 *                          subtree's root) into the whole batch's, in place. */
void emit_batch_sum_helpers(cnnc_emitter *em);
/* cnn_part_begin (after the helpers; trainer files only: it reads
 * cnn_batch_part of cnn_model.h, which an exported file does not include). */
void emit_batch_part_begin(cnnc_emitter *em);

#endif
