"""What an extension-module builder is, and the one registry of them (cibuildwheel's).

A builder probes what this machine has, says where it would build a target (its engine, and
what is missing), names the builds it runs, and builds a target's wheels into a build folder
with its manifest. castoff reaches builders only through this Protocol and `BUILDERS`; the
config's EXTENSION_METHOD names the one every extension uses. A builder's module is imported
only when it is asked for: a project without extension modules does not pay for it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from castoff.build.cibuildwheel import Engine, ExtensionTools
    from castoff.manifest import PartialManifest
    from castoff.plan import ExtensionJob, ReleasePlan
    from castoff.runner import Runner


class ExtensionBuilder(Protocol):
    """One way of building an extension module's wheels for a target."""

    name: str  # as the build manifest's method records it

    def probe(
        self, runner: Runner, env: Mapping[str, str], cache_dir: Path, *, docker: bool
    ) -> ExtensionTools:
        """Look for what the builder needs on this machine."""

    def asks_docker(self, jobs: Iterable[ExtensionJob]) -> bool:
        """Return whether building any of the jobs on this machine asks for a Docker engine."""

    def engine(self, job: ExtensionJob, tools: ExtensionTools) -> Engine:
        """Return where the builder builds a job here, and what it lacks for that."""

    def identifiers(self, job: ExtensionJob, engine: Engine) -> tuple[str, ...]:
        """Return the builds it runs for a job on that engine."""

    def build(
        self,
        job: ExtensionJob,
        *,
        plan: ReleasePlan,
        tools: ExtensionTools,
        runner: Runner,
        out_dir: Path,
        project_dir: Path,
        source_commit: str | None,
        tree: str,
    ) -> tuple[PartialManifest, bool]:
        """Build a job's wheels into out_dir/<triple>; return the manifest and whether cached."""


# Each builder's name and the module whose BUILDER it is.
BUILDERS: dict[str, str] = {"cibuildwheel": "castoff.build.cibuildwheel"}


def asks_docker(plan: ReleasePlan) -> bool:
    """Return whether a plan builds anything in Docker here: a method, or an extension's engine."""
    from castoff.build import methods  # noqa: PLC0415
    from castoff.config import EXTENSION_METHOD  # noqa: PLC0415

    if methods.in_docker(plan.jobs):
        return True
    return bool(plan.extensions) and get(EXTENSION_METHOD).asks_docker(plan.extensions)


def get(name: str) -> ExtensionBuilder:
    """Return the builder a config's extension method names (the config checked the name)."""
    builder = cast("ExtensionBuilder", importlib.import_module(BUILDERS[name]).BUILDER)
    assert builder.name == name  # noqa: S101 - the registry and the module agree
    return builder
