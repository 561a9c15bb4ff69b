"""A real rustup against the local dist server of tests/rust_dist.py: static.rust-lang.org offline.

The std sysroot comes from castoff's own cache; a cold one is built by castoff (about 90 s).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests import rust_dist

TARGET = "aarch64-unknown-linux-musl"
CRATE = '[package]\nname = "tiny"\nversion = "0.1.0"\nedition = "2021"\n'

pytestmark = pytest.mark.skipif(
    not (rust_dist.RUSTUP.is_file() and rust_dist.DEBIAN_RUSTC.is_file()),
    reason="needs rustup in ~/.cargo/bin and Debian's rustc-web (the server's source)",
)


def run(home: Path, tool: str, *args: str, env: Mapping[str, str], cwd: Path | None = None) -> str:
    """Run one of the home's rustup proxies; return its output."""
    result = subprocess.run(
        [str(home / ".cargo" / "bin" / tool), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_rustup_installs_and_adds_targets_from_a_local_dist_server_standing_in_for_static_rust_lang_org(  # noqa: E501
    tmp_path: Path,
) -> None:
    """rustup-init installs stable from the server; `rustup target add` gives std to build with."""
    server = rust_dist.dist_server({TARGET: rust_dist.castoff_sysroot(TARGET)})
    home = tmp_path / "home"
    server.install(home)
    env = server.environment(home)

    version = run(home, "rustc", "-vV", env=env)
    assert f"release: {server.version}" in version.splitlines()
    toolchain = home / ".rustup" / "toolchains" / f"stable-{server.host}"
    assert run(home, "rustc", "--print", "sysroot", env=env).strip() == str(toolchain)
    assert run(home, "rustup", "target", "list", "--installed", env=env).split() == [server.host]

    run(home, "rustup", "target", "add", TARGET, env=env)
    installed = run(home, "rustup", "target", "list", "--installed", env=env).split()
    assert sorted(installed) == sorted([server.host, TARGET])

    crate = tmp_path / "tiny"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(CRATE)
    (crate / "src" / "lib.rs").write_text("pub fn answer() -> String { 42.to_string() }\n")
    run(home, "cargo", "build", "--target", TARGET, env=env, cwd=crate)
    assert (crate / "target" / TARGET / "debug" / "libtiny.rlib").is_file()
