#!/usr/bin/env bash
# Installs what cnnc needs on Debian 12, as root. Idempotent: packages that
# are already installed are left alone, and apt is not touched at all when
# nothing is missing.
#   scripts/install-deps.sh build    compiler toolchain, flex, bison, libjpeg-turbo, libpng
#   scripts/install-deps.sh test     + PyTorch (parity tests), clang (warning checks), lld (export --web),
#                                    Open MPI (cnnc build --mpi and the mpi tests)
#   scripts/install-deps.sh demo     + Debian's Fashion-MNIST dataset (the README's main job)
#   scripts/install-deps.sh bench    + what the comparisons run: PyTorch, hyperfine, node and npm
#                                    (cnnc compare --ort-install npm-installs onnxruntime-node)
#   scripts/install-deps.sh package  + debootstrap (the fresh Debian 12 of install_deb_debian12), lintian
#   scripts/install-deps.sh browser  + Chromium, clang and lld: the browser test of `cnnc export --web`
#                                    (with bench: scripts/compare_web.py npm-installs onnxruntime-web)
set -eu
want=(build-essential cmake flex bison libjpeg62-turbo-dev libpng-dev zlib1g-dev pkg-config)
for role in "$@"; do
    case $role in
    build) ;;
    test) want+=(clang lld python3 python3-torch python3-numpy python3-pil openmpi-bin libopenmpi-dev) ;;
    demo) want+=(dataset-fashion-mnist) ;;
    bench) want+=(python3-torch python3-torchvision python3-numpy python3-pil libopenblas0-pthread libjemalloc2 hyperfine)
           # node and npm for ONNX Runtime, unless another packaging already provides them
           command -v node >/dev/null 2>&1 || want+=(nodejs)
           command -v npm >/dev/null 2>&1 || want+=(npm) ;;
    fuzz) want+=(clang libclang-rt-14-dev) ;;
    package) want+=(debootstrap lintian curl) ;;
    browser) want+=(chromium clang lld python3 python3-pil) ;;
    *) echo "install-deps.sh: unknown role '$role' (build, test, demo, bench, fuzz, package, browser)" >&2; exit 1 ;;
    esac
done
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: missing packages: ${missing[*]}; run as root (or: sudo $0 $*)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
