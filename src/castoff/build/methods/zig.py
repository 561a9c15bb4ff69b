"""zig: maturin --zig links any Linux target, macOS and Windows (mingw) from a Linux machine."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from castoff.build.maturin import BuildPaths, base_argv, finish, zig_env, zig_shim
from castoff.build.method import Defaults
from castoff.build.toolchains import (
    INSTALL_BUILD_PYTHON,
    Choice,
    HostTools,
    Missing,
    version_folder,
    ziglang_zig,
)
from castoff.errors import BuildError, ConfigError
from castoff.filelock import locked
from castoff.manifest import write_replacing
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
        """Write the stubs mingw links need, and the shim that runs the stable zig (and -mcpu)."""
        if job.target.libc == "mingw":
            paths = dataclasses.replace(paths, rustflags=mingw_stubs(paths.cache_dir))
        if os.name != "posix" or tools.zig_version is None:
            if job.zig_cpu:
                raise ConfigError(
                    f"{job.triple}: zig's -mcpu={job.zig_cpu} needs a POSIX shell.",
                    hint="Build this target on Linux or macOS.",
                )
            return paths
        zig = stable_zig(paths.cache_dir, tools.zig_version, tools.python)
        name = "python" + (f"-mcpu-{job.zig_cpu}" if job.zig_cpu else "")
        # Beside the zig it runs (its content names this virtualenv's Python as the fallback).
        shim = (zig.parent if zig else paths.cache_dir / "tools") / name
        try:
            write_private(shim, zig_shim(tools.python, str(zig) if zig else None, job.zig_cpu))
        except OSError as exc:
            raise BuildError(
                f"cannot write {shim} ({exc.strerror or exc}).",
                hint="Check that castoff's cache folder (CASTOFF_CACHE_DIR) is writable.",
            ) from None
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


def write_private(path: Path, text: str) -> None:
    """Write an executable script through a fresh private file renamed over path (if it differs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and not path.is_symlink() and path.read_text(encoding="utf-8") == text:
        return
    write_replacing(path, text, mode=0o755)


def stable_zig(cache_dir: Path, version: str, python: str) -> Path | None:
    """Return zig from a copy of the ziglang package at a path that depends only on that zig.

    zig keys its cache of the C runtimes it builds (musl, glibc stubs, mingw, compiler-rt) by
    its own path: a ziglang in each virtualenv (every nox session, every checkout) would build
    them again, a minute per target. One copy per zig (its version and the size of its binary),
    hard-linked where the file system allows, keeps that cache warm for every project on the
    machine; a copy is never replaced, so a build running with it keeps it. None: this Python
    is not the one whose ziglang builds (its own `-m ziglang` is used as it is).
    """
    binary = ziglang_zig() if python == sys.executable else None
    if binary is None:
        return None
    source = binary.parent
    tools = cache_dir / "tools"
    try:
        size = binary.stat().st_size
        folder = tools / f"zig-{version_folder(version)}" / f"ziglang-{size}"
        zig = folder / "zig"
        with locked(tools / f"zig-{version_folder(version)}.lock"):
            if zig.is_file() and zig.stat().st_size == size:
                return zig
            # Only this version's lock holder works in its folder: what is left there unfinished
            # (an interrupted copy, a copy without its zig) is castoff's own, and no build uses it.
            for stale in folder.parent.glob(".ziglang.*"):
                shutil.rmtree(stale, ignore_errors=True)
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
            folder.parent.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=".ziglang.", dir=folder.parent))
            try:
                shutil.copytree(
                    source, partial / "ziglang", copy_function=_link_or_copy,
                    ignore=shutil.ignore_patterns("__pycache__"),
                )  # fmt: skip
                (partial / "ziglang").replace(folder)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    except OSError as exc:
        raise BuildError(
            f"cannot copy zig {version} into {tools} ({exc.strerror or exc}).",
            hint="Free some space there (about 400 MB), or set CASTOFF_CACHE_DIR to a folder "
            "with room.",
        ) from None
    return zig


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


EMPTY_AR = b"!<arch>\n"  # an ar archive with no members
METHOD = Zig()
