/* fuzz_checkpoint.c: the safetensors reader, the weights loader and the
 * checkpoint loader (every check behind the CRC: format, model, settings,
 * data hashes, state ranges, finite values) on arbitrary bytes. The first
 * byte picks the mode: bit 0 re-fixes the CRC (the crc32 entry, when the
 * header has one, is set to the CRC of the mutated bytes, so the checks
 * after it are reached instead of every mutation ending at "CRC
 * mismatch"); bit 1 lets the learning rate differ (a resume after a
 * divergence). Built two ways, as tests/fuzz/fuzz_decode.c:
 *   - with clang -fsanitize=fuzzer,address,undefined (CNNC_FUZZ=ON): a
 *     libFuzzer target, run as `fuzz_checkpoint tests/fuzz/corpus_checkpoint`;
 *   - as a plain program (always): replays every file of the corpus, which
 *     CTest runs. `fuzz_checkpoint_replay --seeds DIR` writes the seed
 *     inputs (valid checkpoints and weights of tests/trainer/tiny_model.h).
 * A crash, leak, sanitizer report or hang is the failure; refusals are the
 * expected outcome for most inputs. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnn_checkpoint.h"
#include "cnn_optim.h"
#include "cnn_safetensors.h"
#include "tiny_model.h"

#define SETTINGS "seed=1\nlr=0.5\nbatch=8"

/* Sets the crc32 entry's 8 hex digits to the CRC of the whole buffer with
 * those digits as "00000000" (what cnn_st_read checks). */
static void refix_crc(uint8_t *b, size_t n)
{
    static const char key[] = "\"crc32\":\"";
    size_t kl = sizeof key - 1;
    if (n < 8)
        return;
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--)
        hl = hl << 8 | b[k];
    size_t end = hl > n - 8 ? n : (size_t)hl + 8;
    for (size_t i = 8; i + kl + 8 <= end; i++)
        if (!memcmp(b + i, key, kl)) {
            memcpy(b + i + kl, "00000000", 8);
            char hex[9];
            snprintf(hex, sizeof hex, "%08x", (unsigned)cnn_crc32(0, b, n));
            memcpy(b + i + kl, hex, 8);
            return;
        }
}

static char path[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0];
    size_t n = size - 1;
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return 0;
    memcpy(b, data + 1, n);
    if (mode & 1)
        refix_crc(b, n);
    if (!path[0])
        snprintf(path, sizeof path, "%s/cnnc-fuzz-checkpoint-%ld.safetensors",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(b);
        return 0;
    }
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);

    cnn_model m = make_model("tiny");
    float params[NP];
    char err[1024];
    cnn_st_file sf;
    if (cnn_st_read(path, &sf, err, sizeof err) == 0) {
        (void)cnn_st_meta(&sf, "classes");
        cnn_weights_get(&m, &sf, params, err, sizeof err);
        cnn_st_close(&sf);
    }
    cnn_optimizer oc = cnn_optim_defaults(CNN_OPT_ADAM);
    cnn_optim *o = cnn_optim_create(&oc, NT);
    cnn_train_state st;
    int corrupt;
    if (o && cnn_checkpoint_load(path, &m, params, o, &st, SETTINGS, (mode >> 1) & 1, 7, 8, &corrupt, err,
                                 sizeof err) == 0)
        cnn_train_state_free(&st);
    cnn_optim_free(o);
    return 0;
}

#ifndef CNNC_LIBFUZZER
/* The seeds: a valid checkpoint of the tiny model (its settings and data
 * hashes are the harness's, so a mutation can reach every check) and a
 * weights file, each with mode bytes 0 and 1. */
static int write_seeds(const char *dir)
{
    cnn_model m = make_model("tiny");
    float params[NP];
    for (int i = 0; i < NP; i++)
        params[i] = sinf((float)i);
    cnn_optimizer oc = cnn_optim_defaults(CNN_OPT_ADAM);
    cnn_optim *o = cnn_optim_create(&oc, NT);
    float g[NT];
    for (int i = 0; i < NT; i++)
        g[i] = cosf((float)i);
    cnn_optim_step(o, params, g);
    cnn_optim_step(o, params, g);
    cnn_train_state s = {3, 2, 1, 0.25, 2, 1, "epoch,loss\n1,0.5\n2,0.25\n3,0.3\n", NULL,
                         "epoch 1: lr 1 -> 0.5 after a divergence (x)", NULL};
    char p[512], err[1024];
    snprintf(p, sizeof p, "%s/.seed.safetensors", dir);
    const char *files[2] = {"checkpoint", "weights"};
    for (int k = 0; k < 2; k++) {
        const char *meta[] = {"format", "pt", "model", "tiny", "classes", "a\nb", NULL};
        int rc = k == 0 ? cnn_checkpoint_save(p, &m, params, o, &s, SETTINGS, 7, 8, "a\nb", err, sizeof err)
                        : cnn_weights_save(&m, params, p, meta, err, sizeof err);
        if (rc) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        size_t n;
        FILE *f = fopen(p, "rb");
        fseek(f, 0, SEEK_END);
        n = (size_t)ftell(f);
        rewind(f);
        uint8_t *b = malloc(n + 1);
        if (fread(b + 1, 1, n, f) != n)
            return 1;
        fclose(f);
        for (int mode = 0; mode < 2; mode++) {
            char q[600];
            snprintf(q, sizeof q, "%s/seed-%s-%d", dir, files[k], mode);
            b[0] = (uint8_t)mode;
            FILE *w = fopen(q, "wb");
            fwrite(b, 1, n + 1, w);
            fclose(w);
        }
        free(b);
    }
    remove(p);
    cnn_optim_free(o);
    return 0;
}

#endif

#define FUZZ_NAME "fuzz_checkpoint"
#define FUZZ_SEEDS write_seeds
#include "replay_main.h"
