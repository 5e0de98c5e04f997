/* test_checkpoint.c: the CRC-32, safetensors writing and reading (PyTorch
 * layouts, CRC, atomic replace with .prev) and the resumable checkpoint's
 * checks (another model, other settings, other data, corruption), on a
 * descriptor that has tensors but no network functions (none are called).
 *
 * usage: test_checkpoint DIR   (a scratch folder) */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnn_checkpoint.h"
#include "cnn_history.h"
#include "cnn_optim.h"
#include "cnn_plot.h"
#include "cnn_safetensors.h"

static int failures;
#define CHECK(c, ...)                                                                                          \
    do {                                                                                                       \
        if (!(c)) {                                                                                            \
            printf("FAIL line %d: ", __LINE__);                                                                \
            printf(__VA_ARGS__);                                                                               \
            printf("\n");                                                                                      \
            failures++;                                                                                        \
        }                                                                                                      \
    } while (0)

#include "tiny_model.h"

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void flip_byte(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x20, f);
    fclose(f);
}

static void truncate_to(const char *path, long n)
{
    FILE *f = fopen(path, "rb");
    char *b = malloc((size_t)n);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(b, 1, got, f);
    fclose(f);
    free(b);
}

static void test_weights(const char *dir)
{
    cnn_model m = make_model("tiny");
    float params[NP], back[NP];
    for (int i = 0; i < NP; i++)
        params[i] = (float)i + 0.25f;
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    const char *meta[] = {"model", "tiny", "classes", "a\nb\"c", NULL};
    CHECK(cnn_weights_save(&m, params, path, meta, err, sizeof err) == 0, "save: %s", err);

    cnn_st_file f;
    CHECK(cnn_st_read(path, &f, err, sizeof err) == 0, "read: %s", err);
    CHECK(f.has_crc, "no crc");
    CHECK(f.n_tensors == 5, "n_tensors %d", f.n_tensors);
    CHECK(cnn_st_meta(&f, "classes") && !strcmp(cnn_st_meta(&f, "classes"), "a\nb\"c"), "metadata escaping");
    /* On disk the conv kernel is OIHW: element (o,i,h,w) is memory
     * [h][w][i][o] = ((h*2+w)*2+i)*3+o. */
    int t = cnn_st_find(&f, "conv2d_1.weight");
    CHECK(t >= 0, "conv tensor missing");
    if (t >= 0) {
        const float *d = (const float *)(f.data + f.tensors[t].begin);
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < 2; i++)
                for (int h = 0; h < 2; h++)
                    for (int w = 0; w < 2; w++) {
                        float want = params[((h * 2 + w) * 2 + i) * 3 + o];
                        float got = d[((o * 2 + i) * 2 + h) * 2 + w];
                        CHECK(got == want, "OIHW (%d,%d,%d,%d): %g vs %g", o, i, h, w, got, want);
                    }
        CHECK(f.tensors[t].rank == 4 && f.tensors[t].shape[0] == 3 && f.tensors[t].shape[1] == 2, "conv shape");
    }
    /* Dense: disk [out][in], memory [in][out]: (o, i) = memory 27 + i*4 + o. */
    t = cnn_st_find(&f, "dense_1.weight");
    if (t >= 0) {
        const float *d = (const float *)(f.data + f.tensors[t].begin);
        for (int o = 0; o < 4; o++)
            for (int i = 0; i < 5; i++)
                CHECK(d[o * 5 + i] == params[27 + i * 4 + o], "dense (%d,%d)", o, i);
    }
    memset(back, 0, sizeof back);
    CHECK(cnn_weights_get(&m, &f, back, err, sizeof err) == 0, "get: %s", err);
    CHECK(!memcmp(back, params, sizeof params), "weights round trip");
    int64_t wrong[2] = {5, 4};
    CHECK(cnn_st_get(&f, "dense_1.weight", 2, wrong, CNN_LAYOUT_IO, back, err, sizeof err) != 0 &&
              strstr(err, "shape [4, 5], expected [5, 4]"), "shape check: %s", err);
    CHECK(cnn_st_get(&f, "nope", 1, wrong, CNN_LAYOUT_PLAIN, back, err, sizeof err) != 0 && strstr(err, "missing"),
          "missing: %s", err);
    cnn_st_close(&f);

    /* Corruption: a flipped data byte, a flipped header byte, truncation. */
    char copy[600];
    long size = file_size(path);
    snprintf(copy, sizeof copy, "%s/bad.safetensors", dir);
    const char *meta2[] = {"model", "tiny", NULL};
    CHECK(cnn_weights_save(&m, params, copy, meta2, err, sizeof err) == 0, "save copy");
    flip_byte(copy, size - 10);
    CHECK(cnn_st_read(copy, &f, err, sizeof err) != 0 && strstr(err, "CRC mismatch"), "data flip: %s", err);
    CHECK(cnn_weights_save(&m, params, copy, meta2, err, sizeof err) == 0, "save copy");
    flip_byte(copy, 20); /* inside "model" / "tiny" metadata */
    CHECK(cnn_st_read(copy, &f, err, sizeof err) != 0 && strstr(err, "corrupt"), "header flip: %s", err);
    CHECK(cnn_weights_save(&m, params, copy, meta2, err, sizeof err) == 0, "save copy");
    truncate_to(copy, file_size(copy) - 8);
    CHECK(cnn_st_read(copy, &f, err, sizeof err) != 0 && strstr(err, "corrupt"), "truncated: %s", err);
    truncate_to(copy, 5);
    CHECK(cnn_st_read(copy, &f, err, sizeof err) != 0 && strstr(err, "truncated"), "truncated 5: %s", err);
    CHECK(cnn_st_read("/nonexistent/x.safetensors", &f, err, sizeof err) != 0 && strstr(err, "cannot open"),
          "missing file: %s", err);
}

static void test_prev(const char *dir)
{
    char path[512], prev[600], err[1024];
    snprintf(path, sizeof path, "%s/p.safetensors", dir);
    snprintf(prev, sizeof prev, "%s.prev", path);
    remove(path); /* a scratch folder reused from an earlier run */
    remove(prev);
    float a = 1, b = 2;
    cnn_st_entry e = {"x", 1, {1, 0, 0, 0}, &a, CNN_LAYOUT_PLAIN};
    CHECK(cnn_st_write(path, &e, 1, NULL, 1, err, sizeof err) == 0, "%s", err);
    CHECK(file_size(prev) < 0, ".prev without a previous file");
    e.data = &b;
    CHECK(cnn_st_write(path, &e, 1, NULL, 1, err, sizeof err) == 0, "%s", err);
    cnn_st_file f;
    float v = 0;
    int64_t s1[1] = {1};
    CHECK(cnn_st_read(prev, &f, err, sizeof err) == 0, "prev: %s", err);
    cnn_st_get(&f, "x", 1, s1, CNN_LAYOUT_PLAIN, &v, err, sizeof err);
    CHECK(v == 1, ".prev holds the previous value (%g)", v);
    cnn_st_close(&f);
    CHECK(cnn_st_read(path, &f, err, sizeof err) == 0, "cur: %s", err);
    cnn_st_get(&f, "x", 1, s1, CNN_LAYOUT_PLAIN, &v, err, sizeof err);
    CHECK(v == 2, "the file holds the new value (%g)", v);
    cnn_st_close(&f);
    char tmp[600];
    cnn_tmp_path(tmp, sizeof tmp, path);
    CHECK(file_size(tmp) < 0, "the temporary file is gone");
    char pid[32];
    snprintf(pid, sizeof pid, ".tmp.%ld", (long)getpid());
    CHECK(strstr(tmp, pid) != NULL, "the temporary file's name %s holds the process id", tmp);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        CHECK(strncmp(de->d_name, "p.safetensors.tmp", 17) != 0, "a temporary file is left: %s", de->d_name);
    if (d)
        closedir(d);
}

/* A failed rename reports its own errno, not one left over from before. */
static void test_rename_errno(const char *dir)
{
    char path[512], inner[600], err[1024];
    snprintf(path, sizeof path, "%s/a-folder.csv", dir);
    snprintf(inner, sizeof inner, "%s/x", path);
    mkdir(path, 0777);
    FILE *f = fopen(inner, "w"); /* a non-empty folder: rename onto it fails with EISDIR */
    if (f)
        fclose(f);
    errno = ENOENT; /* stale, from an earlier call */
    CHECK(cnn_write_file_atomic(path, "x\n", 2, err, sizeof err) != 0 && strstr(err, strerror(EISDIR)) &&
              !strstr(err, strerror(ENOENT)),
          "rename onto a folder: %s", err);
    float a = 1;
    cnn_st_entry e = {"x", 1, {1, 0, 0, 0}, &a, CNN_LAYOUT_PLAIN};
    errno = ENOENT;
    CHECK(cnn_st_write(path, &e, 1, NULL, 0, err, sizeof err) != 0 && strstr(err, strerror(EISDIR)),
          "safetensors rename onto a folder: %s", err);
    remove(inner);
    remove(path);
}

/* Rewrites a safetensors file with metadata entry key set to value (added
 * when absent) and, when poison >= 0, float number `poison` of the data set
 * to NaN; cnn_st_write computes a fresh, valid CRC. So what the checks after
 * the CRC see is reached. */
static int rewrite(const char *path, const char *key, const char *value, long poison)
{
    cnn_st_file f;
    char err[1024];
    if (cnn_st_read(path, &f, err, sizeof err))
        return -1;
    cnn_st_entry *e = calloc((size_t)f.n_tensors + 1, sizeof *e);
    const char **meta = calloc((size_t)f.n_meta * 2 + 4, sizeof *meta);
    float *data = malloc(f.data_size + 4);
    memcpy(data, f.data, f.data_size);
    if (poison >= 0)
        data[poison] = NAN;
    for (int t = 0; t < f.n_tensors; t++) {
        e[t].name = f.tensors[t].name;
        e[t].rank = f.tensors[t].rank;
        for (int k = 0; k < e[t].rank; k++)
            e[t].shape[k] = f.tensors[t].shape[k];
        e[t].data = data + f.tensors[t].begin / 4;
        e[t].layout = CNN_LAYOUT_PLAIN;
    }
    int nm = 0, found = 0;
    for (int i = 0; i < f.n_meta; i++) {
        if (!strcmp(f.meta_key[i], "crc32"))
            continue;
        meta[nm++] = f.meta_key[i];
        if (key && !strcmp(f.meta_key[i], key)) {
            meta[nm++] = value;
            found = 1;
        } else {
            meta[nm++] = f.meta_value[i];
        }
    }
    if (key && !found) {
        meta[nm++] = key;
        meta[nm++] = value;
    }
    meta[nm] = NULL;
    int r = cnn_st_write(path, e, f.n_tensors, meta, 0, err, sizeof err);
    cnn_st_close(&f);
    free(e);
    free(meta);
    free(data);
    return r;
}

static void test_checkpoint(const char *dir)
{
    cnn_model m = make_model("tiny");
    float params[NP], back[NP];
    for (int i = 0; i < NP; i++)
        params[i] = sinf((float)i);
    cnn_optimizer oc = cnn_optim_defaults(CNN_OPT_ADAM);
    cnn_optim *o = cnn_optim_create(&oc, NT), *o2 = cnn_optim_create(&oc, NT);
    float g[NT];
    for (int i = 0; i < NT; i++)
        g[i] = cosf((float)i);
    cnn_optim_step(o, params, g);
    cnn_optim_step(o, params, g);
    cnn_train_state s = {3, 2, 123, 0.25, 2, 1, "epoch,loss\n1,0.5\n2,0.25\n3,0.3\n", NULL, NULL,
                         "lr=0.0001 best=0.25 wait=1 cooldown=0"}, r;
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    const char *settings = "seed=123\nbatch=32\noptimizer=adam";
    CHECK(cnn_checkpoint_save(path, &m, params, o, &s, settings, 7, 8, "a\nb", err, sizeof err) == 0, "%s", err);
    int corrupt = -1;
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, settings, 0, 7, 8, &corrupt, err, sizeof err) == 0, "load: %s", err);
    CHECK(r.schedule && !strcmp(r.schedule, s.schedule), "the schedule state round trip: %s",
          r.schedule ? r.schedule : "(none)");
    CHECK(!memcmp(back, params, sizeof params), "params round trip");
    CHECK(!memcmp(cnn_optim_slot(o, 0), cnn_optim_slot(o2, 0), NT * sizeof(float)) &&
              !memcmp(cnn_optim_slot(o, 1), cnn_optim_slot(o2, 1), NT * sizeof(float)), "optimizer slots round trip");
    CHECK(cnn_optim_iterations(o2) == 2, "iterations %llu", (unsigned long long)cnn_optim_iterations(o2));
    CHECK(r.epoch == 3 && r.step == 2 && r.seed == 123 && r.best_value == 0.25 && r.best_epoch == 2 && r.wait == 1,
          "state round trip");
    CHECK(r.history && !strcmp(r.history, s.history), "history round trip");
    cnn_train_state_free(&r);

    /* Another model: another name, or the same name with other shapes. */
    cnn_model other = make_model("other");
    CHECK(cnn_checkpoint_load(path, &other, back, o2, &r, settings, 0, 7, 8, &corrupt, err, sizeof err) != 0 &&
              !corrupt && strstr(err, "checkpoint of another model") && strstr(err, "'tiny'"), "other model: %s", err);
    cnn_tensor_info saved = tensors[2];
    tensors[2].shape[0] = 5;
    tensors[2].shape[1] = 4;
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, settings, 0, 7, 8, &corrupt, err, sizeof err) != 0 &&
              !corrupt && strstr(err, "another model"), "other architecture: %s", err);
    tensors[2] = saved;
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, "seed=123\nbatch=64\noptimizer=adam", 0, 7, 8, &corrupt, err,
                              sizeof err) != 0 && !corrupt && strstr(err, "batch=32") && strstr(err, "batch=64"),
          "settings: %s", err);
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, settings, 0, 9, 8, &corrupt, err, sizeof err) != 0 && !corrupt &&
              strstr(err, "training file list differs"), "data: %s", err);
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, settings, 0, 7, 9, &corrupt, err, sizeof err) != 0 && !corrupt &&
              strstr(err, "validation file list differs"), "val data: %s", err);

    /* A weights file is not a checkpoint. */
    char wpath[600];
    snprintf(wpath, sizeof wpath, "%s/w2.safetensors", dir);
    cnn_weights_save(&m, params, wpath, NULL, err, sizeof err);
    CHECK(cnn_checkpoint_load(wpath, &m, back, o2, &r, settings, 0, 7, 8, &corrupt, err, sizeof err) != 0 &&
              strstr(err, "not a cnnc training checkpoint"), "weights as checkpoint: %s", err);

    /* Corrupt: the previous one survives as .prev. */
    s.epoch = 4;
    s.wait = 2; /* epochs since the best (epoch 2) */
    CHECK(cnn_checkpoint_save(path, &m, params, o, &s, settings, 7, 8, "a\nb", err, sizeof err) == 0, "%s", err);
    flip_byte(path, file_size(path) - 100);
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, settings, 0, 7, 8, &corrupt, err, sizeof err) != 0 && corrupt &&
              strstr(err, "corrupt"), "corrupt: %s", err);
    char prev[600];
    snprintf(prev, sizeof prev, "%s.prev", path);
    CHECK(cnn_checkpoint_load(prev, &m, back, o2, &r, settings, 0, 7, 8, &corrupt, err, sizeof err) == 0 && r.epoch == 3,
          "prev: %s", err);
    cnn_train_state_free(&r);

    /* The learning rate may differ only when the caller allows it (after a
     * divergence); anything else still may not. */
    const char *lr1 = "seed=1\nlr=0.5\nbatch=8", *lr2 = "seed=1\nlr=0.05\nbatch=8", *lr3 = "seed=1\nlr=0.05\nbatch=9";
    CHECK(cnn_checkpoint_save(path, &m, params, o, &s, lr1, 7, 8, "a\nb", err, sizeof err) == 0, "%s", err);
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, lr2, 0, 7, 8, &corrupt, err, sizeof err) != 0 &&
              strstr(err, "lr=0.5"), "lr change refused: %s", err);
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, lr2, 1, 7, 8, &corrupt, err, sizeof err) == 0 && r.settings &&
              !strcmp(r.settings, lr1), "lr change allowed after a divergence: %s", err);
    cnn_train_state_free(&r);
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, lr3, 1, 7, 8, &corrupt, err, sizeof err) != 0 &&
              strstr(err, "batch=9"), "batch change refused: %s", err);

    /* Never a checkpoint with weights or optimizer state that is not finite. */
    float poisoned[NP];
    memcpy(poisoned, params, sizeof poisoned);
    poisoned[30] = INFINITY;
    CHECK(cnn_checkpoint_save(path, &m, poisoned, o, &s, settings, 7, 8, "a\nb", err, sizeof err) != 0 &&
              strstr(err, "dense_1.weight") && strstr(err, "not finite"), "poisoned weights saved: %s", err);
    CHECK(cnn_checkpoint_load(path, &m, back, o2, &r, lr1, 0, 7, 8, &corrupt, err, sizeof err) == 0,
          "the good checkpoint survives a refused save: %s", err);
    cnn_train_state_free(&r);
    cnn_optim_slot(o, 1)[3] = NAN;
    CHECK(cnn_checkpoint_save(path, &m, params, o, &s, settings, 7, 8, "a\nb", err, sizeof err) != 0 &&
              strstr(err, "optimizer."), "poisoned optimizer state saved: %s", err);
    cnn_optim_slot(o, 1)[3] = 0;

    /* A valid CRC over values that make no sense: refused (corrupt, so the
     * caller falls back on .prev), whatever the field. */
    static const char *const bad[][2] = {
        {"epoch", "2147483648"}, {"epoch", "-1"}, {"epoch", "99"}, {"epoch", "4294967297"},
        {"step", "18446744073709551615"}, {"step", "18446744073709551616"}, {"wait", "4294967296"},
        {"wait", "0"}, {"best_epoch", "4"}, {"best_value", "nan"}, {"best_value", "inf"}, {"best_value", "x"},
        {"optimizer_iterations", "3"}, {"epoch", " 3"}, {"epoch", "+3"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(cnn_checkpoint_save(path, &m, params, o, &s, settings, 7, 8, "a\nb", err, sizeof err) == 0, "%s", err);
        CHECK(rewrite(path, bad[i][0], bad[i][1], -1) == 0, "rewrite %s", bad[i][0]);
        corrupt = 0;
        int rc = cnn_checkpoint_load(path, &m, back, o2, &r, settings, 0, 7, 8, &corrupt, err, sizeof err);
        CHECK(rc != 0 && corrupt && (strstr(err, bad[i][0]) != NULL || strstr(err, "incomplete") != NULL),
              "%s=%s accepted (rc %d, corrupt %d): %s", bad[i][0], bad[i][1], rc, corrupt, err);
        if (rc == 0)
            cnn_train_state_free(&r);
    }
    /* The unedited rewrite loads (the helper itself is sound), and a NaN
     * weight under a valid CRC is refused. */
    CHECK(cnn_checkpoint_save(path, &m, params, o, &s, settings, 7, 8, "a\nb", err, sizeof err) == 0, "%s", err);
    CHECK(rewrite(path, NULL, NULL, -1) == 0 &&
              cnn_checkpoint_load(path, &m, back, o2, &r, settings, 0, 7, 8, &corrupt, err, sizeof err) == 0,
          "a rewritten checkpoint: %s", err);
    cnn_train_state_free(&r);
    CHECK(rewrite(path, NULL, NULL, 5) == 0 &&
              cnn_checkpoint_load(path, &m, back, o2, &r, settings, 0, 7, 8, &corrupt, err, sizeof err) != 0 &&
              corrupt && strstr(err, "not finite"),
          "NaN weights under a valid CRC: %s", err);
    cnn_optim_free(o);
    cnn_optim_free(o2);
}

static void test_history_plot(const char *dir)
{
    const char *cols[] = {"loss", "accuracy", "val_loss", "val_accuracy"};
    cnn_history h, h2;
    cnn_history_init(&h, cols, 4);
    double r1[4] = {0.693147180559945, 0.5, 0.6, 0.55}, r2[4] = {0.4, 0.8125, NAN, 0.7};
    cnn_history_add(&h, r1);
    cnn_history_add(&h, r2);
    char *csv = cnn_history_csv(&h);
    CHECK(!strncmp(csv, "epoch,loss,accuracy,val_loss,val_accuracy\n1,0.693147181,0.5,0.6,0.55\n2,0.4,0.8125,nan,0.7\n",
                   200), "csv:\n%s", csv);
    CHECK(cnn_history_parse(&h2, csv) == 0, "parse");
    char *csv2 = cnn_history_csv(&h2);
    CHECK(!strcmp(csv, csv2), "csv round trip");
    CHECK(h2.rows[0] == h.rows[0], "values round trip exactly");
    free(csv2);
    cnn_history_free(&h2);
    CHECK(cnn_history_parse(&h2, "loss\n1,2\n") != 0, "bad csv accepted");
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/curves.svg", dir);
    CHECK(cnn_plot_write(&h, "tiny <model>", path, err, sizeof err) == 0, "%s", err);
    char *svg = cnn_plot_svg(&h, "tiny <model>");
    CHECK(strstr(svg, "<svg") && strstr(svg, "</svg>") && strstr(svg, "Accuracy") && strstr(svg, "&lt;model&gt;") &&
              strstr(svg, "stroke-dasharray"), "svg content");
    free(svg);
    free(csv);
    cnn_history_free(&h);
    cnn_history_free(&h2);
}

/* CRC-32: the check value of "123456789", and the sliced loop against the
 * byte-at-a-time definition at every alignment and length to 64, split
 * anywhere (a CRC continued from a part equals the whole's). */
static uint32_t crc_bytewise(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

static void test_crc(void)
{
    CHECK(cnn_crc32(0, "123456789", 9) == 0xcbf43926u, "crc32 check value %08x", cnn_crc32(0, "123456789", 9));
    unsigned char b[200];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof b; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (unsigned char)(x >> 16);
    }
    for (size_t a = 0; a < 8; a++)
        for (size_t n = 0; n <= 64; n++) {
            uint32_t want = crc_bytewise(0, b + a, n);
            CHECK(cnn_crc32(0, b + a, n) == want, "crc32 at offset %zu, %zu bytes", a, n);
            for (size_t s = 0; s <= n; s += 3)
                CHECK(cnn_crc32(cnn_crc32(0, b + a, s), b + a + s, n - s) == want, "crc32 split at %zu of %zu", s, n);
        }
    CHECK(cnn_crc32(0, b, sizeof b) == crc_bytewise(0, b, sizeof b), "crc32 of %zu bytes", sizeof b);
}

/* Transposed tensors with more rows than the writer's band of rows (and a
 * partial last band): a dense kernel of 37 outputs and a conv kernel of 20,
 * element by element on disk, and read back. */
static void test_transposed_bands(const char *dir)
{
    enum { IN = 29, OUT = 37, O = 20, I = 3, KH = 2, KW = 3 };
    static float dense[IN * OUT], conv[KH * KW * I * O], back[IN * OUT > KH * KW * I * O ? IN * OUT : KH * KW * I * O];
    for (int j = 0; j < IN * OUT; j++)
        dense[j] = (float)j * 0.5f - 7.0f;
    for (int j = 0; j < KH * KW * I * O; j++)
        conv[j] = (float)j * -0.25f + 3.0f;
    cnn_st_entry e[2] = {{"d", 2, {OUT, IN}, dense, CNN_LAYOUT_IO}, {"c", 4, {O, I, KH, KW}, conv, CNN_LAYOUT_HWIO}};
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/bands.safetensors", dir);
    CHECK(cnn_st_write(path, e, 2, NULL, 0, err, sizeof err) == 0, "write: %s", err);
    cnn_st_file f;
    CHECK(cnn_st_read(path, &f, err, sizeof err) == 0, "read: %s", err);
    if (!f.buf)
        return;
    int t = cnn_st_find(&f, "d");
    const float *d = t >= 0 ? (const float *)(f.data + f.tensors[t].begin) : NULL;
    for (int o = 0; d && o < OUT; o++)
        for (int i = 0; i < IN; i++)
            CHECK(d[o * IN + i] == dense[i * OUT + o], "dense (%d,%d)", o, i);
    t = cnn_st_find(&f, "c");
    d = t >= 0 ? (const float *)(f.data + f.tensors[t].begin) : NULL;
    for (int o = 0; d && o < O; o++)
        for (int i = 0; i < I; i++)
            for (int h = 0; h < KH; h++)
                for (int w = 0; w < KW; w++)
                    CHECK(d[((o * I + i) * KH + h) * KW + w] == conv[((h * KW + w) * I + i) * O + o],
                          "conv (%d,%d,%d,%d)", o, i, h, w);
    int64_t sd[2] = {OUT, IN}, sc[4] = {O, I, KH, KW};
    CHECK(cnn_st_get(&f, "d", 2, sd, CNN_LAYOUT_IO, back, err, sizeof err) == 0 &&
              !memcmp(back, dense, sizeof dense), "dense round trip: %s", err);
    CHECK(cnn_st_get(&f, "c", 4, sc, CNN_LAYOUT_HWIO, back, err, sizeof err) == 0 &&
              !memcmp(back, conv, sizeof conv), "conv round trip: %s", err);
    cnn_st_close(&f);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    test_crc();
    test_transposed_bands(dir);
    test_weights(dir);
    test_prev(dir);
    test_rename_errno(dir);
    test_checkpoint(dir);
    test_history_plot(dir);
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("checkpoint tests passed\n");
    return 0;
}
