#!/bin/sh
# run_torch_parity.sh: one network's PyTorch parity (see docs/testing.md).
#
# usage: run_torch_parity.sh CNNC CC CFLAGS RUNTIME_DIR PARITY_DIR LIBCNNRT PYTHON NET.cnn OUTDIR [driver args]
#        run_torch_parity.sh --reference DRIVER CNNC PYTHON PARITY_DIR NET.cnn OUTDIR [driver args]
#
# 1. cnnc emits NET's C model and its PyTorch twin;
# 2. the C model is compiled twice with parity_torch.c: in double (with the
#    reference engine in double) and in float32 as shipped (with libcnnrt's
#    optimizers); each run writes its results as safetensors;
# 3. torch_parity.py recomputes everything in PyTorch and compares.
# Exit status: 0 agree, 1 differ or a step failed, 77 torch is missing.
set -eu
if [ "$1" = "--reference" ]; then
    # run_torch_parity.sh --reference DRIVER CNNC PYTHON PARITY_DIR NET.cnn OUTDIR [driver args]
    # The reference engine alone (parity_torch_reference reads the .cnn with
    # cnnc's front end): the oracle against PyTorch, without the C emitter.
    DRIVER=$2 CNNC=$3 PY=$4 PD=$5 NET=$6 OUT=$7
    shift 7
    if [ ! -x "$PY" ] || ! "$PY" -c "import torch, numpy" 2>/dev/null; then
        echo "torch parity: skipped: no torch for $PY (apt-get install python3-torch)"
        exit 77
    fi
    NAME=$(sed -n 's/^[[:space:]]*model[[:space:]]\{1,\}\([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$NET" | head -n 1)
    rm -rf "$OUT"
    mkdir -p "$OUT"
    "$CNNC" --emit pytorch "$NET" -o "$OUT/$NAME.py"
    "$DRIVER" "$NET" "$OUT" "$@"
    exec "$PY" "$PD/torch_parity.py" "$OUT/$NAME.py" "$OUT"
fi
CNNC=$1 CC=$2 CFLAGS=$3 RT=$4 PD=$5 LIBCNNRT=$6 PY=$7 NET=$8 OUT=$9
RTINC="-I$RT/include -I$RT/core -I$RT/train -I$RT/reference"
shift 9
if [ ! -x "$PY" ] || ! "$PY" -c "import torch, numpy" 2>/dev/null; then
    echo "torch parity: skipped: no torch for $PY (apt-get install python3-torch)"
    exit 77
fi
NAME=$(sed -n 's/^[[:space:]]*model[[:space:]]\{1,\}\([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$NET" | head -n 1)
rm -rf "$OUT"
mkdir -p "$OUT/float64" "$OUT/float32"
"$CNNC" "$NET" -o "$OUT"
"$CNNC" --emit pytorch "$NET" -o "$OUT/$NAME.py"
# shellcheck disable=SC2086 # CFLAGS is a list of flags
$CC -std=c11 $CFLAGS -Wall -Wextra -Werror -DCNN_REAL=double -DPARITY_NO_OPTIM -DPARITY_MODEL="${NAME}_model" \
    $RTINC -I"$PD" -I"$OUT" "$OUT/$NAME.c" "$PD/parity_torch.c" "$PD/parity_io.c" "$RT/reference/reference.c" "$RT/reference/reference_layers.c" "$RT/core/init.c" "$RT/core/util.c" \
    -lm -o "$OUT/driver_float64"
# shellcheck disable=SC2086
$CC -std=c11 $CFLAGS -Wall -Wextra -Werror -DPARITY_MODEL="${NAME}_model" \
    $RTINC -I"$PD" -I"$OUT" "$OUT/$NAME.c" "$PD/parity_torch.c" "$PD/parity_io.c" "$RT/reference/reference.c" "$RT/reference/reference_layers.c" "$LIBCNNRT" \
    -lm -o "$OUT/driver_float32"
"$OUT/driver_float64" "$OUT/float64" "$@"
"$OUT/driver_float32" "$OUT/float32" "$@"
exec "$PY" "$PD/torch_parity.py" "$OUT/$NAME.py" "$OUT/float64" "$OUT/float32"
