/* names.h: "did you mean" suggestions for misspelled words: the runtime's
 * (runtime/core/names.c, shared with the trainer's flags) under the front
 * end's names. */
#ifndef CNNC_NAMES_H
#define CNNC_NAMES_H

#include "cnn_names.h"

static inline const char *names_closest(const char *word, const char *const *choices)
{
    return cnn_names_closest(word, choices);
}

static inline void names_join(char *buf, int size, const char *const *choices)
{
    cnn_names_join(buf, size, choices);
}

#endif
