/* names.c: edit distance and suggestion lists for diagnostics: the
 * compiler's (misspelled words of the language) and the trainer's
 * (misspelled flags). */
#include "cnn_names.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Optimal string alignment distance (Levenshtein plus adjacent swaps),
 * case-insensitive; words longer than 63 characters are never close. */
static int distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63)
        return 1000;
    int d[64][64];
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++) {
        for (int j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* 1 when `word` is `choice` followed by a separator and more: batch_size
 * for batch, --epochs-max for epochs. Keras's and PyTorch's longer names
 * (batch_size) are far from cnnc's short ones by edit distance. */
static int extends(const char *word, const char *choice)
{
    size_t n = strlen(choice);
    return n >= 3 && strlen(word) > n + 1 && !strncasecmp(word, choice, n) && (word[n] == '_' || word[n] == '-');
}

const char *cnn_names_closest(const char *word, const char *const *choices)
{
    const char *best = NULL;
    int best_d = 1000;
    for (const char *const *c = choices; *c; c++) {
        int d = distance(word, *c);
        if (d < best_d) {
            best_d = d;
            best = *c;
        }
    }
    int len = (int)strlen(word);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    if (best_d <= limit)
        return best;
    best = NULL;
    for (const char *const *c = choices; *c; c++)
        if (extends(word, *c) && (!best || strlen(*c) > strlen(best)))
            best = *c;
    return best;
}

void cnn_names_join(char *buf, int size, const char *const *choices)
{
    int n = 0, len = 0;
    while (choices[n])
        n++;
    buf[0] = '\0';
    for (int i = 0; i < n && len < size; i++)
        len += snprintf(buf + len, (size_t)(size - len), "%s%s",
                        i == 0 ? "" : i == n - 1 ? " or " : ", ", choices[i]);
}
