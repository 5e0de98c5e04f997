/* share_test.c: the first pass shared by the processes of an MPI run
 * (runtime/data/share.c, docs/distributed.md "Decoding the data").
 *
 *   mpirun -np P share_test DIR      (an empty folder, removed at the end)
 *
 * Rank 0 writes fixture class folders under DIR (JPEGs and PNGs of several
 * sizes, a truncated JPEG read by rank 1, a text file named .jpg read by
 * rank 0, a dangling link that cannot be listed). Every rank then opens the
 * data twice: shared with the others (cnn_dist_data_share: each decodes its
 * blocks and the images are exchanged over MPI) and alone (every file
 * itself), and checks that the two are the same, byte for byte: the cache
 * (in memory, and as a memory-mapped file), the skip list and its reasons,
 * the split, the dataset hash. It checks from rank 0's log that each rank
 * decoded about 1/P of the files, that --strict stops every rank with the
 * name of the file and the rank that read it, and that ranks whose folders
 * differ each decode their own. Exit 0, or 1 on any failure (every rank). */
#define _POSIX_C_SOURCE 200809L /* open_memstream, symlink */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "cnn_data.h"
#include "cnn_data_impl.h"
#include "cnn_dist.h"
#include "cnn_util.h"
#include "fixtures.h"

#define PER_CLASS 40
static const char *const classes[3] = {"a", "b", "c"};

/* 121 entries (c/c999.jpg cannot be listed). Entry a/a010.jpg (index 10) is
 * in block 1 with blocks of 7 (121 entries over 2 processes: 121 / 16):
 * rank 1's; b/b005.jpg (index 45) is in block 6, rank 0's. */
static void make_folder(const char *dir)
{
    char p[2048];
    fx_mkdir(dir);
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, classes[k]);
        fx_mkdir(p);
        for (int i = 0; i < PER_CLASS; i++) {
            int w = 9 + (i * 7 + k * 3) % 30, h = 8 + (i * 5 + k) % 25;
            uint8_t *px = fx_pattern_image(w, h, 3);
            for (int j = 0; j < w * h * 3; j++)
                px[j] = (uint8_t)(px[j] + 17 * k + 3 * i);
            snprintf(p, sizeof p, "%s/%s/%s%03d.%s", dir, classes[k], classes[k], i, i % 3 ? "jpg" : "png");
            if (i % 3)
                fx_write_jpeg(p, px, w, h, 3, 90, i % 2);
            else
                fx_write_png(p, px, w, h, PNG_COLOR_TYPE_RGB, 8, NULL, 0, 0);
            free(px);
        }
    }
    /* a/a010: a truncated JPEG (its first half) */
    char full[2048];
    snprintf(full, sizeof full, "%s/a/a010.jpg", dir);
    size_t n;
    uint8_t *b = fx_read(full, &n);
    fx_write_bytes(full, b, n / 2);
    free(b);
    snprintf(p, sizeof p, "%s/b/b005.jpg", dir);
    fx_write_bytes(p, "this is not a photo\n", 20);
    snprintf(p, sizeof p, "%s/c/c999.jpg", dir);
    if (symlink("/nonexistent/target.jpg", p) != 0)
        perror("symlink");
}

typedef struct opened {
    cnn_dataset *train, *val;
    char log[8192];
    char err[1024];
    int rc;
} opened;

static void open_data(const cnn_model *m, const char *dir, int shared, size_t memory, int strict, opened *r)
{
    cnn_data_options o;
    cnn_data_options_init(&o);
    o.path = dir;
    o.validation_split = 0.25;
    o.seed = 7;
    o.threads = 2;
    o.memory_budget = memory;
    o.strict = strict;
    o.share = shared ? cnn_dist_data_share() : NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&text, &len);
    o.log = log;
    r->train = r->val = NULL;
    r->err[0] = 0;
    r->rc = cnn_data_open(m, &o, &r->train, &r->val, r->err, sizeof r->err);
    fclose(log);
    snprintf(r->log, sizeof r->log, "%s", text ? text : "");
    free(text);
}

static void close_data(opened *r)
{
    cnn_dataset_free(r->train);
    cnn_dataset_free(r->val);
    r->train = r->val = NULL;
}

static uint64_t cache_hash(const cnn_source *s)
{
    return cnn_fnv1a64(CNN_FNV1A64_OFFSET, s->cache.data, s->image_bytes * (size_t)s->n_files);
}

/* The shared open equals the lone one: cache bytes, reasons, split. */
static void same_as_alone(const opened *sh, const opened *al, const char *what, int rank)
{
    CHECK(sh->rc == 0 && al->rc == 0, "%s: rank %d: open failed: %s / %s", what, rank, sh->err, al->err);
    if (sh->rc != 0 || al->rc != 0)
        return;
    const cnn_source *a = sh->train->src, *b = al->train->src;
    CHECK(a->n_files == b->n_files, "%s: %d vs %d entries", what, a->n_files, b->n_files);
    CHECK(a->cache.mapped == b->cache.mapped, "%s: mapped %d vs %d", what, a->cache.mapped, b->cache.mapped);
    const size_t bytes = a->image_bytes * (size_t)a->n_files;
    CHECK(a->image_bytes == b->image_bytes && memcmp(a->cache.data, b->cache.data, bytes) == 0,
          "%s: rank %d: the shared cache differs from the one-process cache", what, rank);
    CHECK(a->n_skipped == b->n_skipped, "%s: %d vs %d skipped", what, a->n_skipped, b->n_skipped);
    for (int j = 0; j < a->n_skipped && j < b->n_skipped; j++) {
        CHECK(a->skipped[j] == b->skipped[j], "%s: skipped entry %d: %d vs %d", what, j, a->skipped[j],
              b->skipped[j]);
        CHECK(strcmp(a->reasons[a->skipped[j]], b->reasons[b->skipped[j]]) == 0, "%s: reason '%s' vs '%s'",
              what, a->reasons[a->skipped[j]], b->reasons[b->skipped[j]]);
    }
    CHECK(cnn_dataset_size(sh->train) == cnn_dataset_size(al->train) &&
              cnn_dataset_size(sh->val) == cnn_dataset_size(al->val) &&
              cnn_dataset_hash(sh->train) == cnn_dataset_hash(al->train) &&
              cnn_dataset_hash(sh->val) == cnn_dataset_hash(al->val),
          "%s: rank %d: the split differs", what, rank);
    fprintf(stderr, "rank %d: %s: cache %016llx (%zu bytes%s), %d skipped: the same as one process\n", rank, what,
            (unsigned long long)cache_hash(a), bytes, a->cache.mapped ? ", memory-mapped file" : "",
            a->n_skipped);
}

/* Rank 0's log line "DIR: P processes decoded n0, n1 and n2 of the N files (blocks of B) ...": each
 * rank's count is the number of readable-to-list entries in its blocks. */
static void check_counts(const opened *sh, int size)
{
    const char *line = strstr(sh->log, " processes decoded ");
    CHECK(line != NULL, "rank 0's log has no line about the shared pass:\n%s", sh->log);
    if (!line)
        return;
    const cnn_source *s = sh->train->src;
    const int block = cnn_share_block(s->image_bytes, s->n_files, size);
    const char *p = line + strlen(" processes decoded ");
    int total = 0;
    for (int r = 0; r < size; r++) {
        while (*p == ',' || *p == ' ' || *p == 'a' || *p == 'n' || *p == 'd')
            p++;
        char *end;
        int got = (int)strtol(p, &end, 10), want = 0;
        p = end;
        for (int i = 0; i < s->n_files; i++)
            want += cnn_share_owner(i, block, size) == r && s->read_by[i] == r;
        CHECK(got == want, "rank %d decoded %d files, its blocks hold %d", r, got, want);
        /* about 1/P: within one block of an even share */
        CHECK(got >= s->n_files / size - 2 * block && got <= s->n_files / size + 2 * block,
              "rank %d decoded %d of %d files with %d processes", r, got, s->n_files, size);
        total += got;
    }
    CHECK(total == s->n_files - 1, "the ranks decoded %d files, %d could be listed", total, s->n_files - 1);
    while (line > sh->log && line[-1] != '\n')
        line--;
    const char *eol = strchr(line, '\n');
    printf("%.*s\n", (int)(eol ? eol - line : (long)strlen(line)), line);
}

int main(int argc, char **argv)
{
    cnn_dist_init(&argc, &argv);
    const int rank = cnn_dist_rank(), size = cnn_dist_size();
    if (argc != 2) {
        fprintf(stderr, "usage: mpirun -np P share_test DIR\n");
        return cnn_dist_finish(2);
    }
    char dir[1024], other[1100];
    snprintf(dir, sizeof dir, "%s/data", argv[1]);
    snprintf(other, sizeof other, "%s/other", argv[1]);
    if (rank == 0) { /* DIR exists and is empty */
        make_folder(dir);
        /* the same folder with one file less, for rank 1 */
        make_folder(other);
        char p[1200];
        snprintf(p, sizeof p, "%s/c/c017.jpg", other);
        remove(p);
    }
    char go = 1;
    cnn_dist_bcast(&go, 1, 0); /* the others wait for the folders */

    fx_model m;
    fx_model_init(&m, 12, 10, 3, 3);
    fx_model_add_step(&m, CNN_PREP_RESCALE, 1.0 / 255, 0);

    for (int mapped = 0; mapped < 2; mapped++) {
        const size_t memory = mapped ? 1 : 0; /* 1 byte: the cache goes to a memory-mapped file */
        opened sh, al;
        open_data(&m.m, dir, 1, memory, 0, &sh);
        open_data(&m.m, dir, 0, memory, 0, &al);
        same_as_alone(&sh, &al, mapped ? "mapped cache" : "cache in memory", rank);
        if (sh.rc == 0 && size > 1) {
            const cnn_source *s = sh.train->src;
            CHECK(s->read_by != NULL, "the pass was not shared");
            if (rank == 0)
                check_counts(&sh, size);
            else
                CHECK(sh.log[0] == 0, "rank %d wrote to its log:\n%s", rank, sh.log);
            /* the log lines of the skipped files are the one-process ones */
            if (rank == 0)
                CHECK(strstr(sh.log, "skipped 3 of 121 files") && strstr(al.log, "skipped 3 of 121 files") &&
                          strstr(sh.log, "a/a010.jpg: ") && strstr(sh.log, "b/b005.jpg: "),
                      "the skip log:\n%s", sh.log);
        }
        close_data(&sh);
        close_data(&al);
    }

    /* --strict: every rank stops naming the first unreadable file and the rank that read it */
    {
        opened sh;
        open_data(&m.m, dir, 1, 0, 1, &sh);
        CHECK(sh.rc != 0 && strstr(sh.err, "a/a010.jpg") != NULL, "rank %d: --strict: %s", rank, sh.err);
        if (size > 1) {
            char want[64];
            snprintf(want, sizeof want, "(read on rank %d)", cnn_share_owner(10, cnn_share_block(360, 121, size),
                                                                           size));
            CHECK(strstr(sh.err, want) != NULL, "rank %d: --strict: no '%s' in: %s", rank, want, sh.err);
            if (size == 2)
                CHECK(strstr(sh.err, "(read on rank 1)") != NULL, "a/a010.jpg should be rank 1's: %s", sh.err);
        }
        fprintf(stderr, "rank %d: --strict: %s\n", rank, sh.err);
        close_data(&sh);
    }

    /* rank 1 with another folder: no sharing, each decodes its own */
    if (size > 1) {
        const char *mine = rank == 1 ? other : dir;
        opened sh, al;
        open_data(&m.m, mine, 1, 0, 0, &sh);
        open_data(&m.m, mine, 0, 0, 0, &al);
        same_as_alone(&sh, &al, rank == 1 ? "another folder" : "rank 1 with another folder", rank);
        if (sh.rc == 0) {
            CHECK(sh.train->src->read_by == NULL, "rank %d shared the pass over different folders", rank);
            if (rank == 0)
                CHECK(strstr(sh.log, "file lists differ") != NULL, "no word of the difference:\n%s", sh.log);
        }
        close_data(&sh);
        close_data(&al);
    }

    int failed = fx_failures != 0, any = cnn_dist_any(failed);
    if (rank == 0) {
        printf("%s with %d process%s\n", any ? "FAIL" : "ok: the shared first pass equals one process's",
               size, size == 1 ? "" : "es");
        fx_rmtree(argv[1]);
    }
    fflush(stdout);
    return cnn_dist_finish(any ? 1 : 0);
}
