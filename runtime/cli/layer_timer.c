/* layer_timer.c: see cnn_layer_timer.h. */
#include "cnn_layer_timer.h"
#include "cnn_model.h"
#include "cnn_progress.h"

static int timing;
static double t0, sums[CNN_MAX_LAYERS][2];

void cnn_layer_hook(int layer, int pass, int end)
{
    if (!timing || layer < 0 || layer >= CNN_MAX_LAYERS || pass < 0 || pass > 1)
        return;
    if (!end)
        t0 = cnn_now();
    else
        sums[layer][pass] += cnn_now() - t0;
}

void cnn_layer_timer_start(void)
{
    for (int i = 0; i < CNN_MAX_LAYERS; i++)
        sums[i][0] = sums[i][1] = 0;
    timing = 1;
}

void cnn_layer_timer_stop(void)
{
    timing = 0;
}

double cnn_layer_timer_get(int layer, int pass)
{
    if (layer < 0 || layer >= CNN_MAX_LAYERS || pass < 0 || pass > 1)
        return 0;
    return sums[layer][pass];
}
