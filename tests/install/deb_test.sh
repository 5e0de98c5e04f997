#!/bin/sh
# deb_test.sh CPACK BUILD_DIR SOURCE_DIR MAKE_IMAGE_FOLDER
# The Debian package: cpack -G DEB of BUILD_DIR into a temporary folder; its
# control file must declare what `cnnc build` needs at the user's (a C
# compiler, the C library's, libjpeg-turbo's, libpng's and zlib's
# development files, OpenMP's runtime) and its file list hold the tool, the
# runtime, the headers, the CMake and pkg-config files and the man pages.
# Then the package is unpacked (dpkg-deb -x, not installed) and its cnnc
# builds and trains tiny.cnn from there: the files work from any prefix.
set -eu
cpack=$1 build=$2 src=$3 make_folder=$4
fail() {
    echo "deb_test: FAIL: $*"
    exit 1
}
command -v dpkg-deb >/dev/null || { echo "deb_test: skipped: no dpkg-deb (not a Debian system)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnnc-deb-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$build" && "$cpack" -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
cat "$tmp/cpack.log"
set -- "$tmp"/out/cnnc_*.deb
[ -f "$1" ] || fail "no cnnc_VERSION_ARCH.deb in $tmp/out"
deb=$1
echo "package: $(basename "$deb")"

dpkg-deb -I "$deb" >"$tmp/info" || fail "dpkg-deb -I"
cat "$tmp/info"
depends=$(sed -n 's/^ Depends: //p' "$tmp/info")
for d in gcc libc6-dev libgomp1 libjpeg62-turbo-dev libpng-dev zlib1g-dev; do
    printf '%s\n' "$depends" | tr ',|' '\n\n' | sed 's/^ *//; s/ .*//' | grep -qx "$d" || fail "Depends lacks $d"
done
grep -q '^ Package: cnnc$' "$tmp/info" || fail "package name"

dpkg-deb -c "$deb" | awk '{print $NF}' >"$tmp/files" || fail "dpkg-deb -c"
for f in ./usr/bin/cnnc ./usr/include/cnnc/cnn_model.h ./usr/include/cnnc/cnn_trainer.h ./usr/include/cnnc/cnn_rng.h \
         ./usr/share/cnnc/compare.py ./usr/share/cnnc/reference/reference.c ./usr/share/man/man1/cnnc.1.gz \
         ./usr/share/man/man1/cnnc-trainer.1.gz ./usr/share/doc/cnnc/install.md ./usr/share/doc/cnnc/copyright ./usr/share/doc/cnnc/changelog.gz; do
    grep -qx "$f" "$tmp/files" || fail "$f is not in the package"
done
for f in libcnnrt.a cmake/cnnc/cnncConfig.cmake cmake/cnnc/cnncTargets.cmake pkgconfig/cnnrt.pc; do
    grep -q "^\./usr/lib/\(.*/\)\?$f\$" "$tmp/files" || fail "lib/$f is not in the package"
done
grep -q "^\./usr/local\|^\./home\|^\./work" "$tmp/files" && fail "files outside /usr"

# The unpacked package's cnnc, on its own.
dpkg-deb -x "$deb" "$tmp/root" || fail "dpkg-deb -x"
unset CNNC_RUNTIME_INCLUDE CNNC_RUNTIME_LIB
mkdir "$tmp/user" && cd "$tmp/user"
cp "$src/tests/install/tiny.cnn" .
"$make_folder" images 8 16 || fail "make_image_folder"
"$tmp/root/usr/bin/cnnc" build tiny.cnn -o tiny || fail "the package's cnnc build"
./tiny train --data images --epochs 1 --threads 2 --out run --quiet || fail "training"
[ -f run/model.safetensors ] || fail "no run/model.safetensors"
echo "deb_test: ok"
