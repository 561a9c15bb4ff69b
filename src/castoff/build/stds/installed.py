"""toolchain: the std the toolchain on PATH already has (its host's, or one added before)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from castoff.build.std import StdOffer

if TYPE_CHECKING:
    from castoff.build.maturin import BuildPaths
    from castoff.build.std import Run
    from castoff.build.toolchains import Choice, HostTools
    from castoff.plan import BuildJob
    from castoff.runner import Command
    from castoff.targets import Target


class Installed:
    """The toolchain's own std for the target."""

    name = "toolchain"

    def offer(self, target: Target, tools: HostTools) -> StdOffer | None:
        """Offer the default toolchain, when it has std for the target."""
        toolchain = tools.default
        if toolchain is None or target.triple not in toolchain.std_targets:
            return None
        return StdOffer(toolchain=toolchain, reason="the toolchain's installed std")

    def setup(self, choice: Choice, tools: HostTools, triple: str) -> tuple[Command, ...]:
        """Nothing to fetch."""
        return ()

    def prepare(
        self, job: BuildJob, choice: Choice, tools: HostTools, paths: BuildPaths, run: Run
    ) -> BuildPaths:
        """Nothing to do: the std is there."""
        return paths


SOURCE = Installed()
