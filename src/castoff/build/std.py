"""What a std source is: one module, one object satisfying StdSource.

A target's std comes from the first source in `castoff.build.stds.SOURCES` that offers it on
this machine: the toolchain's installed std, `rustup target add`, or a sysroot castoff builds
from the toolchain's sources. The offer is pure (doctor shows it); `prepare` does the work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from castoff.build.maturin import BuildPaths
    from castoff.build.toolchains import Choice, HostTools, Missing, Toolchain
    from castoff.plan import BuildJob
    from castoff.runner import Command
    from castoff.targets import Target

Run = Callable[["Command"], None]  # runs a command into the job's build log; raises on failure


@dataclass(frozen=True, kw_only=True)
class StdOffer:
    """How a source gives a target's std here: the toolchain that builds with it, and why."""

    toolchain: Toolchain
    reason: str
    missing: tuple[Missing, ...] = ()


class StdSource(Protocol):
    """One place a target's std can come from."""

    name: str  # as recorded in the build manifest's `std`

    def offer(self, target: Target, tools: HostTools) -> StdOffer | None:
        """Return how this source gives the target's std on this machine, or None."""

    def setup(self, choice: Choice, tools: HostTools, triple: str) -> tuple[Command, ...]:
        """Return the downloads `castoff setup` runs ahead of the build (none: nothing to fetch)."""

    def prepare(
        self, job: BuildJob, choice: Choice, tools: HostTools, paths: BuildPaths, run: Run
    ) -> BuildPaths:
        """Make the std ready before the build (install or build it); return the paths."""
