#!/bin/sh
# Install what castoff's tests need from Debian, idempotently: nothing is done when it is there.
# Today that is a Rust toolchain (cargo, rustc) for building examples/hello natively.
set -eu
if [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi
missing=""
command -v cargo >/dev/null 2>&1 || missing="$missing cargo"
command -v rustc >/dev/null 2>&1 || missing="$missing rustc"
if [ -n "$missing" ]; then
    echo "install-system: installing$missing from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -o APT::Architectures::=amd64
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
fi
