"""The pure choices doctor and build share: build method and smoke-run, from probed facts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from castoff.build.toolchains import HostTools, choose, smoke_plan
from castoff.config import Config, load
from castoff.plan import BuildJob, build_plan
from castoff.targets import TARGETS
from tests.unit.test_build_commands import TOOLS

EVERYTHING = dataclasses.replace(
    TOOLS,
    qemu={t.qemu: f"/usr/bin/{t.qemu}" for t in TARGETS.values() if t.qemu},
    cross_gcc={"powerpc64le-linux-gnu": "/usr/bin/powerpc64le-linux-gnu-gcc"},
    sysroots={"aarch64-linux-gnu": "/usr/aarch64-linux-gnu"},
)


@pytest.fixture
def config(example_pyproject: Path) -> Config:
    """Return the example's config."""
    return load(example_pyproject)


def target(config: Config, triple: str, **changes: object) -> BuildJob:
    """Return one planned target's job, optionally changed."""
    return dataclasses.replace(build_plan(config).job(triple), **changes)  # type: ignore[arg-type]


def test_auto_uses_zig_with_prebuilt_std_for_the_host(config: Config) -> None:
    """x86_64 glibc builds with zig (to pin glibc 2.17) and the toolchain's own std."""
    chosen = choose(target(config, "x86_64-unknown-linux-gnu"), EVERYTHING)
    assert (chosen.method, chosen.std, chosen.buildable) == ("zig", "prebuilt", True)


def test_auto_builds_std_where_no_prebuilt_std_exists(config: Config) -> None:
    """A musl target without a rustup std builds std from Debian's sources."""
    chosen = choose(target(config, "riscv64gc-unknown-linux-musl"), EVERYTHING)
    assert (chosen.method, chosen.std, chosen.buildable) == ("zig", "build-std", True)


def test_ppc64le_glibc_links_with_the_cross_gcc(config: Config) -> None:
    """ppc64le glibc uses Debian's cross gcc, found by its triple."""
    chosen = choose(target(config, "powerpc64le-unknown-linux-gnu", method="auto"), EVERYTHING)
    assert (chosen.method, chosen.linker) == ("cross-gcc", "/usr/bin/powerpc64le-linux-gnu-gcc")


def test_missing_tools_come_with_their_install_command(config: Config) -> None:
    """Without zig, Debian's std sources or a cross gcc, the choice says what to install."""
    bare = dataclasses.replace(EVERYTHING, zig_version=None, build_std=None, cross_gcc={})
    musl = choose(target(config, "s390x-unknown-linux-musl"), bare)
    assert not musl.buildable
    installs = {m.install for m in musl.missing}
    assert "apt-get install -y --no-install-recommends rustc-web cargo-web rust-web-src" in installs
    assert any("ziglang" in i for i in installs)
    ppc = choose(target(config, "powerpc64le-unknown-linux-gnu"), bare)
    assert "apt-get install -y --no-install-recommends gcc-powerpc64le-linux-gnu" in {
        m.install for m in ppc.missing
    }


def test_docker_needs_an_engine_and_macos_needs_a_mac(config: Config) -> None:
    """Docker builds and foreign-OS builds cannot happen on this kind of machine, and say why."""
    docker = choose(target(config, "aarch64-unknown-linux-gnu", method="docker"), EVERYTHING)
    assert [m.what for m in docker.missing] == ["a Docker engine"]
    mac = dataclasses.replace(
        target(config, "x86_64-unknown-linux-gnu"),
        target=TARGETS["aarch64-apple-darwin"],
        runner="macos-14",
    )
    chosen = choose(mac, EVERYTHING)
    assert chosen.method == "native"
    assert chosen.missing[0].install == "run this job on a macos runner (runner = 'macos-14')"


def test_smoke_plans() -> None:
    """x86_64 runs natively; others under qemu; glibc builds need a sysroot; else the install."""
    assert smoke_plan(TARGETS["x86_64-unknown-linux-musl"], EVERYTHING).runner == "native"
    musl = smoke_plan(TARGETS["s390x-unknown-linux-musl"], EVERYTHING)
    assert (musl.runner, musl.ld_prefix) == ("qemu-s390x-static", None)
    gnu = smoke_plan(TARGETS["aarch64-unknown-linux-gnu"], EVERYTHING)
    assert (gnu.runner, gnu.ld_prefix) == ("qemu-aarch64-static", "/usr/aarch64-linux-gnu")
    no_sysroot = smoke_plan(TARGETS["powerpc64le-unknown-linux-gnu"], EVERYTHING)
    assert no_sysroot.runner is None
    assert no_sysroot.missing[0].install.endswith("libc6-ppc64el-cross")
    no_qemu: HostTools = dataclasses.replace(EVERYTHING, qemu={})
    assert (
        smoke_plan(TARGETS["riscv64gc-unknown-linux-musl"], no_qemu)
        .missing[0]
        .install.endswith("qemu-user-static binfmt-support")
    )
    assert smoke_plan(TARGETS["aarch64-apple-darwin"], EVERYTHING).runner is None
