#!/bin/sh
# compare_e2e.sh FILE.cnn DATA_DIR [--epochs 10] [--threads N] [--repeat K] [--json-out FILE]
# A whole training on a folder of JPEGs, decoding included: cnnc's trainer vs
# PyTorch + torchvision with its best DataLoader settings (scripts/compare_e2e.py,
# docs/benchmarks.md). scripts/make_jpeg_folder.py makes a test folder.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" "$(dirname "$0")/compare_e2e.py" "$@"
