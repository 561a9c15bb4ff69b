"""zig: maturin --zig links any Linux target, macOS and Windows (mingw) from a Linux machine."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from castoff.build.maturin import BuildPaths, base_argv, finish, zig_cpu_shim, zig_env
from castoff.build.method import Defaults
from castoff.build.toolchains import INSTALL_BUILD_PYTHON, Choice, HostTools, Missing
from castoff.runner import Command

if TYPE_CHECKING:
    from castoff.plan import BuildJob
    from castoff.targets import Target


class Zig(Defaults):
    """maturin --zig, with the ziglang package beside castoff."""

    name = "zig"
    uses_zig = True
    builds_std = False

    def auto_reason(self, target: Target) -> str | None:
        """Pick it for every Linux target another method does not take first, macOS and mingw."""
        if target.os == "macos" or target.libc == "mingw":
            return f"zig cross-links {target.os} binaries from Linux (no {target.os} runner set)"
        if target.os != "linux":
            return None  # MSVC: its CRT and SDK are Microsoft's download, not zig's
        return "zig links for any target and pins the glibc version"

    def missing(self, job: BuildJob, tools: HostTools) -> list[Missing]:
        """Return ziglang, when it is not installed."""
        if tools.zig_version is None:
            return [Missing(what="zig (the ziglang package)", install=INSTALL_BUILD_PYTHON)]
        return []

    def prepare(self, job: BuildJob, paths: BuildPaths, tools: HostTools) -> BuildPaths:
        """Write the stubs mingw links need, and the shim that gives zig the job's -mcpu."""
        if job.target.libc == "mingw":
            paths = dataclasses.replace(paths, rustflags=mingw_stubs(paths.cache_dir))
        if not job.zig_cpu:
            return paths
        shim = paths.cache_dir / "zig-cpu" / job.zig_cpu / "python"
        shim.parent.mkdir(parents=True, exist_ok=True)
        shim.write_text(zig_cpu_shim(tools.python, job.zig_cpu), encoding="utf-8", newline="\n")
        shim.chmod(0o755)
        return dataclasses.replace(paths, zig_python=shim)

    def command(
        self,
        job: BuildJob,
        choice: Choice,
        tools: HostTools,
        paths: BuildPaths,
        inherited_env: Mapping[str, str],
        rustflags: tuple[str, ...] = (),
    ) -> Command:
        """Return `maturin build --zig`."""
        argv, env = base_argv(job, tools, paths)
        argv.append("--zig")
        env |= zig_env(job, tools, paths)
        if job.target.os == "macos" and not (choice.toolchain and choice.toolchain.objcopy):
            # rustc strips Mach-O with the rust-objcopy its toolchain ships; Debian's rustc has
            # none, so such a build keeps its symbols (the binary works, only larger): both the
            # project's [tool.maturin] strip and its Cargo profile are overruled.
            argv += ["--strip", "false"]
            env["CARGO_PROFILE_RELEASE_STRIP"] = "false"
        return finish(
            job, choice, paths, argv, env, inherited_env=inherited_env, rustflags=rustflags
        )


def mingw_stubs(cache_dir: Path) -> tuple[str, ...]:
    """Write empty libssp archives and return the rustflags that let the linker find them.

    Rust's windows-gnu target links -lssp and -lssp_nonshared (gcc's stack protector); zig's
    mingw has no such libraries and needs none, so empty archives satisfy the linker.
    """
    folder = cache_dir / "zig-mingw-stubs"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("libssp.a", "libssp_nonshared.a"):
        stub = folder / name
        if stub.is_symlink() or not stub.is_file() or stub.read_bytes() != EMPTY_AR:
            # A fresh private file, renamed over the stub: nothing planted there is written to.
            fd, partial = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            with os.fdopen(fd, "wb") as out:
                out.write(EMPTY_AR)
            Path(partial).replace(stub)
    return ("-L", f"native={folder}")


EMPTY_AR = b"!<arch>\n"  # an ar archive with no members
METHOD = Zig()
