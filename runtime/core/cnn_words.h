/* cnn_words.h: the words of the .cnn language that name the enum values of
 * cnn_model.h, one table per enum in the enum's order, each ending with
 * NULL: a value indexes its word, and a table can be given to
 * cnn_names_closest (cnn_names.h). The compiler's checker reads them; the
 * summaries, the PyTorch twin, the trainer's flags and its messages print
 * them. libc only, so that cnnc compiles it too. */
#ifndef CNN_WORDS_H
#define CNN_WORDS_H

extern const char *const cnn_act_words[];       /* cnn_act */
extern const char *const cnn_fill_words[];      /* cnn_fill */
extern const char *const cnn_flip_words[];      /* CNN_FLIP_* bits minus 1: 1 horizontal, 2 vertical, 3 both */
extern const char *const cnn_optimizer_words[]; /* cnn_optimizer_kind */
extern const char *const cnn_monitor_words[];   /* cnn_monitor */
extern const char *const cnn_loss_words[];      /* cnn_loss_kind */
extern const char *const cnn_metric_words[];    /* CNN_METRIC_* bits: word i is bit 1 << i */

/* words[v], or "?" when v is not an index of the table. */
const char *cnn_word(const char *const *words, int v);

/* The index of `word` in the table, or -1. */
int cnn_word_index(const char *const *words, const char *word);

#endif
