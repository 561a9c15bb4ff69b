"""sysroot: std built once per (toolchain, target, std flags) into a sysroot of castoff's own.

For targets rustup has no std for (tier 3) and for machines that build offline (Debian's
rust-web-src vendors std's dependencies). std is built from the toolchain's own sources, in a
crate and CARGO_HOME of castoff's, so the project's build later sees only `--sysroot`: its own
cargo config, sources and lock file stay as they are.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from castoff.build.std import StdOffer
from castoff.build.toolchains import INSTALL_DEBIAN_RUST, RUST_SRC, Missing
from castoff.errors import BuildError
from castoff.filelock import locked
from castoff.runner import Command

if TYPE_CHECKING:
    from castoff.build.maturin import BuildPaths
    from castoff.build.std import Run
    from castoff.build.toolchains import Choice, HostTools, Toolchain
    from castoff.plan import BuildJob
    from castoff.targets import Target

RECIPE = 1  # bump when the way the sysroot is built changes: it keys the cache
DONE = "castoff-sysroot.json"  # written last: a sysroot without it is not finished
# Like Rust's bootstrap: panic_abort is compiled with -C panic=abort, so one sysroot serves
# crates built with panic = "unwind" and panic = "abort" alike.
WRAPPER = """#!/bin/sh
# Written by castoff: rustc for std's build, as Rust's bootstrap compiles panic_abort.
rustc=$1; shift
case " $* " in
  *" --crate-name panic_abort "*) exec "$rustc" "$@" -C panic=abort ;;
esac
exec "$rustc" "$@"
"""
CRATE = '[package]\nname = "castoff-sysroot"\nversion = "0.0.0"\nedition = "2021"\n\n[workspace]\n'


def std_flags(job: BuildJob) -> tuple[str, ...]:
    """Return the rustc flags std is built with: bitcode for LTO, and the job's target features."""
    flags = ["-Cembed-bitcode=yes"]
    if job.target_features:
        flags.append("-Ctarget-feature=" + ",".join(job.target_features))
    return tuple(flags)


def location(cache_dir: Path, toolchain: Toolchain, job: BuildJob) -> Path:
    """Return where the job's sysroot lives: one per toolchain, target and std flags."""
    key = json.dumps([RECIPE, toolchain.version, job.triple, std_flags(job)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_dir / "sysroots" / f"{job.triple}-{digest}"


def built(cache_dir: Path, toolchain: Toolchain, job: BuildJob) -> bool:
    """Return whether the job's sysroot is in the cache, finished."""
    return (location(cache_dir, toolchain, job) / DONE).is_file()


def cargo_home_config(vendor_dir: Path) -> str:
    """Return the CARGO_HOME config that builds std offline from its vendored dependencies."""
    return (
        "# Written by castoff: std's dependencies come from the toolchain's vendor folder.\n"
        '[source.crates-io]\nreplace-with = "vendored-std"\n\n'
        f'[source.vendored-std]\ndirectory = "{vendor_dir}"\n\n[net]\noffline = true\n'
    )


def build_command(job: BuildJob, toolchain: Toolchain, work: Path) -> Command:
    """Return the cargo command that builds std for the job's target in an empty crate."""
    env = {
        "RUSTC": toolchain.rustc,
        "RUSTC_BOOTSTRAP": "1",  # -Zbuild-std is unstable; std's own build needs it
        "RUSTC_WRAPPER": str(work / "rustc-wrapper"),
        "CARGO_HOME": str(work / "cargo-home"),
        "CARGO_TARGET_DIR": str(work / "target"),
        # Encoded flags win over RUSTFLAGS and every config: the caller's never reach std.
        "CARGO_ENCODED_RUSTFLAGS": "\x1f".join(std_flags(job)),
    }
    if toolchain.rustup:
        env["RUSTUP_TOOLCHAIN"] = toolchain.rustup
    argv: tuple[str, ...] = (toolchain.cargo, "build", "--release", "--target", job.triple)
    argv += ("-Zbuild-std=std,panic_abort", "--manifest-path", str(work / "crate" / "Cargo.toml"))
    return Command(argv=argv, env=env, cwd=work / "crate", install_hint=INSTALL_DEBIAN_RUST)


def _clear(path: Path) -> None:
    """Remove what stands at a path in castoff's cache: a folder, or a file or link put there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _rust_src(toolchain: Toolchain, tools: HostTools) -> Command | None:
    """Return `rustup component add rust-src` when the toolchain lacks sources rustup has."""
    if toolchain.rust_src is not None or toolchain.rustup is None or tools.rustup is None:
        return None
    return Command(
        argv=(tools.rustup, "component", "add", "--toolchain", toolchain.rustup, "rust-src"),
        install_hint="rustup, with network access to static.rust-lang.org",
    )


def _sources(toolchain: Toolchain, tools: HostTools, run: Run) -> Path:
    if toolchain.rust_src is not None:
        return Path(toolchain.rust_src)
    command = _rust_src(toolchain, tools)
    if command is None:
        raise BuildError(f"{toolchain.rustc} has no std sources.", hint=INSTALL_DEBIAN_RUST)
    run(command)
    src = Path(toolchain.sysroot) / RUST_SRC
    if not (src / "std").is_dir():
        raise BuildError(f"`rustup component add rust-src` left no std sources in {src}.")
    return src


def build(job: BuildJob, toolchain: Toolchain, tools: HostTools, root: Path, run: Run) -> None:
    """Build the job's std into root, atomically: a half-built sysroot is never used."""
    src = _sources(toolchain, tools, run)
    work = root.with_name(root.name + ".partial")
    _clear(work)  # castoff's own leftover from an interrupted build
    (work / "crate" / "src").mkdir(parents=True)
    (work / "crate" / "Cargo.toml").write_text(CRATE, encoding="utf-8", newline="\n")
    (work / "crate" / "src" / "lib.rs").write_text("", encoding="utf-8", newline="\n")
    (work / "cargo-home").mkdir()
    if (src / "vendor").is_dir():
        config = cargo_home_config(src / "vendor")
        (work / "cargo-home" / "config.toml").write_text(config, encoding="utf-8", newline="\n")
    wrapper = work / "rustc-wrapper"
    wrapper.write_text(WRAPPER, encoding="utf-8", newline="\n")
    wrapper.chmod(0o755)
    run(build_command(job, toolchain, work))
    lib = work / "sysroot" / "lib" / "rustlib" / job.triple / "lib"
    lib.mkdir(parents=True)
    deps = work / "target" / job.triple / "release" / "deps"
    rlibs = sorted(p for p in deps.glob("*.rlib") if not p.name.startswith("libcastoff_sysroot"))
    if not any(p.name.startswith("libstd-") for p in rlibs):
        raise BuildError(f"{job.triple}: building std left no libstd in {deps}.")
    for rlib in rlibs:
        shutil.copy2(rlib, lib / rlib.name)
    # rustc finds its host's tools (the linker it bundles) under the sysroot too.
    host = toolchain.host
    host_dir = Path(toolchain.sysroot) / "lib" / "rustlib" / (host or "")
    if host and host != job.triple and host_dir.is_dir():
        (work / "sysroot" / "lib" / "rustlib" / host).symlink_to(host_dir)
    record = {
        "recipe": RECIPE,
        "rustc": toolchain.version,
        "target": job.triple,
        "flags": list(std_flags(job)),
        "sources": str(src),
        "rlibs": [p.name for p in rlibs],
    }
    (work / "sysroot" / DONE).write_text(
        json.dumps(record, indent=1) + "\n", encoding="utf-8", newline="\n"
    )
    _clear(root)  # unfinished (no DONE), castoff's own
    (work / "sysroot").rename(root)
    shutil.rmtree(work)


class Sysroot:
    """std built from the toolchain's sources into castoff's cache."""

    name = "sysroot"

    def offer(self, target: Target, tools: HostTools) -> StdOffer | None:
        """Offer a toolchain with std's sources vendored, else the default one."""
        toolchain = tools.build_std or tools.default
        if toolchain is None:
            return None
        reason = f"built once from {toolchain.version.splitlines()[0]}'s sources"
        missing: tuple[Missing, ...] = ()
        if toolchain.rust_src is None and (toolchain.rustup is None or tools.rustup is None):
            what = f"std's sources for {target.triple} (rust-web-src, or rustup's rust-src)"
            missing = (Missing(what=what, install=INSTALL_DEBIAN_RUST),)
        elif not toolchain.vendored:
            reason += " (std's dependencies from crates.io)"
        return StdOffer(toolchain=toolchain, reason=reason, missing=missing)

    def setup(self, choice: Choice, tools: HostTools, triple: str) -> tuple[Command, ...]:
        """Return the download of rustup's rust-src, when the toolchain has no sources yet."""
        command = None if choice.toolchain is None else _rust_src(choice.toolchain, tools)
        return () if command is None else (command,)

    def prepare(
        self, job: BuildJob, choice: Choice, tools: HostTools, paths: BuildPaths, run: Run
    ) -> BuildPaths:
        """Build the sysroot unless a finished one is in the cache; return paths naming it."""
        toolchain = choice.toolchain
        if toolchain is None:
            raise BuildError(f"{job.triple}: no toolchain to build std with.")
        root = location(paths.cache_dir, toolchain, job)
        if not built(paths.cache_dir, toolchain, job):
            with locked(root.with_name(root.name + ".lock")):
                if not built(paths.cache_dir, toolchain, job):
                    build(job, toolchain, tools, root, run)
        return dataclasses.replace(paths, sysroot=root)


SOURCE = Sysroot()
