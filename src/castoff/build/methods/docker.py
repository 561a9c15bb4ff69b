"""docker: maturin inside a builder image pinned by digest (GitHub Actions' Linux runners)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from castoff.build.maturin import BuildPaths, docker_command
from castoff.build.method import Defaults
from castoff.build.toolchains import Choice, HostTools, Missing
from castoff.runner import Command

if TYPE_CHECKING:
    from castoff.plan import BuildJob
    from castoff.targets import Target


class Docker(Defaults):
    """`docker run` of the image's maturin, with std and linker from the image."""

    name = "docker"
    uses_zig = False
    builds_std = False
    uses_docker = True

    def auto_reason(self, target: Target) -> str | None:
        """Never picked by auto: the config names the image."""
        return None

    def missing(self, job: BuildJob, tools: HostTools) -> list[Missing]:
        """Return a Docker engine, when none answers."""
        if tools.docker:
            return []
        install = "run this job where Docker runs (GitHub Actions' ubuntu runners)"
        return [Missing(what="a Docker engine", install=install)]

    def command(
        self,
        job: BuildJob,
        choice: Choice,
        tools: HostTools,
        paths: BuildPaths,
        inherited_env: Mapping[str, str],
        rustflags: tuple[str, ...] = (),
    ) -> Command:
        """Return the `docker run` of the pinned image."""
        return docker_command(job, paths)


METHOD = Docker()
