/* keywords.c: see keywords.h. */
#include "keywords.h"

#include <stddef.h>

#include "cnn_model.h"

const char *const kw_activations[] = {"linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", NULL};
const char *const kw_fills[] = {"reflect", "nearest", "constant", NULL};
const char *const kw_flips[] = {"horizontal", "vertical", "horizontal_and_vertical", NULL};
const char *const kw_optimizers[] = {"adam", "sgd", "rmsprop", "adamw", NULL};
const char *const kw_monitors[] = {"val_loss", "val_accuracy", "loss", "accuracy", NULL};
const char *const kw_losses[] = {"binary_crossentropy", "categorical_crossentropy", NULL};

/* one word per enum value, and the NULL */
#define COUNT(a) (sizeof a / sizeof *a)
_Static_assert(COUNT(kw_activations) == CNN_ACT_LEAKY_RELU + 2, "kw_activations follows cnn_act");
_Static_assert(COUNT(kw_fills) == CNN_FILL_CONSTANT + 2, "kw_fills follows cnn_fill");
_Static_assert(COUNT(kw_optimizers) == CNN_OPT_ADAMW + 2, "kw_optimizers follows cnn_optimizer_kind");
_Static_assert(COUNT(kw_monitors) == CNN_MON_ACCURACY + 2, "kw_monitors follows cnn_monitor");
_Static_assert(COUNT(kw_losses) == CNN_LOSS_CATEGORICAL_CE + 2, "kw_losses follows cnn_loss_kind");
