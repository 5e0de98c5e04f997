/* trainer.c: the trainer binary's entry: `NAME train | evaluate | predict
 * | summary | bench | preview`, its flags read (flags.c), the command run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_dist.h"
#include "cnn_flags.h"
#include "cnn_names.h"
#include "cnn_preview.h"
#include "cnn_summary.h"
#include "cnn_train.h"
#include "cnn_trainer.h"
#include "cnn_wait_policy.h"

static int trainer_main(const cnn_model *m, int argc, char **argv);

/* Under mpirun (an --mpi trainer) every process runs the same command on
 * its part of each batch (cnn_dist.h); alone, one process. */
int cnn_trainer_main(const cnn_model *m, int argc, char **argv)
{
    cnn_dist_init(&argc, &argv);
    return cnn_dist_finish(trainer_main(m, argc, argv));
}

static int trainer_main(const cnn_model *m, int argc, char **argv)
{
    if (argc < 2) {
        cnn_usage(stderr, m, CNN_CMD_NONE);
        return 1;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        cnn_usage(stdout, m, CNN_CMD_NONE);
        return 0;
    }
    cnn_cmd c = CNN_CMD_NONE;
    for (int i = 0; cnn_cmd_names[i]; i++)
        if (!strcmp(argv[1], cnn_cmd_names[i]))
            c = (cnn_cmd)i;
    if (c == CNN_CMD_NONE) {
        const char *near = argv[1][0] != '-' ? cnn_names_closest(argv[1], cnn_cmd_names) : NULL;
        if (near)
            cnn_error(m, "unknown command '%s'; did you mean '%s'? (`%s --help` for usage)", argv[1], near, m->name);
        else
            cnn_error(m, "unknown command '%s': expected train, evaluate, predict, summary, bench or preview "
                         "(`%s --help` for usage)", argv[1], m->name);
        return 1;
    }

    if (c != CNN_CMD_SUMMARY)
        cnn_wait_policy_init(argv);

    static cnn_run_options o;
    int status = cnn_flags_parse(m, c, argc, argv, &o);
    if (status >= 0)
        return status;

    int rc;
    switch (c) {
    case CNN_CMD_TRAIN: rc = cnn_cmd_train(m, &o); break;
    case CNN_CMD_EVALUATE: rc = cnn_cmd_evaluate(m, &o); break;
    case CNN_CMD_PREDICT: rc = cnn_cmd_predict(m, &o); break;
    case CNN_CMD_SUMMARY: cnn_summary_print(stdout, m); rc = 0; break;
    case CNN_CMD_BENCH: rc = cnn_cmd_bench(m, &o); break;
    case CNN_CMD_PREVIEW: rc = cnn_cmd_preview(m, &o); break;
    default: rc = 1;
    }
    free(o.images);
    fflush(stdout);
    return rc;
}
