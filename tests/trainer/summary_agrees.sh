#!/usr/bin/env bash
# `cnnc summary FILE.cnn` and the trainer's `NAME summary` print the same
# text (one printer, runtime/core/summary.c; the trainer reads the numbers
# from its descriptor, cnnc from its IR).
#   summary_agrees.sh CNNC FILE.cnn TRAINER [FILE.cnn TRAINER ...]
set -u
cnnc=$1
shift
fail=0
while [ $# -ge 2 ]; do
    cnn=$1 trainer=$2
    shift 2
    a=$("$cnnc" summary "$cnn") || { echo "FAIL: cnnc summary $cnn"; fail=1; continue; }
    b=$("$trainer" summary) || { echo "FAIL: $trainer summary"; fail=1; continue; }
    if [ "$a" != "$b" ]; then
        echo "FAIL: cnnc summary $cnn and $trainer summary differ:"
        diff <(printf '%s\n' "$a") <(printf '%s\n' "$b")
        fail=1
    else
        echo "ok: $cnn"
    fi
    case "$a" in *" MB"*|*" KB"*) echo "FAIL: $cnn: sizes in powers of 1024 must say KiB or MiB"; fail=1 ;; esac
done
exit $fail
