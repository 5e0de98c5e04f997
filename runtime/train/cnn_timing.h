/* cnn_timing.h: timing.csv in the run folder: where each epoch's time
 * went, one row per epoch (numbered from 1, as history.csv):
 *
 *   epoch,images,seconds,train_seconds,batch_seconds,val_images,val_seconds
 *
 * images         training images of the epoch's steps (fewer in an epoch
 *                that a resume started in the middle of)
 * seconds        the whole epoch: training, validation, and the files
 *                written at its end (checkpoint, best weights, history)
 * train_seconds  the training phase: the steps and the batches made
 *                between them (images / train_seconds is the rate to set
 *                against `NAME bench`'s training step)
 * batch_seconds  the part of train_seconds spent making batches
 *                (conversion, augmentation)
 * val_images, val_seconds  the validation pass (0 and 0 without one)
 *
 * The progress line's img/s is images / (train_seconds + val_seconds):
 * Keras's convention, validation included. Times are wall-clock seconds.
 * A resumed run keeps the rows of the epochs its checkpoint holds ("nan"
 * where the file lacks them) and replaces the later ones. The table
 * is a cnn_history with these columns (same CSV, same atomic writes). */
#ifndef CNN_TIMING_H
#define CNN_TIMING_H

#include "cnn_history.h"

enum { CNN_TIMING_IMAGES, CNN_TIMING_SECONDS, CNN_TIMING_TRAIN, CNN_TIMING_BATCH, CNN_TIMING_VAL_IMAGES,
       CNN_TIMING_VAL, CNN_TIMING_COLS };

void cnn_timing_init(cnn_history *t);
/* For a resumed run after `epochs` epochs: the first `epochs` rows of the
 * timing.csv at path when it has this table's columns, rows of NaN for the
 * epochs it lacks. Returns 0, or -1 when out of memory. */
int cnn_timing_resume(cnn_history *t, const char *path, int epochs);

#endif
