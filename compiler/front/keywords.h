/* keywords.h: the words of the language that name enum values, in the
 * order of the runtime's enums (runtime/include/cnn_model.h), so an enum
 * value indexes its word. The checker reads them, and the summary and the
 * C back end print them, from this one table. Each list ends with NULL, so
 * it can be given to names_closest(). */
#ifndef CNNC_KEYWORDS_H
#define CNNC_KEYWORDS_H

extern const char *const kw_activations[]; /* cnn_act */
extern const char *const kw_fills[];       /* cnn_fill */
extern const char *const kw_flips[];       /* CNN_FLIP_* bits minus 1: 1 horizontal, 2 vertical, 3 both */
extern const char *const kw_optimizers[];  /* cnn_optimizer_kind */
extern const char *const kw_monitors[];    /* cnn_monitor */
extern const char *const kw_losses[];      /* cnn_loss_kind */

#endif
