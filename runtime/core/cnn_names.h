/* cnn_names.h: "did you mean" suggestions for misspelled words: the
 * compiler's diagnostics (compiler/front/names.h) and the trainer's flags.
 * libc only, so that cnnc compiles it too. */
#ifndef CNN_NAMES_H
#define CNN_NAMES_H

/* The closest of `choices` (NULL-terminated) to `word`: a case-insensitive
 * match, or one within an edit distance of about a third of its length, or
 * failing that the longest choice that `word` extends with '_' or '-' and
 * more (batch_size: batch). NULL when nothing is close. */
const char *cnn_names_closest(const char *word, const char *const *choices);

/* Writes "a, b or c" into buf. */
void cnn_names_join(char *buf, int size, const char *const *choices);

#endif
