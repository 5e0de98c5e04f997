/* replay_main.h: the main() of a fuzz target built without libFuzzer: it
 * replays every file (or every file of every folder) given on the command
 * line through LLVMFuzzerTestOneInput, so a committed corpus runs in every
 * test run. Include it at the end of a target, after defining FUZZ_NAME
 * (the name printed) and, when the target writes its own seed inputs,
 * FUZZ_SEEDS (a function `int f(const char *dir)` run by `--seeds DIR`). */
#ifndef CNNC_LIBFUZZER
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fuzz_replay_file(const char *file)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        perror(file);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap = cap ? 2 * cap : 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                return 1;
            }
            buf = nb;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        if (k == 0)
            break;
        n += k;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
#ifdef FUZZ_SEEDS
    if (argc == 3 && !strcmp(argv[1], "--seeds"))
        return FUZZ_SEEDS(argv[2]);
#endif
    int files = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            failed += fuzz_replay_file(argv[i]);
            files++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            failed += fuzz_replay_file(p);
            files++;
        }
        closedir(d);
    }
    printf("%s: replayed %d inputs\n", FUZZ_NAME, files);
    return failed || files == 0 ? 1 : 0;
}
#endif
