/* dump_images: write what the data side makes of a folder, for comparison
 * with an independent implementation (tests/data/parity_resize.py).
 *   dump_images DIR H W C CROP OUT
 * OUT.bin: every image (training subset, no split, subset order) as H*W*C
 * bytes, the cached values; OUT.txt: their paths, one per line. */
#include <stdlib.h>
#include <string.h>

#include "cnn_data.h"
#include "fixtures.h"

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: dump_images DIR H W C CROP OUT\n");
        return 2;
    }
    fx_model f;
    fx_model_init(&f, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), 1);
    f.m.crop_to_aspect_ratio = atoi(argv[5]);
    cnn_data_options o;
    cnn_data_options_init(&o);
    o.path = argv[1];
    o.validation_split = 0;
    cnn_dataset *tr, *va;
    char err[512];
    /* dump_images serves any class count: make the model fit the folder */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (cnn_data_open(&f.m, &o, &tr, &va, err, sizeof err) == 0)
            break;
        if (attempt == 1 || !strstr(err, "classes")) {
            fprintf(stderr, "dump_images: %s\n", err);
            return 1;
        }
        int k = atoi(strstr(err, " has ") + 5);
        f.m.n_outputs = k;
        f.m.final_act = CNN_ACT_SOFTMAX;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s.bin", argv[6]);
    FILE *b = fopen(path, "wb");
    snprintf(path, sizeof path, "%s.txt", argv[6]);
    FILE *t = fopen(path, "w");
    if (!b || !t) {
        perror(argv[6]);
        return 1;
    }
    size_t per = (size_t)f.m.in_h * f.m.in_w * f.m.in_c;
    unsigned char *u = malloc(per);
    cnn_loader *l = cnn_loader_create(&f.m, tr, 16, 0, 0, err, sizeof err);
    cnn_loader_begin(l, 0, 0);
    const float *x;
    const int *lab, *ind;
    int n;
    while ((n = cnn_loader_next(l, &x, &lab, &ind)) > 0)
        for (int j = 0; j < n; j++) {
            for (size_t i = 0; i < per; i++)
                u[i] = (unsigned char)x[per * j + i]; /* no steps: integers 0..255 */
            fwrite(u, 1, per, b);
            fprintf(t, "%s\n", cnn_dataset_path(tr, ind[j]));
        }
    cnn_loader_free(l);
    cnn_dataset_free(tr);
    fclose(b);
    fclose(t);
    free(u);
    return 0;
}
