#!/bin/sh
# run_random_parity.sh: generated C vs the reference engine on one random
# network (see docs/testing.md).
#
# usage: run_random_parity.sh GEN CNNC CC CFLAGS RUNTIME_DIR PARITY_DIR LIBCNNRT SEED OUTDIR
#
# GEN writes rand_SEED.cnn, cnnc compiles it to C, and the C is compiled with
# parity_random.c twice: in double (with the reference engine in double) and
# in float32 (with libcnnrt). Both runs must agree with the reference.
set -eu
GEN=$1 CNNC=$2 CC=$3 CFLAGS=$4 RT=$5 PD=$6 LIBCNNRT=$7 SEED=$8 OUT=$9
NAME=rand_$SEED
RTINC="-I$RT/include -I$RT/core -I$RT/train -I$RT/reference"
rm -rf "$OUT"
mkdir -p "$OUT"
"$GEN" "$SEED" "$OUT/$NAME.cnn"
# On any failure (cnnc, a compiler warning, a mismatch) show the network.
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "--- $OUT/$NAME.cnn:"; cat "$OUT/$NAME.cnn"; fi' EXIT
"$CNNC" "$OUT/$NAME.cnn" -o "$OUT"
# shellcheck disable=SC2086 # CFLAGS is a list of flags
$CC -std=c11 $CFLAGS -Wall -Wextra -Werror -DCNN_REAL=double -DPARITY_MODEL="${NAME}_model" $RTINC -I"$OUT" \
    "$OUT/$NAME.c" "$PD/parity_random.c" "$RT/reference/reference.c" "$RT/reference/reference_layers.c" "$RT/core/init.c" "$RT/core/util.c" -lm -o "$OUT/parity_double"
# shellcheck disable=SC2086
$CC -std=c11 $CFLAGS -Wall -Wextra -Werror -DPARITY_MODEL="${NAME}_model" $RTINC -I"$OUT" \
    "$OUT/$NAME.c" "$PD/parity_random.c" "$RT/reference/reference.c" "$RT/reference/reference_layers.c" "$LIBCNNRT" -lm -o "$OUT/parity_float"
status=0
"$OUT/parity_double" || status=1
"$OUT/parity_float" || status=1
exit $status
