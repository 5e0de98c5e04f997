/* init_from.c: a run's starting weights from a safetensors file (see
 * cnn_init_from.h). */
#include "cnn_init_from.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_finite.h"
#include "cnn_safetensors.h"
#include "cnn_util.h"

static void shape_text(cnn_strbuf *b, int rank, const int64_t *shape)
{
    cnn_sb_str(b, "[");
    for (int i = 0; i < rank; i++)
        cnn_sb_fmt(b, "%s%lld", i ? ", " : "", (long long)shape[i]);
    cnn_sb_str(b, "]");
}

/* Whether file tensor `ft` is model tensor `ti` in dtype and shape. */
static int same_shape(const cnn_st_tensor *ft, const cnn_tensor_info *ti)
{
    if (strcmp(ft->dtype, "F32") != 0 || ft->rank != ti->rank)
        return 0;
    for (int i = 0; i < ti->rank; i++)
        if (ft->shape[i] != ti->shape[i])
            return 0;
    return 1;
}

int cnn_init_from_file(const cnn_model *m, float *params, const char *path, int partial, FILE *log, char *err,
                       size_t errlen)
{
    cnn_st_file f;
    char e[512];
    if (cnn_st_read(path, &f, e, sizeof e)) {
        snprintf(err, errlen, "cannot start from the weights of %s: %s", path, e);
        return -1;
    }
    cnn_strbuf loaded = {0}, differ = {0}, missing = {0}, unused = {0};
    int n_loaded = 0, n_differ = 0, n_missing = 0, n_unused = 0, rc = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        int k = cnn_st_find(&f, ti->name);
        if (k < 0) {
            cnn_sb_fmt(&missing, "%s%s", n_missing++ ? ", " : "", ti->name);
            continue;
        }
        const cnn_st_tensor *ft = &f.tensors[k];
        if (!same_shape(ft, ti)) {
            int64_t here[4];
            for (int i = 0; i < ti->rank; i++)
                here[i] = ti->shape[i];
            cnn_sb_fmt(&differ, "%s%s (", n_differ++ ? "; " : "", ti->name);
            shape_text(&differ, ti->rank, here);
            cnn_sb_str(&differ, " in this model, ");
            if (strcmp(ft->dtype, "F32") != 0)
                cnn_sb_fmt(&differ, "%s ", ft->dtype);
            shape_text(&differ, ft->rank, ft->shape);
            cnn_sb_str(&differ, " in the file)");
            continue;
        }
        if (params && cnn_st_get(&f, ti->name, ti->rank, ft->shape, ti->layout, params + ti->offset, e, sizeof e)) {
            snprintf(err, errlen, "cannot start from the weights of %s: %s", path, e);
            rc = -1;
            goto done;
        }
        cnn_sb_fmt(&loaded, "%s%s", n_loaded++ ? ", " : "", ti->name);
    }
    for (int k = 0; k < f.n_tensors; k++) {
        const char *name = f.tensors[k].name;
        if (strncmp(name, "optimizer.", 10) == 0) /* a checkpoint's optimizer state: never a starting point */
            continue;
        int ours = 0;
        for (int t = 0; t < m->n_tensors && !ours; t++)
            ours = strcmp(m->tensors[t].name, name) == 0;
        if (!ours)
            cnn_sb_fmt(&unused, "%s%s", n_unused++ ? ", " : "", name);
    }
    if (loaded.oom || differ.oom || missing.oom || unused.oom) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto done;
    }
    if (n_loaded == 0) {
        snprintf(err, errlen, "cannot start from the weights of %s: none of its %d tensors is one of %s's "
                              "(names such as %s, with the same shapes)", path, f.n_tensors, m->name,
                 m->n_tensors ? m->tensors[0].name : "conv2d_1.weight");
        rc = -1;
        goto done;
    }
    if (!partial && (n_differ || n_missing || n_unused)) {
        cnn_strbuf b = {0};
        cnn_sb_fmt(&b, "cannot start from the weights of %s: ", path);
        if (n_differ)
            cnn_sb_fmt(&b, "%d tensor%s differ%s in shape: %s. ", n_differ, n_differ == 1 ? "" : "s",
                       n_differ == 1 ? "s" : "", differ.s);
        if (n_missing)
            cnn_sb_fmt(&b, "Not in the file: %s. ", missing.s);
        if (n_unused)
            cnn_sb_fmt(&b, "Not in %s: %s. ", m->name, unused.s);
        cnn_sb_str(&b, "Give --init-partial (or `init \"...\" partial=true`) to load only the tensors that match; "
                       "the others keep their fresh initialization");
        snprintf(err, errlen, "%s", b.oom ? "out of memory" : b.s);
        free(b.s);
        rc = -1;
        goto done;
    }
    if (params) {
        int bad = cnn_nonfinite_tensor(m, params);
        if (bad >= 0) {
            snprintf(err, errlen, "cannot start from the weights of %s: %s holds values that are not finite (NaN "
                                  "or infinite)", path, m->tensors[bad].name);
            rc = -1;
            goto done;
        }
    }
    if (params && log) {
        fprintf(log, "Initialized from %s: loaded %d of %d tensors (%s)\n", path, n_loaded, m->n_tensors,
                loaded.s);
        if (n_differ)
            fprintf(log, "  skipped, another shape (fresh initialization): %s\n", differ.s);
        if (n_missing)
            fprintf(log, "  not in the file (fresh initialization): %s\n", missing.s);
        if (n_unused)
            fprintf(log, "  in the file but not in %s (ignored): %s\n", m->name, unused.s);
        if (!f.has_crc)
            fprintf(log, "  note: %s has no crc32 entry (as PyTorch writes safetensors files): nothing checks that "
                         "it is intact\n", path);
    }
done:
    free(loaded.s);
    free(differ.s);
    free(missing.s);
    free(unused.s);
    cnn_st_close(&f);
    return rc;
}
