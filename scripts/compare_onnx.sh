#!/bin/sh
# compare_onnx.sh [FILE.cnn ...] [--seconds S] [--ort-dir DIR] [--json]
# cnnc export vs ONNX Runtime on one thread, one image per call (see
# scripts/compare_onnx.py and docs/benchmarks.md). Runs with Debian's Python
# (/usr/bin/python3, where python3-torch installs torch).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/compare_onnx.py" "$@"
