#!/bin/sh
# build.sh CNNC MODEL.cnn: `cnnc build` makes a working trainer in one step;
# a failing C compiler is reported (exit 1) and leaves no binary behind.
set -e
cnnc=$1 model=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$cnnc" build "$model" -o "$dir/trainer" -v
"$dir/trainer" summary > "$dir/summary.txt"
grep -q "Total params" "$dir/summary.txt"
echo "built and ran $dir/trainer"
if CC=false "$cnnc" build "$model" -o "$dir/broken" 2> "$dir/err.txt"; then
    echo "FAIL: cnnc build succeeded with CC=false"
    exit 1
fi
grep -q "C compiler failed" "$dir/err.txt"
if [ -e "$dir/broken" ]; then
    echo "FAIL: a failed build left $dir/broken"
    exit 1
fi
echo "a failing compiler is reported and leaves nothing"
