"""The maturin command of each build method; pure, so each is testable without a process."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from castoff.build.toolchains import INSTALL_BUILD_PYTHON, Choice, HostTools
from castoff.errors import ConfigError
from castoff.runner import Command

if TYPE_CHECKING:
    from castoff.plan import BuildJob

DIGEST_PIN = "@sha256:"


@dataclass(frozen=True, kw_only=True)
class BuildPaths:
    """Where a build reads and writes."""

    project_dir: Path
    wheel_dir: Path  # maturin --out
    cargo_target_dir: Path  # kept between runs, per project and target
    cache_dir: Path = Path()  # castoff's cache, for what a method prepares once per machine
    zig_python: Path | None = None  # a zig_shim: the stable zig, and a job's -mcpu
    sysroot: Path | None = None  # a std castoff built (castoff.build.stds.sysroot)
    rustflags: tuple[str, ...] = ()  # what a method's prepare adds (a -L for its stubs)


def compatibility(job: BuildJob) -> str | None:
    """Return maturin's --compatibility for a job (None where maturin takes no such option)."""
    if job.target.tag_family == "linux" or job.built_plain_linux:
        # armv6l has no manylinux or musllinux, and maturin knows no ppc64 above manylinux2014:
        # it builds plain linux (its own musllinux default would be refused).
        return "linux"
    if job.manylinux:
        return f"manylinux_{job.manylinux}"
    if job.musllinux:
        return f"musllinux_{job.musllinux}"
    return None


def zig_shim(python: str, zig: str | None, cpu: str | None) -> str:
    """Return a script that stands in for Python where maturin runs `python -m ziglang`.

    maturin runs zig as `$CARGO_ZIGBUILD_PYTHON_PATH -m ziglang ...`: this is the one seam where
    castoff can run a zig at a path that depends only on its version (zig's cache of the C
    runtimes it compiles is keyed by zig's own path), and add `-mcpu` to every `cc`/`c++`
    (maturin has no option for the CPU of the C runtime).
    """
    run = shlex.quote(zig) if zig else f"{shlex.quote(python)} -m ziglang"
    lines = ["#!/bin/sh", f"# Written by castoff: zig{f' with -mcpu={cpu}' if cpu else ''}."]
    lines.append('if [ "$1" = -m ] && [ "$2" = ziglang ]; then')
    lines.append("    shift 2")
    if cpu:
        lines.append('    if [ "$1" = cc ] || [ "$1" = c++ ]; then')
        lines.append(f'        sub=$1; shift; exec {run} "$sub" -mcpu={cpu} "$@"')
        lines.append("    fi")
    lines.append(f'    exec {run} "$@"')
    lines.append("fi")
    lines.append(f'exec {shlex.quote(python)} "$@"')
    return "\n".join(lines) + "\n"


def maturin_command(
    job: BuildJob,
    choice: Choice,
    tools: HostTools,
    paths: BuildPaths,
    *,
    extra_rustflags: tuple[str, ...] = (),
    inherited_env: Mapping[str, str] | None = None,
) -> Command:
    """Return the command that builds one job's wheel with the chosen method."""
    from castoff.build import methods  # noqa: PLC0415 - the methods build on this module

    return methods.get(choice.method).command(
        job, choice, tools, paths, inherited_env or {}, extra_rustflags
    )


def base_argv(
    job: BuildJob, tools: HostTools, paths: BuildPaths
) -> tuple[list[str], dict[str, str]]:
    """Return `maturin build` for the job's target and compatibility, and its environment."""
    argv = [tools.maturin or "maturin", "build", "--release", "--locked", "--target", job.triple]
    argv += ["--out", str(paths.wheel_dir)]
    if compat := compatibility(job):
        argv += ["--compatibility", compat]
    env = {"CARGO_TARGET_DIR": str(paths.cargo_target_dir)}
    if job.macosx:
        env["MACOSX_DEPLOYMENT_TARGET"] = job.macosx
    return argv, env


def finish(
    job: BuildJob,
    choice: Choice,
    paths: BuildPaths,
    argv: list[str],
    env: dict[str, str],
    *,
    inherited_env: Mapping[str, str],
    rustflags: tuple[str, ...],
) -> Command:
    """Add the toolchain, its std and rustflags to a method's command."""
    flags = [*rustflags, *paths.rustflags]
    if job.target_features:
        flags += ["-C", "target-feature=" + ",".join(job.target_features)]
    if (toolchain := choice.toolchain) is not None:
        env |= {"CARGO": toolchain.cargo, "RUSTC": toolchain.rustc}
        if toolchain.rustup:
            # A rust-toolchain.toml must not swap the compiler the std was chosen for.
            env["RUSTUP_TOOLCHAIN"] = toolchain.rustup
    if paths.sysroot is not None:
        # Only target crates get RUSTFLAGS when --target is given: build scripts and proc
        # macros keep the toolchain's own host std, as they should.
        flags += ["--sysroot", str(paths.sysroot)]
    if job.target.libc == "musl" and (paths.sysroot is not None or choice.method == "zig"):
        # zig brings musl's crt objects and libc itself, one musl whatever the std source: a
        # std built from source has no self-contained objects, rustup's has its own copies.
        flags += ["-C", "link-self-contained=no"]
    if flags:
        inherited = inherited_env.get("RUSTFLAGS", "")
        env["RUSTFLAGS"] = " ".join(filter(None, [inherited, *flags]))
    return Command(
        argv=tuple(argv), env=env, cwd=paths.project_dir, install_hint=INSTALL_BUILD_PYTHON
    )


def zig_env(job: BuildJob, tools: HostTools, paths: BuildPaths) -> dict[str, str]:
    """Return the environment that makes maturin's zig the job's linker (and C compiler)."""
    # cargo-zigbuild runs `$CARGO_ZIGBUILD_PYTHON_PATH -m ziglang`: the Python that has ziglang,
    # or the shim that runs castoff's stable copy of zig (and adds a job's -mcpu).
    if paths.zig_python is not None:
        return {"CARGO_ZIGBUILD_PYTHON_PATH": str(paths.zig_python)}
    if job.zig_cpu:
        raise ConfigError(f"{job.triple}: zig_cpu {job.zig_cpu} needs a zig_shim.")
    return {"CARGO_ZIGBUILD_PYTHON_PATH": tools.python}


def docker_command(job: BuildJob, paths: BuildPaths) -> Command:
    """Return the `docker run` of a maturin build in an image pinned by digest."""
    if not job.image or DIGEST_PIN not in job.image:
        raise ConfigError(
            f"{job.triple}: method 'docker' needs an image pinned by digest, got {job.image!r}.",
            hint="Write image = 'name@sha256:<64 hex digits>' in the target's config.",
        )
    argv = ["docker", "run", "--rm", "--volume", f"{paths.project_dir}:/io", "--workdir", "/io"]
    argv += ["--volume", f"{paths.wheel_dir}:/out"]
    argv += ["--env", f"CARGO_TARGET_DIR=/io/target/castoff/{job.triple}"]
    argv += ["--entrypoint", "maturin", job.image]
    argv += ["build", "--release", "--locked", "--target", job.triple, "--out", "/out"]
    if compat := compatibility(job):
        argv += ["--compatibility", compat]
    return Command(
        argv=tuple(argv),
        cwd=paths.project_dir,
        install_hint="a Docker engine (GitHub Actions' ubuntu runners have one)",
    )
