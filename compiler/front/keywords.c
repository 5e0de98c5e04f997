/* keywords.c: see keywords.h. */
#include "keywords.h"

#include <stddef.h>

const char *const kw_activations[] = {"linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", NULL};
const char *const kw_fills[] = {"reflect", "nearest", "constant", NULL};
const char *const kw_flips[] = {"horizontal", "vertical", "horizontal_and_vertical", NULL};
const char *const kw_optimizers[] = {"adam", "sgd", "rmsprop", NULL};
const char *const kw_monitors[] = {"val_loss", "val_accuracy", "loss", "accuracy", NULL};
const char *const kw_losses[] = {"binary_crossentropy", "categorical_crossentropy", NULL};
