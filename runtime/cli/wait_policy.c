/* wait_policy.c: OpenMP's waiting threads sleep instead of spinning,
 * unless the user chose otherwise.
 *
 * libgomp spins at every barrier (GOMP_SPINCOUNT, 300,000 rounds) before it
 * sleeps. On a machine where other programs run, a spinning thread burns
 * the time slice that the thread it waits for needs: training then runs
 * several times slower with all cores than with one (docs/benchmarks.md,
 * "A busy machine"). With OMP_WAIT_POLICY=passive a waiting thread sleeps
 * at once; on an idle machine that costs a futex wake-up per parallel
 * region, a few microseconds against steps of milliseconds. The OpenMP
 * runtime reads the variable once, when it is loaded (before main), so the
 * trainer sets it and executes itself again; the results do not depend on
 * how threads wait. A process started by an MPI launcher is not re-executed
 * (Open MPI's connection to its launcher does not survive an exec before
 * MPI_Init): `mpirun -x OMP_WAIT_POLICY=passive` gives it the same policy
 * (docs/distributed.md). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "cnn_wait_policy.h"

void cnn_wait_policy_init(char **argv)
{
    /* The user's own choice (or a trainer already re-executed) stands. */
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("KMP_BLOCKTIME"))
        return;
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK"))
        return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* No /proc (or no exec): train with the runtime's default policy. */
    unsetenv("OMP_WAIT_POLICY");
}
