#!/usr/bin/env bash
# Golden tests of the front end.
#   golden.sh CNNC invalid DIR   each DIR/*.cnn must fail: exit status 1, no output file,
#                                stderr exactly DIR/NAME.err
#   golden.sh CNNC valid DIR     each DIR/*.cnn must pass: `cnnc summary` prints exactly
#                                DIR/NAME.summary, nothing on stderr
#   golden.sh CNNC update DIR    rewrite the expected files from what cnnc prints now
#                                (review the diff before committing it!)
# Paths are printed as the tests pass them (NAME.cnn, run from DIR), so the
# expected text does not depend on where the tree is.
set -u
cnnc=$(realpath "$1")
mode=$2
dir=$3
cd "$dir" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
for f in *.cnn; do
    name=${f%.cnn}
    if [ "$mode" = invalid ] || { [ "$mode" = update ] && [ -f "$name.err" ]; }; then
        mkdir -p "$tmp/out"
        "$cnnc" "$f" -o "$tmp/out" >"$tmp/stdout" 2>"$tmp/stderr"
        rc=$?
        if [ "$mode" = update ]; then
            cp "$tmp/stderr" "$name.err"
            continue
        fi
        problems=""
        [ $rc -eq 1 ] || problems+=" exit status $rc (expected 1);"
        [ -s "$tmp/stdout" ] && problems+=" printed to stdout;"
        [ -n "$(ls -A "$tmp/out")" ] && problems+=" wrote $(ls "$tmp/out");"
        diff -u "$name.err" "$tmp/stderr" >"$tmp/diff" || problems+=" diagnostics differ:"
        rm -rf "$tmp/out"
    else
        "$cnnc" summary "$f" >"$tmp/stdout" 2>"$tmp/stderr"
        rc=$?
        if [ "$mode" = update ]; then
            cp "$tmp/stdout" "$name.summary"
            continue
        fi
        problems=""
        [ $rc -eq 0 ] || problems+=" exit status $rc (expected 0);"
        [ -s "$tmp/stderr" ] && problems+=" diagnostics: $(head -3 "$tmp/stderr");"
        diff -u "$name.summary" "$tmp/stdout" >"$tmp/diff" || problems+=" summary differs:"
    fi
    if [ -z "$problems" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $dir/$f:$problems"
        [ -s "$tmp/diff" ] && cat "$tmp/diff"
    fi
done
[ "$mode" = update ] && exit 0
echo "$pass passed, $fail failed"
[ $pass -gt 0 ] && [ $fail -eq 0 ]
