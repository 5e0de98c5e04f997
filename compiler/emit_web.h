/* emit_web.h: `cnnc export --web`: the exported C compiled to WebAssembly
 * (clang --target=wasm32 -msimd128, wasm-ld: no emscripten, no libc), a
 * JavaScript loader and a page that classifies the images a user chooses
 * (docs/deploy.md, "In a web page"). */
#ifndef CNNC_EMIT_WEB_H
#define CNNC_EMIT_WEB_H

#include "ir.h"

/* Checks that clang can compile for wasm32 with SIMD and that wasm-ld links
 * (the tools are $CNNC_WASM_CC and $CNNC_WASM_LD, default clang and
 * wasm-ld). Returns 0, or prints "cnnc: error: ..." saying what to install
 * and returns 1. Run before any file is written. */
int web_toolchain_check(int verbose);

/* DIR/NAME.wasm from DIR/NAME_infer.c (as emit_export wrote it) and a small
 * glue file, DIR/NAME.js and DIR/index.html. Returns 0, or prints
 * "cnnc: error: ..." and returns 1 (no partial file is left behind). */
int emit_web(const cnnc_ir *ir, const char *dir, int verbose);

#endif
