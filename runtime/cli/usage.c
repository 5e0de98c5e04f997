/* usage.c: the trainer's --help, for the whole binary and for each
 * command, with the defaults of this model's train block. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cnn_optim.h"
#include "cnn_usage.h"
#include "cnn_words.h"

const char *const cnn_cmd_names[] = {"train", "evaluate", "predict", "summary", "bench", "preview", NULL};
const char *const cnn_lr_schedule_words[] = {"none", "step", "cosine", "plateau", NULL};

static const char *metric_list(int bits, char *buf, size_t n)
{
    buf[0] = 0;
    for (int i = 0; cnn_metric_words[i]; i++)
        if (bits & (1 << i)) {
            if (buf[0])
                strncat(buf, ",", n - strlen(buf) - 1);
            strncat(buf, cnn_metric_words[i], n - strlen(buf) - 1);
        }
    return buf[0] ? buf : "none";
}

void cnn_usage(FILE *f, const cnn_model *m, cnn_cmd c)
{
    const cnn_config *d = &m->defaults;
    const cnn_optimizer *op = &d->optimizer;
    char mbuf[64];
    const char *src = m->source ? m->source : "the model";
    if (c == CNN_CMD_NONE) {
        fprintf(f,
                "%s: a trainer for the network of %s (built by cnnc)\n\n"
                "Usage:\n"
                "  %s train [--data DIR] [--validation DIR] [--epochs N] [--batch N] [--lr X] [--seed N]\n"
                "        [--threads N] [--out DIR] [--resume] [--strict] [more: %s train --help]\n"
                "  %s evaluate --data DIR [--weights FILE] [--json]\n"
                "  %s predict [--weights FILE] [--json] IMAGE|FOLDER...\n"
                "  %s summary\n"
                "  %s bench [--weights FILE] [--data DIR] [--batch N] [--threads N] [--json]\n"
                "  %s preview --data DIR -o grid.png [--count N] [--epoch E] [--seed S]\n\n"
                "`%s COMMAND --help` lists each command's flags and their defaults.\n",
                m->name, src, m->name, m->name, m->name, m->name, m->name, m->name, m->name, m->name);
        return;
    }
    switch (c) {
    case CNN_CMD_TRAIN:
        fprintf(f, "Usage: %s train [flags]\n\nTrains the network; every flag overrides the train block of %s.\n\n", m->name, src);
        fprintf(f, "Data:\n");
        fprintf(f, "  --data PATH              folder with a subfolder per class, or an IDX images file (default: %s)\n",
                d->data ? d->data : "none, required");
        fprintf(f, "  --validation PATH        separate validation folder or IDX file (default: %s)\n",
                d->validation ? d->validation : "none: split");
        fprintf(f, "  --validation-split F     fraction held out for validation, stratified; 0 = none (default: %g)\n",
                d->validation ? 0.0 : d->validation_split);
        fprintf(f, "  --strict                 a corrupt or unreadable image is an error, not skipped\n");
        fprintf(f, "  --cache-dir DIR          where decoded images spill over --memory (default: $TMPDIR or /tmp)\n");
        fprintf(f, "  --memory MB              RAM for decoded images (default: half the RAM, at least 2048)\n");
        fprintf(f, "  --exact-resize           full JPEG decode before resizing, as Keras (slower)\n");
        fprintf(f, "Training:\n");
        fprintf(f, "  --epochs N               (default: %d)\n", d->epochs);
        fprintf(f, "  --batch N                (default: %d)\n", d->batch);
        fprintf(f, "  --seed N                 split, shuffling, initialisation, dropout, augmentation (default: %" PRIu64 ")\n", d->seed);
        fprintf(f, "  --optimizer NAME         adam, adamw, sgd or rmsprop (default: %s)\n", cnn_optim_kind_name(op->kind));
        fprintf(f, "  --lr X                   learning rate (default: %g)\n", op->lr);
        fprintf(f, "  --beta1 X, --beta2 X     adam, adamw (default: %g, %g)\n",
                op->kind == CNN_OPT_ADAM || op->kind == CNN_OPT_ADAMW ? op->beta1 : 0.9,
                op->kind == CNN_OPT_ADAM || op->kind == CNN_OPT_ADAMW ? op->beta2 : 0.999);
        fprintf(f, "  --epsilon X              adam, adamw, rmsprop (default: %g)\n",
                op->kind != CNN_OPT_SGD ? op->epsilon : 1e-7);
        fprintf(f, "  --momentum X             sgd (default: %g)\n", op->kind == CNN_OPT_SGD ? op->momentum : 0.0);
        fprintf(f, "  --nesterov               sgd with Nesterov momentum (default: %s)\n",
                op->kind == CNN_OPT_SGD && op->nesterov ? "on" : "off");
        fprintf(f, "  --rho X                  rmsprop (default: %g)\n", op->kind == CNN_OPT_RMSPROP ? op->rho : 0.9);
        fprintf(f, "  --weight-decay X         decoupled weight decay, every optimizer (default: %g; adamw's own: 0.004)\n",
                op->weight_decay);
        fprintf(f, "  --clipnorm X             clip each tensor's gradient to this L2 norm (default: %s)\n",
                op->clipnorm > 0 ? "the train block's" : "off");
        fprintf(f, "  --clipvalue X            clip each gradient element to [-X, X] (default: %s)\n",
                op->clipvalue > 0 ? "the train block's" : "off");
        fprintf(f, "  --global-clipnorm X      clip all the gradients together to this L2 norm (default: %s)\n",
                op->global_clipnorm > 0 ? "the train block's" : "off");
        fprintf(f, "  --loss NAME              binary_crossentropy or categorical_crossentropy; must suit the last layer (default: %s)\n",
                cnn_word(cnn_loss_words, d->loss));
        fprintf(f, "  --metrics LIST           comma-separated: accuracy,precision,recall,auc (default: %s)\n",
                metric_list(d->metrics, mbuf, sizeof mbuf));
        fprintf(f, "  --early-stopping         stop when --monitor stops improving, restore the best weights (default: %s)\n",
                d->early_stopping ? "on" : "off");
        fprintf(f, "  --no-early-stopping\n");
        fprintf(f, "  --monitor NAME           val_loss, val_accuracy, loss or accuracy (default: %s)\n",
                cnn_word(cnn_monitor_words, d->monitor));
        fprintf(f, "  --patience N             epochs without improvement (default: %d)\n", d->patience);
        fprintf(f, "  --class-weight W         balanced, none, or one weight per class (1,2.5): Keras's class_weight "
                   "(default: %s)\n", d->class_weight == CNN_CW_BALANCED ? "balanced"
                                      : d->class_weight == CNN_CW_EXPLICIT ? "the train block's" : "none");
        fprintf(f, "Learning-rate schedule (one value per epoch):\n");
        fprintf(f, "  --lr-schedule KIND       none, step, cosine or plateau (default: %s)\n",
                cnn_word(cnn_lr_schedule_words, d->schedule.kind));
        fprintf(f, "  --decay-every N          step: epochs between decays\n");
        fprintf(f, "  --decay-factor F         step, plateau: the multiplier (default: 0.1)\n");
        fprintf(f, "  --decay-epochs N, --warmup N, --alpha F\n");
        fprintf(f, "                           cosine: decay epochs (default: the rest of the run), linear warm-up\n"
                   "                           epochs (0), final rate as a fraction of --lr (0)\n");
        fprintf(f, "  --plateau-monitor M, --plateau-patience N, --min-delta F, --cooldown N, --min-lr X\n");
        fprintf(f, "                           plateau (Keras ReduceLROnPlateau; defaults val_loss, 10, 0.0001, 0, 0)\n");
        fprintf(f, "Starting weights:\n");
        fprintf(f, "  --init FILE              start from the tensors of a safetensors file, matched by name and shape (default: %s)\n",
                d->init ? d->init : "none: fresh initialization");
        fprintf(f, "  --init-partial           skip (and name) the tensors --init lacks or has in another shape (default: %s)\n",
                d->init_partial ? "on" : "off");
        fprintf(f, "Run:\n");
        fprintf(f, "  --out DIR                run folder (default: runs/%s)\n", m->name);
        fprintf(f, "  --resume                 continue from DIR/checkpoint.safetensors\n");
        fprintf(f, "  --threads N              OpenMP threads (default: all cores, or OMP_NUM_THREADS)\n");
        fprintf(f, "  --progress MODE          auto, bar or plain (default: auto: a bar on a terminal)\n");
        fprintf(f, "  --quiet                  only errors and the final summary\n");
        break;
    case CNN_CMD_EVALUATE:
        fprintf(f, "Usage: %s evaluate --data PATH [flags]\n\nLoss, metrics, per-class accuracy and confusion matrix on a dataset.\n\n", m->name);
        fprintf(f, "  --data PATH              folder with a subfolder per class, or an IDX images file (required)\n");
        fprintf(f, "  --weights FILE           safetensors weights (default: runs/%s/model.safetensors, or --out DIR)\n", m->name);
        fprintf(f, "  --out DIR                run folder whose model.safetensors to use (default: runs/%s)\n", m->name);
        fprintf(f, "  --batch N                (default: %d)\n", d->batch);
        fprintf(f, "  --json                   one JSON object: data, images, loss, accuracy, [precision, recall, auc,]\n"
                   "                           classes, class_accuracy, confusion ([true][predicted])\n");
        fprintf(f, "  --threads N, --strict, --exact-resize, --memory MB, --cache-dir DIR, --quiet\n");
        break;
    case CNN_CMD_PREDICT:
        fprintf(f, "Usage: %s predict [flags] IMAGE|FOLDER...\n\nOne line per image: PATH<TAB>CLASS<TAB>PROBABILITY of that class.\n"
                   "A folder stands for every file under it, recursively, as train reads a class folder.\n\n", m->name);
        fprintf(f, "  --weights FILE           safetensors weights (default: runs/%s/model.safetensors, or --out DIR)\n", m->name);
        fprintf(f, "  --out DIR                run folder whose model.safetensors to use (default: runs/%s)\n", m->name);
        fprintf(f, "  --json                   one JSON object per image: {\"path\", \"class\", \"probabilities\"}\n");
        fprintf(f, "  --batch N, --threads N, --exact-resize\n");
        break;
    case CNN_CMD_SUMMARY:
        fprintf(f, "Usage: %s summary\n\nThe layers, output shapes, parameters and FLOPs of the network.\n", m->name);
        break;
    case CNN_CMD_PREVIEW:
        fprintf(f, "Usage: %s preview --data DIR -o grid.png [flags]\n\nA PNG grid of training images exactly as the "
                   "network receives them in an epoch\n(preprocessing and augmentation by the training loader), each "
                   "beside its original,\nwith its file name and class.\n\n", m->name);
        fprintf(f, "  --data PATH              folder with a subfolder per class, or an IDX images file (default: %s)\n",
                d->data ? d->data : "none, required");
        fprintf(f, "  -o FILE, --output FILE   the PNG to write (required)\n");
        fprintf(f, "  --count N                images shown, the first of the epoch's order (default: 16)\n");
        fprintf(f, "  --epoch E                the epoch whose order and augmentation are shown, from 1 (default: 1)\n");
        fprintf(f, "  --seed N                 as train's: the split, the order, the augmentation (default: %" PRIu64 ")\n",
                d->seed);
        fprintf(f, "  --validation-split F, --validation DIR, --batch N, --strict, --exact-resize, --memory MB,\n"
                   "  --cache-dir DIR, --threads N, --quiet   as train's\n");
        break;
    case CNN_CMD_BENCH:
        fprintf(f, "Usage: %s bench [flags]\n\nImages/s and GFLOP/s of inference, forward, backward and a whole\n"
                   "training step on random data, and %% of the FP32 peak measured by an FMA probe.\n\n", m->name);
        fprintf(f, "  --weights FILE           time the step on these safetensors weights (e.g. a trained\n"
                   "                           model.safetensors: its relu sparsity) instead of random initial ones\n");
        fprintf(f, "  --data PATH              also time the step as an epoch runs it, with the loader making\n"
                   "                           each batch from PATH's training images between steps, against\n"
                   "                           bench's way, in turn in one process (docs/benchmarks.md)\n");
        fprintf(f, "  --validation-split F, --validation DIR, --strict, --exact-resize, --memory MB,\n"
                   "  --cache-dir DIR          as train's, for --data\n");
        fprintf(f, "  --batch N                (default: %d)\n", d->batch);
        fprintf(f, "  --threads N              (default: all cores, or OMP_NUM_THREADS)\n");
        fprintf(f, "  --seconds S              time per phase, and per arm with --data (default: 2)\n");
        fprintf(f, "  --optimizer NAME, --lr X the optimizer timed in the training step (default: %s)\n",
                cnn_optim_kind_name(op->kind));
        fprintf(f, "  --json                   one JSON object (train_images_per_s, infer_images_per_s, peak_gflops, ...)\n");
        break;
    default:
        break;
    }
}
