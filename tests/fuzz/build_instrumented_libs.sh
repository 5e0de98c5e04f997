#!/bin/sh
# build_instrumented_libs.sh [WORK_DIR]
# The decode fuzzer with eyes inside the decoders: builds libjpeg-turbo and
# libpng from the Debian source packages of the versions installed here
# (the same code the trainers link), compiled by clang with libFuzzer's
# coverage (-fsanitize=fuzzer-no-link) and ASan + UBSan, then builds cnnc's
# fuzz_decode against those static libraries instead of the system's.
#
#   WORK_DIR (default build-fuzz-libs/ in the current folder)
#     apt/            a private apt configuration: deb-src lines, lists and
#                     cache of its own; the system's sources and lists are
#                     never touched
#     src/            the unpacked source packages (apt-get source)
#     prefix/         the instrumented static libraries and their headers
#     cnnc/           the cnnc fuzz build: cnnc/tests/fuzz_decode
#
# Then: WORK_DIR/cnnc/tests/fuzz_decode -max_total_time=600 CORPUS_COPY
# (docs/testing.md). Needs clang, libclang-rt-14-dev, cmake, dpkg-dev
# (dpkg-source) and the Debian mirror ($CNNC_DEBIAN_MIRROR, default
# http://deb.debian.org/debian); run as root or as a user (apt-get source
# needs no privileges with a private configuration). SIMD is off in
# libjpeg-turbo so that every decoding path is C the fuzzer can see.
set -eu
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-build-fuzz-libs}
mkdir -p "$work"
work=$(cd "$work" && pwd)
mirror=${CNNC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${CNNC_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
jobs=${JOBS:-2}
say() { echo "build_instrumented_libs: $*"; }
die() {
    echo "build_instrumented_libs: error: $*" >&2
    exit 1
}
for tool in clang cmake apt-get dpkg-source dpkg-query; do
    command -v "$tool" >/dev/null 2>&1 || die "no $tool (bash scripts/install-deps.sh fuzz)"
done
[ -f "$keyring" ] || die "no $keyring (apt-get install debian-archive-keyring)"
# shellcheck disable=SC1091
. /etc/os-release
suite=${VERSION_CODENAME:-bookworm}

# The versions installed here, by source package.
src_version() { dpkg-query -W -f='${source:Package}=${source:Version}' "$1" 2>/dev/null || die "$1 is not installed"; }
jpeg_src=$(src_version libjpeg62-turbo-dev)
png_src=$(src_version libpng-dev)
say "sources: $jpeg_src $png_src"

# A private apt configuration: only deb-src lines, its own lists and cache.
apt_dir=$work/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d"
cat >"$apt_dir/sources.list" <<EOF
deb-src [signed-by=$keyring] $mirror $suite main
deb-src [signed-by=$keyring] $mirror $suite-updates main
deb-src [signed-by=$keyring] $security $suite-security main
EOF
set -- -o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts="$apt_dir/sources.list.d" \
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" -o APT::Sandbox::User=root
apt-get "$@" -q update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log"; die "apt-get update (private lists)"; }

mkdir -p "$work/src"
cd "$work/src"
for pkg in "$jpeg_src" "$png_src"; do
    name=${pkg%%=*} version=${pkg#*=}
    upstream=${version#*:}
    upstream=${upstream%-*}
    if [ ! -d "$work/src/$name-$upstream" ]; then
        say "apt-get source $pkg"
        # The mirror keeps only the newest Debian revision of each suite:
        # when the installed one is gone, take the release's, then the
        # newest (Debian's later patches on the same upstream code), and
        # say so.
        got=
        for want in "$pkg" "$name/$suite" "$name"; do
            if apt-get "$@" -q source "$want" >>"$work/src/$name.log" 2>&1; then
                got=$want
                break
            fi
            rm -f "$work/src/${name}_"*
        done
        [ -n "$got" ] || { cat "$work/src/$name.log"; die "apt-get source $name"; }
        [ "$got" = "$pkg" ] || say "$pkg is no longer on the mirror; built $got instead"
    fi
    [ -d "$work/src/$name-$upstream" ] || die "apt-get source $pkg made no $name-$upstream/"
done

# The libraries: static, instrumented, installed into prefix/.
prefix=$work/prefix
flags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined"
jpeg_dir=$work/src/$(basename "$(ls -d "$work"/src/libjpeg-turbo-*/ | head -n 1)")
png_dir=$work/src/$(basename "$(ls -d "$work"/src/libpng1.6-*/ | head -n 1)")
say "building $jpeg_dir"
CC=clang CFLAGS="$flags" cmake -S "$jpeg_dir" -B "$work/build-jpeg" -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR="$prefix/lib" -DENABLE_SHARED=OFF -DENABLE_STATIC=ON \
    -DWITH_SIMD=0 -DWITH_TURBOJPEG=0 -DWITH_JAVA=0 >"$work/jpeg-configure.log" 2>&1 ||
    { tail -n 30 "$work/jpeg-configure.log"; die "configuring libjpeg-turbo"; }
cmake --build "$work/build-jpeg" -j"$jobs" --target install >"$work/jpeg-build.log" 2>&1 ||
    { tail -n 30 "$work/jpeg-build.log"; die "building libjpeg-turbo"; }
say "building $png_dir"
CC=clang CFLAGS="$flags" cmake -S "$png_dir" -B "$work/build-png" -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib -DPNG_SHARED=OFF -DPNG_STATIC=ON \
    -DPNG_TESTS=OFF -DPNG_EXECUTABLES=OFF -DPNG_HARDWARE_OPTIMIZATIONS=OFF >"$work/png-configure.log" 2>&1 ||
    { tail -n 30 "$work/png-configure.log"; die "configuring libpng"; }
cmake --build "$work/build-png" -j"$jobs" --target install >"$work/png-build.log" 2>&1 ||
    { tail -n 30 "$work/png-build.log"; die "building libpng"; }
[ -f "$prefix/lib/libjpeg.a" ] && [ -f "$prefix/lib/libpng16.a" ] || die "no libjpeg.a or libpng16.a in $prefix/lib"

# cnnc's decode fuzzer, linked against them.
say "building fuzz_decode against $prefix"
CC=clang cmake -S "$src_dir" -B "$work/cnnc" -DCMAKE_BUILD_TYPE=Release -DCNNC_FUZZ=ON -DCNNC_SANITIZE=ON \
    -DCNNC_WERROR=OFF -DCNNC_NATIVE=OFF -DJPEG_INCLUDE_DIR="$prefix/include" -DJPEG_LIBRARY="$prefix/lib/libjpeg.a" \
    -DPNG_PNG_INCLUDE_DIR="$prefix/include" -DPNG_LIBRARY="$prefix/lib/libpng16.a" \
    >"$work/cnnc-configure.log" 2>&1 || { tail -n 30 "$work/cnnc-configure.log"; die "configuring cnnc"; }
cmake --build "$work/cnnc" -j"$jobs" --target fuzz_decode >"$work/cnnc-build.log" 2>&1 ||
    { tail -n 30 "$work/cnnc-build.log"; die "building fuzz_decode"; }
say "ok: $work/cnnc/tests/fuzz_decode"
