/* harness.c: runs an exported model (cnnc export) on raw images and prints
 * one JSON line per image, as `NAME predict --json` does, for the parity
 * test (export_test.py). Built with -DMODEL=NAME -DMODEL_HEADER="NAME_infer.h".
 *
 *   harness FILE.raw...     FILE.raw: int32 width, height, channels (little
 *                           endian), then the 8-bit pixels, top row first
 *   harness --tensor FILE   FILE: H*W*C floats; prints the probabilities
 *
 * Every image runs through NAME_predict and through NAME_predict_r with a
 * work area that is deliberately not aligned; the two must agree bitwise.
 * Bad arguments must be refused with a negative value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MODEL_HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define PREDICT CAT(MODEL, _predict)
#define PREDICT_R CAT(MODEL, _predict_r)
#define PREDICT_TENSOR CAT(MODEL, _predict_tensor)
#define CLASSES CAT(MODEL, _CLASSES)
#define NAMES CAT(MODEL, _class_names)
#define WORK_BYTES CAT(MODEL, _WORK_BYTES)
#define IN_H CAT(MODEL, _INPUT_HEIGHT)
#define IN_W CAT(MODEL, _INPUT_WIDTH)
#define IN_C CAT(MODEL, _INPUT_CHANNELS)

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static int32_t le32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void print_probs(const char *path, const float *p)
{
    int best = 0;
    for (int k = 1; k < CLASSES; k++)
        if (p[k] > p[best])
            best = k;
    printf("{\"path\": \"%s\", \"class\": \"", path);
    for (const char *c = NAMES[best]; *c; c++) /* a JSON string (UTF-8 passes through) */
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            printf("\\u%04x", (unsigned)*c);
        else
            putchar(*c);
    printf("\", \"probabilities\": [");
    for (int k = 0; k < CLASSES; k++)
        printf("%s%.9g", k ? ", " : "", (double)p[k]);
    printf("]}\n");
}

int main(int argc, char **argv)
{
    unsigned char *work = malloc(WORK_BYTES + 1);
    float probs[CLASSES], probs_r[CLASSES];
    if (!work)
        return 1;
    /* refusals */
    unsigned char px[4] = {1, 2, 3, 4};
    if (PREDICT(px, 0, 1, 3, probs) >= 0 || PREDICT(px, 1, 1, 2, probs) >= 0 || PREDICT(NULL, 1, 1, 1, probs) >= 0 ||
        PREDICT(px, 1, 4097, 1, probs) >= 0 || PREDICT_R(NULL, px, 1, 1, 1, probs) >= 0 ||
        PREDICT_TENSOR(work, NULL, probs) >= 0) {
        fprintf(stderr, "harness: bad arguments were not refused\n");
        return 1;
    }
    if (argc == 3 && !strcmp(argv[1], "--tensor")) {
        size_t n;
        unsigned char *b = read_all(argv[2], &n);
        if (!b || n != sizeof(float) * IN_H * IN_W * IN_C) {
            fprintf(stderr, "harness: %s: not a %dx%dx%d float tensor\n", argv[2], IN_H, IN_W, IN_C);
            return 1;
        }
        float *x = malloc(n);
        memcpy(x, b, n);
        if (PREDICT_TENSOR(work + 1, x, probs) != 0)
            return 1;
        print_probs(argv[2], probs);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        size_t n;
        unsigned char *b = read_all(argv[i], &n);
        if (!b || n < 12) {
            fprintf(stderr, "harness: cannot read %s\n", argv[i]);
            return 1;
        }
        int w = le32(b), h = le32(b + 4), c = le32(b + 8);
        if ((size_t)w * h * c + 12 != n) {
            fprintf(stderr, "harness: %s: bad raw file\n", argv[i]);
            return 1;
        }
        if (PREDICT(b + 12, w, h, c, probs) != 0 || PREDICT_R(work + 1, b + 12, w, h, c, probs_r) != 0) {
            fprintf(stderr, "harness: %s: predict failed\n", argv[i]);
            return 1;
        }
        if (memcmp(probs, probs_r, sizeof probs) != 0) {
            fprintf(stderr, "harness: %s: predict and predict_r differ\n", argv[i]);
            return 1;
        }
        print_probs(argv[i], probs);
        free(b);
    }
    free(work);
    return 0;
}
