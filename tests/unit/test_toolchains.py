"""The pure choices doctor and build share: build method and smoke-run, from probed facts."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

from castoff.build.builder import expected_seconds, start_order
from castoff.build.stds import sysroot
from castoff.build.toolchains import HostTools, _zig_version, choose, smoke_plan
from castoff.config import Config, load
from castoff.plan import BuildJob, build_plan
from castoff.runner import Runner
from castoff.targets import TARGETS
from tests.unit.test_build_commands import RUSTUP, TOOLS

EVERYTHING = dataclasses.replace(
    TOOLS,
    qemu={t.qemu: f"/usr/bin/{t.qemu}" for t in TARGETS.values() if t.qemu},
    cross_gcc={
        "powerpc64le-linux-gnu": "/usr/bin/powerpc64le-linux-gnu-gcc",
        "powerpc64-linux-gnu": "/usr/bin/powerpc64-linux-gnu-gcc",
    },
    sysroots={"aarch64-linux-gnu": "/usr/aarch64-linux-gnu"},
    wine="/usr/lib/wine/wine64",
)


@pytest.fixture
def config(example_pyproject: Path) -> Config:
    """Return the example's config."""
    return load(example_pyproject)


def target(config: Config, triple: str, **changes: object) -> BuildJob:
    """Return one planned target's job, optionally changed."""
    return dataclasses.replace(build_plan(config).job(triple), **changes)  # type: ignore[arg-type]


# A GitHub-hosted runner: rustup's stable with only the host std, no Debian Rust packages.
RUNNER_TOOLCHAIN = dataclasses.replace(
    RUSTUP,
    sysroot="/home/runner/.rustup/toolchains/stable-x86_64-unknown-linux-gnu",
    rust_src=None,
    vendored=False,
    rustup="stable-x86_64-unknown-linux-gnu",
)
RUNNER = dataclasses.replace(
    EVERYTHING, default=RUNNER_TOOLCHAIN, build_std=None, rustup="/home/runner/.cargo/bin/rustup"
)


def test_auto_uses_zig_with_the_toolchains_std_for_the_host(config: Config) -> None:
    """x86_64 glibc builds with zig (to pin glibc 2.17) and the toolchain's own std."""
    chosen = choose(target(config, "x86_64-unknown-linux-gnu"), EVERYTHING)
    assert (chosen.method, chosen.std, chosen.buildable) == ("zig", "toolchain", True)
    assert chosen.toolchain == EVERYTHING.default


def test_with_vendored_sources_std_is_built_offline(config: Config) -> None:
    """Where Debian's rust-web-src is, a foreign std is built from it, with its rustc."""
    chosen = choose(target(config, "riscv64gc-unknown-linux-musl"), EVERYTHING)
    assert (chosen.method, chosen.std, chosen.buildable) == ("zig", "sysroot", True)
    assert chosen.toolchain == EVERYTHING.build_std


def test_on_a_runner_rustup_adds_the_target_except_tier_3(config: Config) -> None:
    """On a rustup-only machine tier-2 std comes from rustup; s390x musl is built from rust-src."""
    riscv = choose(target(config, "riscv64gc-unknown-linux-musl"), RUNNER)
    assert (riscv.std, riscv.buildable, riscv.toolchain) == ("rustup", True, RUNNER_TOOLCHAIN)
    s390x = choose(target(config, "s390x-unknown-linux-musl"), RUNNER)
    # rustup fetches rust-src, and cargo std's dependencies from crates.io, at build time.
    assert (s390x.std, s390x.buildable) == ("sysroot", True)
    assert "crates.io" in s390x.reason
    # The method build-std always builds std, even where rustup has one.
    forced = choose(target(config, "riscv64gc-unknown-linux-musl", method="build-std"), RUNNER)
    assert forced.std == "sysroot"


def test_a_std_without_default_features_is_built_not_downloaded(config: Config) -> None:
    """With lsx = false the std is built without LSX too: rustup's has it, even on a runner."""
    plain = choose(target(config, "loongarch64-unknown-linux-musl", target_features=()), RUNNER)
    assert plain.std == "rustup"
    lsx_off = target(config, "loongarch64-unknown-linux-musl", target_features=("-lasx", "-lsx"))
    assert choose(lsx_off, RUNNER).std == "sysroot"
    assert choose(lsx_off, EVERYTHING).std == "sysroot"


def test_without_rustup_or_sources_the_std_is_missing(config: Config) -> None:
    """A plain rustc without std sources cannot build a foreign std, and says what to install."""
    plain = dataclasses.replace(RUNNER, default=dataclasses.replace(RUNNER_TOOLCHAIN, rustup=None))
    chosen = choose(target(config, "riscv64gc-unknown-linux-musl"), plain)
    assert chosen.std == "sysroot"
    assert not chosen.buildable
    assert "rust-web-src" in chosen.missing[-1].install
    nothing = dataclasses.replace(plain, default=None)
    assert [
        m.what for m in choose(target(config, "riscv64gc-unknown-linux-musl"), nothing).missing
    ] == ["a Rust toolchain"]


@pytest.mark.parametrize("gnu", ["powerpc64le-linux-gnu", "powerpc64-linux-gnu"])
def test_ppc64_glibc_links_with_the_cross_gcc(config: Config, gnu: str) -> None:
    """ppc64le and ppc64 glibc use Debian's cross gcc, found by its triple (zig has no libc)."""
    triple = gnu.replace("-linux-", "-unknown-linux-")
    chosen = choose(target(config, triple, method="auto"), EVERYTHING)
    assert (chosen.method, chosen.linker) == ("cross-gcc", f"/usr/bin/{gnu}-gcc")


def test_missing_tools_come_with_their_install_command(config: Config) -> None:
    """Without zig, Debian's std sources or a cross gcc, the choice says what to install."""
    toolchain = dataclasses.replace(RUSTUP, rust_src=None)
    bare = dataclasses.replace(
        EVERYTHING, default=toolchain, zig_version=None, build_std=None, cross_gcc={}
    )
    musl = choose(target(config, "s390x-unknown-linux-musl"), bare)
    assert not musl.buildable
    installs = {m.install for m in musl.missing}
    assert any("rust-web-src" in i for i in installs)
    assert any("ziglang" in i for i in installs)
    ppc = choose(target(config, "powerpc64le-unknown-linux-gnu"), bare)
    gcc = "apt-get install -y --no-install-recommends gcc-powerpc64le-linux-gnu"
    assert f"{gcc} libc6-dev-ppc64el-cross" in {m.install for m in ppc.missing}


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
        .install.endswith("qemu-user-static")
    )
    assert smoke_plan(TARGETS["aarch64-apple-darwin"], EVERYTHING).runner is None


def test_native_runners_build_and_run_their_neighbours(config: Config) -> None:
    """The arm64 Mac builds and runs x86_64; x64 Windows builds i686 and aarch64, runs i686."""
    mac = dataclasses.replace(EVERYTHING, host_triple="aarch64-apple-darwin")
    intel = target(config, "x86_64-unknown-linux-gnu", target=TARGETS["x86_64-apple-darwin"])
    assert choose(intel, mac).buildable
    assert smoke_plan(TARGETS["x86_64-apple-darwin"], mac).runner == "native"
    windows = dataclasses.replace(EVERYTHING, host_triple="x86_64-pc-windows-msvc")
    for triple in ("i686-pc-windows-msvc", "aarch64-pc-windows-msvc"):
        job = target(config, "x86_64-unknown-linux-gnu", target=TARGETS[triple])
        assert choose(job, windows).buildable, triple
    assert smoke_plan(TARGETS["i686-pc-windows-msvc"], windows).runner == "native"
    assert smoke_plan(TARGETS["aarch64-pc-windows-msvc"], windows).runner is None
    linux = target(config, "x86_64-unknown-linux-gnu", target=TARGETS["x86_64-pc-windows-msvc"])
    assert not choose(linux, mac).buildable


def test_a_method_missing_a_member_is_refused_when_registered() -> None:
    """Registering names what a third-party method lacks, not a later AttributeError."""
    from castoff.build import methods  # noqa: PLC0415
    from castoff.build.methods.zig import Zig  # noqa: PLC0415

    class Bare:
        name = "bare"
        uses_zig = False
        builds_std = False

    with pytest.raises(
        TypeError, match="'bare' lacks links_machine_glibc, uses_docker, auto_reason"
    ):
        methods.register(Bare())  # type: ignore[arg-type]
    assert "bare" not in methods.names()

    class Copy(Zig):
        name = "copy-of-zig"

    methods.register(Copy())
    try:
        assert methods.get("copy-of-zig").links_machine_glibc is False
    finally:
        methods.unregister("copy-of-zig")


def test_x86_64_windows_runs_under_wine_and_says_what_is_missing() -> None:
    """Wine stands in for Windows x64 on x86_64 Linux; i686 and arm64 Windows cannot run here."""
    wine = smoke_plan(TARGETS["x86_64-pc-windows-gnu"], EVERYTHING)
    assert (wine.runner, wine.program) == ("wine64", "/usr/lib/wine/wine64")
    assert smoke_plan(TARGETS["x86_64-pc-windows-msvc"], EVERYTHING).runner == "wine64"
    for triple in ("i686-pc-windows-msvc", "aarch64-pc-windows-msvc"):
        assert smoke_plan(TARGETS[triple], EVERYTHING).runner is None, triple
    bare = dataclasses.replace(EVERYTHING, wine=None, zig_version=None)
    missing = smoke_plan(TARGETS["x86_64-pc-windows-gnu"], bare)
    assert missing.runner is None
    assert [m.packages for m in missing.missing] == [("wine64",), ()]
    arm = dataclasses.replace(EVERYTHING, host_triple="aarch64-unknown-linux-gnu")
    assert smoke_plan(TARGETS["x86_64-pc-windows-gnu"], arm).runner is None


def test_the_longest_builds_are_expected_first(config: Config, tmp_path: Path) -> None:
    """A std still to build, and zig's C runtime (musl's, mingw-w64's), make a build longer."""

    def seconds(triple: str) -> int:
        return expected_seconds(target(config, triple), EVERYTHING, tmp_path)

    host, musl = "x86_64-unknown-linux-gnu", "riscv64gc-unknown-linux-musl"
    windows, ppc64le = "x86_64-pc-windows-gnu", "powerpc64le-unknown-linux-gnu"
    assert seconds(windows) > seconds(musl) > seconds(ppc64le) > seconds(host) > 0
    # Once the std is in the cache, the musl build is shorter by its std.
    job = target(config, musl)
    toolchain = choose(job, EVERYTHING).toolchain
    assert toolchain is not None
    before = seconds(musl)
    done = sysroot.location(tmp_path, toolchain, job) / sysroot.DONE
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    assert sysroot.built(tmp_path, toolchain, job)
    assert seconds(musl) < before


def test_builds_start_longest_first_only_when_several_run_at_once() -> None:
    """Several workers: the longest first, ties in plan order; one worker: the plan's order."""
    assert start_order([10, 115, 0, 115, 70], jobs=2) == [1, 3, 4, 0, 2]
    assert start_order([10, 115, 0, 115, 70], jobs=1) == [0, 1, 2, 3, 4]


def test_without_ziglang_zig_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ziglang package: no zig version, and no error."""
    monkeypatch.setitem(sys.modules, "ziglang", None)
    assert _zig_version(Runner(base_env=os.environ, echo=lambda _: None)) is None
