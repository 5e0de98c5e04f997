#!/bin/sh
# bad_run.sh MAKE_BAD_FOLDER TRAINER WORKDIR
# A training run on a folder of bad files (made by make_bad_folder) completes,
# names every bad file with its reason and counts them; --strict refuses.
set -u
maker=$1 trainer=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
"$maker" "$work/data" > "$work/expected" || { echo "cannot make the fixture folder"; exit 1; }
fail=0

"$trainer" train --data "$work/data" --epochs 1 --batch 4 --out "$work/run" > "$work/out.txt" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "training on the bad folder failed (exit $rc):"
    cat "$work/out.txt"
    exit 1
fi
while IFS= read -r name; do
    if ! grep -F "$name" "$work/out.txt" | grep -q "^skipped "; then
        echo "bad entry not named: $name"
        fail=1
    fi
done < "$work/expected"
n=$(wc -l < "$work/expected")
grep -q "^skipped $n of 16 files" "$work/out.txt" || { echo "no final count line 'skipped $n of 16 files'"; fail=1; }
[ -f "$work/run/model.safetensors" ] || { echo "the run saved no model"; fail=1; }

"$trainer" train --data "$work/data" --epochs 1 --batch 4 --strict --out "$work/run-strict" > "$work/strict.txt" 2>&1
rc=$?
[ "$rc" -eq 1 ] || { echo "--strict: exit $rc, expected 1"; fail=1; }
grep -q "strict" "$work/strict.txt" || { echo "--strict: no message"; cat "$work/strict.txt"; fail=1; }

if [ "$fail" -ne 0 ]; then
    echo "--- trainer output ---"
    cat "$work/out.txt"
    exit 1
fi
echo "bad_run: ok ($n bad entries named, training completed, --strict refused)"
