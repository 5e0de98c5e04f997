/* safetensors.c: the safetensors format (see cnn_safetensors.h), with a
 * CRC-32 in the metadata and atomic writes; json.c reads the header's JSON.
 * Assumes a little-endian host, as the format does (x86-64 and AArch64). */
#define _POSIX_C_SOURCE 200809L
#include "cnn_safetensors.h"
#include "cnn_json.h"
#include "cnn_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CRC_KEY "crc32"
#define CRC_PLACEHOLDER "00000000"
#define MAX_HEADER (64u << 20)

/* ---- writing ------------------------------------------------------------- */

static size_t entry_count(const cnn_st_entry *e)
{
    size_t c = 1;
    for (int k = 0; k < e->rank; k++)
        c *= (size_t)e->shape[k];
    return c;
}

/* Disk element j of tensor e, from memory layout e->layout. */
static size_t mem_index(const cnn_st_entry *e, size_t j)
{
    if (e->layout == CNN_LAYOUT_HWIO && e->rank == 4) {
        size_t O = (size_t)e->shape[0], I = (size_t)e->shape[1];
        size_t KH = (size_t)e->shape[2], KW = (size_t)e->shape[3];
        size_t w = j % KW, h = j / KW % KH, i = j / (KW * KH) % I, o = j / (KW * KH * I);
        (void)O;
        return ((h * KW + w) * I + i) * (size_t)e->shape[0] + o;
    }
    if (e->layout == CNN_LAYOUT_IO && e->rank == 2) {
        size_t OUT = (size_t)e->shape[0], IN = (size_t)e->shape[1];
        size_t i = j % IN, o = j / IN;
        return i * OUT + o;
    }
    return j;
}

void cnn_tmp_path(char *dst, size_t n, const char *path)
{
    snprintf(dst, n, "%s.tmp.%ld", path, (long)getpid());
}

static int fsync_dir_of(const char *path)
{
    char dir[CNN_MAX_PATH];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

int cnn_st_write(const char *path, const cnn_st_entry *e, int n, const char *const *meta,
                 int keep_prev, char *err, size_t errlen)
{
    cnn_strbuf h = {0};
    size_t off = 0;
    cnn_sb_str(&h, "{\"__metadata__\":{");
    for (int i = 0; meta && meta[i] && meta[i + 1]; i += 2) {
        if (!strcmp(meta[i], CRC_KEY))
            continue;
        cnn_sb_json(&h, meta[i]);
        cnn_sb_str(&h, ":");
        cnn_sb_json(&h, meta[i + 1]);
        cnn_sb_str(&h, ",");
    }
    cnn_sb_str(&h, "\"" CRC_KEY "\":\"");
    size_t crc_pos = h.len; /* where the 8 hex digits go */
    cnn_sb_str(&h, CRC_PLACEHOLDER "\"}");
    for (int t = 0; t < n; t++) {
        size_t bytes = entry_count(&e[t]) * sizeof(float);
        cnn_sb_str(&h, ",");
        cnn_sb_json(&h, e[t].name);
        cnn_sb_str(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int k = 0; k < e[t].rank; k++)
            cnn_sb_fmt(&h, "%s%lld", k ? "," : "", (long long)e[t].shape[k]);
        cnn_sb_fmt(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        off += bytes;
    }
    cnn_sb_str(&h, "}");
    while (h.len % 8)
        cnn_sb_str(&h, " ");
    if (h.oom) {
        free(h.s);
        cnn_set_err(err, errlen, "out of memory writing %s", path);
        return -1;
    }

    char tmp[CNN_MAX_PATH + 40];
    cnn_tmp_path(tmp, sizeof tmp, path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        cnn_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        free(h.s);
        return -1;
    }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++)
        len8[k] = (unsigned char)((uint64_t)h.len >> (8 * k));
    uint32_t crc = cnn_crc32(0, len8, 8);
    crc = cnn_crc32(crc, h.s, h.len);
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(h.s, 1, h.len, f) == h.len;

    /* Plain tensors go out from memory as they are; a transposed one
     * (HWIO, IO) is gathered a band of TILE disk rows at a time, each
     * memory row read once for the whole band (one cache line of TILE
     * floats) instead of once per disk row. */
    enum { TILE = 16 };
    size_t cap = 0;
    for (int t = 0; t < n; t++)
        if (e[t].layout != CNN_LAYOUT_PLAIN && e[t].rank > 0 && e[t].shape[0] > 0) {
            size_t rows = (size_t)e[t].shape[0], q = entry_count(&e[t]) / rows;
            size_t need = (rows < TILE ? rows : TILE) * q;
            cap = need > cap ? need : cap;
        }
    float *band = cap ? malloc(cap * sizeof(float)) : NULL;
    ok = ok && (!cap || band);
    for (int t = 0; ok && t < n; t++) {
        size_t cnt = entry_count(&e[t]);
        if (e[t].layout == CNN_LAYOUT_PLAIN || cnt == 0) {
            crc = cnn_crc32(crc, e[t].data, cnt * sizeof(float));
            ok = fwrite(e[t].data, sizeof(float), cnt, f) == cnt;
            continue;
        }
        size_t rows = (size_t)e[t].shape[0], q = cnt / rows;
        for (size_t o0 = 0; ok && o0 < rows; o0 += TILE) {
            size_t g = rows - o0 < TILE ? rows - o0 : TILE;
            for (size_t j = 0; j < q; j++) {
                /* disk element (o, j) is memory element mem_index(j) + o */
                const float *src = e[t].data + mem_index(&e[t], j) + o0;
                for (size_t k = 0; k < g; k++)
                    band[k * q + j] = src[k];
            }
            crc = cnn_crc32(crc, band, g * q * sizeof(float));
            ok = fwrite(band, sizeof(float), g * q, f) == g * q;
        }
    }
    free(band);
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", (unsigned)crc);
    ok = ok && fseek(f, (long)(8 + crc_pos), SEEK_SET) == 0 && fwrite(hex, 1, 8, f) == 8;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = ok ? 0 : errno; /* the failing call's errno, never a stale one */
    if (fclose(f) != 0) {
        if (ok)
            saved = errno;
        ok = 0;
    }
    free(h.s);
    if (!ok) {
        cnn_set_err(err, errlen, "cannot write %s: %s", tmp, strerror(saved ? saved : EIO));
        unlink(tmp);
        return -1;
    }
    if (keep_prev) {
        char prev[CNN_MAX_PATH + 16];
        snprintf(prev, sizeof prev, "%s.prev", path);
        struct stat st;
        if (stat(path, &st) == 0) {
            /* A hard link keeps PATH in place until the rename below replaces
             * it, so there is no moment without a complete PATH. */
            unlink(prev);
            if (link(path, prev) != 0) {
                int link_errno = errno;
                if (rename(path, prev) != 0) {
                    cnn_set_err(err, errlen, "cannot keep %s as %s: %s (and link: %s)", path, prev, strerror(errno),
                            strerror(link_errno));
                    unlink(tmp);
                    return -1;
                }
            }
        }
    }
    if (rename(tmp, path) != 0) {
        cnn_set_err(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    fsync_dir_of(path); /* best effort: some file systems refuse directory fsync */
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

void cnn_st_close(cnn_st_file *f)
{
    for (int i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_key[i]);
        free(f->meta_value[i]);
    }
    free(f->tensors);
    free(f->meta_key);
    free(f->meta_value);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

static int parse_meta(cnn_json *p, cnn_st_file *f, const char **crc_raw)
{
    if (!cnn_json_expect(p, '{'))
        return 0;
    if (cnn_json_peek(p, '}')) {
        p->s++;
        return 1;
    }
    for (;;) {
        char *k = cnn_json_string(p, NULL);
        if (!k)
            return 0;
        const char *raw = NULL;
        char *v = NULL;
        if (cnn_json_expect(p, ':'))
            v = cnn_json_string(p, &raw);
        if (!v) {
            free(k);
            return 0;
        }
        char **nk = realloc(f->meta_key, (size_t)(f->n_meta + 1) * sizeof *nk);
        if (nk)
            f->meta_key = nk;
        char **nv = realloc(f->meta_value, (size_t)(f->n_meta + 1) * sizeof *nv);
        if (nv)
            f->meta_value = nv;
        if (!nk || !nv) {
            free(k);
            free(v);
            p->why = "out of memory";
            return 0;
        }
        if (!strcmp(k, CRC_KEY))
            *crc_raw = raw;
        f->meta_key[f->n_meta] = k;
        f->meta_value[f->n_meta] = v;
        f->n_meta++;
        if (cnn_json_peek(p, ',')) {
            p->s++;
            continue;
        }
        return cnn_json_expect(p, '}');
    }
}

static int parse_tensor(cnn_json *p, cnn_st_tensor *t)
{
    int have_dtype = 0, have_shape = 0, have_off = 0;
    if (!cnn_json_expect(p, '{'))
        return 0;
    for (;;) {
        char *k = cnn_json_string(p, NULL);
        if (!k || !cnn_json_expect(p, ':')) {
            free(k);
            return 0;
        }
        int ok = 1;
        if (!strcmp(k, "dtype")) {
            char *d = cnn_json_string(p, NULL);
            ok = d != NULL;
            if (ok)
                snprintf(t->dtype, sizeof t->dtype, "%s", d);
            free(d);
            have_dtype = 1;
        } else if (!strcmp(k, "shape")) {
            ok = cnn_json_expect(p, '[');
            t->rank = 0;
            if (ok && cnn_json_peek(p, ']'))
                p->s++;
            else
                while (ok) {
                    int64_t v;
                    if (t->rank >= 8) {
                        p->why = "tensor rank above 8";
                        ok = 0;
                        break;
                    }
                    ok = cnn_json_int(p, &v);
                    if (ok)
                        t->shape[t->rank++] = v;
                    if (ok && cnn_json_peek(p, ',')) {
                        p->s++;
                        continue;
                    }
                    ok = ok && cnn_json_expect(p, ']');
                    break;
                }
            have_shape = 1;
        } else if (!strcmp(k, "data_offsets")) {
            int64_t a = 0, b = 0;
            ok = cnn_json_expect(p, '[') && cnn_json_int(p, &a) && cnn_json_expect(p, ',') && cnn_json_int(p, &b) &&
                 cnn_json_expect(p, ']');
            t->begin = (size_t)a;
            t->end = (size_t)b;
            have_off = 1;
        } else {
            ok = cnn_json_skip(p, 0);
        }
        free(k);
        if (!ok)
            return 0;
        if (cnn_json_peek(p, ',')) {
            p->s++;
            continue;
        }
        if (!cnn_json_expect(p, '}'))
            return 0;
        break;
    }
    if (!have_dtype || !have_shape || !have_off) {
        p->why = "a tensor entry lacks dtype, shape or data_offsets";
        return 0;
    }
    return 1;
}

static size_t dtype_size(const char *d)
{
    static const struct { const char *n; size_t s; } tab[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
        {"I16", 2}, {"I8", 1}, {"U8", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8}, {"BOOL", 1}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(d, tab[i].n))
            return tab[i].s;
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const cnn_st_tensor *x = *(const cnn_st_tensor *const *)a, *y = *(const cnn_st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

int cnn_st_read(const char *path, cnn_st_file *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        cnn_set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        cnn_set_err(err, errlen, "%s is not a regular file", path);
        fclose(fp);
        return -1;
    }
    f->size = (size_t)st.st_size;
    f->buf = malloc(f->size ? f->size : 1);
    if (!f->buf || fread(f->buf, 1, f->size, fp) != f->size) {
        cnn_set_err(err, errlen, "cannot read %s", path);
        fclose(fp);
        cnn_st_close(f);
        return -1;
    }
    fclose(fp);
    if (f->size < 8) {
        cnn_set_err(err, errlen, "%s is truncated (%zu bytes): not a safetensors file", path, f->size);
        cnn_st_close(f);
        return -1;
    }
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--)
        hl = hl << 8 | f->buf[k];
    if (hl > MAX_HEADER || hl > f->size - 8) {
        cnn_set_err(err, errlen, "%s is truncated or not a safetensors file (header length %llu, file %zu bytes)",
                path, (unsigned long long)hl, f->size);
        cnn_st_close(f);
        return -1;
    }
    cnn_json p = {(const char *)f->buf + 8, (const char *)f->buf + 8 + hl, NULL};
    const char *crc_raw = NULL;
    int ok = cnn_json_expect(&p, '{');
    if (ok && cnn_json_peek(&p, '}'))
        p.s++;
    else
        while (ok) {
            char *k = cnn_json_string(&p, NULL);
            ok = k && cnn_json_expect(&p, ':');
            if (ok && !strcmp(k, "__metadata__")) {
                ok = parse_meta(&p, f, &crc_raw);
            } else if (ok) {
                cnn_st_tensor *nt = realloc(f->tensors, (size_t)(f->n_tensors + 1) * sizeof *nt);
                if (!nt) {
                    ok = 0;
                    p.why = "out of memory";
                } else {
                    f->tensors = nt;
                    memset(&nt[f->n_tensors], 0, sizeof *nt);
                    ok = parse_tensor(&p, &nt[f->n_tensors]);
                    nt[f->n_tensors].name = k;
                    k = NULL;
                    f->n_tensors++;
                }
            }
            free(k);
            if (!ok)
                break;
            if (cnn_json_peek(&p, ',')) {
                p.s++;
                continue;
            }
            ok = cnn_json_expect(&p, '}');
            break;
        }
    if (ok) {
        cnn_json_ws(&p);
        if (p.s != p.end) {
            ok = 0;
            p.why = "garbage after the JSON header";
        }
    }
    if (!ok) {
        cnn_set_err(err, errlen, "%s is corrupt: %s", path, p.why ? p.why : "malformed JSON header");
        cnn_st_close(f);
        return -1;
    }
    f->data = f->buf + 8 + hl;
    f->data_size = f->size - 8 - (size_t)hl;

    if (crc_raw) {
        char hex[9];
        size_t at = (size_t)((const unsigned char *)crc_raw - f->buf);
        if (f->size - at < 8) {
            cnn_set_err(err, errlen, "%s is corrupt: bad crc32 entry", path);
            cnn_st_close(f);
            return -1;
        }
        memcpy(hex, crc_raw, 8);
        hex[8] = 0;
        memcpy(f->buf + at, CRC_PLACEHOLDER, 8);
        uint32_t crc = cnn_crc32(0, f->buf, f->size);
        memcpy(f->buf + at, hex, 8);
        char want[9];
        snprintf(want, sizeof want, "%08x", (unsigned)crc);
        if (strcmp(want, hex) != 0) {
            cnn_set_err(err, errlen, "%s is corrupt: CRC mismatch (stored %s, computed %s)", path, hex, want);
            cnn_st_close(f);
            return -1;
        }
        f->has_crc = 1;
    }

    /* Offsets: inside the data, matching dtype x shape, covering it without gaps. */
    cnn_st_tensor **order = malloc((size_t)(f->n_tensors ? f->n_tensors : 1) * sizeof *order);
    if (!order) {
        cnn_set_err(err, errlen, "out of memory reading %s", path);
        cnn_st_close(f);
        return -1;
    }
    const char *why = NULL;
    const cnn_st_tensor *bad = NULL;
    for (int i = 0; i < f->n_tensors && !why; i++) {
        cnn_st_tensor *t = &f->tensors[i];
        order[i] = t;
        size_t es = dtype_size(t->dtype);
        uint64_t cnt = 1;
        for (int k = 0; k < t->rank; k++) {
            if (t->shape[k] != 0 && cnt > UINT64_MAX / (uint64_t)t->shape[k] / 8) {
                why = "tensor size overflows";
                break;
            }
            cnt *= (uint64_t)t->shape[k];
        }
        bad = t;
        if (why)
            break;
        if (!es)
            why = "unknown dtype";
        else if (t->end < t->begin || t->end > f->data_size)
            why = "data offsets outside the file (truncated?)";
        else if ((uint64_t)(t->end - t->begin) != cnt * es)
            why = "data offsets do not match dtype and shape";
        for (int j = 0; j < i && !why; j++)
            if (!strcmp(f->tensors[j].name, t->name))
                why = "tensor name appears twice";
    }
    if (!why) {
        qsort(order, (size_t)f->n_tensors, sizeof *order, cmp_begin);
        size_t pos = 0;
        for (int i = 0; i < f->n_tensors && !why; i++) {
            if (order[i]->begin != pos) {
                why = "data has gaps or overlaps";
                bad = order[i];
            }
            pos = order[i]->end;
        }
        if (!why && pos != f->data_size) {
            why = "data size does not match the header (truncated or extended)";
            bad = NULL;
        }
    }
    free(order);
    if (why) {
        if (bad)
            cnn_set_err(err, errlen, "%s is corrupt: tensor %s: %s", path, bad->name, why);
        else
            cnn_set_err(err, errlen, "%s is corrupt: %s", path, why);
        cnn_st_close(f);
        return -1;
    }
    return 0;
}

const char *cnn_st_meta(const cnn_st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_key[i], key))
            return f->meta_value[i];
    return NULL;
}

int cnn_st_find(const cnn_st_file *f, const char *name)
{
    for (int i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name))
            return i;
    return -1;
}

static void shape_str(char *s, size_t n, int rank, const int64_t *shape)
{
    size_t used = 0;
    used += (size_t)snprintf(s, n, "[");
    for (int k = 0; k < rank && used < n; k++)
        used += (size_t)snprintf(s + used, n - used, "%s%lld", k ? ", " : "", (long long)shape[k]);
    if (used < n)
        snprintf(s + used, n - used, "]");
}

int cnn_st_get(const cnn_st_file *f, const char *name, int rank, const int64_t *shape,
               cnn_layout layout, float *dst, char *err, size_t errlen)
{
    int i = cnn_st_find(f, name);
    if (i < 0) {
        cnn_set_err(err, errlen, "tensor %s is missing", name);
        return -1;
    }
    const cnn_st_tensor *t = &f->tensors[i];
    if (strcmp(t->dtype, "F32") != 0) {
        cnn_set_err(err, errlen, "tensor %s is %s, expected F32", name, t->dtype);
        return -1;
    }
    int same = t->rank == rank;
    for (int k = 0; same && k < rank; k++)
        same = t->shape[k] == shape[k];
    if (!same) {
        char a[96], b[96];
        shape_str(a, sizeof a, t->rank, t->shape);
        shape_str(b, sizeof b, rank, shape);
        cnn_set_err(err, errlen, "tensor %s has shape %s, expected %s", name, a, b);
        return -1;
    }
    cnn_st_entry e = {name, rank, {0}, NULL, layout};
    for (int k = 0; k < rank && k < 4; k++)
        e.shape[k] = shape[k];
    size_t cnt = (t->end - t->begin) / sizeof(float);
    const unsigned char *src = f->data + t->begin;
    if (layout == CNN_LAYOUT_PLAIN) {
        memcpy(dst, src, cnt * sizeof(float));
    } else {
        for (size_t j = 0; j < cnt; j++)
            memcpy(&dst[mem_index(&e, j)], src + j * sizeof(float), sizeof(float));
    }
    return 0;
}

/* ---- model weights ------------------------------------------------------- */

static void model_entry(const cnn_model *m, int t, const float *params, cnn_st_entry *e)
{
    const cnn_tensor_info *ti = &m->tensors[t];
    e->name = ti->name;
    e->rank = ti->rank;
    for (int k = 0; k < 4; k++)
        e->shape[k] = k < ti->rank ? ti->shape[k] : 0;
    e->data = params + ti->offset;
    e->layout = ti->layout;
}

int cnn_weights_save(const cnn_model *m, const float *params, const char *path,
                     const char *const *meta, char *err, size_t errlen)
{
    cnn_st_entry *e = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *e);
    if (!e) {
        cnn_set_err(err, errlen, "out of memory");
        return -1;
    }
    for (int t = 0; t < m->n_tensors; t++)
        model_entry(m, t, params, &e[t]);
    int r = cnn_st_write(path, e, m->n_tensors, meta, 0, err, errlen);
    free(e);
    return r;
}

int cnn_weights_get(const cnn_model *m, const cnn_st_file *f, float *params, char *err, size_t errlen)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const cnn_tensor_info *ti = &m->tensors[t];
        int64_t shape[4];
        for (int k = 0; k < 4; k++)
            shape[k] = ti->shape[k];
        if (cnn_st_get(f, ti->name, ti->rank, shape, ti->layout, params + ti->offset, err, errlen))
            return -1;
    }
    return 0;
}
