/* emit_batch_sum.c: the batch's sums in generated code.
 *
 * Every sum over the images of a batch (weight and bias gradients,
 * batchnorm's statistics and its backward sums) runs in one order, a fixed
 * function of the batch alone: the batch's n images are cut into C chunks
 * (C a power of two fixed by the configured batch; chunk j holds images
 * [j n / C, (j + 1) n / C)), each chunk sums its images in order from zero,
 * and the chunks' sums are added in a fixed binary tree (left + right, level
 * by level). A process of a data-parallel run holds whole subtrees (its
 * chunks: cnn_batch_part, cnn_model.h), computes their root, and the runtime
 * adds the processes' roots in the same tree; so the sums, and the weights,
 * are the same bit for bit whether one process or 2, 4 ... computes them,
 * with any number of threads each (docs/distributed.md). */
#include <stdio.h>

#include "emit_batch_sum.h"

void emit_batch_sum_helpers(cnnc_emitter *em)
{
    if (em->once & 1)
        return;
    em->once |= 1;
    static const char *const text[] = {
        "/* The batch's sums (docs/codegen.md, \"Threads and determinism\"): this process's",
        " * images are cut into chunks (cnn_batch_part, cnn_model.h); each chunk sums its",
        " * images in order from zero and the chunks' sums are added in a fixed binary tree.",
        " * The drivers set the part before any layer runs; the model's functions read it. */",
        "enum { CNN_TREE_LEVELS = 8, CNN_TREE_BLOCK = 256 };",
        "/* A model without a trained batchnorm never reduces across processes: the",
        " * helpers below may go unused, and clang's -Wunused-function must not say so. */",
        "#if defined(__GNUC__)",
        "#define CNN_MAYBE_UNUSED __attribute__((unused))",
        "#else",
        "#define CNN_MAYBE_UNUSED",
        "#endif",
        "typedef struct cnn_part_state {",
        "    void (*reduce)(void *ctx, cnn_real *v, size_t count); /* NULL: this process has the whole batch */",
        "    void *ctx;",
        "    const int *chunk;         /* n_chunks + 1 offsets into this process's images */",
        "    int n_chunks, first, n_global;",
        "    int unit;                 /* every chunk holds exactly one image */",
        "    int one[2];",
        "} cnn_part_state;",
        "",
        "static inline cnn_part_state *cnn_part(void)",
        "{",
        "    static cnn_part_state s;",
        "    return &s;",
        "}",
        "",
        "/* out[k] = the chunk-tree sum over this process's images i of v[i * stride + k]",
        " * (`omp simd`: gcc -O2 leaves these variable-length loops scalar, 6x slower) */",
        "static inline CNN_MAYBE_UNUSED void cnn_tree_sum(const cnn_real *v, size_t stride, int len, cnn_real *out)",
        "{",
        "    const cnn_part_state *s = cnn_part();",
        "    for (int k0 = 0; k0 < len; k0 += CNN_TREE_BLOCK) {",
        "        const int kn = len - k0 < CNN_TREE_BLOCK ? len - k0 : CNN_TREE_BLOCK;",
        "        cnn_real st[CNN_TREE_LEVELS][CNN_TREE_BLOCK], t[CNN_TREE_BLOCK];",
        "        int c = 0;",
        "        do { /* one chunk at least */",
        "            OMP(simd)",
        "            for (int k = 0; k < kn; k++)",
        "                t[k] = 0;",
        "            for (int i = s->chunk[c]; i < s->chunk[c + 1]; i++) {",
        "                const cnn_real *vi = v + (size_t)i * stride + k0;",
        "                OMP(simd)",
        "                for (int k = 0; k < kn; k++)",
        "                    t[k] += vi[k];",
        "            }",
        "            int lv = 0;",
        "            for (int m = c; m & 1; m >>= 1, lv++) { /* a right child: add its left sibling */",
        "                OMP(simd)",
        "                for (int k = 0; k < kn; k++)",
        "                    t[k] = st[lv][k] + t[k];",
        "            }",
        "            OMP(simd)",
        "            for (int k = 0; k < kn; k++)",
        "                st[lv][k] = t[k];",
        "        } while (++c < s->n_chunks);",
        "        OMP(simd)",
        "        for (int k = 0; k < kn; k++) /* the last chunk closed every level: the root */",
        "            out[k0 + k] = t[k];",
        "    }",
        "}",
        "",
        "/* This process's roots (count sums) into the whole batch's, in place. */",
        "static inline CNN_MAYBE_UNUSED void cnn_part_reduce(cnn_real *v, size_t count)",
        "{",
        "    const cnn_part_state *s = cnn_part();",
        "    if (s->reduce)",
        "        s->reduce(s->ctx, v, count);",
        "}",
        "",
    };
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        em_raw(em, "%s\n", text[i]);
    }
}

void emit_batch_part_begin(cnnc_emitter *em)
{
    static const char *const text[] = {
        "/* The drivers, before any layer: b->part, or one chunk of all n images. */",
        "static inline void cnn_part_begin(const cnn_batch_part *bp, int n)",
        "{",
        "    cnn_part_state *s = cnn_part();",
        "    if (bp) {",
        "        s->chunk = bp->chunk;",
        "        s->n_chunks = bp->n_chunks;",
        "        s->first = bp->first;",
        "        s->n_global = bp->n_global;",
        "        s->reduce = bp->reduce;",
        "        s->ctx = bp->ctx;",
        "        s->unit = 1;",
        "        for (int k = 0; k < bp->n_chunks; k++)",
        "            s->unit &= bp->chunk[k + 1] - bp->chunk[k] == 1;",
        "    } else {",
        "        s->one[0] = 0;",
        "        s->one[1] = n;",
        "        s->chunk = s->one;",
        "        s->n_chunks = 1;",
        "        s->first = 0;",
        "        s->n_global = n;",
        "        s->reduce = NULL;",
        "        s->unit = n == 1;",
        "    }",
        "#ifdef CNN_GENERIC_TREE /* tests: the generic loops only, the oracle of the one-image-a-chunk paths */",
        "    s->unit = 0;",
        "#endif",
        "}",
        "",
    };
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        em_raw(em, "%s\n", text[i]);
}
