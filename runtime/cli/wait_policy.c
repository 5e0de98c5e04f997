/* wait_policy.c: OpenMP's waiting threads spin briefly, then sleep, unless
 * the user chose otherwise.
 *
 * libgomp makes a thread that waits at a barrier spin 300,000 rounds
 * (about 3 ms) before it sleeps. On a machine where other programs run,
 * the spinning thread burns CPU time the scheduler then withholds from the
 * thread that does the work, and training with all cores ran several
 * times slower than with one (docs/benchmarks.md, "A busy machine").
 * Sleeping at once (OMP_WAIT_POLICY=passive) fixes that but costs a futex
 * wake-up at every barrier: measured, 4 to 7% of the step on an idle
 * machine. A spin of CNN_SPIN_ROUNDS rounds (about 30 us), then sleep,
 * measured as fast as unlimited spinning when idle (0.95 to 1.08 of it,
 * within the measurement's noise) and at 0.87 to 1.00 of the better
 * explicit thread count with two busy loops beside it. The OpenMP
 * runtime reads the variable once, when it is loaded (before main), so
 * the trainer sets it and executes itself again;
 * results do not depend on how threads wait. A process started by an MPI
 * launcher is not re-executed (Open MPI's connection to its launcher does
 * not survive an exec before MPI_Init): `mpirun -x GOMP_SPINCOUNT=3000`
 * gives it the same policy (docs/distributed.md). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "cnn_wait_policy.h"

/* libgomp's spin rounds before a waiting thread sleeps (its estimate:
 * 100,000 rounds per millisecond). */
#define CNN_SPIN_ROUNDS "3000"

void cnn_wait_policy_init(char **argv)
{
    /* The user's own choice (or a trainer already re-executed) stands. */
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("KMP_BLOCKTIME"))
        return;
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK"))
        return;
    if (setenv("GOMP_SPINCOUNT", CNN_SPIN_ROUNDS, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* No /proc (or no exec): train with the runtime's default policy. */
    unsetenv("GOMP_SPINCOUNT");
}
