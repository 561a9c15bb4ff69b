"""What a build method is: one module, one object satisfying BuildMethod.

A method says when `auto` picks it, what a machine needs for it, what it prepares before a
build, and the command that builds a job's wheel. castoff knows methods only through this
Protocol and the registry in `castoff.build.methods`; docs/architecture.md has the recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from castoff.build.maturin import BuildPaths
    from castoff.build.toolchains import Choice, HostTools, Missing
    from castoff.plan import BuildJob
    from castoff.runner import Command
    from castoff.targets import Target


class BuildMethod(Protocol):
    """One way of building a target's wheel with maturin."""

    name: str  # as written in a target's `method`
    uses_zig: bool  # links with zig (its version goes into the build record)
    builds_std: bool  # always builds std from source (-Zbuild-std)
    # Links against the build machine's own glibc (a cross gcc's), so the glibc a binary needs
    # depends on the machine: the plan names the runner and checks the tag against its glibc.
    links_machine_glibc: bool
    uses_docker: bool  # runs in a Docker engine: only then is `docker info` asked

    def auto_reason(self, target: Target) -> str | None:
        """Return why `auto` picks this method for a target, or None when it does not."""

    def missing(self, job: BuildJob, tools: HostTools) -> list[Missing]:
        """Return what this machine lacks to build the job this way."""

    def linker(self, job: BuildJob, tools: HostTools) -> str | None:
        """Return the linker this method links the job with, if it names one."""

    def prepare(self, job: BuildJob, paths: BuildPaths, tools: HostTools) -> BuildPaths:
        """Write what the build reads besides the project (shims, cargo config); return paths."""

    def command(
        self,
        job: BuildJob,
        choice: Choice,
        tools: HostTools,
        paths: BuildPaths,
        inherited_env: Mapping[str, str],
        rustflags: tuple[str, ...] = (),
    ) -> Command:
        """Return the command that builds the job's wheel into paths.wheel_dir.

        `rustflags` are the caller's own, added to the job's; `inherited_env` is the
        environment the build inherits (its RUSTFLAGS are kept).
        """


class Defaults:
    """What most methods do: link with the toolchain's default and prepare nothing."""

    links_machine_glibc = False
    uses_docker = False

    def linker(self, job: BuildJob, tools: HostTools) -> str | None:
        """Return none: the toolchain's default linker."""
        return None

    def prepare(self, job: BuildJob, paths: BuildPaths, tools: HostTools) -> BuildPaths:
        """Prepare nothing."""
        return paths
