"""zig: maturin --zig links any Linux target from any machine and pins the glibc version."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
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
        """Pick it for every Linux target another method does not take first."""
        if target.os != "linux":
            return None
        return "zig links for any target and pins the glibc version"

    def missing(self, job: BuildJob, tools: HostTools) -> list[Missing]:
        """Return ziglang, when it is not installed."""
        if tools.zig_version is None:
            return [Missing(what="zig (the ziglang package)", install=INSTALL_BUILD_PYTHON)]
        return []

    def prepare(self, job: BuildJob, paths: BuildPaths, tools: HostTools) -> BuildPaths:
        """Write the shim that gives zig the job's -mcpu, where the job sets one."""
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
        return finish(
            job, choice, paths, argv, env, inherited_env=inherited_env, rustflags=rustflags
        )


METHOD = Zig()
