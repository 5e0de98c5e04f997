/* folder.c: index a dataset folder (one subfolder per class).
 *
 * Class names sort by bytes (Python's sorted(), as Keras and torchvision)
 * and are the labels 0..n-1. Names starting with '.' are skipped at every
 * level (.DS_Store, ._photo.jpg, .ipynb_checkpoints). Files directly in the
 * dataset folder (README, manifest.csv) are not classes. Class folders are
 * walked recursively, entries sorted by name; every file is a candidate
 * (what it is is decided later, by its bytes). Inside a class, links to
 * folders are not followed (a link to an ancestor would loop; Keras's
 * follow_links=False and os.walk do the same) and, like dangling links and
 * special files, become skipped entries with their reason: nothing is
 * dropped silently. */
#define _POSIX_C_SOURCE 200809L /* lstat, strdup */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cnn_data_impl.h"

#define MAX_DEPTH 32

typedef struct names {
    char **v;
    int n, cap;
} names;

static int names_push(names *l, const char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s)))
        return -1;
    l->n++;
    return 0;
}

static void names_free(names *l)
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

/* Entries of dir not starting with '.', sorted; -1 (errno kept) when it cannot be read. */
static int list_dir(const char *dir, names *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (names_push(out, e->d_name) != 0) {
            closedir(d);
            errno = ENOMEM;
            return -1;
        }
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return 0;
}

/* name with control characters written as \xNN (malloc'ed). */
static char *escape_name(const char *name)
{
    size_t n = 1;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        n += *p < 0x20 || *p == 0x7f ? 4 : 1;
    char *out = malloc(n), *q = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            q += sprintf(q, "\\x%02x", *p);
        else
            *q++ = (char)*p;
    }
    *q = 0;
    return out;
}

static int join(char *dst, size_t n, const char *a, const char *b)
{
    size_t la = strlen(a);
    int slash = la > 0 && a[la - 1] == '/';
    int w = snprintf(dst, n, "%s%s%s", a, slash ? "" : "/", b);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* The growing entry table of the source being indexed. */
typedef struct entries {
    cnn_source *s;
    int cap;
} entries;

static int add_entry(entries *e, const char *path, int label, const char *reason)
{
    cnn_source *s = e->s;
    if (s->n_files == e->cap) {
        int cap = e->cap ? 2 * e->cap : 256;
        char **p = realloc(s->paths, sizeof *p * (size_t)cap);
        if (p)
            s->paths = p;
        char **r = realloc(s->reasons, sizeof *r * (size_t)cap);
        if (r)
            s->reasons = r;
        int *l = realloc(s->labels, sizeof *l * (size_t)cap);
        if (l)
            s->labels = l;
        if (!p || !r || !l)
            return -1;
        e->cap = cap;
    }
    int i = s->n_files;
    s->paths[i] = strdup(path);
    s->reasons[i] = reason ? strdup(reason) : NULL;
    s->labels[i] = label;
    s->n_files++; /* counted even when a strdup failed, so that it is freed */
    return !s->paths[i] || (reason && !s->reasons[i]) ? -1 : 0;
}

static int walk(entries *e, const char *dir, int label, int depth, char *err, size_t errlen)
{
    if (depth > MAX_DEPTH)
        return add_entry(e, dir, label, "folders nested more than 32 deep (not read)");
    names nm = { 0 };
    if (list_dir(dir, &nm) != 0) {
        char why[256];
        snprintf(why, sizeof why, "cannot open folder: %s", strerror(errno));
        names_free(&nm);
        return add_entry(e, dir, label, why);
    }
    int rc = 0;
    for (int i = 0; i < nm.n && rc == 0; i++) {
        char path[CNN_MAX_PATH];
        if (join(path, sizeof path, dir, nm.v[i]) != 0) {
            snprintf(err, errlen, "%s/%s: path too long", dir, nm.v[i]);
            rc = -2;
            break;
        }
        struct stat st, lst;
        int is_link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
        if (stat(path, &st) != 0)
            rc = add_entry(e, path, label, strerror(errno)); /* dangling link, vanished file */
        else if (S_ISDIR(st.st_mode) && is_link)
            rc = add_entry(e, path, label, "link to a folder (not followed)");
        else if (S_ISDIR(st.st_mode))
            rc = walk(e, path, label, depth + 1, err, errlen);
        else if (!S_ISREG(st.st_mode))
            rc = add_entry(e, path, label, "not a regular file");
        else
            rc = add_entry(e, path, label, NULL);
    }
    names_free(&nm);
    return rc;
}

int cnn_folder_files(const char *dir, char ***paths, int *n, char *err, size_t errlen)
{
    cnn_source s;
    memset(&s, 0, sizeof s);
    entries e = { &s, 0 };
    int rc = walk(&e, dir, 0, 0, err, errlen);
    if (rc == -1)
        snprintf(err, errlen, "%s: out of memory", dir);
    int k = 0;
    for (int i = 0; i < s.n_files; i++) {
        /* what cannot be read (links to folders, sockets) is not a file to predict */
        if (rc == 0 && !s.reasons[i])
            s.paths[k++] = s.paths[i];
        else
            free(s.paths[i]);
        if (s.reasons)
            free(s.reasons[i]);
    }
    free(s.reasons);
    free(s.labels);
    if (rc != 0) {
        free(s.paths);
        return -1;
    }
    *paths = s.paths;
    *n = k;
    return 0;
}

int cnn_folder_index(cnn_source *s, char *err, size_t errlen)
{
    const char *path = s->name;
    names top = { 0 }, classes = { 0 };
    if (list_dir(path, &top) != 0) {
        snprintf(err, errlen, "%s: cannot open folder: %s", path, strerror(errno));
        names_free(&top);
        return -1;
    }
    char idx_file[CNN_MAX_PATH] = "";
    for (int i = 0; i < top.n; i++) {
        char p[CNN_MAX_PATH];
        struct stat st;
        if (join(p, sizeof p, path, top.v[i]) != 0 || stat(p, &st) != 0)
            continue;
        if (!S_ISDIR(st.st_mode)) {
            if (!idx_file[0] && cnn_idx_is_images(p))
                snprintf(idx_file, sizeof idx_file, "%s", p);
            continue;
        }
        if (names_push(&classes, top.v[i]) != 0) {
            snprintf(err, errlen, "%s: out of memory", path);
            names_free(&top);
            names_free(&classes);
            return -1;
        }
    }
    names_free(&top);
    if (classes.n < 2) {
        if (classes.n == 0 && idx_file[0])
            snprintf(err, errlen, "%s has no class folders but holds IDX data: give the images "
                     "file itself, e.g. %s", path, idx_file);
        else
            snprintf(err, errlen, "%s: found %d class folder%s%s%s; a dataset needs at least 2 "
                     "(one subfolder per class, e.g. %s/cats and %s/dogs)", path, classes.n,
                     classes.n == 1 ? " (" : "s", classes.n == 1 ? classes.v[0] : "",
                     classes.n == 1 ? ")" : "", path, path);
        names_free(&classes);
        return -1;
    }
    s->n_classes = classes.n;
    s->class_names = classes.v; /* the source owns them now */
    entries e = { s, 0 };
    for (int k = 0; k < s->n_classes; k++) {
        char p[CNN_MAX_PATH];
        if (join(p, sizeof p, path, s->class_names[k]) != 0) {
            snprintf(err, errlen, "%s: path too long", path);
            return -1;
        }
        int before = s->n_files;
        int rc = walk(&e, p, k, 0, err, errlen);
        if (rc == -1)
            snprintf(err, errlen, "%s: out of memory", path);
        if (rc != 0)
            return -1;
        if (s->n_files == before) {
            snprintf(err, errlen, "class folder %s is empty: every class needs images "
                     "(remove the folder or add images)", p);
            return -1;
        }
    }
    /* From here on a class name is only shown and stored (class table,
     * reports, split.csv, the weights' '\n'-joined "classes" entry that
     * predict prints): control characters become \xNN, as in file names in
     * log lines, so a newline in a folder name forges no line. */
    for (int k = 0; k < s->n_classes; k++) {
        char *esc = escape_name(s->class_names[k]);
        if (!esc) {
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        free(s->class_names[k]);
        s->class_names[k] = esc;
    }
    return 0;
}
