/* names.h: "did you mean" suggestions for misspelled words. */
#ifndef CNNC_NAMES_H
#define CNNC_NAMES_H

/* The closest of `choices` (NULL-terminated) to `word`: a case-insensitive
 * match, or one within an edit distance of about a third of its length.
 * NULL when nothing is close. */
const char *names_closest(const char *word, const char *const *choices);

/* Writes "a, b or c" into buf. */
void names_join(char *buf, int size, const char *const *choices);

#endif
