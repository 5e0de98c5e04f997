#!/usr/bin/env bash
# The README's main job, on a fresh Debian 12 machine (as root; idempotent):
# install the tools and Debian's Fashion-MNIST, build cnnc and the trainers,
# train models/fashion.cnn (60,000 training images, validated on the 10,000
# test images), then evaluate it on the test set (accuracy and confusion
# matrix) and predict a few test images.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh build demo
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"

fmnist=/usr/share/datasets/fashion-mnist
trainer=build/models/fashion
run=runs/fashion
build/compiler/cnnc summary models/fashion.cnn
# --resume: a second run of this script continues an interrupted training
# (or finds it finished) instead of starting again; the first one starts at
# epoch 1.
"$trainer" train --out "$run" --resume
echo
echo "== Test set (t10k, 10,000 images)"
"$trainer" evaluate --out "$run" --data "$fmnist/t10k-images-idx3-ubyte.gz"
echo
echo "== Predictions for the first five test images (the true labels are: ankle boot, pullover, trouser, trouser, shirt)"
"$trainer" predict --out "$run" "$fmnist/t10k-images-idx3-ubyte.gz#0" "$fmnist/t10k-images-idx3-ubyte.gz#1" \
    "$fmnist/t10k-images-idx3-ubyte.gz#2" "$fmnist/t10k-images-idx3-ubyte.gz#3" "$fmnist/t10k-images-idx3-ubyte.gz#4"
