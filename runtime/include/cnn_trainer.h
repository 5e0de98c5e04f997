/* cnn_trainer.h: the trainer binary's entry point.
 *
 * A generated model file, compiled with -DCNN_TRAINER_MAIN, defines
 *     int main(int argc, char **argv) { return cnn_trainer_main(&NAME_model, argc, argv); }
 * and everything else (commands train, evaluate, predict, summary, bench;
 * flags; run folders; checkpoints) lives in the runtime. Returns the exit
 * status: 0 on success, 1 on a user error (with a message on stderr).
 */
#ifndef CNN_TRAINER_H
#define CNN_TRAINER_H

#include "cnn_model.h"

int cnn_trainer_main(const cnn_model *m, int argc, char **argv);

#endif
