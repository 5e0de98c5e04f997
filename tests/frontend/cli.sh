#!/usr/bin/env bash
# The cnnc command-line contract (README.md, man/cnnc.1): exit statuses and messages.
set -u
cnnc=$1
model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
check() { # check DESCRIPTION EXPECTED_STATUS EXPECTED_STDERR_REGEX -- command...
    local what=$1 want=$2 pattern=$3
    shift 4
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -ne "$want" ] || { [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$tmp/err" "$tmp/out"; }; then
        echo "FAIL: $what: status $rc (want $want); output:"
        cat "$tmp/out" "$tmp/err" | head -5
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
}
check "--version" 0 '^cnnc [0-9]+\.[0-9]+\.[0-9]+$' -- "$cnnc" --version
check "--help" 0 'cnnc summary FILE.cnn' -- "$cnnc" --help
check "no arguments" 1 'usage: cnnc' -- "$cnnc"
check "unknown option" 1 "unknown option '--frobnicate'" -- "$cnnc" --frobnicate "$model"
check "missing file" 1 "cnnc: error: cannot read $tmp/nope.cnn: No such file or directory" -- "$cnnc" summary "$tmp/nope.cnn"
check "a folder as input" 1 "cnnc: error: cannot read $tmp" -- "$cnnc" summary "$tmp"
check "emit without -o" 1 'no output given' -- "$cnnc" "$model"
check "unknown emit target" 1 "unknown --emit target 'rust'" -- "$cnnc" --emit rust "$model" -o "$tmp/x"
check "summary -o" 1 "writes no file" -- "$cnnc" summary "$model" -o "$tmp/x"
check "two inputs" 1 'more than one input file' -- "$cnnc" summary "$model" "$model"
check "summary" 0 'Total params: 1,848,417' -- "$cnnc" summary "$model"
check "check" 0 '' -- "$cnnc" check "$model"
printf 'model m\ninput 8x8x1\nlayers {\n  flatten\n  dense 1 sigmoid\n}\n' >"$tmp/ok.cnn"
check "binary input" 1 "unexpected (NUL byte|control character)" -- "$cnnc" check /bin/true
check "empty file" 1 "missing 'model NAME'" -- "$cnnc" check /dev/null
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
