/* cnn_run_lock.h: one trainer per run folder. `train` holds an exclusive
 * flock on OUT/lock for its whole run (the kernel releases it when the
 * process ends in any way, so nothing stale is left) and writes its pid
 * there for the refusal message of a second trainer. */
#ifndef CNN_RUN_LOCK_H
#define CNN_RUN_LOCK_H

#include <stddef.h>

/* Takes the lock of run folder out (which exists). Returns the descriptor
 * to keep open until the run ends; -1 with the refusal in err (another
 * trainer holds it: its pid is named) or an error; -2 with a warning in err
 * when the file system has no locks (the run may go on). */
int cnn_run_lock(const char *out, char *err, size_t errlen);

/* Removes the temporary files of the trainer's own run-folder files
 * (checkpoint.safetensors.tmp.PID, ...) left by a killed trainer; call with
 * the lock held, when no live writer can own one. Other files are never
 * touched. */
void cnn_run_remove_stale(const char *out);

#endif
