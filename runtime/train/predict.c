/* predict.c: `NAME predict`: the class and probabilities of image files,
 * folders or IDX images, with saved weights. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn_run.h"
#include "cnn_util.h"

/* "FILE#N" names image N (0-based) of an IDX images file, as the data side
 * names IDX images in its messages. Returns N and the file in file[], or -1. */
static long idx_ref(const char *path, char *file, size_t n)
{
    const char *hash = strrchr(path, '#');
    if (!hash || !hash[1] || (size_t)(hash - path) >= n)
        return -1;
    char *end;
    long k = strtol(hash + 1, &end, 10);
    if (*end || k < 0)
        return -1;
    snprintf(file, n, "%.*s", (int)(hash - path), path);
    if (!strstr(file, "images-idx3") && !strstr(file, "images.idx3"))
        return -1;
    struct stat st;
    if (stat(path, &st) == 0) /* a real file whose name happens to have a '#' */
        return -1;
    return k;
}

/* Preprocessed images for every IDX reference among the arguments, read
 * through the data side's evaluation loader (exactly what `evaluate` sees).
 * xs[i] points into *store for IDX references, NULL otherwise. */
static int load_idx_refs(const cnn_model *m, const cnn_run_options *o, float **xs, float **store)
{
    size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    int n_ref = 0;
    char file[CNN_MAX_PATH], other[CNN_MAX_PATH];
    for (int i = 0; i < o->n_images; i++)
        n_ref += idx_ref(o->images[i], file, sizeof file) >= 0;
    *store = NULL;
    if (!n_ref)
        return 0;
    *store = cnn_alloc_floats((size_t)n_ref * img);
    if (!*store) {
        cnn_error(m, "out of memory");
        return -1;
    }
    int slot = 0;
    for (int i = 0; i < o->n_images; i++) {
        if (idx_ref(o->images[i], file, sizeof file) < 0 || xs[i])
            continue;
        /* Every reference to this file, in one pass over it. */
        cnn_data_options d;
        cnn_data_options_init(&d);
        d.path = file;
        d.validation_split = 0.0;
        cnn_dataset *ds = NULL, *none = NULL;
        char err[1024];
        if (cnn_data_open(m, &d, &ds, &none, err, sizeof err)) {
            cnn_error(m, "%s", err);
            return -1;
        }
        for (int j = i; j < o->n_images; j++) {
            long k = idx_ref(o->images[j], other, sizeof other);
            if (k >= 0 && !strcmp(other, file) && k >= cnn_dataset_size(ds)) {
                cnn_error(m, "%s: %s has only %d images (0 to %d)", o->images[j], file, cnn_dataset_size(ds),
                          cnn_dataset_size(ds) - 1);
                cnn_dataset_free(ds);
                cnn_dataset_free(none);
                return -1;
            }
        }
        cnn_loader *l = cnn_loader_create(m, ds, 256, 0, 0, err, sizeof err);
        if (!l) {
            cnn_error(m, "%s", err);
            cnn_dataset_free(ds);
            cnn_dataset_free(none);
            return -1;
        }
        cnn_loader_begin(l, 0, 0);
        const float *x;
        const int *labels, *idx;
        int nb;
        while ((nb = cnn_loader_next(l, &x, &labels, &idx)) > 0) {
            for (int b = 0; b < nb; b++) {
                /* the data side names IDX image k "BASENAME#k" */
                const char *p = cnn_dataset_path(ds, idx[b]);
                const char *h = p ? strrchr(p, '#') : NULL;
                long k = h ? strtol(h + 1, NULL, 10) : idx[b];
                for (int j = i; j < o->n_images; j++) {
                    if (xs[j] || idx_ref(o->images[j], other, sizeof other) != k || strcmp(other, file))
                        continue;
                    xs[j] = *store + (size_t)slot++ * img;
                    memcpy(xs[j], x + (size_t)b * img, img * sizeof(float));
                }
            }
        }
        cnn_loader_free(l);
        cnn_dataset_free(ds);
        cnn_dataset_free(none);
    }
    return 0;
}

/* The arguments with every folder replaced by the files under it,
 * recursively, as `train` reads a class folder. found[i] is 1 for a file
 * found in a folder: one that is not an image is skipped with a note (as
 * training skips it), where a file named on the command line is an error.
 * Returns the count, or -1 (reported). */
static int expand_folders(const cnn_model *m, const cnn_run_options *o, char ***list, char **found, char ***owned,
                          int *n_owned)
{
    int cap = o->n_images, n = 0;
    char **v = malloc((size_t)(cap ? cap : 1) * sizeof *v);
    char *f = malloc((size_t)(cap ? cap : 1));
    *owned = NULL;
    *n_owned = 0;
    if (!v || !f)
        goto oom;
    for (int i = 0; i < o->n_images; i++) {
        struct stat st;
        if (stat(o->images[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            v[n] = o->images[i];
            f[n++] = 0;
            continue;
        }
        char **paths = NULL, err[1024];
        int k = 0;
        if (cnn_folder_files(o->images[i], &paths, &k, err, sizeof err)) {
            cnn_error(m, "%s", err);
            goto fail;
        }
        if (k == 0)
            cnn_warning(m, "%s holds no files", o->images[i]);
        char **nv = realloc(v, (size_t)(cap + k) * sizeof *v);
        char *nf = nv ? realloc(f, (size_t)(cap + k)) : NULL;
        char **no = nf ? realloc(*owned, (size_t)(*n_owned + k + 1) * sizeof *no) : NULL;
        if (nv)
            v = nv;
        if (nf)
            f = nf;
        if (no)
            *owned = no;
        if (!nv || !nf || !no) {
            for (int j = 0; j < k; j++)
                free(paths[j]);
            free(paths);
            goto oom;
        }
        cap += k;
        for (int j = 0; j < k; j++) {
            v[n] = paths[j];
            f[n++] = 1;
            (*owned)[(*n_owned)++] = paths[j];
        }
        free(paths);
    }
    *list = v;
    *found = f;
    return n;
oom:
    cnn_error(m, "out of memory");
fail:
    free(v);
    free(f);
    return -1;
}

int cnn_cmd_predict(const cnn_model *m, const cnn_run_options *o0)
{
    if (o0->n_images == 0) {
        cnn_error(m, "predict needs at least one image: %s predict [--weights FILE] IMAGE|FOLDER...", m->name);
        return 1;
    }
    char **list = NULL, *found = NULL, **owned = NULL;
    int n_owned = 0;
    cnn_run_options ox = *o0;
    const cnn_run_options *o = &ox;
    ox.n_images = expand_folders(m, o0, &list, &found, &owned, &n_owned);
    if (ox.n_images < 0) {
        for (int i = 0; i < n_owned; i++)
            free(owned[i]);
        free(owned);
        return 1;
    }
    ox.images = list;
    if (ox.n_images == 0) {
        free(list);
        free(found);
        free(owned);
        cnn_error(m, "no images to predict");
        return 1;
    }
    cnn_apply_threads(o->threads);
    int batch = o->cfg.batch < o->n_images ? o->cfg.batch : o->n_images;
    int n_classes = m->n_outputs == 1 ? 2 : m->n_outputs;
    cnn_buffers b;
    float *logits = cnn_alloc_floats((size_t)batch * m->n_outputs);
    float *x = cnn_alloc_floats((size_t)batch * m->in_h * m->in_w * m->in_c);
    double *probs = malloc((size_t)n_classes * sizeof *probs);
    int *which = malloc((size_t)batch * sizeof *which);
    float **xs = calloc((size_t)o->n_images, sizeof *xs);
    float *idx_store = NULL;
    char *classes = NULL;
    int rc = 1, failed = 0;
    if (cnn_buffers_alloc(m, batch, &b) || !logits || !x || !probs || !which || !xs) {
        cnn_error(m, "out of memory");
        goto out;
    }
    if (cnn_load_weights(m, o, b.params, &classes))
        goto out;
    if (load_idx_refs(m, o, xs, &idx_store))
        goto out;
    const char *names[1024];
    int nn = cnn_split_classes(classes, names, 1024);
    char fallback[1024][12];
    if (nn != n_classes) {
        if (classes)
            cnn_warning(m, "the weights name %d classes, the model has %d; printing class numbers", nn, n_classes);
        for (int k = 0; k < n_classes && k < 1024; k++) {
            snprintf(fallback[k], sizeof fallback[k], "%d", k);
            names[k] = fallback[k];
        }
    }
    cnn_data_options d;
    cnn_data_options_init(&d);
    d.exact_resize = o->exact_resize;
    size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    for (int i0 = 0; i0 < o->n_images; i0 += batch) {
        int n = 0;
        for (int i = i0; i < o->n_images && i < i0 + batch; i++) {
            char err[1024];
            if (xs[i]) {
                memcpy(x + (size_t)n * img, xs[i], img * sizeof(float));
            } else if (cnn_image_load(m, o->images[i], x + (size_t)n * img, &d, err, sizeof err)) {
                if (found[i]) {
                    cnn_warning(m, "skipped %s", err);
                } else {
                    cnn_error(m, "%s", err);
                    failed++;
                }
                continue;
            }
            which[n++] = i;
        }
        if (!n)
            continue;
        m->forward(&b, x, logits, n, 0, o->cfg.seed, 0);
        for (int j = 0; j < n; j++) {
            const float *z = logits + (size_t)j * m->n_outputs;
            cnn_probabilities(z, m->n_outputs, m->final_act, probs);
            int k = cnn_predicted_class(z, m->n_outputs, m->final_act);
            const char *path = o->images[which[j]];
            if (o->json) {
                printf("{\"path\": ");
                cnn_json_fputs(stdout, path);
                printf(", \"class\": ");
                cnn_json_fputs(stdout, names[k]);
                printf(", \"probabilities\": [");
                for (int q = 0; q < n_classes; q++)
                    printf("%s%.6g", q ? ", " : "", probs[q]);
                printf("]}\n");
            } else {
                printf("%s\t%s\t%.4f\n", path, names[k], probs[k]);
            }
        }
        fflush(stdout);
    }
    rc = failed ? 1 : 0;
out:
    cnn_buffers_free(&b);
    free(logits);
    free(x);
    free(probs);
    free(which);
    free(xs);
    free(idx_store);
    free(classes);
    for (int i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(list);
    free(found);
    return rc;
}
