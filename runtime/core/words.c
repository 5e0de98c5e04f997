/* words.c: see cnn_words.h. */
#include "cnn_words.h"

#include <stddef.h>
#include <string.h>

#include "cnn_model.h"

const char *const cnn_act_words[] = {"linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", NULL};
const char *const cnn_fill_words[] = {"reflect", "nearest", "constant", NULL};
const char *const cnn_flip_words[] = {"horizontal", "vertical", "horizontal_and_vertical", NULL};
const char *const cnn_optimizer_words[] = {"adam", "sgd", "rmsprop", "adamw", NULL};
const char *const cnn_monitor_words[] = {"val_loss", "val_accuracy", "loss", "accuracy", NULL};
const char *const cnn_loss_words[] = {"binary_crossentropy", "categorical_crossentropy", NULL};
const char *const cnn_metric_words[] = {"accuracy", "precision", "recall", "auc", NULL};

/* one word per enum value, and the NULL */
#define COUNT(a) (sizeof a / sizeof *a)
_Static_assert(COUNT(cnn_act_words) == CNN_ACT_LEAKY_RELU + 2, "cnn_act_words follows cnn_act");
_Static_assert(COUNT(cnn_fill_words) == CNN_FILL_CONSTANT + 2, "cnn_fill_words follows cnn_fill");
_Static_assert(COUNT(cnn_optimizer_words) == CNN_OPT_ADAMW + 2, "cnn_optimizer_words follows cnn_optimizer_kind");
_Static_assert(COUNT(cnn_monitor_words) == CNN_MON_ACCURACY + 2, "cnn_monitor_words follows cnn_monitor");
_Static_assert(COUNT(cnn_loss_words) == CNN_LOSS_CATEGORICAL_CE + 2, "cnn_loss_words follows cnn_loss_kind");
_Static_assert(CNN_METRIC_AUC == 1 << (COUNT(cnn_metric_words) - 2), "cnn_metric_words follows the CNN_METRIC_* bits");

const char *cnn_word(const char *const *words, int v)
{
    for (int i = 0; words[i]; i++)
        if (i == v)
            return words[i];
    return "?";
}

int cnn_word_index(const char *const *words, const char *word)
{
    for (int i = 0; words[i]; i++)
        if (strcmp(words[i], word) == 0)
            return i;
    return -1;
}
