/* emit_descriptor.c: what the runtime reads of a generated model: the
 * descriptor `const cnn_model NAME_model` at the end of NAME.c (the layer
 * and tensor tables, preprocessing, augmentation and the training
 * defaults, with the enum values by their runtime names) and the header
 * NAME.h that declares it (runtime/include/cnn_model.h). */
#include <stdio.h>
#include <string.h>

#include "emit_descriptor.h"
#include "emit_util.h"

#ifndef CNNC_VERSION
#define CNNC_VERSION "unknown"
#endif

/* A C string literal: quotes, backslashes, '?' (trigraphs) and every byte
 * outside printable ASCII escaped, so any path survives. */
static void c_string(char *buf, size_t size, const char *s)
{
    size_t k = 0;
    if (size < 3) {
        buf[0] = 0;
        return;
    }
    buf[k++] = '"';
    for (; *s && k + 6 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\' || ch == '?') {
            buf[k++] = '\\';
            buf[k++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            k += (size_t)snprintf(buf + k, size - k, "\\%03o", ch);
        } else {
            buf[k++] = (char)ch;
        }
    }
    buf[k++] = '"';
    buf[k] = 0;
}

/* The runtime's enum names (runtime/include/cnn_model.h), indexed by value. */
#define ENUM_NAME(e) [e] = #e
static const char *const kind_names[] = {
    ENUM_NAME(CNN_CONV2D),  ENUM_NAME(CNN_MAXPOOL), ENUM_NAME(CNN_AVGPOOL),   ENUM_NAME(CNN_GLOBALAVGPOOL),
    ENUM_NAME(CNN_FLATTEN), ENUM_NAME(CNN_DENSE),   ENUM_NAME(CNN_DROPOUT),   ENUM_NAME(CNN_BATCHNORM),
    ENUM_NAME(CNN_ACTIVATION),
};
static const char *const act_names[] = {
    ENUM_NAME(CNN_ACT_LINEAR), ENUM_NAME(CNN_ACT_RELU),    ENUM_NAME(CNN_ACT_SIGMOID),
    ENUM_NAME(CNN_ACT_TANH),   ENUM_NAME(CNN_ACT_SOFTMAX), ENUM_NAME(CNN_ACT_LEAKY_RELU),
};
static const char *const layout_names[] = {
    ENUM_NAME(CNN_LAYOUT_PLAIN), ENUM_NAME(CNN_LAYOUT_HWIO), ENUM_NAME(CNN_LAYOUT_IO),
};
static const char *const init_names[] = {
    ENUM_NAME(CNN_INIT_GLOROT_UNIFORM), ENUM_NAME(CNN_INIT_ZEROS), ENUM_NAME(CNN_INIT_ONES),
};
static const char *const prep_names[] = {
    ENUM_NAME(CNN_PREP_GRAYSCALE), ENUM_NAME(CNN_PREP_EDGES), ENUM_NAME(CNN_PREP_BRIGHTNESS), ENUM_NAME(CNN_PREP_RESCALE),
};
static const char *const fill_names[] = {
    ENUM_NAME(CNN_FILL_REFLECT), ENUM_NAME(CNN_FILL_NEAREST), ENUM_NAME(CNN_FILL_CONSTANT),
};
static const char *const opt_names[] = {
    ENUM_NAME(CNN_OPT_ADAM), ENUM_NAME(CNN_OPT_SGD), ENUM_NAME(CNN_OPT_RMSPROP), ENUM_NAME(CNN_OPT_ADAMW),
};
static const char *const monitor_names[] = {
    ENUM_NAME(CNN_MON_VAL_LOSS), ENUM_NAME(CNN_MON_VAL_ACCURACY), ENUM_NAME(CNN_MON_LOSS), ENUM_NAME(CNN_MON_ACCURACY),
};
#undef ENUM_NAME

/* names[v], or "?" for a value outside the table (the generated C then
 * fails to compile, naming the field). */
static const char *enum_name(const char *const *names, size_t count, int v)
{
    return v >= 0 && (size_t)v < count && names[v] ? names[v] : "?";
}
#define ENUM_STR(names, v) enum_name(names, sizeof names / sizeof *names, (int)(v))

/* Whether tensor t is a dense weight that backward_update updates itself. */
static int updated_in_backward(const cnnc_plan *pl, int t)
{
    for (int i = 0; i < pl->n; i++)
        if (pl->layers[i].fuse_update && pl->layers[i].run_backward && pl->layers[i].l->first_tensor == t)
            return 1;
    return 0;
}

void emit_descriptor(cnnc_emitter *em, const cnnc_plan *pl)
{
    const cnnc_ir *ir = pl->ir;
    char s[2 * CNN_MAX_PATH + 64], f1[48], f2[48], f3[48], d1[48], d2[48], d3[48];
    const char *m = pl->model;

    em_line(em, "static size_t %s_work_floats(int batch)", m);
    em_open_block(em, "{");
    em_line(em, "return (size_t)WORK_FIXED + (size_t)(batch > 0 ? batch : 0) * WORK_PER_IMAGE;");
    em_close_block(em, "}");
    em_blank(em);

    em_open_block(em, "static const double %s_layer_flops[%d] = {", m, pl->n);
    for (int i = 0; i < pl->n; i++)
        em_line(em, "%s,", emit_double_lit(d1, sizeof d1, ir->cost[i].forward_flops));
    em_close_block(em, "};");
    em_blank(em);

    em_open_block(em, "static const cnn_layer %s_layers[%d] = {", m, pl->n);
    for (int i = 0; i < pl->n; i++) {
        const cnn_layer *l = &ir->layers[i];
        c_string(s, sizeof s, l->name);
        em_line(em, "{.name = %s, .line = %d, .kind = %s, .act = %s, .alpha = %s,", s, l->line,
                ENUM_STR(kind_names, l->kind), ENUM_STR(act_names, l->act), emit_float_lit(f1, sizeof f1, l->alpha));
        em_line(em, " .in = {%d, %d, %d, %d}, .out = {%d, %d, %d, %d}, .filters = %d,", l->in.h, l->in.w,
                l->in.c, l->in.rank, l->out.h, l->out.w, l->out.c, l->out.rank, l->filters);
        em_line(em, " .kh = %d, .kw = %d, .sh = %d, .sw = %d, .same = %d,", l->kh, l->kw, l->sh, l->sw,
                l->same);
        em_line(em, " .pad_top = %d, .pad_left = %d, .pad_bottom = %d, .pad_right = %d, .bias = %d,",
                l->pad_top, l->pad_left, l->pad_bottom, l->pad_right, l->bias);
        em_line(em, " .rate = %s, .momentum = %s, .epsilon = %s,", emit_float_lit(f1, sizeof f1, l->rate),
                emit_float_lit(f2, sizeof f2, l->momentum), emit_float_lit(f3, sizeof f3, l->epsilon));
        em_line(em, " .first_tensor = %d, .n_tensors = %d%s},", l->first_tensor, l->n_tensors,
                l->frozen ? ", .frozen = 1" : "");
    }
    em_close_block(em, "};");
    em_blank(em);

    if (ir->n_tensors > 0) {
        em_open_block(em, "static const cnn_tensor_info %s_tensors[%d] = {", m, ir->n_tensors);
        for (int t = 0; t < ir->n_tensors; t++) {
            const cnn_tensor_info *ti = &ir->tensors[t];
            c_string(s, sizeof s, ti->name);
            em_line(em, "{.name = %s, .rank = %d, .shape = {%d, %d, %d, %d}, .layout = %s,", s, ti->rank,
                    ti->shape[0], ti->shape[1], ti->shape[2], ti->shape[3], ENUM_STR(layout_names, ti->layout));
            em_line(em, " .offset = %zu, .count = %zu, .fan_in = %d, .fan_out = %d, .init = %s, .trainable = %d%s},",
                    ti->offset, ti->count, ti->fan_in, ti->fan_out, ENUM_STR(init_names, ti->init), ti->trainable,
                    updated_in_backward(pl, t) ? ", .update_in_backward = 1" : "");
        }
        em_close_block(em, "};");
        em_blank(em);
    }

    if (ir->n_preprocess > 0) {
        em_open_block(em, "static const cnn_prep_step %s_preprocess[%d] = {", m, ir->n_preprocess);
        for (int k = 0; k < ir->n_preprocess; k++)
            em_line(em, "{%s, %s, %s},", ENUM_STR(prep_names, ir->preprocess[k].kind),
                    emit_double_lit(d1, sizeof d1, ir->preprocess[k].value),
                    emit_double_lit(d2, sizeof d2, ir->preprocess[k].offset));
        em_close_block(em, "};");
        em_blank(em);
    }

    const cnn_config *c = &ir->config;
    const cnn_augment *au = &ir->augment;
    if (c->class_weight == CNN_CW_EXPLICIT) {
        em_open_block(em, "static const double %s_class_weights[%d] = {", m, c->n_class_weights);
        for (int k = 0; k < c->n_class_weights; k++)
            em_line(em, "%s,", emit_double_lit(d1, sizeof d1, c->class_weights[k]));
        em_close_block(em, "};");
        em_blank(em);
    }
    em_open_block(em, "const cnn_model %s_model = {", m);
    c_string(s, sizeof s, ir->name);
    em_line(em, ".name = %s,", s);
    c_string(s, sizeof s, ir->source_base);
    em_line(em, ".source = %s,", s);
    c_string(s, sizeof s, ir->source_hash);
    em_line(em, ".source_hash = %s,", s);
    em_line(em, ".in_h = %d, .in_w = %d, .in_c = %d,", ir->in_h, ir->in_w, ir->in_c);
    em_line(em, ".n_outputs = %d,", ir->n_outputs);
    em_line(em, ".final_act = %s,", ENUM_STR(act_names, ir->final_act));
    em_line(em, ".n_layers = %d,", pl->n);
    em_line(em, ".layers = %s_layers,", m);
    em_line(em, ".layer_flops = %s_layer_flops,", m);
    em_line(em, ".n_tensors = %d,", ir->n_tensors);
    if (ir->n_tensors > 0)
        em_line(em, ".tensors = %s_tensors,", m);
    else
        em_line(em, ".tensors = NULL,");
    em_line(em, ".n_params = %zu,", ir->n_params);
    em_line(em, ".n_trainable = %zu,", ir->n_trainable);
    em_line(em, ".act_floats = ACT_FLOATS,");
    em_line(em, ".work_floats = %s_work_floats,", m);
    em_line(em, ".forward_flops = %s,", emit_double_lit(d1, sizeof d1, ir->forward_flops));
    em_line(em, ".train_flops = %s,", emit_double_lit(d1, sizeof d1, ir->train_flops));
    em_line(em, ".forward = %s_forward,", m);
    em_line(em, ".backward = %s_backward,", m);
    if (plan_backward_update(pl))
        em_line(em, ".backward_update = %s_backward_update,", m);
    em_line(em, ".loss = %s_loss,", m);
    if (ir->n_preprocess > 0)
        em_line(em, ".preprocess = %s_preprocess,", m);
    else
        em_line(em, ".preprocess = NULL,");
    em_line(em, ".n_preprocess = %d,", ir->n_preprocess);
    em_line(em, ".crop_to_aspect_ratio = %d,", ir->crop_to_aspect_ratio);
    em_line(em, ".augment = {.flip = %d, .rotate = %s, .zoom = %s, .shear = %s,", au->flip,
            emit_double_lit(d1, sizeof d1, au->rotate), emit_double_lit(d2, sizeof d2, au->zoom),
            emit_double_lit(d3, sizeof d3, au->shear));
    em_line(em, "            .translate = %s, .brightness = %s, .contrast = %s,",
            emit_double_lit(d1, sizeof d1, au->translate), emit_double_lit(d2, sizeof d2, au->brightness),
            emit_double_lit(d3, sizeof d3, au->contrast));
    em_line(em, "            .rotate_fill = %s, .zoom_fill = %s,", ENUM_STR(fill_names, au->rotate_fill),
            ENUM_STR(fill_names, au->zoom_fill));
    em_line(em, "            .shear_fill = %s, .translate_fill = %s},", ENUM_STR(fill_names, au->shear_fill),
            ENUM_STR(fill_names, au->translate_fill));
    em_open_block(em, ".defaults = {");
    if (c->data) {
        c_string(s, sizeof s, c->data);
        em_line(em, ".data = %s,", s);
    } else {
        em_line(em, ".data = NULL,");
    }
    if (c->validation) {
        c_string(s, sizeof s, c->validation);
        em_line(em, ".validation = %s,", s);
    } else {
        em_line(em, ".validation = NULL,");
    }
    em_line(em, ".validation_split = %s,", emit_double_lit(d1, sizeof d1, c->validation_split));
    em_line(em, ".seed = %lluu,", (unsigned long long)c->seed);
    em_line(em, ".batch = %d,", c->batch);
    em_line(em, ".epochs = %d,", c->epochs);
    em_line(em, ".optimizer = {.kind = %s, .lr = %s,", ENUM_STR(opt_names, c->optimizer.kind),
            emit_double_lit(d1, sizeof d1, c->optimizer.lr));
    em_line(em, "              .beta1 = %s, .beta2 = %s, .epsilon = %s,",
            emit_double_lit(d1, sizeof d1, c->optimizer.beta1), emit_double_lit(d2, sizeof d2, c->optimizer.beta2),
            emit_double_lit(d3, sizeof d3, c->optimizer.epsilon));
    /* options added to the language later are written only when set, so
     * the descriptors of models without them stay as they were */
    int global = c->optimizer.global_clipnorm > 0;
    int extra = c->optimizer.weight_decay > 0 || c->optimizer.clipnorm > 0 || c->optimizer.clipvalue > 0 || global;
    em_line(em, "              .momentum = %s, .nesterov = %d, .rho = %s%s",
            emit_double_lit(d1, sizeof d1, c->optimizer.momentum), c->optimizer.nesterov,
            emit_double_lit(d2, sizeof d2, c->optimizer.rho), extra ? "," : "},");
    if (extra)
        em_line(em, "              .weight_decay = %s, .clipnorm = %s, .clipvalue = %s%s",
                emit_double_lit(d1, sizeof d1, c->optimizer.weight_decay),
                emit_double_lit(d2, sizeof d2, c->optimizer.clipnorm),
                emit_double_lit(d3, sizeof d3, c->optimizer.clipvalue), global ? "," : "},");
    if (global)
        em_line(em, "              .global_clipnorm = %s},",
                emit_double_lit(d1, sizeof d1, c->optimizer.global_clipnorm));
    em_line(em, ".loss = %s,", c->loss == CNN_LOSS_BINARY_CE ? "CNN_LOSS_BINARY_CE" : "CNN_LOSS_CATEGORICAL_CE");
    em_line(em, ".metrics = %d,", c->metrics);
    em_line(em, ".early_stopping = %d,", c->early_stopping);
    em_line(em, ".monitor = %s,", ENUM_STR(monitor_names, c->monitor));
    em_line(em, ".patience = %d,", c->patience);
    /* settings added to the language later are written only when set, so
     * the descriptors of models without them stay as they were */
    if (c->init) {
        c_string(s, sizeof s, c->init);
        em_line(em, ".init = %s,", s);
        if (c->init_partial)
            em_line(em, ".init_partial = 1,");
    }
    if (c->class_weight == CNN_CW_BALANCED)
        em_line(em, ".class_weight = CNN_CW_BALANCED,");
    else if (c->class_weight == CNN_CW_EXPLICIT)
        em_line(em, ".class_weight = CNN_CW_EXPLICIT, .n_class_weights = %d, .class_weights = %s_class_weights,",
                c->n_class_weights, m);
    const cnn_schedule_cfg *sc = &c->schedule;
    if (sc->kind != CNN_SCHED_NONE) {
        static const char *const kinds[] = {"CNN_SCHED_NONE", "CNN_SCHED_STEP", "CNN_SCHED_COSINE",
                                            "CNN_SCHED_PLATEAU"};
        em_line(em, ".schedule = {.kind = %s, .every = %d, .factor = %s, .decay_epochs = %d, .warmup = %d,",
                ENUM_STR(kinds, sc->kind), sc->every, emit_double_lit(d1, sizeof d1, sc->factor), sc->decay_epochs,
                sc->warmup);
        em_line(em, "             .alpha = %s, .monitor = %s, .patience = %d, .cooldown = %d,",
                emit_double_lit(d1, sizeof d1, sc->alpha), ENUM_STR(monitor_names, sc->monitor), sc->patience,
                sc->cooldown);
        em_line(em, "             .min_delta = %s, .min_lr = %s},", emit_double_lit(d1, sizeof d1, sc->min_delta),
                emit_double_lit(d2, sizeof d2, sc->min_lr));
    }
    em_close_block(em, "},");
    em_close_block(em, "};");
    em_blank(em);
    em_line(em, "#ifdef CNN_TRAINER_MAIN");
    em_line(em, "#include \"cnn_trainer.h\"");
    em_blank(em);
    em_line(em, "int main(int argc, char **argv)");
    em_open_block(em, "{");
    em_line(em, "return cnn_trainer_main(&%s_model, argc, argv);", m);
    em_close_block(em, "}");
    em_line(em, "#endif /* CNN_TRAINER_MAIN */");
}

int emit_descriptor_header(const cnnc_plan *pl, const char *dir)
{
    char path[CNNC_EM_PATH], file[CNN_MAX_NAME + 8], guard[CNN_MAX_NAME + 16];
    cnnc_emitter em;
    snprintf(file, sizeof file, "%s.h", pl->model);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return emit_error("output path too long: %s", dir);
    size_t k = 0;
    for (const char *c = pl->model; *c && k + 12 < sizeof guard; c++)
        guard[k++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
    strcpy(guard + k, "_MODEL_H");
    if (em_open(&em, path))
        return 1;
    em_line(&em, "/* %s: generated by cnnc %s from %s (FNV-1a 64 %s). Do not edit. */", file,
            CNNC_VERSION, pl->ir->source_base, pl->ir->source_hash);
    em_line(&em, "#ifndef %s", guard);
    em_line(&em, "#define %s", guard);
    em_blank(&em);
    em_line(&em, "#include \"cnn_model.h\"");
    em_blank(&em);
    em_line(&em, "/* The %s network: forward, backward, loss and everything the runtime needs. */",
            pl->model);
    em_line(&em, "extern const cnn_model %s_model;", pl->model);
    em_blank(&em);
    em_line(&em, "#endif");
    return em_close(&em);
}

/* For the export back end (emit_export.c): its class names. */
void emit_c_string(char *buf, size_t size, const char *s)
{
    c_string(buf, size, s);
}
