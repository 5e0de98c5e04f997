/* summary.c: see cnn_summary.h. Byte sizes are in powers of 1024 and say
 * so (KiB, MiB, GiB); counts have thousands separators. */
#include "cnn_summary.h"

#include <string.h>

#include "cnn_util.h"

static const char *keras_type(const cnn_layer *L)
{
    switch (L->kind) {
    case CNN_CONV2D: return "Conv2D";
    case CNN_MAXPOOL: return "MaxPooling2D";
    case CNN_AVGPOOL: return "AveragePooling2D";
    case CNN_GLOBALAVGPOOL: return "GlobalAveragePooling2D";
    case CNN_FLATTEN: return "Flatten";
    case CNN_DENSE: return "Dense";
    case CNN_DROPOUT: return "Dropout";
    case CNN_BATCHNORM: return "BatchNormalization";
    case CNN_ACTIVATION:
        switch (L->act) {
        case CNN_ACT_RELU: return "ReLU";
        case CNN_ACT_LEAKY_RELU: return "LeakyReLU";
        case CNN_ACT_SOFTMAX: return "Softmax";
        default: return "Activation";
        }
    }
    return "?";
}

/* The language's words for the enum values the summary prints (the
 * compiler's own lists are in compiler/front/keywords.c, above this floor). */
static const char *fill_word(cnn_fill f)
{
    return f == CNN_FILL_NEAREST ? "nearest" : f == CNN_FILL_CONSTANT ? "constant" : "reflect";
}

static const char *flip_word(int flip)
{
    return (flip & 3) == 3 ? "horizontal_and_vertical" : (flip & 3) == 2 ? "vertical" : "horizontal";
}

static const char *monitor_word(cnn_monitor m)
{
    static const char *const w[] = {"val_loss", "val_accuracy", "loss", "accuracy"};
    return m >= CNN_MON_VAL_LOSS && m <= CNN_MON_ACCURACY ? w[m] : "?";
}

static const char *optimizer_word(cnn_optimizer_kind k)
{
    return k == CNN_OPT_SGD ? "sgd" : k == CNN_OPT_RMSPROP ? "rmsprop" : k == CNN_OPT_ADAMW ? "adamw" : "adam";
}

/* 1848417 -> "1,848,417" */
static void commas(double v, char *buf, size_t cap)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        buf[o++] = digits[i];
        if ((n - i - 1) % 3 == 0 && i + 1 < n)
            buf[o++] = ',';
    }
    buf[o] = '\0';
}

static void bytes_str(double b, char *buf, size_t cap)
{
    if (b < 1024)
        snprintf(buf, cap, "%.0f B", b);
    else if (b < 1024.0 * 1024)
        snprintf(buf, cap, "%.2f KiB", b / 1024);
    else if (b < 1024.0 * 1024 * 1024)
        snprintf(buf, cap, "%.2f MiB", b / (1024.0 * 1024));
    else
        snprintf(buf, cap, "%.2f GiB", b / (1024.0 * 1024 * 1024));
}

static void flops_str(double f, char *buf, size_t cap)
{
    if (f >= 1e9)
        snprintf(buf, cap, "%.2f GFLOP", f / 1e9);
    else if (f >= 1e6)
        snprintf(buf, cap, "%.1f MFLOP", f / 1e6);
    else if (f >= 1e3)
        snprintf(buf, cap, "%.1f kFLOP", f / 1e3);
    else
        snprintf(buf, cap, "%.0f FLOP", f);
}

static double layer_params(const cnn_model *m, const cnn_layer *L)
{
    double n = 0;
    for (int t = L->first_tensor; t >= 0 && t < L->first_tensor + L->n_tensors; t++)
        n += (double)m->tensors[t].count;
    return n;
}

double cnn_summary_peak_training_bytes(const cnn_model *m, int batch)
{
    const cnn_optimizer *o = &m->defaults.optimizer;
    double state = o->kind == CNN_OPT_ADAM || o->kind == CNN_OPT_ADAMW ? 2 : o->kind == CNN_OPT_RMSPROP ? 1
                 : o->momentum > 0 ? 1 : 0;
    double in = (double)m->in_h * m->in_w * m->in_c, largest = in;
    for (int i = 0; i < m->n_layers; i++) {
        const cnn_shape *s = &m->layers[i].out;
        if ((double)s->h * s->w * s->c > largest)
            largest = (double)s->h * s->w * s->c;
    }
    double floats = (double)m->n_params + (1 + state) * (double)m->n_trainable +
                    batch * (in + (double)m->act_floats + 2 * largest);
    return 4 * floats;
}

/* What happens to an image before the network sees it. */
static void print_pipeline(const cnn_model *m, FILE *out)
{
    fputs(" Preprocess:", out);
    if (m->crop_to_aspect_ratio)
        fputs(" crop_to_aspect_ratio,", out);
    fputs(" resize (bilinear)", out);
    for (int i = 0; i < m->n_preprocess; i++) {
        const cnn_prep_step *p = &m->preprocess[i];
        switch (p->kind) {
        case CNN_PREP_GRAYSCALE: fputs(", grayscale", out); break;
        case CNN_PREP_EDGES: fputs(", edges", out); break;
        case CNN_PREP_BRIGHTNESS: fprintf(out, ", brightness %g", p->value); break;
        case CNN_PREP_RESCALE: fprintf(out, ", rescale %g offset %g", p->value, p->offset); break;
        }
    }
    fputc('\n', out);
    const cnn_augment *a = &m->augment;
    int n = 0;
    fputs(" Augment (training only):", out);
    if (a->flip)
        fprintf(out, "%s flip %s", n++ ? "," : "", flip_word(a->flip));
    if (a->rotate > 0)
        fprintf(out, "%s rotate %g (%s)", n++ ? "," : "", a->rotate, fill_word(a->rotate_fill));
    if (a->zoom > 0)
        fprintf(out, "%s zoom %g (%s)", n++ ? "," : "", a->zoom, fill_word(a->zoom_fill));
    if (a->shear > 0)
        fprintf(out, "%s shear %g (%s)", n++ ? "," : "", a->shear, fill_word(a->shear_fill));
    if (a->translate > 0)
        fprintf(out, "%s translate %g (%s)", n++ ? "," : "", a->translate, fill_word(a->translate_fill));
    if (a->brightness > 0)
        fprintf(out, "%s brightness %g", n++ ? "," : "", a->brightness);
    if (a->contrast > 0)
        fprintf(out, "%s contrast %g", n++ ? "," : "", a->contrast);
    fputs(n ? "\n" : " none\n", out);
}

/* The train block with every default filled in. */
static void print_training(const cnn_model *m, FILE *out)
{
    const cnn_config *c = &m->defaults;
    const cnn_optimizer *o = &c->optimizer;
    fprintf(out, " Data: %s%s%s", c->data ? "\"" : "", c->data ? c->data : "(none: give --data)",
            c->data ? "\"" : "");
    if (c->validation)
        fprintf(out, ", validation \"%s\"\n", c->validation);
    else
        fprintf(out, ", validation_split %g (stratified)\n", c->validation_split);
    fprintf(out, " Train: %d epoch%s, batch %d, seed %llu, ", c->epochs, cnn_plural(c->epochs), c->batch,
            (unsigned long long)c->seed);
    switch (o->kind) {
    case CNN_OPT_ADAM:
    case CNN_OPT_ADAMW:
        fprintf(out, "%s lr=%g beta1=%g beta2=%g epsilon=%g", optimizer_word(o->kind), o->lr, o->beta1, o->beta2,
                o->epsilon);
        break;
    case CNN_OPT_SGD:
        fprintf(out, "sgd lr=%g momentum=%g nesterov=%s", o->lr, o->momentum, o->nesterov ? "true" : "false");
        break;
    case CNN_OPT_RMSPROP:
        fprintf(out, "rmsprop lr=%g rho=%g epsilon=%g", o->lr, o->rho, o->epsilon);
        break;
    }
    if (o->weight_decay > 0)
        fprintf(out, " weight_decay=%g", o->weight_decay);
    if (o->clipnorm > 0)
        fprintf(out, " clipnorm=%g", o->clipnorm);
    if (o->clipvalue > 0)
        fprintf(out, " clipvalue=%g", o->clipvalue);
    if (o->global_clipnorm > 0)
        fprintf(out, " global_clipnorm=%g", o->global_clipnorm);
    fputc('\n', out);
    const cnn_schedule_cfg *sc = &c->schedule;
    if (sc->kind == CNN_SCHED_STEP)
        fprintf(out, " Learning rate: step_decay every=%d factor=%g\n", sc->every, sc->factor);
    else if (sc->kind == CNN_SCHED_COSINE && sc->decay_epochs)
        fprintf(out, " Learning rate: cosine_decay epochs=%d warmup=%d alpha=%g\n", sc->decay_epochs, sc->warmup,
                sc->alpha);
    else if (sc->kind == CNN_SCHED_COSINE)
        fprintf(out, " Learning rate: cosine_decay over the run's epochs after warmup=%d, alpha=%g\n", sc->warmup,
                sc->alpha);
    else if (sc->kind == CNN_SCHED_PLATEAU)
        fprintf(out, " Learning rate: reduce_lr_on_plateau monitor=%s factor=%g patience=%d min_delta=%g "
                     "cooldown=%d min_lr=%g\n", monitor_word(sc->monitor), sc->factor, sc->patience, sc->min_delta,
                sc->cooldown, sc->min_lr);
    if (c->class_weight == CNN_CW_BALANCED)
        fputs(" Class weights: balanced (n / (classes x count) over the training split)\n", out);
    else if (c->class_weight == CNN_CW_EXPLICIT) {
        fputs(" Class weights:", out);
        for (int k = 0; k < c->n_class_weights; k++)
            fprintf(out, " %g", c->class_weights[k]);
        fputc('\n', out);
    }
    if (c->init)
        fprintf(out, " Init: weights from \"%s\"%s\n", c->init,
                c->init_partial ? " (partial: tensors that differ keep their fresh initialization)" : "");
    fputs(" Metrics: accuracy", out);
    if (c->metrics & CNN_METRIC_PRECISION)
        fputs(", precision", out);
    if (c->metrics & CNN_METRIC_RECALL)
        fputs(", recall", out);
    if (c->metrics & CNN_METRIC_AUC)
        fputs(", auc", out);
    if (c->early_stopping)
        fprintf(out, "; early stopping on %s, patience %d\n", monitor_word(c->monitor), c->patience);
    else
        fputs("; no early stopping\n", out);
}

void cnn_summary_print(FILE *out, const cnn_model *m)
{
    const char *rule = "______________________________________________________________________________________________";
    const char *dbl = "==============================================================================================";
    char a[64], b[64], c[64];

    fprintf(out, "Model: \"%s\" (%s)\n%s\n", m->name, m->source ? m->source : "?", rule);
    fprintf(out, " %-40s %-24s %12s %15s\n%s\n", "Layer (type)", "Output Shape", "Param #", "Forward FLOPs", dbl);
    for (int i = 0; i < m->n_layers; i++) {
        const cnn_layer *L = &m->layers[i];
        char name[80], shape[48];
        snprintf(name, sizeof name, "%s (%s%s)", L->name, keras_type(L), L->frozen ? ", frozen" : "");
        if (L->out.rank == 1)
            snprintf(shape, sizeof shape, "(None, %d)", L->out.c);
        else
            snprintf(shape, sizeof shape, "(None, %d, %d, %d)", L->out.h, L->out.w, L->out.c);
        commas(layer_params(m, L), a, sizeof a);
        if (m->layer_flops)
            commas(m->layer_flops[i], b, sizeof b);
        else
            snprintf(b, sizeof b, "?");
        fprintf(out, " %-40s %-24s %12s %15s\n", name, shape, a, b);
    }
    double total = (double)m->n_params, trainable = (double)m->n_trainable;
    fprintf(out, "%s\n", dbl);
    commas(total, a, sizeof a);
    bytes_str(4 * total, b, sizeof b);
    fprintf(out, " Total params: %s (%s)\n", a, b);
    commas(trainable, a, sizeof a);
    bytes_str(4 * trainable, b, sizeof b);
    fprintf(out, " Trainable params: %s (%s)\n", a, b);
    commas(total - trainable, a, sizeof a);
    bytes_str(4 * (total - trainable), b, sizeof b);
    fprintf(out, " Non-trainable params: %s (%s)\n%s\n", a, b, rule);

    const cnn_config *cfg = &m->defaults;
    fprintf(out, " Input: %dx%dx%d; output: %d %s unit%s, loss %s\n", m->in_h, m->in_w, m->in_c, m->n_outputs,
            m->final_act == CNN_ACT_SIGMOID ? "sigmoid" : "softmax", cnn_plural(m->n_outputs),
            cfg->loss == CNN_LOSS_BINARY_CE ? "binary_crossentropy" : "categorical_crossentropy");
    flops_str(m->forward_flops, a, sizeof a);
    flops_str(m->train_flops, b, sizeof b);
    fprintf(out, " Forward: %s per image; training: %s per image (forward + backward)\n", a, b);
    bytes_str(4 * total, a, sizeof a);
    bytes_str(4.0 * (double)m->act_floats, b, sizeof b);
    fprintf(out, " Parameter bytes: %s (float32); activation bytes: %s per image\n", a, b);
    bytes_str(cnn_summary_peak_training_bytes(m, cfg->batch), c, sizeof c);
    fprintf(out, " Peak training memory at batch %d with %s: %s (estimate)\n", cfg->batch,
            optimizer_word(cfg->optimizer.kind), c);
    print_pipeline(m, out);
    print_training(m, out);
}
