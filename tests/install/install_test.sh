#!/bin/sh
# install_test.sh MODE CMAKE BUILD_DIR SOURCE_DIR MAKE_IMAGE_FOLDER
# An installed cnnc, used as a user would, far from the source tree: every
# mode installs BUILD_DIR (cmake --install) into a fresh temporary folder,
# then MOVES the prefix, so nothing can work through a path remembered from
# the build, and unsets CNNC_RUNTIME_INCLUDE / CNNC_RUNTIME_LIB.
#   relocated  the installed files; `cnnc build` of tiny.cnn in an empty
#              folder, one epoch of training on a generated image folder,
#              predict; a clear error once the headers are gone, and
#              `cnnc export` of the trained weights still working
#   cmake      a user's CMake project (user_project/) with find_package(cnnc):
#              the trainer by cnn_add_model, trained one epoch, and a
#              program embedding the model, built once through the CMake
#              package and once through cnnrt.pc
#   compare    the installed `cnnc compare` on tiny.cnn (tests/bench/compare_cli.py
#              --installed: --help, --json, --svg, --data)
set -eu
mode=$1 cmake=$2 build=$3 src=$4 make_folder=$5
here=$src/tests/install

fail() {
    echo "install_test $mode: FAIL: $*"
    exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnnc-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$cmake" --install "$build" --prefix "$tmp/staged" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
mv "$tmp/staged" "$tmp/moved"
p=$tmp/moved
unset CNNC_RUNTIME_INCLUDE CNNC_RUNTIME_LIB CNNC CNNC_REFERENCE_SRC CNNC_BUILD_DIR
# The library folder as GNUInstallDirs named it (lib, lib64 or lib/ARCH).
libdir=$(dirname "$(find "$p" -name libcnnrt.a | head -n 1)")
[ -f "$libdir/libcnnrt.a" ] || fail "no libcnnrt.a installed"
mkdir "$tmp/user"
cd "$tmp/user"
cp "$here/tiny.cnn" .
"$make_folder" images 12 16 || fail "make_image_folder"

case $mode in
relocated)
    for f in bin/cnnc include/cnnc/cnn_model.h include/cnnc/cnn_trainer.h include/cnnc/cnn_rng.h \
             share/cnnc/compare.py share/cnnc/compare_e2e.py share/cnnc/reference/bench_reference.c \
             share/cnnc/reference/reference.c share/cnnc/reference/reference_layers.c share/cnnc/examples/fruit.cnn \
             share/man/man1/cnnc.1.gz share/man/man1/cnnc-trainer.1.gz share/doc/cnnc/install.md; do
        [ -f "$p/$f" ] || fail "$f is not installed"
    done
    for f in cmake/cnnc/cnncConfig.cmake cmake/cnnc/cnncConfigVersion.cmake cmake/cnnc/cnncTargets.cmake \
             cmake/cnnc/CnnModel.cmake pkgconfig/cnnrt.pc; do
        [ -f "$libdir/$f" ] || fail "$libdir/$f is not installed"
    done
    "$p/bin/cnnc" --version | grep -q '^cnnc [0-9]' || fail "cnnc --version"
    # No path of the build or source folder inside the installed files
    # (the build tree's own cnnc reads them from BUILD/compiler/cnnc-build-tree).
    for d in "$build" "$src"; do
        if grep -rlF "$d" "$p/bin" "$p/include" "$libdir/libcnnrt.a" "$libdir/pkgconfig" "$libdir/cmake"; then
            fail "the files above hold the path $d"
        fi
    done

    # The trainer, built with the moved prefix's runtime only.
    "$p/bin/cnnc" build tiny.cnn -o tiny -v 2>build.log || { cat build.log; fail "cnnc build"; }
    cat build.log
    grep -q -- "-I$p/" build.log || fail "cnnc build did not use the installed headers"
    grep -q -- "$libdir/libcnnrt.a" build.log || fail "cnnc build did not link the installed libcnnrt.a"
    ./tiny train --data images --epochs 1 --threads 2 --out run --quiet || fail "training"
    [ -f run/model.safetensors ] || fail "no run/model.safetensors"
    [ "$(wc -l < run/history.csv)" -eq 2 ] || fail "history.csv should hold a header and one epoch"
    ./tiny predict --out run images/bright/bright_000.jpg images/dark/dark_001.png >predict.txt || fail "predict"
    cat predict.txt
    [ "$(wc -l < predict.txt)" -eq 2 ] || fail "predict should print one line per image"

    # Without its headers an installed cnnc says what is missing and where;
    # `cnnc export` needs none of the runtime: its file is freestanding.
    mv "$p/include/cnnc" "$p/include/cnnc.away"
    "$p/bin/cnnc" export tiny.cnn --weights run/model.safetensors -o exported || fail "cnnc export"
    ${CC:-cc} -std=c99 -O2 -c exported/tiny_infer.c -o tiny_infer.o || fail "the exported file does not compile"
    if "$p/bin/cnnc" build tiny.cnn -o tiny2 2>err.txt; then fail "cnnc build worked without headers"; fi
    cat err.txt
    grep -q "runtime headers not found: $p/include/cnnc/cnn_model.h" err.txt || fail "unclear error"
    [ ! -e tiny2 ] || fail "a failed build left tiny2"
    mv "$p/include/cnnc.away" "$p/include/cnnc"
    ;;
cmake)
    command -v pkg-config >/dev/null || { echo "install_test: skipped: no pkg-config"; exit 77; }
    "$cmake" -S "$here/user_project" -B ub -DCMAKE_PREFIX_PATH="$p" -DCMAKE_BUILD_TYPE=Release \
        >configure.log 2>&1 || { cat configure.log; fail "configuring the user project"; }
    grep -q "cnnc_DIR:PATH=$libdir/cmake/cnnc" ub/CMakeCache.txt || fail "find_package did not find the moved prefix"
    "$cmake" --build ub -j2 >build.log 2>&1 || { cat build.log; fail "building the user project"; }
    ub/tiny train --data images --epochs 1 --threads 2 --out run --quiet || fail "training"
    [ -f run/model.safetensors ] || fail "no run/model.safetensors"
    ub/embed >embed.txt || fail "embed"
    ub/embed_pc >embed_pc.txt || fail "embed_pc"
    cat embed.txt embed_pc.txt
    grep -q "^tiny: 16 x 16 x 3 input" embed.txt || fail "embed's output"
    cmp -s embed.txt embed_pc.txt || fail "the CMake and pkg-config builds disagree"
    ;;
compare)
    [ -x /usr/bin/python3 ] || { echo "install_test: skipped: no /usr/bin/python3 (apt-get install python3)"; exit 77; }
    /usr/bin/python3 "$src/tests/bench/compare_cli.py" --installed "$p/bin/cnnc" tiny.cnn tiny.cnn "$make_folder" ||
        fail "cnnc compare"
    ;;
*)
    fail "unknown mode"
    ;;
esac
echo "install_test $mode: ok"
