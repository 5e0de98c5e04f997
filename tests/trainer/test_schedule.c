/* test_schedule: the runtime's learning-rate schedules (runtime/train/
 * schedule.c) on the cases schedule_ref.py writes to stdin, one per line:
 *   step EVERY FACTOR LR EPOCHS
 *   cosine DECAY_EPOCHS WARMUP ALPHA LR EPOCHS
 *   plateau MONITOR FACTOR PATIENCE MIN_DELTA COOLDOWN MIN_LR LR V1 V2 ...
 * (MONITOR 0 val_loss .. 3 accuracy; V: the monitored value of each epoch).
 * For each case, one line: the rate of every epoch (%.17g), space-separated.
 * The plateau case also saves and restores its state after every epoch
 * (as a resumed run does), so the round trip is under test too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_schedule.h"

/* A checkpoint's schedule state out of range (as if edited under a
 * recomputed CRC) is refused, field by field. */
static int check_ranges(void)
{
    cnn_schedule_cfg c = cnn_schedule_defaults(CNN_SCHED_PLATEAU);
    c.patience = 3;
    c.cooldown = 2;
    c.min_lr = 1e-4;
    static const char *const bad[] = {
        "", "lr=20 best=0.5 wait=0 cooldown=0", "lr=0 best=0.5 wait=0 cooldown=0",
        "lr=0.00001 best=0.5 wait=0 cooldown=0", "lr=nan best=0.5 wait=0 cooldown=0",
        "lr=0.001 best=nan wait=0 cooldown=0", "lr=0.001 best=-inf wait=0 cooldown=0",
        "lr=0.001 best=0.5 wait=-1 cooldown=0", "lr=0.001 best=0.5 wait=3 cooldown=0",
        "lr=0.001 best=0.5 wait=1.5 cooldown=0", "lr=0.001 best=0.5 wait=0 cooldown=3",
        "lr=0.001 best=0.5 wait=0", "lr=0.001x best=0.5 wait=0 cooldown=0", NULL};
    int failures = 0;
    for (int i = 0; bad[i]; i++) {
        cnn_schedule s;
        char err[256];
        cnn_schedule_init(&s, &c, 0.001, 10);
        if (cnn_schedule_restore(&s, bad[i], err, sizeof err) == 0) {
            fprintf(stderr, "schedule state accepted: '%s'\n", bad[i]);
            failures++;
        }
    }
    cnn_schedule s;
    char err[256];
    cnn_schedule_init(&s, &c, 0.001, 10);
    /* at min_lr Keras stops reducing, and wait keeps counting */
    if (cnn_schedule_restore(&s, "lr=0.0001 best=inf wait=7 cooldown=1", err, sizeof err) != 0) {
        fprintf(stderr, "a valid schedule state refused: %s\n", err);
        failures++;
    }
    return failures;
}

int main(void)
{
    if (check_ranges())
        return 1;
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        char kind[16];
        int used = 0;
        if (sscanf(line, "%15s%n", kind, &used) != 1)
            continue;
        const char *p = line + used;
        cnn_schedule s;
        if (!strcmp(kind, "step") || !strcmp(kind, "cosine")) {
            cnn_schedule_cfg c = cnn_schedule_defaults(kind[0] == 's' ? CNN_SCHED_STEP : CNN_SCHED_COSINE);
            double lr, a;
            int e, i1, i2;
            if (c.kind == CNN_SCHED_STEP) {
                if (sscanf(p, "%d %lf %lf %d", &i1, &a, &lr, &e) != 4)
                    return 2;
                c.every = i1;
                c.factor = a;
            } else {
                if (sscanf(p, "%d %d %lf %lf %d", &i1, &i2, &a, &lr, &e) != 5)
                    return 2;
                c.decay_epochs = i1;
                c.warmup = i2;
                c.alpha = a;
            }
            if (cnn_schedule_check(&c)) {
                printf("invalid: %s\n", cnn_schedule_check(&c));
                continue;
            }
            cnn_schedule_init(&s, &c, lr, e);
            for (int i = 0; i < e; i++)
                printf("%s%.17g", i ? " " : "", cnn_schedule_lr(&s, i));
            printf("\n");
        } else if (!strcmp(kind, "plateau")) {
            cnn_schedule_cfg c = cnn_schedule_defaults(CNN_SCHED_PLATEAU);
            int mon, n;
            double lr;
            if (sscanf(p, "%d %lf %d %lf %d %lf %lf%n", &mon, &c.factor, &c.patience, &c.min_delta, &c.cooldown,
                       &c.min_lr, &lr, &n) != 7)
                return 2;
            p += n;
            c.monitor = (cnn_monitor)mon;
            cnn_schedule_init(&s, &c, lr, 1000);
            double v;
            int first = 1;
            while (sscanf(p, "%lf%n", &v, &n) == 1) {
                p += n;
                printf("%s%.17g", first ? "" : " ", cnn_schedule_lr(&s, 0));
                first = 0;
                cnn_schedule_epoch_end(&s, v);
                char state[256], err[256];
                cnn_schedule_state(&s, state, sizeof state);
                cnn_schedule r;
                cnn_schedule_init(&r, &c, lr, 1000);
                if (cnn_schedule_restore(&r, state, err, sizeof err) || memcmp(&r, &s, sizeof r) != 0) {
                    printf("\nstate round trip failed: %s\n", state);
                    return 1;
                }
            }
            printf("\n");
        } else {
            return 2;
        }
    }
    return 0;
}
