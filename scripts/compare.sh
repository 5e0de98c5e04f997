#!/bin/sh
# compare.sh FILE.cnn [--batch N] [--threads N] [--seconds S] [--search full|quick]
#            [--repeat K] [--all] [--json]
# cnnc's trainer vs the generic reference engine vs PyTorch on the same work,
# in one table (see scripts/compare.py and docs/benchmarks.md). Runs with
# Debian's Python (/usr/bin/python3, where python3-torch installs torch).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/compare.py" "$@"
