/* check_layers.c: the layers block (pass 2 of the checker). Each layer
 * statement's values and options are read and the layer is recorded with
 * its own settings and defaults (Keras's); shapes come later (shapes.c). */
#include <string.h>

#include "check_impl.h"
#include "cnn_words.h"
#include "statements.h"

static int parse_act(checker *c, const ast_value *v, cnn_act *out)
{
    int i;
    if (!want_word(c, v, "activation", cnn_act_words, &i))
        return 0;
    *out = (cnn_act)i;
    return 1;
}

void check_layer_stmt(checker *c, const ast_stmt *st)
{
    const stmt_spec *spec = find_spec(layer_specs, st->name);
    if (!spec) {
        unknown_statement(c, st, "layer", layer_specs);
        return;
    }
    stmt_args a;
    if (!collect_args(c, st, spec, &a))
        return;
    if (c->n_layers == CNN_MAX_LAYERS) {
        diag_error(c->d, st->loc, "too many layers: cnnc supports at most %d", CNN_MAX_LAYERS);
        return;
    }
    pending_layer *p = &c->layers[c->n_layers];
    memset(p, 0, sizeof *p);
    p->st = st;
    p->kind_index = (int)(spec - layer_specs);
    cnn_layer *L = &p->L;
    L->line = st->loc.line;
    L->sh = L->sw = 1;
    L->kh = L->kw = 1;
    L->act = CNN_ACT_LINEAR;
    L->alpha = 0.3f;
    L->first_tensor = -1;
    p->act_loc = st->loc;
    int ok = 1;
    const ast_value *v;
    long n;
    double x;
    int b;

    if (strcmp(st->name, "conv2d") == 0) {
        L->kind = CNN_CONV2D;
        L->bias = 1;
        ok &= want_int(c, a.pos[0], "the number of filters", 1, 65536, &n);
        L->filters = (int)n;
        ok &= want_size2(c, a.pos[1], "kernel", 1024, &L->kh, &L->kw);
        if (a.n_pos > 2) {
            ok &= parse_act(c, a.pos[2], &L->act);
            p->act_loc = a.pos[2]->loc;
        }
        if ((v = get_opt(&a, "stride")))
            ok &= want_size2(c, v, "stride", 1024, &L->sh, &L->sw);
        if ((v = get_opt(&a, "padding"))) {
            static const char *const pads[] = {"valid", "same", NULL};
            int i;
            ok &= want_word(c, v, "padding", pads, &i);
            L->same = i == 1;
        }
        if ((v = get_opt(&a, "bias")) && want_bool(c, v, "bias", &b))
            L->bias = b;
    } else if (strcmp(st->name, "maxpool") == 0 || strcmp(st->name, "avgpool") == 0) {
        L->kind = st->name[0] == 'm' ? CNN_MAXPOOL : CNN_AVGPOOL;
        L->kh = L->kw = 2;
        if (a.n_pos > 0)
            ok &= want_size2(c, a.pos[0], "pool size", 1024, &L->kh, &L->kw);
        L->sh = L->kh;
        L->sw = L->kw;
        if ((v = get_opt(&a, "stride")))
            ok &= want_size2(c, v, "stride", 1024, &L->sh, &L->sw);
    } else if (strcmp(st->name, "globalavgpool") == 0) {
        L->kind = CNN_GLOBALAVGPOOL;
    } else if (strcmp(st->name, "flatten") == 0) {
        L->kind = CNN_FLATTEN;
    } else if (strcmp(st->name, "dense") == 0) {
        L->kind = CNN_DENSE;
        L->bias = 1;
        ok &= want_int(c, a.pos[0], "the number of units", 1, 1 << 20, &n);
        L->filters = (int)n;
        if (a.n_pos > 1) {
            ok &= parse_act(c, a.pos[1], &L->act);
            p->act_loc = a.pos[1]->loc;
        }
    } else if (strcmp(st->name, "dropout") == 0) {
        L->kind = CNN_DROPOUT;
        ok &= want_real(c, a.pos[0], "the dropout rate", 0, 0, 1, 1, &x);
        L->rate = (float)x;
    } else if (strcmp(st->name, "batchnorm") == 0) {
        L->kind = CNN_BATCHNORM;
        L->momentum = 0.99f;
        L->epsilon = 0.001f;
        if ((v = get_opt(&a, "momentum")) && want_real(c, v, "batchnorm momentum", 0, 0, 1, 1, &x))
            L->momentum = (float)x;
        if ((v = get_opt(&a, "epsilon")) && want_real(c, v, "batchnorm epsilon", 0, 1, 1, 0, &x))
            L->epsilon = (float)x;
    } else {
        /* a standalone activation: relu, sigmoid, tanh, softmax, leaky_relu */
        L->kind = CNN_ACTIVATION;
        for (int i = 0; cnn_act_words[i]; i++)
            if (strcmp(cnn_act_words[i], st->name) == 0)
                L->act = (cnn_act)i;
        if ((v = get_opt(&a, "alpha")) && want_real(c, v, "leaky_relu alpha", 0, 0, 1, 0, &x))
            L->alpha = (float)x;
    }
    /* trainable=false (Keras's layer.trainable = False): only layers with weights take it */
    if ((v = get_opt(&a, "trainable")) && want_bool(c, v, "trainable", &b))
        L->frozen = !b;
    if (ok)
        c->n_layers++;
}
