#!/usr/bin/env bash
# The README's main job: install, build, and show the reference network.
# (Grows into: train models/fashion.cnn on Debian's Fashion-MNIST.)
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh build demo
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
build/compiler/cnnc summary models/fruit.cnn
