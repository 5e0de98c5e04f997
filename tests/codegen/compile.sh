#!/bin/sh
# compile.sh CC RUNTIME_DIR FILE.c: the generated file compiles without a
# warning (-std=c11 -Wall -Wextra -Wshadow -Werror): float with OpenMP, the
# fast kernels and the trainer's main; and double without OpenMP with the
# plain kernels (CNN_REFERENCE_KERNELS). Exit 77 (skipped) when CC is not
# installed.
set -e
cc=$1 runtime=$2 src=$3
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "$cc not found: skipped"
    exit 77
fi
dir=$(dirname "$src")
flags="-std=c11 -Wall -Wextra -Wshadow -Werror -O2 -I$runtime -I$dir -c -o /dev/null"
for extra in "-fopenmp -DCNN_TRAINER_MAIN" "-DCNN_REAL=double -DCNN_REFERENCE_KERNELS"; do
    echo "$cc $flags $extra $src"
    # shellcheck disable=SC2086
    "$cc" $flags $extra "$src"
done
