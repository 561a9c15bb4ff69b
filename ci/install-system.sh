#!/bin/sh
# Install the Debian packages castoff's builds and tests need, idempotently: a package that is
# already installed is not touched, and with nothing missing apt is not called at all.
#   rustc-web cargo-web rust-web-src   Rust 1.96 with std's sources (offline -Zbuild-std)
#   qemu-user-static binfmt-support    run foreign binaries (smoke-runs)
#   gcc-powerpc64{le,}-linux-gnu ...   link ppc64le and ppc64 glibc builds (zig cannot)
#   libc6-*-cross                      glibc sysroots for QEMU_LD_PREFIX
#   gnupg gpgv minisign openssh-client signing backends (sign and verify)
#   librust-clap-dev ... librust-anyhow-dev  crates of examples/greet, offline (its .cargo/config.toml)
#   librust-pyo3-dev                   PyO3 for examples/knot's sdist, built back offline
#   podman runc uidmap slirp4netns mmdebstrap  cibuildwheel's container engine, and what makes
#                                      castoff's local build image (no registry is reachable)
#   musl                               musl's loader: the rehearsal imports knot's musllinux
#                                      wheel with the musl CPython of castoff's musl image
#   wine64                             Wine, standing in for Windows x64: smoke-runs the
#                                      x86_64-pc-windows-gnu builds
set -eu
# These are Debian 12's package names (rustc-web exists nowhere else): on another system, say
# so instead of half-installing. GitHub runs this suite in a debian:12 container (tests.yml).
. /etc/os-release 2>/dev/null || true
if [ "${ID:-}" != "debian" ] || [ "${VERSION_ID:-}" != "12" ]; then
    echo "install-system: castoff's own tests need Debian 12 (this is ${PRETTY_NAME:-unknown});" \
        "run them in a debian:12 container, as .github/workflows/tests.yml does." >&2
    exit 1
fi
packages="rustc-web cargo-web rust-web-src qemu-user-static binfmt-support
    gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross libc6-ppc64el-cross libc6-arm64-cross
    gcc-powerpc64-linux-gnu libc6-dev-ppc64-cross libc6-ppc64-cross
    gnupg gpgv minisign openssh-client
    librust-clap-dev librust-clap-derive-dev librust-anyhow-dev librust-pyo3-dev
    podman runc uidmap slirp4netns mmdebstrap musl wine64"
missing=""
for package in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing="$missing $package"
done
if [ -z "$missing" ]; then
    echo "install-system: all Debian packages present" >&2
    exit 0
fi
echo "install-system: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# With foreign architectures enabled some of their indexes fail to update; ours are all amd64.
$sudo apt-get update -o APT::Architectures::=amd64
# shellcheck disable=SC2086 # one word per package
$sudo apt-get install -y --no-install-recommends $missing
