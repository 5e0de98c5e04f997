#!/bin/sh
# deb_debian12_test.sh CPACK BUILD_DIR SOURCE_DIR MAKE_IMAGE_FOLDER
# The Debian package installed for real on a fresh Debian 12: a minimal
# bookworm system made by debootstrap (--variant=minbase) in a chroot, the
# package made by cpack copied in and installed with
#     apt-get install --no-install-recommends ./cnnc_VERSION_ARCH.deb
# (its declared dependencies resolved from the Debian mirror, recommended
# packages left out so that Depends alone must be enough), then, in an empty
# folder with no source tree anywhere in that system, `cnnc build` of
# tiny.cnn and one epoch of training on a small generated image folder.
#
# The debootstrapped system is cached as BUILD_DIR/tests/install/debian12/
# bookworm-minbase.tar.gz and the .debs apt downloads in
# BUILD_DIR/tests/install/debian12/archives/, so a rerun unpacks instead of
# bootstrapping and downloads nothing twice; every run installs into a
# fresh copy. Mounts (/proc, /dev, the archive cache) live in a private
# mount namespace (unshare -m), so they vanish with the test even when it is
# killed. Skips (77) when not root, or debootstrap, unshare, chroot or the
# mirror ($CNNC_DEBIAN_MIRROR, default http://deb.debian.org/debian) is
# missing.
set -eu
cpack=$1 build=$2 src=$3 make_folder=$4
mirror=${CNNC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
skip() {
    echo "deb_debian12: skipped: $*"
    exit 77
}
fail() {
    echo "deb_debian12: FAIL: $*"
    exit 1
}
now() { date +%s; }
t0=$(now)
phase() { echo "deb_debian12: [$(($(now) - t0)) s] $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot and mounts)"
for tool in debootstrap unshare chroot mount dpkg-deb tar; do
    command -v "$tool" >/dev/null 2>&1 || skip "no $tool (apt-get install debootstrap util-linux)"
done
release=$mirror/dists/$suite/Release
if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 20 -o /dev/null "$release" 2>/dev/null || skip "the Debian mirror is not reachable ($release)"
elif command -v wget >/dev/null 2>&1; then
    wget -q -T 20 -O /dev/null "$release" || skip "the Debian mirror is not reachable ($release)"
else
    skip "neither curl nor wget to check the mirror $mirror"
fi
unshare -m true 2>/dev/null || skip "cannot make a mount namespace (unshare -m): not allowed in this container"

cache=$build/tests/install/debian12
tarball=$cache/$suite-minbase.tar.gz
mkdir -p "$cache/archives/partial"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnnc-debian12-XXXXXX")
root=$tmp/root
# Remove the temporary system only when nothing is mounted inside it any
# more (the namespace is gone by then; this guards against a leak).
cleanup() {
    if grep -qF " $root/" /proc/mounts; then
        echo "deb_debian12: still mounted under $root; left in place"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

# The package.
(cd "$build" && "$cpack" -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
set -- "$tmp"/out/cnnc_*.deb
[ -f "$1" ] || fail "no cnnc_VERSION_ARCH.deb in $tmp/out"
deb=$1
phase "made $(basename "$deb")"

# A fresh Debian 12, from the cache or from the mirror.
if [ ! -f "$tarball" ]; then
    phase "debootstrap --variant=minbase $suite from $mirror (cached afterwards in $tarball)"
    rm -rf "$cache/bootstrap"
    unshare -m --propagation private \
        debootstrap --variant=minbase "$suite" "$cache/bootstrap" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
        { tail -n 30 "$tmp/debootstrap.log"; fail "debootstrap (log above)"; }
    tar -C "$cache/bootstrap" -czf "$tarball.part" . || fail "tar of the new system"
    mv "$tarball.part" "$tarball"
    rm -rf "$cache/bootstrap"
fi
mkdir "$root"
tar -C "$root" -xzf "$tarball" || fail "unpacking $tarball"
phase "fresh $suite system in $root"
[ -d "$root/usr/share/cnnc" ] && fail "the fresh system already holds cnnc"

cp "$deb" "$root/tmp/" && chmod 0644 "$root/tmp/$(basename "$deb")"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
# The user's files: a .cnn and an image folder, nothing else of cnnc.
mkdir -p "$root/root/work" "$root/root/data"
cp "$src/tests/install/tiny.cnn" "$root/root/work/"
(cd "$root/root/data" && "$make_folder" images 12 16) || fail "make_image_folder"

cat >"$root/tmp/inside.sh" <<EOF
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends /tmp/$(basename "$deb")
echo "deb_debian12: inside: installed \$(dpkg-query -W -f='\${Package} \${Version}' cnnc)"
cd /root/work
ls -A
command -v cnnc
cnnc --version
cnnc build tiny.cnn -o tiny -v
./tiny train --data /root/data/images --epochs 1 --threads 2 --out run --quiet
test -f run/model.safetensors
./tiny predict --out run /root/data/images/bright/bright_000.jpg
test -f /usr/share/man/man1/cnnc.1.gz
test -f /usr/share/doc/cnnc/copyright
EOF

# /proc for cnnc (it finds its runtime through /proc/self/exe) and apt,
# /dev for /dev/null and friends, the cached archives for apt.
phase "apt-get install ./$(basename "$deb") and a first trainer inside the chroot"
unshare -m --propagation private sh -c '
    set -e
    root=$1 archives=$2
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --bind "$archives" "$root/var/cache/apt/archives"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 /bin/sh /tmp/inside.sh
' sh "$root" "$cache/archives" >"$tmp/inside.log" 2>&1 || { tail -n 60 "$tmp/inside.log"; fail "inside the $suite chroot (log above)"; }
grep -v "^\(Get\|Selecting\|Preparing\|Unpacking\|Setting up\|Processing\):\? " "$tmp/inside.log" | tail -n 40
phase "done"
echo "deb_debian12: ok"
