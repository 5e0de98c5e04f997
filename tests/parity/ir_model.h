/* ir_model.h: a cnn_model descriptor straight from the compiler's checked IR,
 * without generated code (forward/backward/loss are NULL). It lets the
 * reference engine run any .cnn file, so the oracle can be compared with
 * PyTorch independently of the C emitter. */
#ifndef CNN_IR_MODEL_H
#define CNN_IR_MODEL_H

#include "cnn_model.h"
#include "ir.h"

/* m points into ir, which must outlive it. */
void ir_model_from_ir(const cnnc_ir *ir, cnn_model *m);

#endif
