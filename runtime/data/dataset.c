/* dataset.c: from a folder (or IDX file) to cached, split training and
 * validation subsets, and the public dataset API (cnn_data.h).
 *
 *   folder.c       index the class folders
 *   idx.c          read IDX files
 *   decode_pass.c  decode every entry once, in parallel, into the cache
 *   share.c        the same over several processes, each decoding its share
 *   split.c        the stratified, seeded split
 * Here: putting them together, the skipped-file log, the checks a user can
 * fail (class counts), the class table, the accessors. */
#define _POSIX_C_SOURCE 200809L /* strdup, clock_gettime */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cnn_data_impl.h"
#include "cnn_util.h"

void cnn_data_options_init(cnn_data_options *o)
{
    memset(o, 0, sizeof *o);
    o->validation_split = 0.2;
    o->seed = 123;
}

/* ---- sources ---------------------------------------------------------- */

cnn_source *cnn_source_new(const char *name)
{
    cnn_source *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->refs = 1;
    s->cache.fd = -1;
    s->name = strdup(name);
    if (!s->name) {
        free(s);
        return NULL;
    }
    return s;
}

void cnn_source_free(cnn_source *s)
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
    free(s->read_by);
    free(s->name);
    cnn_cache_release(&s->cache);
    free(s);
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

/* Before the (possibly long) first pass: what is about to happen and where
 * the cache goes, so a 70,000-image run does not sit silent. */
static void announce(const cnn_data_options *o, const cnn_source *s)
{
    if (!o->log)
        return;
    fprintf(o->log, "%s: %d file%s, %d classes; decoding into a %.1f MB image cache %s%s\n",
            s->name, s->n_files, cnn_plural(s->n_files), s->n_classes, s->cache.bytes / 1e6,
            s->cache.mapped ? "in a memory-mapped file in " : "in memory",
            s->cache.mapped ? (o->cache_dir && *o->cache_dir ? o->cache_dir
                               : getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp")
                            : "");
    fflush(o->log);
}

static int shared(const cnn_data_options *o)
{
    return o->share && o->share->size > 1;
}

/* The first pass: this process alone, or its share of the work of several
 * (share.c), saying on rank 0 how the work was split. */
static int decode_all(cnn_source *s, const cnn_pass *ps, const cnn_data_options *o, char *err, size_t errlen)
{
    if (!shared(o))
        return cnn_decode_pass(s, ps, o->threads, NULL, 0, err, errlen);
    cnn_share_report rep;
    if (cnn_share_pass(s, ps, o->threads, o->share, &rep, err, errlen) != 0)
        return -1;
    if (o->log && !rep.shared)
        fprintf(o->log, "%s: the %d processes' file lists differ, so each decoded all of its own files\n",
                s->name, o->share->size);
    if (o->log && rep.shared) {
        const int p = o->share->size;
        fprintf(o->log, "%s: %d processes decoded", s->name, p);
        for (int r = 0; r < p; r++)
            fprintf(o->log, "%s%d", r == 0 ? " " : r + 1 < p ? ", " : " and ", (int)rep.decoded[2 * r]);
        fprintf(o->log, " of the %d files (blocks of %d) in", s->n_files, rep.block);
        for (int r = 0; r < p; r++)
            fprintf(o->log, "%s%.2f", r == 0 ? " " : r + 1 < p ? ", " : " and ", rep.decoded[2 * r + 1] / 1e3);
        fprintf(o->log, " s, and exchanged the images in %.2f s\n", rep.exchange_s);
    }
    free(rep.decoded);
    return 0;
}

/* The first pass, then the cache's pages mapped in for the loader. */
static int decode(cnn_source *s, const cnn_pass *ps, const cnn_data_options *o, char *err, size_t errlen)
{
    int rc = decode_all(s, ps, o, err, errlen);
    if (rc == 0)
        cnn_cache_map_in(&s->cache);
    return rc;
}

static void pass_for(cnn_pass *ps, const cnn_model *m, const cnn_data_options *o,
                     const cnn_prep_plan *plan)
{
    memset(ps, 0, sizeof *ps);
    ps->plan = plan;
    ps->crop = m->crop_to_aspect_ratio;
    ps->hint.out_h = plan->h;
    ps->hint.out_w = plan->w;
    ps->hint.crop = m->crop_to_aspect_ratio;
    ps->hint.exact = o->exact_resize;
    ps->max_pixels = (o->max_megapixels > 0 ? o->max_megapixels : CNN_DEFAULT_MAX_MEGAPIXELS) * 1e6;
    ps->memory_budget = o->memory_budget ? o->memory_budget : cnn_default_memory_budget();
}

static int open_idx_source(const cnn_model *m, const cnn_data_options *o, const char *path,
                           const cnn_prep_plan *plan, size_t *budget_left, cnn_source **out,
                           char *err, size_t errlen)
{
    uint8_t *pixels, *lab;
    int n, rows, cols;
    if (cnn_idx_read(path, *budget_left, &pixels, &n, &rows, &cols, &lab, err, errlen) != 0)
        return -1;
    int max_label = 0;
    for (int i = 0; i < n; i++)
        if (lab[i] > max_label)
            max_label = lab[i];
    cnn_source *s = cnn_source_new(path);
    if (!s)
        goto oom;
    s->image_bytes = (size_t)plan->h * plan->w * plan->c;
    s->paths = calloc((size_t)n, sizeof *s->paths);
    s->labels = malloc(sizeof *s->labels * (size_t)n);
    s->reasons = calloc((size_t)n, sizeof *s->reasons);
    s->class_names = calloc((size_t)max_label + 1, sizeof *s->class_names);
    if (!s->paths || !s->labels || !s->reasons || !s->class_names)
        goto oom;
    s->n_files = n;
    s->n_classes = max_label + 1;
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
    cnn_pass ps;
    pass_for(&ps, m, o, plan);
    ps.idx_pixels = pixels;
    ps.idx_rows = rows;
    ps.idx_cols = cols;
    int rc = source_alloc_cache(s, budget_left, o->cache_dir, err, errlen);
    if (rc == 0) {
        announce(o, s);
        rc = decode(s, &ps, o, err, errlen);
    }
    if (rc != 0) {
        free(pixels);
        free(lab);
        cnn_source_free(s);
        return -1;
    }
    free(pixels);
    free(lab);
    *out = s;
    return 0;
oom:
    free(pixels);
    free(lab);
    cnn_source_free(s);
    cnn_set_err(err, errlen, "%s: out of memory", path);
    return -1;
}

static int open_folder_source(const cnn_model *m, const cnn_data_options *o, const char *path,
                              const cnn_prep_plan *plan, size_t *budget_left, cnn_source **out,
                              char *err, size_t errlen)
{
    cnn_source *s = cnn_source_new(path);
    if (!s) {
        cnn_set_err(err, errlen, "%s: out of memory", path);
        return -1;
    }
    s->image_bytes = (size_t)plan->h * plan->w * plan->c;
    cnn_pass ps;
    pass_for(&ps, m, o, plan);
    int rc = cnn_folder_index(s, err, errlen);
    if (rc == 0)
        rc = source_alloc_cache(s, budget_left, o->cache_dir, err, errlen);
    if (rc == 0) {
        announce(o, s);
        rc = decode(s, &ps, o, err, errlen);
    }
    if (rc != 0) {
        cnn_source_free(s);
        return -1;
    }
    *out = s;
    return 0;
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
        cnn_set_err(err, errlen, "out of memory");
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
            fprintf(o->log, "skipped %d of %d file%s in %s%s\n", s->n_skipped, s->n_files, cnn_plural(s->n_files),
                    s->name,
                    o->strict ? "" : " (--strict makes this an error)");
        if (o->strict) {
            int f = s->skipped[0];
            char by[64] = ""; /* with several processes, which one read it (a machine with a bad copy) */
            if (s->read_by && s->read_by[f] >= 0)
                snprintf(by, sizeof by, " (read on rank %d)", s->read_by[f]);
            cnn_set_err(err, errlen, "%d unreadable file%s in %s (strict): %s: %s%s%s", s->n_skipped,
                    s->n_skipped == 1 ? "" : "s", s->name, s->paths[f], s->reasons[f], by,
                    s->n_skipped > 1 ? " (and more, listed above)" : "");
            return -1;
        }
    }
    /* every class must keep at least one image */
    int *count = calloc((size_t)s->n_classes, sizeof *count);
    if (!count) {
        cnn_set_err(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < s->n_files; i++)
        if (!s->reasons[i] && s->labels[i] >= 0)
            count[s->labels[i]]++;
    for (int k = 0; k < s->n_classes; k++)
        if (count[k] == 0) {
            cnn_set_err(err, errlen, "%s: class '%s' has no readable images", s->name,
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
        cnn_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    double t0 = now_s();
    int rc;
    if (S_ISDIR(st.st_mode))
        rc = open_folder_source(m, o, path, plan, budget_left, out, err, errlen);
    else if (cnn_idx_is_images(path))
        rc = open_idx_source(m, o, path, plan, budget_left, out, err, errlen);
    else {
        cnn_set_err(err, errlen, "%s: not a folder (one subfolder per class) nor an IDX images file "
                "(...-images-idx3-ubyte[.gz])", path);
        return -1;
    }
    if (rc != 0)
        return -1;
    cnn_source *s = *out;
    if (collect_skipped(s, o, err, errlen) != 0) {
        cnn_source_free(s);
        *out = NULL;
        return -1;
    }
    if (o->log) {
        double dt = now_s() - t0;
        int n = s->n_files - s->n_skipped;
        fprintf(o->log, "%s: %d image%s read in %.2f s (%.0f images/s)\n", path, n, cnn_plural(n), dt,
                dt > 0 ? n / dt : 0.0);
    }
    return 0;
}

/* ---- the public API ---------------------------------------------------------- */

static int check_model_classes(const cnn_model *m, int n_classes, const char *path, char *err,
                               size_t errlen)
{
    if (m->n_outputs == 1) {
        if (n_classes != 2) {
            cnn_set_err(err, errlen, "%s has %d classes, but model '%s' has one sigmoid output "
                    "(binary): it needs exactly 2 (use dense %d softmax for %d classes)",
                    path, n_classes, m->name ? m->name : "?", n_classes, n_classes);
            return -1;
        }
        return 0;
    }
    if (m->n_outputs != n_classes) {
        cnn_set_err(err, errlen, "%s has %d classes, but model '%s' has %d outputs: the last layer "
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
    /* With several processes, rank 0 alone writes the log (the others hold
     * the same table and skip list). */
    cnn_data_options one = *o;
    if (shared(o) && o->share->rank != 0)
        one.log = NULL;
    o = &one;
    if (!o->path || !*o->path) {
        cnn_set_err(err, errlen, "no data: give a folder with one subfolder per class (--data DIR)");
        return -1;
    }
    if (m->in_c != 1 && m->in_c != 3) {
        cnn_set_err(err, errlen, "model input has %d channels; images need 1 or 3", m->in_c);
        return -1;
    }
    if (!o->validation && (o->validation_split < 0 || o->validation_split >= 1)) {
        cnn_set_err(err, errlen, "validation_split %g is outside [0, 1)", o->validation_split);
        return -1;
    }
    cnn_prep_plan plan;
    cnn_prep_plan_init(&plan, m);
    size_t budget = o->memory_budget ? o->memory_budget : cnn_default_memory_budget();
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
            cnn_set_err(err, errlen, "the validation data %s has classes different from %s "
                    "(%d vs %d classes; they must have the same class folders)",
                    o->validation, o->path, sv->n_classes, st->n_classes);
            goto fail;
        }
        *train = cnn_subset_all(st);
        *val = cnn_subset_all(sv);
        if (!*train || !*val)
            goto oom;
    } else {
        if (cnn_split(st, o->validation_split, o->seed, train, val) != 0)
            goto oom;
    }
    /* the subsets hold their own references now */
    st->refs--;
    if (sv)
        sv->refs--;
    if (o->log && o->table_label && !*val)
        cnn_data_print_counts(o->log, *train, o->table_label);
    else if (o->log)
        cnn_data_print_table(o->log, *train, *val);
    return 0;
oom:
    cnn_set_err(err, errlen, "out of memory building the dataset");
fail:
    cnn_dataset_free(*train);
    cnn_dataset_free(*val);
    *train = NULL;
    *val = NULL;
    if (st && --st->refs == 0)
        cnn_source_free(st);
    if (sv && --sv->refs == 0)
        cnn_source_free(sv);
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

const char *cnn_dataset_relpath(const cnn_dataset *d, int i)
{
    const char *p = cnn_dataset_path(d, i);
    if (!p)
        return NULL;
    size_t root = strlen(d->src->name);
    if (strncmp(p, d->src->name, root) == 0)
        p += root;
    while (*p == '/')
        p++;
    return p;
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

uint64_t cnn_dataset_hash(const cnn_dataset *d)
{
    uint64_t h = CNN_FNV1A64_OFFSET;
    for (int k = 0; k < d->src->n_classes; k++)
        h = cnn_fnv1a64(h, d->src->class_names[k], strlen(d->src->class_names[k]) + 1);
    /* paths relative to the dataset folder: "data/x" and "./data/x", or a
     * moved folder, hash alike */
    for (int i = 0; i < d->n; i++) {
        const char *p = cnn_dataset_relpath(d, i);
        int32_t l = d->src->labels[d->idx[i]];
        h = cnn_fnv1a64(h, p, strlen(p) + 1);
        h = cnn_fnv1a64(h, &l, sizeof l);
    }
    return h;
}

static int class_name_width(const cnn_dataset *d)
{
    int w = 5;
    for (int k = 0; k < d->src->n_classes; k++) {
        int l = (int)strlen(d->src->class_names[k]);
        if (l > w)
            w = l;
    }
    return w;
}

void cnn_data_print_counts(FILE *f, const cnn_dataset *d, const char *label)
{
    int wname = class_name_width(d), wl = (int)strlen(label) > 6 ? (int)strlen(label) : 6;
    fprintf(f, "%-*s  %5s  %*s\n", wname, "class", "index", wl, label);
    for (int k = 0; k < d->src->n_classes; k++)
        fprintf(f, "%-*s  %5d  %*d\n", wname, d->src->class_names[k], k, wl, d->class_counts[k]);
    fprintf(f, "%-*s  %5s  %*d\n", wname, "total", "", wl, d->n);
}

void cnn_data_print_table(FILE *f, const cnn_dataset *train, const cnn_dataset *val)
{
    int wname = class_name_width(train);
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
        cnn_source_free(d->src);
    free(d->idx);
    free(d->class_counts);
    free(d);
}

