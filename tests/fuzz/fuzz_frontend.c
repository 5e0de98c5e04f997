/* fuzz_frontend.c: the front end (scanner, parser, checker, summary) on
 * arbitrary bytes. Built two ways:
 *   - with clang -fsanitize=fuzzer,address,undefined (CNNC_FUZZ=ON): a
 *     libFuzzer target, run as `fuzz_frontend tests/fuzz/corpus_frontend`;
 *   - as a plain program (always): replays every file of the corpus, which
 *     CTest runs, so every input that once found a bug stays a test.
 * Diagnostics go to /dev/null; a crash, leak, sanitizer report or hang is
 * the failure. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "summary.h"

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sink)
        sink = fopen("/dev/null", "w");
    static cnnc_ir ir;
    if (cnnc_compile_memory("fuzz.cnn", (const char *)data, size, sink, &ir) == 0)
        print_summary(&ir, ir.act_floats, sink);
    return 0;
}

#ifndef CNNC_LIBFUZZER
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    size_t cap = 1 << 16, len = 0, got;
    uint8_t *buf = malloc(cap);
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            failed += replay_file(argv[i]);
            files++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            failed += replay_file(path);
            files++;
        }
        closedir(d);
    }
    printf("replayed %d inputs\n", files);
    if (sink)
        fclose(sink);
    return failed || files == 0;
}
#endif
