/* evaluate.c: `NAME evaluate`: the metrics of saved weights on a data
 * folder or IDX file, and the confusion matrix. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_progress.h"
#include "cnn_run.h"
#include "cnn_util.h"

/* `evaluate --json`: one object, the numbers of the text report at full
 * precision: {"data", "images", "seconds", "loss", "accuracy", ["precision",
 * "recall", "auc",] "classes", "class_accuracy", "confusion"} (confusion
 * rows are true classes, columns predicted ones). A value that is not a
 * number (the accuracy of a class with no image) is null. */
static void json_number(double v)
{
    if (isfinite(v))
        printf("%.17g", v);
    else
        printf("null");
}

static void print_json(const cnn_metrics *mt, const char *data, const char *const *names, double seconds)
{
    printf("{\"data\": ");
    cnn_json_fputs(stdout, data);
    printf(", \"images\": %ld, \"seconds\": %.3f, \"loss\": ", mt->n, seconds);
    json_number(cnn_metrics_loss(mt));
    printf(", \"accuracy\": ");
    json_number(cnn_metrics_accuracy(mt));
    if (mt->binary) {
        printf(", \"precision\": ");
        json_number(cnn_metrics_precision(mt));
        printf(", \"recall\": ");
        json_number(cnn_metrics_recall(mt));
        printf(", \"auc\": ");
        json_number(cnn_metrics_auc(mt));
    }
    int k = mt->n_classes;
    printf(", \"classes\": [");
    for (int i = 0; i < k; i++) {
        if (i)
            printf(", ");
        if (names)
            cnn_json_fputs(stdout, names[i]);
        else
            printf("\"%d\"", i);
    }
    printf("], \"class_accuracy\": [");
    for (int i = 0; i < k; i++) {
        printf("%s", i ? ", " : "");
        json_number(cnn_metrics_class_accuracy(mt, i));
    }
    printf("], \"confusion\": [");
    for (int i = 0; i < k; i++) {
        printf("%s[", i ? ", " : "");
        for (int j = 0; j < k; j++)
            printf("%s%ld", j ? ", " : "", mt->confusion[(size_t)i * k + j]);
        printf("]");
    }
    printf("]}\n");
}

int cnn_cmd_evaluate(const cnn_model *m, const cnn_run_options *o)
{
    const cnn_config *c = &o->cfg;
    int rc = 1;
    char err[1024];
    const char *data = c->data;
    if (!data) {
        cnn_error(m, "evaluate needs data: give --data DIR (or an IDX file)");
        return 1;
    }
    if (cnn_check_default_data(m, o))
        return 1;
    cnn_apply_threads(o->threads);
    cnn_buffers b;
    cnn_metrics mt;
    memset(&mt, 0, sizeof mt);
    float *logits = NULL;
    char *classes = NULL;
    cnn_dataset *ds = NULL, *none = NULL;
    cnn_loader *l = NULL;
    int batch = c->batch;
    if (cnn_buffers_alloc(m, batch, &b) || !(logits = cnn_alloc_floats((size_t)batch * m->n_outputs)) ||
        cnn_metrics_init(&mt, m->n_outputs, m->final_act)) {
        cnn_error(m, "out of memory");
        goto out;
    }
    if (cnn_load_weights(m, o, b.params, &classes))
        goto out;
    cnn_data_options d;
    cnn_run_options o2 = *o;
    o2.cfg.validation = NULL;
    o2.cfg.validation_split = 0.0;
    o2.cfg.data = data;
    /* With --json, stdout holds the JSON object alone. */
    cnn_data_options_from(&o2, &d, o->quiet ? NULL : o->json ? stderr : stdout);
    d.table_label = "images"; /* not "training": this data is only evaluated */
    if (cnn_data_open(m, &d, &ds, &none, err, sizeof err)) {
        cnn_error(m, "%s", err);
        goto out;
    }
    int k = cnn_dataset_n_classes(ds);
    const char *names[256];
    if (classes) {
        char *tmp = strdup(classes);
        const char *wn[256];
        int nw = cnn_split_classes(tmp, wn, 256);
        int same = nw == k;
        for (int i = 0; same && i < k; i++)
            same = !strcmp(wn[i], cnn_dataset_class_name(ds, i));
        if (!same)
            cnn_warning(m, "the classes of %s differ from those the weights were trained on; labels are "
                           "matched by position (sorted folder names)", data);
        free(tmp);
    }
    for (int i = 0; i < k && i < 256; i++)
        names[i] = cnn_dataset_class_name(ds, i);
    l = cnn_loader_create(m, ds, batch, 0, c->seed, err, sizeof err);
    if (!l) {
        cnn_error(m, "%s", err);
        goto out;
    }
    double t0 = cnn_now();
    cnn_eval_pass(m, &b, l, logits, &mt, c->seed, 0);
    double dt = cnn_now() - t0;
    int finite = isfinite(cnn_metrics_loss(&mt));
    if (o->json) {
        print_json(&mt, data, k <= 256 ? names : NULL, dt);
    } else {
        printf("Evaluated %ld image%s of %s in %.1f s (%.0f images/s)\n", mt.n, cnn_plural(mt.n), data, dt,
               dt > 0 ? mt.n / dt : 0.0);
        printf("loss: %.4f\naccuracy: %.4f\n", cnn_metrics_loss(&mt), cnn_metrics_accuracy(&mt));
        if (mt.binary) {
            printf("precision: %.4f\nrecall: %.4f\nauc: %.4f\n", cnn_metrics_precision(&mt), cnn_metrics_recall(&mt),
                   cnn_metrics_auc(&mt));
        }
        cnn_metrics_print_report(stdout, &mt, k <= 256 ? names : NULL, data);
    }
    rc = 0;
    if (!finite) {
        cnn_error(m, "the loss is not finite: a batch of %s overflowed the model", data);
        rc = 1;
    }
out:
    cnn_loader_free(l);
    cnn_dataset_free(ds);
    cnn_dataset_free(none);
    cnn_buffers_free(&b);
    free(logits);
    free(classes);
    cnn_metrics_free(&mt);
    return rc;
}
