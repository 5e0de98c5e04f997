/* dataset.c: from a folder (or IDX file) to cached, split training and
 * validation subsets.
 *
 * A folder holds one subfolder per class; class names sort by bytes (Python's
 * sorted(), as Keras and torchvision) and are the labels 0..n-1. Names
 * starting with '.' are skipped at every level (.DS_Store, ._photo.jpg,
 * .ipynb_checkpoints). Files inside a class folder (recursively) are all
 * candidates: what they are is decided by their bytes, and anything that is
 * not a readable JPEG or PNG is skipped, named and counted, never silently.
 *
 * Every candidate is decoded once, in parallel, straight into its slot of the
 * uint8 cache (cache.c); a file's slot is its index, so the result does not
 * depend on which thread decoded it. The split is stratified: within each
 * class the files are permuted by a counter-based draw keyed by (seed, class,
 * position) and the first round(split * n) go to validation. */
#define _POSIX_C_SOURCE 200809L /* opendir, strdup, clock_gettime */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cnn_data_impl.h"
#include "cnn_rng.h"

/* One folder or IDX file, decoded into one cache; shared by the subsets. */
typedef struct cnn_source {
    int refs;
    char *name;                 /* the path as given */
    int n_classes;
    char **class_names;
    int n_files;
    char **paths;
    int *labels;
    char **reasons;             /* NULL when the file was decoded, else why it was skipped */
    int n_skipped;
    int *skipped;               /* file indices of the skipped files, in order */
    size_t image_bytes;         /* h*w*c */
    cnn_cache cache;
} cnn_source;

struct cnn_dataset {
    cnn_source *src;
    int n;
    int *idx;                   /* file indices into src */
    int *class_counts;
};

void cnn_data_options_init(cnn_data_options *o)
{
    memset(o, 0, sizeof *o);
    o->validation_split = 0.2;
    o->seed = 123;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- growing string lists ---------------------------------------------- */

typedef struct strlist {
    char **v;
    int n, cap;
} strlist;

static int sl_push(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *d = strdup(s);
    if (!d)
        return -1;
    l->v[l->n++] = d;
    return 0;
}

static void sl_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- sources ---------------------------------------------------------- */

static void source_free(cnn_source *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_classes; i++)
        free(s->class_names[i]);
    free(s->class_names);
    for (int i = 0; i < s->n_files; i++) {
        free(s->paths[i]);
        free(s->reasons ? s->reasons[i] : NULL);
    }
    free(s->paths);
    free(s->labels);
    free(s->reasons);
    free(s->skipped);
    free(s->name);
    cnn_cache_release(&s->cache);
    free(s);
}

/* Entries of dir not starting with '.', sorted; -1 when it cannot be read. */
static int list_dir(const char *dir, strlist *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        set_err(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (sl_push(out, e->d_name) != 0) {
            closedir(d);
            set_err(err, errlen, "out of memory listing %s", dir);
            return -1;
        }
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return 0;
}

static int join(char *dst, size_t n, const char *a, const char *b)
{
    size_t la = strlen(a);
    int slash = la > 0 && a[la - 1] == '/';
    int w = snprintf(dst, n, "%s%s%s", a, slash ? "" : "/", b);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* Files under dir (recursively, sorted, dot-names skipped), appended to files
 * with their label. Unreadable subfolders are recorded as skipped entries. */
static int walk_class(const char *dir, int label, int depth, strlist *files, int **labels,
                      int *lcap, strlist *bad, strlist *bad_why, char *err, size_t errlen)
{
    strlist names = { 0 };
    char e2[512];
    if (depth > 32) {
        if (sl_push(bad, dir) || sl_push(bad_why, "folders nested more than 32 deep (not read)")) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    if (list_dir(dir, &names, e2, sizeof e2) != 0) {
        if (sl_push(bad, dir) || sl_push(bad_why, "cannot open folder")) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    for (int i = 0; i < names.n; i++) {
        char path[CNN_MAX_PATH];
        if (join(path, sizeof path, dir, names.v[i]) != 0) {
            set_err(err, errlen, "%s/%s: path too long", dir, names.v[i]);
            sl_free(&names);
            return -1;
        }
        struct stat st, lst;
        int is_link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
        if (stat(path, &st) != 0) {
            /* a dangling link, or a file that vanished: skipped, named */
            if (sl_push(bad, path) || sl_push(bad_why, strerror(errno))) {
                sl_free(&names);
                set_err(err, errlen, "out of memory");
                return -1;
            }
            continue;
        }
        if (S_ISDIR(st.st_mode) && is_link) {
            /* not followed inside a class (a link to an ancestor would loop);
             * Keras's follow_links=False and os.walk do the same */
            if (sl_push(bad, path) || sl_push(bad_why, "link to a folder (not followed)")) {
                sl_free(&names);
                set_err(err, errlen, "out of memory");
                return -1;
            }
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (walk_class(path, label, depth + 1, files, labels, lcap, bad, bad_why, err, errlen) != 0) {
                sl_free(&names);
                return -1;
            }
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            if (sl_push(bad, path) || sl_push(bad_why, "not a regular file")) {
                sl_free(&names);
                set_err(err, errlen, "out of memory");
                return -1;
            }
            continue;
        }
        if (files->n == *lcap) {
            int cap = *lcap ? 2 * *lcap : 256;
            int *l = realloc(*labels, sizeof *l * (size_t)cap);
            if (!l) {
                sl_free(&names);
                set_err(err, errlen, "out of memory");
                return -1;
            }
            *labels = l;
            *lcap = cap;
        }
        if (sl_push(files, path) != 0) {
            sl_free(&names);
            set_err(err, errlen, "out of memory");
            return -1;
        }
        (*labels)[files->n - 1] = label;
    }
    sl_free(&names);
    return 0;
}

/* ---- the first pass: decode everything once, in parallel ------------------ */

typedef struct decode_job {
    cnn_source *src;
    const cnn_prep_plan *plan;
    int crop;
    cnn_decode_hint hint;
    double max_pixels;
    /* IDX sources decode nothing: their pixels are already here */
    const uint8_t *idx_pixels;
    int idx_rows, idx_cols;
    atomic_int next;
    atomic_int failed_alloc;
    atomic_int io_error;        /* errno of a failed cache write */
} decode_job;

/* Into the cache slot directly, or through a staging buffer when the cache
 * is a file (cnn_cache_put). */
static void store(decode_job *j, int i, uint8_t *stage)
{
    cnn_source *s = j->src;
    if (s->cache.mapped &&
        cnn_cache_put(&s->cache, (size_t)i * s->image_bytes, stage, s->image_bytes) != 0)
        atomic_store(&j->io_error, errno ? errno : EIO);
}

static void decode_one(decode_job *j, int i, float *fbuf, float *tmp, uint8_t *rgb, uint8_t *stage)
{
    cnn_source *s = j->src;
    char err[512];
    uint8_t *dst = s->cache.mapped ? stage : s->cache.data + (size_t)i * s->image_bytes;
    cnn_image im;
    if (j->idx_pixels) {
        const uint8_t *g = j->idx_pixels + (size_t)i * j->idx_rows * j->idx_cols;
        im.h = j->idx_rows;
        im.w = j->idx_cols;
        if (j->plan->c == 1) {
            im.c = 1;
            im.px = (uint8_t *)g;
        } else {
            for (size_t k = 0; k < (size_t)im.h * im.w; k++)
                rgb[3 * k] = rgb[3 * k + 1] = rgb[3 * k + 2] = g[k];
            im.c = 3;
            im.px = rgb;
        }
        cnn_prep_to_cache(j->plan, &im, j->crop, dst, fbuf, tmp);
        store(j, i, stage);
        return;
    }
    uint8_t *buf;
    size_t n;
    if (cnn_read_file(s->paths[i], &buf, &n, err, sizeof err) != 0) {
        s->reasons[i] = strdup(err);
        if (!s->reasons[i])
            atomic_store(&j->failed_alloc, 1);
        return;
    }
    int rc = cnn_decode_memory(buf, n, j->plan->c, &j->hint, j->max_pixels, &im, err, sizeof err);
    free(buf);
    if (rc != 0) {
        s->reasons[i] = strdup(err);
        if (!s->reasons[i])
            atomic_store(&j->failed_alloc, 1);
        return;
    }
    cnn_prep_to_cache(j->plan, &im, j->crop, dst, fbuf, tmp);
    cnn_image_free(&im);
    store(j, i, stage);
}

static void *decode_worker(void *arg)
{
    decode_job *j = arg;
    size_t n = (size_t)j->plan->h * j->plan->w * j->plan->c;
    size_t rgb_n = j->idx_pixels ? (size_t)j->idx_rows * j->idx_cols * 3 : 1;
    float *fbuf = malloc(n * sizeof *fbuf), *tmp = malloc(n * sizeof *tmp);
    uint8_t *rgb = malloc(rgb_n), *stage = malloc(j->src->image_bytes);
    if (!fbuf || !tmp || !rgb || !stage) {
        atomic_store(&j->failed_alloc, 1);
    } else {
        for (;;) {
            int i = atomic_fetch_add(&j->next, 1);
            if (i >= j->src->n_files)
                break;
            decode_one(j, i, fbuf, tmp, rgb, stage);
        }
    }
    free(fbuf);
    free(tmp);
    free(rgb);
    free(stage);
    return NULL;
}

static int run_decode(decode_job *j, int threads, char *err, size_t errlen)
{
    if (threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (int)c : 1;
    }
    if (threads > j->src->n_files)
        threads = j->src->n_files > 0 ? j->src->n_files : 1;
    if (threads > 64)
        threads = 64;
    atomic_init(&j->next, 0);
    atomic_init(&j->failed_alloc, 0);
    atomic_init(&j->io_error, 0);
    pthread_t tid[64];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[started], NULL, decode_worker, j) == 0)
            started++;
    }
    decode_worker(j); /* this thread works too */
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    if (atomic_load(&j->io_error)) {
        set_err(err, errlen, "%s: cannot write the image cache file: %s", j->src->name,
                strerror(atomic_load(&j->io_error)));
        return -1;
    }
    if (atomic_load(&j->failed_alloc)) {
        set_err(err, errlen, "%s: out of memory while decoding", j->src->name);
        return -1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- class names of IDX sources -------------------------------------------- */

static const char *fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"
};

static int contains_nocase(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (; *s; s++) {
        size_t k = 0;
        while (k < n && s[k] && tolower((unsigned char)s[k]) == w[k])
            k++;
        if (k == n)
            return 1;
    }
    return 0;
}

/* ---- building a source -------------------------------------------------------- */

static int source_alloc_cache(cnn_source *s, size_t *budget_left, const char *cache_dir,
                              char *err, size_t errlen)
{
    size_t bytes = s->image_bytes * (size_t)(s->n_files > 0 ? s->n_files : 1);
    if (cnn_cache_alloc(&s->cache, bytes, *budget_left, cache_dir, err, errlen) != 0)
        return -1;
    if (!s->cache.mapped)
        *budget_left -= bytes;
    return 0;
}

static int open_idx_source(const cnn_model *m, const cnn_data_options *o, const char *path,
                           const cnn_prep_plan *plan, size_t *budget_left, cnn_source **out,
                           char *err, size_t errlen)
{
    uint8_t *pixels, *lab;
    int n, rows, cols;
    if (cnn_idx_read(path, &pixels, &n, &rows, &cols, &lab, err, errlen) != 0)
        return -1;
    cnn_source *s = calloc(1, sizeof *s);
    int max_label = 0;
    for (int i = 0; i < n; i++)
        if (lab[i] > max_label)
            max_label = lab[i];
    if (!s)
        goto oom;
    s->refs = 1;
    s->name = strdup(path);
    s->n_files = n;
    s->n_classes = max_label + 1;
    s->image_bytes = (size_t)plan->h * plan->w * plan->c;
    s->paths = calloc((size_t)n, sizeof *s->paths);
    s->labels = malloc(sizeof *s->labels * (size_t)n);
    s->reasons = calloc((size_t)n, sizeof *s->reasons);
    s->class_names = calloc((size_t)s->n_classes, sizeof *s->class_names);
    if (!s->name || !s->paths || !s->labels || !s->reasons || !s->class_names)
        goto oom;
    int fashion = contains_nocase(path, "fashion") && s->n_classes <= 10;
    for (int k = 0; k < s->n_classes; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "%d", k);
        s->class_names[k] = strdup(fashion ? fashion_names[k] : nm);
        if (!s->class_names[k])
            goto oom;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (int i = 0; i < n; i++) {
        char p[CNN_MAX_PATH];
        snprintf(p, sizeof p, "%s#%d", base, i);
        s->paths[i] = strdup(p);
        if (!s->paths[i])
            goto oom;
        s->labels[i] = lab[i];
    }
    if (source_alloc_cache(s, budget_left, o->cache_dir, err, errlen) != 0) {
        free(pixels);
        free(lab);
        source_free(s);
        return -1;
    }
    decode_job j;
    memset(&j, 0, sizeof j);
    j.src = s;
    j.plan = plan;
    j.crop = m->crop_to_aspect_ratio;
    j.idx_pixels = pixels;
    j.idx_rows = rows;
    j.idx_cols = cols;
    if (run_decode(&j, o->threads, err, errlen) != 0) {
        free(pixels);
        free(lab);
        source_free(s);
        return -1;
    }
    free(pixels);
    free(lab);
    *out = s;
    return 0;
oom:
    free(pixels);
    free(lab);
    source_free(s);
    set_err(err, errlen, "%s: out of memory", path);
    return -1;
}

static int open_folder_source(const cnn_model *m, const cnn_data_options *o, const char *path,
                              const cnn_prep_plan *plan, size_t *budget_left, cnn_source **out,
                              char *err, size_t errlen)
{
    strlist classes = { 0 }, files = { 0 }, bad = { 0 }, bad_why = { 0 };
    int *labels = NULL, lcap = 0;
    cnn_source *s = NULL;
    strlist top = { 0 };
    if (list_dir(path, &top, err, errlen) != 0)
        return -1;
    for (int i = 0; i < top.n; i++) {
        char p[CNN_MAX_PATH];
        struct stat st;
        if (join(p, sizeof p, path, top.v[i]) == 0 && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            if (sl_push(&classes, top.v[i]) != 0)
                goto oom;
    }
    sl_free(&top);
    if (classes.n < 2) {
        set_err(err, errlen, "%s: found %d class folder%s%s%s; a dataset needs at least 2 "
                "(one subfolder per class, e.g. %s/cats and %s/dogs)", path, classes.n,
                classes.n == 1 ? " (" : "s", classes.n == 1 ? classes.v[0] : "",
                classes.n == 1 ? ")" : "", path, path);
        sl_free(&classes);
        return -1;
    }
    for (int k = 0; k < classes.n; k++) {
        char p[CNN_MAX_PATH];
        if (join(p, sizeof p, path, classes.v[k]) != 0) {
            set_err(err, errlen, "%s: path too long", path);
            goto fail;
        }
        int before = files.n, bad_before = bad.n;
        if (walk_class(p, k, 0, &files, &labels, &lcap, &bad, &bad_why, err, errlen) != 0)
            goto fail;
        if (files.n == before && bad.n == bad_before) {
            set_err(err, errlen, "class folder %s is empty: every class needs images "
                    "(remove the folder or add images)", p);
            goto fail;
        }
    }
    s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->refs = 1;
    s->name = strdup(path);
    s->n_classes = classes.n;
    s->class_names = classes.v;
    memset(&classes, 0, sizeof classes);
    /* files that could not even be listed (bad) are skipped entries too */
    s->n_files = files.n + bad.n;
    s->paths = calloc((size_t)s->n_files + 1, sizeof *s->paths);
    s->labels = calloc((size_t)s->n_files + 1, sizeof *s->labels);
    s->reasons = calloc((size_t)s->n_files + 1, sizeof *s->reasons);
    s->image_bytes = (size_t)plan->h * plan->w * plan->c;
    if (!s->name || !s->paths || !s->labels || !s->reasons)
        goto oom;
    for (int i = 0; i < files.n; i++) {
        s->paths[i] = files.v[i];
        s->labels[i] = labels[i];
    }
    free(files.v);
    memset(&files, 0, sizeof files);
    free(labels);
    labels = NULL;
    if (source_alloc_cache(s, budget_left, o->cache_dir, err, errlen) != 0)
        goto fail;
    int n_decode = s->n_files - bad.n;
    decode_job j;
    memset(&j, 0, sizeof j);
    j.src = s;
    j.plan = plan;
    j.crop = m->crop_to_aspect_ratio;
    j.hint.out_h = plan->h;
    j.hint.out_w = plan->w;
    j.hint.crop = m->crop_to_aspect_ratio;
    j.hint.exact = o->exact_resize;
    j.max_pixels = (o->max_megapixels > 0 ? o->max_megapixels : CNN_DEFAULT_MAX_MEGAPIXELS) * 1e6;
    s->n_files = n_decode;  /* decode only the real files */
    int rc = run_decode(&j, o->threads, err, errlen);
    s->n_files = n_decode + bad.n;
    if (rc != 0)
        goto fail;
    for (int b = 0; b < bad.n; b++) {
        s->paths[n_decode + b] = bad.v[b];
        s->reasons[n_decode + b] = bad_why.v[b];
        s->labels[n_decode + b] = -1;
    }
    free(bad.v);
    free(bad_why.v);
    *out = s;
    return 0;
oom:
    set_err(err, errlen, "%s: out of memory", path);
fail:
    sl_free(&classes);
    sl_free(&files);
    sl_free(&bad);
    sl_free(&bad_why);
    sl_free(&top);
    free(labels);
    source_free(s);
    return -1;
}

/* A path for a log line: control characters (a newline in a file name would
 * forge a line) written as \xNN; other bytes (UTF-8 names) as they are. */
static void print_path(FILE *f, const char *p)
{
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
}

/* Fill s->skipped from s->reasons; log them; strict makes them an error. */
static int collect_skipped(cnn_source *s, const cnn_data_options *o, char *err, size_t errlen)
{
    s->skipped = malloc(sizeof *s->skipped * (size_t)(s->n_files + 1));
    if (!s->skipped) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    s->n_skipped = 0;
    for (int i = 0; i < s->n_files; i++)
        if (s->reasons[i]) {
            s->skipped[s->n_skipped++] = i;
            if (o->log) {
                fputs("skipped ", o->log);
                print_path(o->log, s->paths[i]);
                fprintf(o->log, ": %s\n", s->reasons[i]);
            }
        }
    if (s->n_skipped > 0) {
        if (o->log)
            fprintf(o->log, "skipped %d of %d files in %s%s\n", s->n_skipped, s->n_files, s->name,
                    o->strict ? "" : " (--strict makes this an error)");
        if (o->strict) {
            int f = s->skipped[0];
            set_err(err, errlen, "%d unreadable file%s in %s (strict): %s: %s%s", s->n_skipped,
                    s->n_skipped == 1 ? "" : "s", s->name, s->paths[f], s->reasons[f],
                    s->n_skipped > 1 ? " (and more, listed above)" : "");
            return -1;
        }
    }
    /* every class must keep at least one image */
    int *count = calloc((size_t)s->n_classes, sizeof *count);
    if (!count) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < s->n_files; i++)
        if (!s->reasons[i] && s->labels[i] >= 0)
            count[s->labels[i]]++;
    for (int k = 0; k < s->n_classes; k++)
        if (count[k] == 0) {
            set_err(err, errlen, "%s: class '%s' has no readable images", s->name,
                    s->class_names[k]);
            free(count);
            return -1;
        }
    free(count);
    return 0;
}

static int open_source(const cnn_model *m, const cnn_data_options *o, const char *path,
                       const cnn_prep_plan *plan, size_t *budget_left, cnn_source **out,
                       char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    double t0 = now_s();
    int rc;
    if (S_ISDIR(st.st_mode))
        rc = open_folder_source(m, o, path, plan, budget_left, out, err, errlen);
    else if (cnn_idx_is_images(path))
        rc = open_idx_source(m, o, path, plan, budget_left, out, err, errlen);
    else {
        set_err(err, errlen, "%s: not a folder (one subfolder per class) nor an IDX images file "
                "(...-images-idx3-ubyte[.gz])", path);
        return -1;
    }
    if (rc != 0)
        return -1;
    cnn_source *s = *out;
    if (collect_skipped(s, o, err, errlen) != 0) {
        source_free(s);
        *out = NULL;
        return -1;
    }
    if (o->log) {
        double mb = s->cache.bytes / 1e6;
        fprintf(o->log, "%s: %d images, %d classes, read in %.2f s; cache %.1f MB %s\n", path,
                s->n_files - s->n_skipped, s->n_classes, now_s() - t0, mb,
                s->cache.mapped ? "in a memory-mapped file" : "in memory");
    }
    return 0;
}

/* ---- subsets ------------------------------------------------------------------- */

static cnn_dataset *subset_new(cnn_source *s, int cap)
{
    cnn_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->idx = malloc(sizeof *d->idx * (size_t)(cap > 0 ? cap : 1));
    d->class_counts = calloc((size_t)s->n_classes, sizeof *d->class_counts);
    if (!d->idx || !d->class_counts) {
        free(d->idx);
        free(d->class_counts);
        free(d);
        return NULL;
    }
    d->src = s;
    s->refs++;
    return d;
}

static void subset_add(cnn_dataset *d, int file)
{
    d->idx[d->n++] = file;
    d->class_counts[d->src->labels[file]]++;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Stratified split of s (split in [0, 1)). */
static int split_source(cnn_source *s, double split, uint64_t seed, cnn_dataset **train,
                        cnn_dataset **val)
{
    int n_ok = s->n_files - s->n_skipped;
    *train = subset_new(s, n_ok);
    *val = split > 0 ? subset_new(s, n_ok) : NULL;
    int *members = malloc(sizeof *members * (size_t)(n_ok > 0 ? n_ok : 1));
    if (!*train || (split > 0 && !*val) || !members) {
        free(members);
        return -1;
    }
    for (int k = 0; k < s->n_classes; k++) {
        int n = 0;
        for (int i = 0; i < s->n_files; i++)
            if (!s->reasons[i] && s->labels[i] == k)
                members[n++] = i;
        int n_val = (int)floor(split * n + 0.5);
        if (n_val > n - 1)
            n_val = n - 1; /* every class keeps a training image */
        if (n_val < 0)
            n_val = 0;
        /* Fisher-Yates driven by (seed, class, position) */
        for (int p = n - 1; p > 0; p--) {
            double u = cnn_rng_uniform(seed, CNN_RNG_SPLIT, (uint64_t)k, (uint64_t)p);
            int q = (int)(u * (p + 1));
            int t = members[p];
            members[p] = members[q];
            members[q] = t;
        }
        for (int p = 0; p < n; p++)
            subset_add(p < n_val ? *val : *train, members[p]);
    }
    free(members);
    if ((*train)->n > 1)
        qsort((*train)->idx, (size_t)(*train)->n, sizeof(int), cmp_int);
    if (*val && (*val)->n > 1)
        qsort((*val)->idx, (size_t)(*val)->n, sizeof(int), cmp_int);
    return 0;
}

static cnn_dataset *whole_source(cnn_source *s)
{
    cnn_dataset *d = subset_new(s, s->n_files);
    if (!d)
        return NULL;
    for (int i = 0; i < s->n_files; i++)
        if (!s->reasons[i])
            subset_add(d, i);
    return d;
}

/* ---- the public API ---------------------------------------------------------- */

static int check_model_classes(const cnn_model *m, int n_classes, const char *path, char *err,
                               size_t errlen)
{
    if (m->n_outputs == 1) {
        if (n_classes != 2) {
            set_err(err, errlen, "%s has %d classes, but model '%s' has one sigmoid output "
                    "(binary): it needs exactly 2 (use dense %d softmax for %d classes)",
                    path, n_classes, m->name ? m->name : "?", n_classes, n_classes);
            return -1;
        }
        return 0;
    }
    if (m->n_outputs != n_classes) {
        set_err(err, errlen, "%s has %d classes, but model '%s' has %d outputs: the last layer "
                "needs %d units (dense %d softmax)", path, n_classes, m->name ? m->name : "?",
                m->n_outputs, n_classes, n_classes);
        return -1;
    }
    return 0;
}

int cnn_data_open(const cnn_model *m, const cnn_data_options *o, cnn_dataset **train,
                  cnn_dataset **val, char *err, size_t errlen)
{
    *train = NULL;
    *val = NULL;
    if (!o->path || !*o->path) {
        set_err(err, errlen, "no data: give a folder with one subfolder per class (--data DIR)");
        return -1;
    }
    if (m->in_c != 1 && m->in_c != 3) {
        set_err(err, errlen, "model input has %d channels; images need 1 or 3", m->in_c);
        return -1;
    }
    if (!o->validation && (o->validation_split < 0 || o->validation_split >= 1)) {
        set_err(err, errlen, "validation_split %g is outside [0, 1)", o->validation_split);
        return -1;
    }
    cnn_prep_plan plan;
    cnn_prep_plan_init(&plan, m);
    size_t budget = o->memory_budget ? o->memory_budget : CNN_DEFAULT_MEMORY_BUDGET;
    cnn_source *st = NULL, *sv = NULL;
    if (open_source(m, o, o->path, &plan, &budget, &st, err, errlen) != 0)
        return -1;
    if (check_model_classes(m, st->n_classes, o->path, err, errlen) != 0)
        goto fail;
    if (o->validation) {
        if (open_source(m, o, o->validation, &plan, &budget, &sv, err, errlen) != 0)
            goto fail;
        int same = sv->n_classes == st->n_classes;
        for (int k = 0; same && k < st->n_classes; k++)
            same = strcmp(sv->class_names[k], st->class_names[k]) == 0;
        if (!same) {
            set_err(err, errlen, "the validation data %s has classes different from %s "
                    "(%d vs %d classes; they must have the same class folders)",
                    o->validation, o->path, sv->n_classes, st->n_classes);
            goto fail;
        }
        *train = whole_source(st);
        *val = whole_source(sv);
        if (!*train || !*val)
            goto oom;
    } else {
        if (split_source(st, o->validation_split, o->seed, train, val) != 0)
            goto oom;
    }
    /* the subsets hold their own references now */
    st->refs--;
    if (sv)
        sv->refs--;
    if (o->log)
        cnn_data_print_table(o->log, *train, *val);
    return 0;
oom:
    set_err(err, errlen, "out of memory building the dataset");
fail:
    cnn_dataset_free(*train);
    cnn_dataset_free(*val);
    *train = NULL;
    *val = NULL;
    if (st && --st->refs == 0)
        source_free(st);
    if (sv && --sv->refs == 0)
        source_free(sv);
    return -1;
}

int cnn_dataset_size(const cnn_dataset *d) { return d ? d->n : 0; }
int cnn_dataset_n_classes(const cnn_dataset *d) { return d->src->n_classes; }

const char *cnn_dataset_class_name(const cnn_dataset *d, int k)
{
    return k >= 0 && k < d->src->n_classes ? d->src->class_names[k] : NULL;
}

int cnn_dataset_class_count(const cnn_dataset *d, int k)
{
    return d && k >= 0 && k < d->src->n_classes ? d->class_counts[k] : 0;
}

const char *cnn_dataset_path(const cnn_dataset *d, int i)
{
    return i >= 0 && i < d->n ? d->src->paths[d->idx[i]] : NULL;
}

int cnn_dataset_label(const cnn_dataset *d, int i)
{
    return i >= 0 && i < d->n ? d->src->labels[d->idx[i]] : -1;
}

int cnn_dataset_skipped(const cnn_dataset *d) { return d ? d->src->n_skipped : 0; }

const char *cnn_dataset_skipped_path(const cnn_dataset *d, int j)
{
    return j >= 0 && j < d->src->n_skipped ? d->src->paths[d->src->skipped[j]] : NULL;
}

const char *cnn_dataset_skipped_reason(const cnn_dataset *d, int j)
{
    return j >= 0 && j < d->src->n_skipped ? d->src->reasons[d->src->skipped[j]] : NULL;
}

const uint8_t *cnn_dataset_pixels(const cnn_dataset *d, int i)
{
    return d->src->cache.data + (size_t)d->idx[i] * d->src->image_bytes;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t cnn_dataset_hash(const cnn_dataset *d)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int k = 0; k < d->src->n_classes; k++)
        h = fnv(h, d->src->class_names[k], strlen(d->src->class_names[k]) + 1);
    /* paths relative to the dataset folder: "data/x" and "./data/x", or a
     * moved folder, hash alike */
    size_t root = strlen(d->src->name);
    for (int i = 0; i < d->n; i++) {
        const char *p = d->src->paths[d->idx[i]];
        if (strncmp(p, d->src->name, root) == 0)
            p += root;
        while (*p == '/')
            p++;
        int32_t l = d->src->labels[d->idx[i]];
        h = fnv(h, p, strlen(p) + 1);
        h = fnv(h, &l, sizeof l);
    }
    return h;
}

void cnn_data_print_table(FILE *f, const cnn_dataset *train, const cnn_dataset *val)
{
    int wname = 5;
    for (int k = 0; k < train->src->n_classes; k++) {
        int l = (int)strlen(train->src->class_names[k]);
        if (l > wname)
            wname = l;
    }
    fprintf(f, "%-*s  %5s  %8s  %10s\n", wname, "class", "index", "training", "validation");
    for (int k = 0; k < train->src->n_classes; k++)
        fprintf(f, "%-*s  %5d  %8d  %10d\n", wname, train->src->class_names[k], k,
                train->class_counts[k], cnn_dataset_class_count(val, k));
    fprintf(f, "%-*s  %5s  %8d  %10d\n", wname, "total", "", train->n, cnn_dataset_size(val));
}

void cnn_dataset_free(cnn_dataset *d)
{
    if (!d)
        return;
    if (--d->src->refs == 0)
        source_free(d->src);
    free(d->idx);
    free(d->class_counts);
    free(d);
}
