/* summary.c: `cnnc summary`: the IR seen as the model descriptor it will
 * become, printed by the runtime's printer (runtime/core/summary.c), the
 * one a trainer's `NAME summary` uses, so that the two agree. */
#include "summary.h"

#include "cnn_summary.h"

static void as_model(const cnnc_ir *ir, size_t act_floats, cnn_model *m, double *layer_flops)
{
    for (int i = 0; i < ir->n_layers; i++)
        layer_flops[i] = ir->cost[i].forward_flops;
    *m = (cnn_model){
        .name = ir->name,
        .source = ir->source_base,
        .source_hash = ir->source_hash,
        .in_h = ir->in_h,
        .in_w = ir->in_w,
        .in_c = ir->in_c,
        .n_outputs = ir->n_outputs,
        .final_act = ir->final_act,
        .n_layers = ir->n_layers,
        .layers = ir->layers,
        .n_tensors = ir->n_tensors,
        .tensors = ir->tensors,
        .n_params = ir->n_params,
        .n_trainable = ir->n_trainable,
        .act_floats = act_floats,
        .forward_flops = ir->forward_flops,
        .train_flops = ir->train_flops,
        .preprocess = ir->preprocess,
        .n_preprocess = ir->n_preprocess,
        .crop_to_aspect_ratio = ir->crop_to_aspect_ratio,
        .augment = ir->augment,
        .defaults = ir->config,
        .layer_flops = layer_flops,
    };
}

void print_summary(const cnnc_ir *ir, size_t act_floats, FILE *out)
{
    cnn_model m;
    double flops[CNN_MAX_LAYERS];
    as_model(ir, act_floats, &m, flops);
    cnn_summary_print(out, &m);
}
