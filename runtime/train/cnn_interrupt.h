/* cnn_interrupt.h: Ctrl-C during training. The first SIGINT asks the
 * training loop to stop after the step in progress (it then saves the
 * checkpoint and the model, each written atomically, and exits with status
 * 130); a second one ends the process at once, with the same status. Files
 * are written to a temporary name and renamed, so a second Ctrl-C in the
 * middle of a save leaves the previous file whole. */
#ifndef CNN_INTERRUPT_H
#define CNN_INTERRUPT_H

/* 128 + SIGINT: what a shell reports for a process ended by Ctrl-C. */
#define CNN_EXIT_INTERRUPTED 130

/* Installs the handler (the trainer does so when its first step starts,
 * and removes it once the run's last file is written: before and after,
 * nothing is lost by the default, immediate exit). */
void cnn_interrupt_install(void);

/* Restores the previous SIGINT disposition. */
void cnn_interrupt_remove(void);

/* 1 once a SIGINT has arrived since cnn_interrupt_install. */
int cnn_interrupt_pending(void);

#endif
