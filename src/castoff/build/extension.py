"""What an extension-module builder is, and the one registry of them (cibuildwheel's).

A builder probes what this machine has, says where it would build a target (its engine, and
what is missing), names the builds it runs, and builds a target's wheels into a build folder
with its manifest. castoff reaches builders only through this Protocol and `BUILDERS`; the
config's EXTENSION_METHOD names the one every extension uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from castoff.build import cibuildwheel

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


BUILDERS: dict[str, ExtensionBuilder] = {b.name: b for b in (cibuildwheel.BUILDER,)}


def get(name: str) -> ExtensionBuilder:
    """Return the builder a config's extension method names (the config checked the name)."""
    return BUILDERS[name]
