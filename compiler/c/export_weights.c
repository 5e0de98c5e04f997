/* export_weights.c: the weights file of `cnnc export`, read with the
 * runtime's own safetensors reader (runtime/core/safetensors.c, which needs
 * only libc) and checked against the IR, so a file of another network is
 * refused with the first mismatch named, never embedded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_safetensors.h"
#include "export_weights.h"

static int fail(const char *path, const char *msg)
{
    fprintf(stderr, "cnnc: error: %s: %s\n", path, msg);
    return 1;
}

static const char *shape_text(char *buf, size_t size, int rank, const int64_t *shape)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < rank && k + 24 < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? "x" : "", (long long)shape[i]);
    if (rank == 0)
        snprintf(buf, size, "a scalar");
    return buf;
}

/* Splits the '\n'-joined "classes" entry (as predict does) into w. */
static int split_classes(const char *s, cnnc_weights *w, int want)
{
    int n = 0;
    for (const char *p = s; p && *p;) {
        n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (n != want)
        return n;
    const char *p = s;
    for (int k = 0; k < n; k++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        w->class_names[k] = malloc(len + 1);
        if (!w->class_names[k])
            return -1;
        memcpy(w->class_names[k], p, len);
        w->class_names[k][len] = 0;
        p = nl ? nl + 1 : p + len;
    }
    return n;
}

int cnnc_weights_load(const cnnc_ir *ir, const char *path, cnnc_weights *w)
{
    char err[1024], a[96], b[96];
    memset(w, 0, sizeof *w);
    const char *slash = strrchr(path, '/');
    snprintf(w->base, sizeof w->base, "%s", slash ? slash + 1 : path);
    cnn_st_file f;
    if (cnn_st_read(path, &f, err, sizeof err))
        return fail(path, err);
    int rc = 1;
    uint64_t h = cnn_fnv1a64(CNN_FNV1A64_OFFSET, f.buf, f.size);
    snprintf(w->hash, sizeof w->hash, "%016llx", (unsigned long long)h);
    w->file_bytes = f.size;

    const char *model = cnn_st_meta(&f, "model");
    if (model && *model && strcmp(model, ir->name) != 0) {
        snprintf(err, sizeof err, "holds the weights of model '%s', not of '%s'", model, ir->name);
        fail(path, err);
        goto out;
    }
    for (int t = 0; t < ir->n_tensors; t++) {
        const cnn_tensor_info *ti = &ir->tensors[t];
        int i = cnn_st_find(&f, ti->name);
        int64_t want[4];
        for (int k = 0; k < 4; k++)
            want[k] = ti->shape[k];
        if (i < 0) {
            snprintf(err, sizeof err, "tensor '%s' (%s) of model '%s' is missing", ti->name,
                     shape_text(a, sizeof a, ti->rank, want), ir->name);
            fail(path, err);
            goto out;
        }
        const cnn_st_tensor *st = &f.tensors[i];
        int same = st->rank == ti->rank;
        for (int k = 0; same && k < ti->rank; k++)
            same = st->shape[k] == want[k];
        if (strcmp(st->dtype, "F32") != 0) {
            snprintf(err, sizeof err, "tensor '%s' is %s; model '%s' needs F32", ti->name, st->dtype, ir->name);
            fail(path, err);
            goto out;
        }
        if (!same) {
            snprintf(err, sizeof err, "tensor '%s' has shape %s; model '%s' needs %s", ti->name,
                     shape_text(a, sizeof a, st->rank, st->shape), ir->name,
                     shape_text(b, sizeof b, ti->rank, want));
            fail(path, err);
            goto out;
        }
    }
    for (int i = 0; i < f.n_tensors; i++) {
        int known = 0;
        for (int t = 0; t < ir->n_tensors && !known; t++)
            known = strcmp(f.tensors[i].name, ir->tensors[t].name) == 0;
        if (!known) {
            snprintf(err, sizeof err, "tensor '%s' is not a tensor of model '%s' (another network's weights?)",
                     f.tensors[i].name, ir->name);
            fail(path, err);
            goto out;
        }
    }
    w->params = calloc(ir->n_params ? ir->n_params : 1, sizeof *w->params);
    if (!w->params) {
        fail(path, "out of memory");
        goto out;
    }
    cnn_model m;
    memset(&m, 0, sizeof m);
    m.name = ir->name;
    m.n_tensors = ir->n_tensors;
    m.tensors = ir->tensors;
    m.n_params = ir->n_params;
    if (cnn_weights_get(&m, &f, w->params, err, sizeof err)) {
        fail(path, err);
        goto out;
    }

    w->n_classes = ir->n_outputs == 1 ? 2 : ir->n_outputs;
    w->class_names = calloc((size_t)w->n_classes, sizeof *w->class_names);
    if (!w->class_names) {
        fail(path, "out of memory");
        goto out;
    }
    const char *cl = cnn_st_meta(&f, "classes");
    if (cl && *cl) {
        int n = split_classes(cl, w, w->n_classes);
        if (n < 0) {
            fail(path, "out of memory");
            goto out;
        }
        if (n != w->n_classes) {
            snprintf(err, sizeof err, "names %d classes; model '%s' has %d (%d output%s)", n, ir->name,
                     w->n_classes, ir->n_outputs, ir->n_outputs == 1 ? ", sigmoid" : "s");
            fail(path, err);
            goto out;
        }
    } else { /* no names: predict prints class numbers */
        for (int k = 0; k < w->n_classes; k++) {
            w->class_names[k] = malloc(12);
            if (!w->class_names[k]) {
                fail(path, "out of memory");
                goto out;
            }
            snprintf(w->class_names[k], 12, "%d", k);
        }
    }
    rc = 0;
out:
    cnn_st_close(&f);
    if (rc)
        cnnc_weights_free(w);
    return rc;
}

void cnnc_weights_free(cnnc_weights *w)
{
    free(w->params);
    if (w->class_names)
        for (int k = 0; k < w->n_classes; k++)
            free(w->class_names[k]);
    free(w->class_names);
    w->params = NULL;
    w->class_names = NULL;
}
