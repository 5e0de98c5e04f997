/* fuzz_decode.c: the image decoders (sniffing, JPEG, PNG) and the resize to
 * the cache on arbitrary bytes. The first byte picks the mode: bit 0 the
 * channel count (1 or 3), bit 1 DCT scaling allowed, bit 2 crop to aspect
 * ratio. Built two ways:
 *   - with clang -fsanitize=fuzzer,address,undefined (CNNC_FUZZ=ON): a
 *     libFuzzer target, run as `fuzz_decode tests/fuzz/corpus_decode`;
 *   - as a plain program (always): replays every file of the corpus, which
 *     CTest runs, so every input that once found a bug stays a test.
 * A crash, leak, sanitizer report or hang is the failure; decode errors are
 * the expected outcome for most inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_data_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0];
    int c = mode & 1 ? 3 : 1;
    cnn_decode_hint hint = { 24, 32, (mode >> 2) & 1, !((mode >> 1) & 1), 0, NULL, NULL };
    cnn_image im;
    char err[256];
    /* a small pixel limit keeps each input fast and the memory bounded */
    if (cnn_decode_memory(data + 1, size - 1, c, &hint, 4e6, &im, err, sizeof err) != 0)
        return 0;
    cnn_model m;
    memset(&m, 0, sizeof m);
    m.in_h = 24;
    m.in_w = 32;
    m.in_c = c;
    cnn_prep_plan plan;
    cnn_prep_plan_init(&plan, &m);
    uint8_t out[24 * 32 * 3];
    float fbuf[24 * 32 * 3], tmp[24 * 32 * 3];
    cnn_prep_to_cache(&plan, &im, hint.crop, out, fbuf, tmp);
    cnn_image_free(&im);
    return 0;
}

#define FUZZ_NAME "fuzz_decode"
#include "replay_main.h"
