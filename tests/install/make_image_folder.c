/* make_image_folder DIR N SIZE: a small two-class image folder for the
 * install tests: DIR/bright and DIR/dark, N images each, SIZE x SIZE RGB,
 * alternately JPEG and PNG (written with libjpeg and libpng, fixtures.h).
 * The classes differ in brightness, with a per-image pattern on top, so a
 * tiny network learns them in an epoch. DIR must not exist. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fixtures.h"

int main(int argc, char **argv)
{
    int n = argc == 4 ? atoi(argv[2]) : 0, size = argc == 4 ? atoi(argv[3]) : 0;
    if (n < 1 || size < 1 || size > 1024) {
        fprintf(stderr, "usage: make_image_folder DIR N SIZE (N >= 1, 1 <= SIZE <= 1024)\n");
        return 2;
    }
    struct stat st;
    if (stat(argv[1], &st) == 0) {
        fprintf(stderr, "make_image_folder: %s exists\n", argv[1]);
        return 1;
    }
    fx_mkdir(argv[1]);
    uint8_t *px = malloc((size_t)size * size * 3);
    if (!px)
        return 1;
    const char *cls[2] = {"bright", "dark"};
    for (int c = 0; c < 2; c++) {
        char dir[4096], path[4200];
        snprintf(dir, sizeof dir, "%s/%s", argv[1], cls[c]);
        fx_mkdir(dir);
        for (int i = 0; i < n; i++) {
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    for (int k = 0; k < 3; k++) {
                        int v = fx_pattern(x + 7 * i, y + 3 * i, k, size, size) / 4 + (c == 0 ? 160 : 20);
                        px[((size_t)y * size + x) * 3 + k] = (uint8_t)(v > 255 ? 255 : v);
                    }
            int png = i % 2;
            snprintf(path, sizeof path, "%s/%s_%03d.%s", dir, cls[c], i, png ? "png" : "jpg");
            int bad = png ? fx_write_png(path, px, size, size, 2 /* RGB */, 8, NULL, 0, 0)
                          : fx_write_jpeg(path, px, size, size, 3, 90, 0);
            if (bad) {
                fprintf(stderr, "make_image_folder: cannot write %s\n", path);
                free(px);
                return 1;
            }
        }
    }
    free(px);
    return 0;
}
