#!/usr/bin/env bash
# The README's test command: install what the tests need, build, run CTest.
# Default run: every test but the labels `slow` and `bench`.
#   CNNC_TEST_LABELS=slow scripts/test.sh     run only the slow ones
set -eu
cd "$(dirname "$0")/.."
roles="build test"
case ${CNNC_TEST_LABELS:-} in
*slow* | *install*) roles="$roles package" ;; # install_deb_debian12: debootstrap
esac
scripts/install-deps.sh $roles
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
cd build
if [ -n "${CNNC_TEST_LABELS:-}" ]; then
    ctest --output-on-failure -j"$(nproc)" -L "$CNNC_TEST_LABELS"
else
    ctest --output-on-failure -j"$(nproc)" -LE 'slow|bench'
fi
