"""Command construction for every build method, without starting a process."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from castoff.build.builder import check_machine_glibc, known_causes
from castoff.build.maturin import BuildPaths, maturin_command, zig_shim
from castoff.build.stds import sysroot
from castoff.build.toolchains import Choice, HostTools, Toolchain, glibc_version
from castoff.config import load
from castoff.errors import ConfigError
from castoff.plan import BuildJob, build_plan, built_platform_tags
from castoff.targets import TARGETS
from tests.conftest import EXAMPLE

PATHS = BuildPaths(
    project_dir=Path("/src/hello"),
    wheel_dir=Path("/out/t/.wheel"),
    cargo_target_dir=Path("/cache/t"),
    cache_dir=Path("/cache"),
)
SYSROOT_PATHS = dataclasses.replace(PATHS, sysroot=Path("/cache/sysroots/s"))
DEBIAN = Toolchain(
    rustc="/usr/bin/rustc",
    cargo="/usr/bin/cargo",
    version="rustc 1.96.0",
    cargo_version="cargo 1.96.0",
    std_targets=frozenset({"x86_64-unknown-linux-gnu"}),
    sysroot="/usr",
    rust_src="/usr/lib/rustlib/src/rust/library",
    vendored=True,
)
RUSTUP = dataclasses.replace(DEBIAN, rustc="/rustup/rustc", cargo="/rustup/cargo")
TOOLS = HostTools(
    host_triple="x86_64-unknown-linux-gnu",
    default=RUSTUP,
    build_std=DEBIAN,
    maturin="/venv/bin/maturin",
    maturin_version="maturin 1.16.0",
    zig_version="0.17.0",
    python="/venv/bin/python",
    qemu={},
    cross_gcc={},
    sysroots={},
    docker=False,
)
DIGEST = "ghcr.io/rust-cross/manylinux2014-cross@sha256:" + "0" * 64


def job(target: str, **changes: object) -> BuildJob:
    """Return a build job for a target with maturin's default compatibility."""
    base = BuildJob(
        target=TARGETS[target],
        method="auto",
        runner="ubuntu-latest",
        image=None,
        manylinux="2_17" if "gnu" in target else None,
        musllinux="1_2" if "musl" in target else None,
        macosx=None,
        built_platform_tags=("x",),
        target_features=(),
        zig_cpu=None,
        binaries=("hello",),
        built_wheel="x.whl",
        archive_folder=f"hello-{target}",
        artifacts=("x.whl", f"hello-{target}.tar.gz", f"hello-{target}.tar.gz.sha256"),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def choice(method: str, std: str = "toolchain", linker: str | None = None) -> Choice:
    """Return a method choice with nothing missing (the sysroot's toolchain is Debian's)."""
    toolchain = DEBIAN if std == "sysroot" else TOOLS.default
    return Choice(
        method=method, std=std, linker=linker, missing=(), reason="test", toolchain=toolchain
    )


def test_native_is_plain_maturin_with_the_compatibility() -> None:
    """A native build runs maturin for the target with its manylinux promise and no zig."""
    command = maturin_command(job("x86_64-unknown-linux-gnu"), choice("native"), TOOLS, PATHS)
    assert command.argv == (
        "/venv/bin/maturin", "build", "--release", "--locked",
        "--target", "x86_64-unknown-linux-gnu", "--out", "/out/t/.wheel",
        "--compatibility", "manylinux_2_17",
    )  # fmt: skip
    assert command.env == {
        "CARGO_TARGET_DIR": "/cache/t",
        "CARGO": "/rustup/cargo",
        "RUSTC": "/rustup/rustc",
    }
    assert command.cwd == Path("/src/hello")


def test_zig_adds_zig_and_points_it_at_our_python() -> None:
    """A zig build passes --zig and names the Python that has ziglang."""
    command = maturin_command(job("x86_64-unknown-linux-gnu"), choice("zig"), TOOLS, PATHS)
    assert command.argv[-1] == "--zig"
    assert command.env["CARGO_ZIGBUILD_PYTHON_PATH"] == "/venv/bin/python"
    assert "RUSTC_BOOTSTRAP" not in command.env


def test_a_sysroot_std_reaches_the_project_only_as_sysroot() -> None:
    """With castoff's sysroot the project builds as it is: its own CARGO_HOME, no bootstrap."""
    command = maturin_command(
        job("s390x-unknown-linux-musl"), choice("build-std", "sysroot"), TOOLS, SYSROOT_PATHS
    )
    assert command.argv[-1] == "--zig"
    assert not any(a.startswith("-Zbuild-std") for a in command.argv)
    assert command.argv[command.argv.index("--compatibility") + 1] == "musllinux_1_2"
    assert command.env == {
        "CARGO_TARGET_DIR": "/cache/t",
        "CARGO_ZIGBUILD_PYTHON_PATH": "/venv/bin/python",
        "CARGO": "/usr/bin/cargo",
        "RUSTC": "/usr/bin/rustc",
        "RUSTFLAGS": "--sysroot /cache/sysroots/s -C link-self-contained=no",
    }


def test_zig_links_musl_with_its_own_crt_whatever_the_std() -> None:
    """Either musl std (rustup's, with its own crt, or castoff's): zig's musl links it."""
    rustup = maturin_command(job("aarch64-unknown-linux-musl"), choice("zig"), TOOLS, PATHS)
    assert rustup.env["RUSTFLAGS"] == "-C link-self-contained=no"
    native = maturin_command(job("x86_64-unknown-linux-musl"), choice("native"), TOOLS, PATHS)
    assert "RUSTFLAGS" not in native.env


def test_the_sysroot_build_is_std_alone_with_its_own_cargo_home(tmp_path: Path) -> None:
    """The std is built in castoff's crate and CARGO_HOME, with flags no caller's config changes."""
    lsx = job("loongarch64-unknown-linux-musl", target_features=("-lasx", "-lsx"))
    command = sysroot.build_command(lsx, DEBIAN, tmp_path)
    assert command.argv[:5] == ("/usr/bin/cargo", "build", "--release", "--target", lsx.triple)
    assert "-Zbuild-std=std,panic_abort" in command.argv
    assert command.env["CARGO_HOME"] == str(tmp_path / "cargo-home")
    assert command.env["RUSTC_BOOTSTRAP"] == "1"
    flags = command.env["CARGO_ENCODED_RUSTFLAGS"].split("\x1f")
    assert flags == ["-Cembed-bitcode=yes", "-Ctarget-feature=-lasx,-lsx"]
    # One sysroot per toolchain, target and std flags.
    plain = job("loongarch64-unknown-linux-musl")
    where = {
        sysroot.location(Path("/c"), DEBIAN, lsx),
        sysroot.location(Path("/c"), DEBIAN, plain),
        sysroot.location(Path("/c"), dataclasses.replace(DEBIAN, version="rustc 1.97"), plain),
    }
    assert len(where) == 3


def test_a_glibc_sysroot_keeps_rustflags_and_the_users_own() -> None:
    """A glibc sysroot adds no musl flag; the caller's RUSTFLAGS are kept, extras appended."""
    command = maturin_command(
        job("aarch64-unknown-linux-gnu"),
        choice("zig", "sysroot"),
        TOOLS,
        SYSROOT_PATHS,
        extra_rustflags=("-C", "target-feature=-lse"),
        inherited_env={"RUSTFLAGS": "-D warnings"},
    )
    assert command.env["RUSTFLAGS"] == (
        "-D warnings -C target-feature=-lse --sysroot /cache/sysroots/s"
    )
    plain = maturin_command(job("aarch64-unknown-linux-gnu"), choice("zig"), TOOLS, PATHS)
    assert "RUSTFLAGS" not in plain.env


def test_cross_gcc_sets_cargos_linker_for_the_target() -> None:
    """cross-gcc names the Debian cross gcc as the target's linker, without zig."""
    command = maturin_command(
        job("powerpc64le-unknown-linux-gnu", manylinux="2_34"),
        choice("cross-gcc", "sysroot", "/usr/bin/powerpc64le-linux-gnu-gcc"),
        TOOLS,
        PATHS,
    )
    linker = "CARGO_TARGET_POWERPC64LE_UNKNOWN_LINUX_GNU_LINKER"
    assert command.env[linker] == "/usr/bin/powerpc64le-linux-gnu-gcc"
    assert "--zig" not in command.argv
    assert "manylinux_2_34" in command.argv


def test_ppc64_above_manylinux2014_builds_plain_linux_for_castoff_to_retag() -> None:
    """Above manylinux2014 the plan builds ppc64 as linux_ppc64 for castoff to retag."""
    config = load(EXAMPLE / "pyproject.toml")
    ppc64 = build_plan(config).job("powerpc64-unknown-linux-gnu")
    assert ppc64.built_platform_tags == ("linux_ppc64",)
    assert "manylinux_2_34_ppc64" in ppc64.artifacts[0]
    gcc = choice("cross-gcc", "sysroot", "/usr/bin/powerpc64-linux-gnu-gcc")
    command = maturin_command(ppc64, gcc, TOOLS, PATHS)
    assert command.argv[command.argv.index("--compatibility") + 1] == "linux"
    # At manylinux2014 maturin tags it itself; ppc64le has every manylinux.
    configured = config.target("powerpc64-unknown-linux-gnu")
    assert configured is not None
    older = dataclasses.replace(configured, manylinux=(2, 17), linked_glibc=None)
    assert built_platform_tags(older) == ("manylinux2014_ppc64", "manylinux_2_17_ppc64")
    le = build_plan(config).job("powerpc64le-unknown-linux-gnu")
    assert le.built_platform_tags == ("manylinux_2_34_ppc64le",)
    command = maturin_command(le, gcc, TOOLS, PATHS)
    assert command.argv[command.argv.index("--compatibility") + 1] == "manylinux_2_34"


def test_macos_sets_the_deployment_target_and_no_compatibility() -> None:
    """A macOS build passes MACOSX_DEPLOYMENT_TARGET, and maturin takes no --compatibility."""
    command = maturin_command(
        job("aarch64-apple-darwin", manylinux=None, musllinux=None, macosx="11.0"),
        choice("native"),
        TOOLS,
        PATHS,
    )
    assert command.env["MACOSX_DEPLOYMENT_TARGET"] == "11.0"
    assert "--compatibility" not in command.argv


def test_docker_command_only_not_run_here_uses_the_pinned_image() -> None:
    """The docker command (checked, never run: no Docker engine here) mounts project and output."""
    command = maturin_command(
        job("aarch64-unknown-linux-gnu", method="docker", image=DIGEST),
        choice("docker"),
        TOOLS,
        PATHS,
    )
    assert command.argv == (
        "docker", "run", "--rm",
        "--volume", "/src/hello:/io", "--workdir", "/io",
        "--volume", "/out/t/.wheel:/out",
        "--env", "CARGO_TARGET_DIR=/io/target/castoff/aarch64-unknown-linux-gnu",
        "--entrypoint", "maturin", DIGEST,
        "build", "--release", "--locked", "--target", "aarch64-unknown-linux-gnu",
        "--out", "/out", "--compatibility", "manylinux_2_17",
    )  # fmt: skip


@pytest.mark.parametrize("image", [None, "ghcr.io/rust-cross/manylinux2014-cross:aarch64"])
def test_docker_without_a_digest_is_refused(image: str | None) -> None:
    """An image without a digest (or none) is refused: its provenance would be unknown."""
    with pytest.raises(ConfigError, match="pinned by digest"):
        maturin_command(
            job("aarch64-unknown-linux-gnu", method="docker", image=image),
            choice("docker"),
            TOOLS,
            PATHS,
        )


def test_loongarch_without_lsx_turns_it_off_for_rustc_and_zig(tmp_path: Path) -> None:
    """Setting lsx = false reaches rustc as target features and zig as -mcpu via the shim."""
    shim = tmp_path / "python"
    command = maturin_command(
        job(
            "loongarch64-unknown-linux-musl",
            target_features=("-lasx", "-lsx"),
            zig_cpu="la464-lasx-lsx",
        ),
        choice("zig", "sysroot"),
        TOOLS,
        dataclasses.replace(SYSROOT_PATHS, zig_python=shim),
    )
    assert command.env["RUSTFLAGS"] == (
        "-C target-feature=-lasx,-lsx --sysroot /cache/sysroots/s -C link-self-contained=no"
    )
    assert command.env["CARGO_ZIGBUILD_PYTHON_PATH"] == str(shim)
    text = zig_shim("/venv/bin/python", None, "la464-lasx-lsx")
    assert 'exec /venv/bin/python -m ziglang "$sub" -mcpu=la464-lasx-lsx "$@"' in text
    assert text.endswith('exec /venv/bin/python "$@"\n')
    stable = zig_shim("/venv/bin/python", "/cache/tools/zig-0.17.0/ziglang/zig", None)
    assert 'exec /cache/tools/zig-0.17.0/ziglang/zig "$@"' in stable
    assert "-mcpu" not in stable
    with pytest.raises(ConfigError, match="needs a zig_shim"):
        maturin_command(
            job("loongarch64-unknown-linux-musl", zig_cpu="la464-lasx-lsx"),
            choice("zig"),
            TOOLS,
            PATHS,
        )


def test_offline_cargo_home_replaces_crates_io_with_the_vendor_folder() -> None:
    """The sysroot build's CARGO_HOME points crates-io at rust-web-src's vendored std deps."""
    text = sysroot.cargo_home_config(Path("/usr/lib/rustlib/src/rust/library/vendor"))
    assert 'replace-with = "vendored-std"' in text
    assert 'directory = "/usr/lib/rustlib/src/rust/library/vendor"' in text
    assert "offline = true" in text


def test_a_sysroot_leftover_of_any_kind_is_cleared(tmp_path: Path) -> None:
    """An interrupted build's folder, or a file or link put in its place, is removed, not fatal."""
    folder, file, link = tmp_path / "a.partial", tmp_path / "b.partial", tmp_path / "c.partial"
    (folder / "x").mkdir(parents=True)
    file.write_text("not a folder")
    link.symlink_to(tmp_path / "elsewhere")
    for leftover in (folder, file, link):
        sysroot._clear(leftover)
        assert not leftover.exists()
        assert not leftover.is_symlink()
    sysroot._clear(tmp_path / "absent")


def test_cross_gcc_refuses_a_tag_this_machines_glibc_cannot_keep() -> None:
    """Linked against glibc 2.36, no binary keeps manylinux 2_17: refused before building."""
    tools = dataclasses.replace(TOOLS, cross_glibc={"powerpc64le-linux-gnu": "2.36"})
    gcc = choice("cross-gcc", "sysroot", "/usr/bin/powerpc64le-linux-gnu-gcc")
    with pytest.raises(ConfigError, match=r"this machine: its cross gcc links against glibc 2\.36"):
        check_machine_glibc(job("powerpc64le-unknown-linux-gnu"), gcc, tools)
    check_machine_glibc(job("powerpc64le-unknown-linux-gnu", manylinux="2_34"), gcc, tools)
    # zig links against the glibc it is told to: this machine's does not matter.
    check_machine_glibc(job("powerpc64le-unknown-linux-gnu"), choice("zig"), tools)


def test_the_glibc_version_is_read_from_its_banner(tmp_path: Path) -> None:
    """libc.so.6's banner gives its version; a file without one, or none, gives None."""
    libc = tmp_path / "libc.so.6"
    libc.write_bytes(
        b"\x7fELF\0junk\0GNU C Library (Ubuntu GLIBC 2.35-0ubuntu3) stable release version 2.35.\n"
    )
    assert glibc_version(libc) == "2.35"
    # The name alone, earlier in the file (an error message's), is passed over to the banner.
    libc.write_bytes(
        b"\x7fELF\0GNU C Library \0" + b"\0" * 4096
        + b"GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n"
    )  # fmt: skip
    assert glibc_version(libc) == "2.36"
    libc.write_bytes(b"\x7fELF\0no banner here\0version 9.9.\n")
    assert glibc_version(libc) is None
    assert glibc_version(tmp_path / "absent") is None


def test_a_known_cause_in_the_build_log_says_what_to_do(tmp_path: Path) -> None:
    """An old libc crate on musl 1.2.4+ fails to link open64: the hint says to update it."""
    log = tmp_path / "build.log"
    log.write_text("Compiling tally\n  = note: ld.lld: error: undefined symbol: open64\n")
    (advice,) = known_causes(log)
    assert "cargo update -p libc" in advice
    log.write_text("error: linking failed: undefined symbol: foo\n")
    assert known_causes(log) == []
    assert known_causes(tmp_path / "absent.log") == []


def test_the_sdist_command_and_what_doctor_says_it_needs(tmp_path: Path) -> None:
    """`maturin sdist` runs with the default toolchain's cargo; doctor names what is missing."""
    from castoff.build.sdist import sdist_command  # noqa: PLC0415
    from castoff.doctor import _sdist_readiness  # noqa: PLC0415

    command = sdist_command(TOOLS, tmp_path / "out", tmp_path)
    assert command.argv == ("/venv/bin/maturin", "sdist", "--out", str(tmp_path / "out"))
    assert command.env == {"CARGO": "/rustup/cargo"}
    assert command.cwd == tmp_path
    ready = _sdist_readiness(TOOLS)
    assert (ready.target, ready.buildable, ready.missing) == ("sdist", True, ())
    bare = dataclasses.replace(TOOLS, maturin=None, maturin_version=None, default=None)
    lacking = _sdist_readiness(bare)
    assert not lacking.buildable
    assert [m.what for m in lacking.missing] == ["maturin", "cargo"]


def test_zig_cross_builds_macos_and_keeps_symbols_without_rust_objcopy() -> None:
    """Debian's rustc has no rust-objcopy to strip Mach-O: strip is off; rustup's strips."""
    mac = job("x86_64-apple-darwin", manylinux=None, musllinux=None, macosx="10.12")
    debian = maturin_command(mac, choice("zig", "sysroot"), TOOLS, SYSROOT_PATHS)
    assert "--zig" in debian.argv
    assert debian.argv[-2:] == ("--strip", "false")
    assert debian.env["CARGO_PROFILE_RELEASE_STRIP"] == "false"
    assert debian.env["MACOSX_DEPLOYMENT_TARGET"] == "10.12"
    with_objcopy = Choice(
        method="zig",
        std="rustup",
        linker=None,
        missing=(),
        reason="test",
        toolchain=dataclasses.replace(RUSTUP, objcopy=True),
    )
    rustup = maturin_command(mac, with_objcopy, TOOLS, PATHS)
    assert "--strip" not in rustup.argv
    assert "CARGO_PROFILE_RELEASE_STRIP" not in rustup.env


def test_zig_links_mingw_against_castoffs_empty_libssp(tmp_path: Path) -> None:
    """Rust's windows-gnu links -lssp, which zig's mingw lacks: empty archives stand in."""
    from castoff.build.methods import zig  # noqa: PLC0415

    windows = job("x86_64-pc-windows-gnu", manylinux=None, musllinux=None)
    paths = zig.METHOD.prepare(windows, dataclasses.replace(PATHS, cache_dir=tmp_path), TOOLS)
    stubs = tmp_path / "zig-mingw-stubs"
    assert paths.rustflags == ("-L", f"native={stubs}")
    for name in ("libssp.a", "libssp_nonshared.a"):
        assert (stubs / name).read_bytes() == b"!<arch>\n"
    command = maturin_command(windows, choice("zig"), TOOLS, paths)
    assert f"-L native={stubs}" in command.env["RUSTFLAGS"]
    # Something else at a stub's name (a broken leftover) is replaced by the empty archive.
    (stubs / "libssp.a").write_bytes(b"junk")
    zig.METHOD.prepare(windows, dataclasses.replace(PATHS, cache_dir=tmp_path), TOOLS)
    assert (stubs / "libssp.a").read_bytes() == b"!<arch>\n"
    # Linux targets get no stubs.
    linux = zig.METHOD.prepare(job("x86_64-unknown-linux-musl"), PATHS, TOOLS)
    assert linux.rustflags == ()


def test_armv6_musl_is_tagged_linux_as_maturin_cannot_call_it_musllinux() -> None:
    """armv6l has no musllinux: maturin gets --compatibility linux, not its musllinux default."""
    command = maturin_command(
        job("arm-unknown-linux-musleabihf", musllinux=None), choice("zig"), TOOLS, PATHS
    )
    assert command.argv[command.argv.index("--compatibility") + 1] == "linux"


def test_a_stub_planted_as_a_link_is_replaced_not_written_through(tmp_path: Path) -> None:
    """A link at a stub's name is replaced by castoff's file; its target stays untouched."""
    from castoff.build.methods import zig  # noqa: PLC0415

    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    stubs = tmp_path / "zig-mingw-stubs"
    stubs.mkdir()
    (stubs / "libssp.a").symlink_to(victim)
    zig.mingw_stubs(tmp_path)
    assert victim.read_bytes() == b"keep me"
    assert not (stubs / "libssp.a").is_symlink()
    assert (stubs / "libssp.a").read_bytes() == b"!<arch>\n"
