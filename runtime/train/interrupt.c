/* interrupt.c: see cnn_interrupt.h. The handler only sets a flag and
 * writes a fixed message (both async-signal-safe); the loop polls the flag
 * between steps, where the weights and the optimizer state agree. */
#define _POSIX_C_SOURCE 200809L
#include "cnn_interrupt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t pending;
static struct sigaction previous;
static int installed;

static void on_sigint(int sig)
{
    (void)sig;
    if (pending) {
        static const char now[] = "\nInterrupted again: exiting now, without saving.\n";
        ssize_t w = write(STDERR_FILENO, now, sizeof now - 1);
        (void)w;
        _exit(CNN_EXIT_INTERRUPTED);
    }
    pending = 1;
    static const char msg[] = "\nInterrupted: finishing this step, then saving the checkpoint and the model "
                              "(Ctrl-C again to exit at once, without saving).\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

void cnn_interrupt_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* reads and writes in progress carry on */
    pending = 0;
    if (sigaction(SIGINT, &sa, &previous) == 0)
        installed = 1;
}

void cnn_interrupt_remove(void)
{
    if (installed)
        sigaction(SIGINT, &previous, NULL);
    installed = 0;
}

int cnn_interrupt_pending(void)
{
    return pending != 0;
}
