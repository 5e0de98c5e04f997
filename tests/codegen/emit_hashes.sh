#!/usr/bin/env bash
# emit_hashes.sh: the safety net for refactoring the compiler. Emits C and the
# PyTorch twin for every valid .cnn in the tree and for seeded random networks,
# and prints one "sha256  name" line per output file, sorted.
#   emit_hashes.sh CNNC GEN_RANDOM_CNN             print the hashes
#   emit_hashes.sh CNNC GEN_RANDOM_CNN BASELINE    compare with BASELINE (exit 1 on a difference)
# A refactoring that moves code keeps every hash; a change that alters the
# generated text updates tests/codegen/emit_hashes.txt in the same commit
# (regenerate: emit_hashes.sh CNNC GEN > tests/codegen/emit_hashes.txt).
set -eu
cnnc=$1 gen=$2 baseline=${3:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
emit() { # NAME FILE.cnn
    mkdir -p "$tmp/out/$1"
    "$cnnc" "$2" -o "$tmp/out/$1" >/dev/null
    "$cnnc" --emit pytorch "$2" -o "$tmp/out/$1/twin.py" >/dev/null
}
cd "$root"
for f in models/*.cnn tests/codegen/nets/*.cnn tests/frontend/valid/*.cnn tests/parity/*.cnn tests/trainer/*.cnn tests/bench/*.cnn; do
    [ -f "$f" ] || continue
    emit "$(echo "${f%.cnn}" | tr / _)" "$f"
done
for seed in $(seq 1 40); do
    "$gen" "$seed" "$tmp/random_$seed.cnn"
    emit "random_$seed" "$tmp/random_$seed.cnn"
done
(cd "$tmp/out" && find . -type f ! -name '*.cnn' | sort | xargs sha256sum) > "$tmp/hashes"
if [ -z "$baseline" ]; then
    cat "$tmp/hashes"
    exit 0
fi
if ! diff -u "$baseline" "$tmp/hashes"; then
    echo "emit_hashes: generated output differs from $baseline (see above)" >&2
    exit 1
fi
echo "emit_hashes: $(wc -l < "$tmp/hashes") outputs match $baseline"
