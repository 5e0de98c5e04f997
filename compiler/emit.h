/* emit.h: the back ends. Each takes a checked IR and writes files; none
 * looks at the AST. Every writer goes through a temporary file and a
 * rename, so a failure never leaves a partial output behind. Each returns 0
 * on success, or prints "cnnc: error: ..." to stderr and returns 1. */
#ifndef CNNC_EMIT_H
#define CNNC_EMIT_H

#include "ir.h"

/* DIR/NAME.c and DIR/NAME.h: the specialized model (see runtime/include/cnn_model.h). */
int emit_c(const cnnc_ir *ir, const char *dir);

/* The same network as a PyTorch nn.Module (state_dict keys == tensor names). */
int emit_pytorch(const cnnc_ir *ir, const char *path);

/* cnnc export: DIR/NAME_infer.h and DIR/NAME_infer.c, freestanding C99
 * inference with the weights of weights_path embedded (docs/deploy.md);
 * DIR is created if missing. A weights file that does not fit the IR is
 * refused, naming the mismatch. */
int emit_export(const cnnc_ir *ir, const char *weights_path, const char *dir);

/* cnnc build: emit C into a temporary folder, compile it against the
 * runtime (rt_inc: the folder with cnn_model.h; rt_lib: libcnnrt.a; see
 * locate.h) and link one trainer binary at out_path. */
int build_trainer(const cnnc_ir *ir, const char *out_path, const char *rt_inc, const char *rt_lib, int mpi,
                  int verbose);

#endif
