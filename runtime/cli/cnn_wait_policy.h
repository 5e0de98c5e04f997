/* cnn_wait_policy.h: a short spin, then sleep, for waiting OpenMP threads (wait_policy.c). */
#ifndef CNN_WAIT_POLICY_H
#define CNN_WAIT_POLICY_H

/* Unless OMP_WAIT_POLICY, GOMP_SPINCOUNT or KMP_BLOCKTIME is set, sets
 * GOMP_SPINCOUNT=3000 and executes the trainer again with the same
 * arguments (argv as main's, NULL-terminated); returns only when that is
 * not needed or not possible. */
void cnn_wait_policy_init(char **argv);

#endif
