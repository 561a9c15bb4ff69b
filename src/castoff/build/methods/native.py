"""native: plain maturin on a machine of the target (macOS, Windows, or the same CPU)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from castoff.build.maturin import BuildPaths, base_argv, finish
from castoff.build.method import Defaults
from castoff.build.toolchains import Choice, HostTools, Missing
from castoff.runner import Command
from castoff.targets import NATIVE_CROSS

if TYPE_CHECKING:
    from castoff.plan import BuildJob
    from castoff.targets import Target


class Native(Defaults):
    """maturin with the host's own linker: only a machine of the target's OS and CPU can."""

    name = "native"
    uses_zig = False
    builds_std = False

    def auto_reason(self, target: Target) -> str | None:
        """Pick it for macOS and Windows: only their own runners build them."""
        return "only a native build makes this target" if target.os != "linux" else None

    def missing(self, job: BuildJob, tools: HostTools) -> list[Missing]:
        """Return the machine it needs, when this is not one."""
        host = tools.host_triple or ""
        if host == job.triple or job.triple in NATIVE_CROSS.get(host, ()):
            return []
        target = job.target
        if target.os != "linux":
            install = f"run this job on a {target.os} runner (runner = '{job.runner}')"
            return [Missing(what=f"a {target.os} machine", install=install)]
        install = f"run this job on a {target.wheel_arch} runner"
        return [Missing(what=f"a {job.triple} machine", install=install)]

    def command(
        self,
        job: BuildJob,
        choice: Choice,
        tools: HostTools,
        paths: BuildPaths,
        inherited_env: Mapping[str, str],
        rustflags: tuple[str, ...] = (),
    ) -> Command:
        """Return `maturin build` as it is."""
        argv, env = base_argv(job, tools, paths)
        return finish(
            job, choice, paths, argv, env, inherited_env=inherited_env, rustflags=rustflags
        )


METHOD = Native()
