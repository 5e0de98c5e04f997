/* ir_model.c: see ir_model.h. */
#include "ir_model.h"

#include <string.h>

void ir_model_from_ir(const cnnc_ir *ir, cnn_model *m)
{
    memset(m, 0, sizeof *m);
    m->name = ir->name;
    m->source = ir->source_base;
    m->source_hash = ir->source_hash;
    m->in_h = ir->in_h;
    m->in_w = ir->in_w;
    m->in_c = ir->in_c;
    m->n_outputs = ir->n_outputs;
    m->final_act = ir->final_act;
    m->n_layers = ir->n_layers;
    m->layers = ir->layers;
    m->n_tensors = ir->n_tensors;
    m->tensors = ir->tensors;
    m->n_params = ir->n_params;
    m->n_trainable = ir->n_trainable;
    m->act_floats = ir->act_floats;
    m->forward_flops = ir->forward_flops;
    m->train_flops = ir->train_flops;
    m->defaults = ir->config;
}
