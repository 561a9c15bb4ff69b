"""rustup: `rustup target add`, the prebuilt std rustup ships for tier-1 and tier-2 targets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from castoff.build.std import StdOffer
from castoff.runner import Command
from castoff.targets import NO_RUSTUP_STD

if TYPE_CHECKING:
    from castoff.build.maturin import BuildPaths
    from castoff.build.std import Run
    from castoff.build.toolchains import Choice, HostTools
    from castoff.plan import BuildJob
    from castoff.targets import Target


def target_add(rustup: str, toolchain: str, triple: str) -> Command:
    """Return the command that installs a target's std into a rustup toolchain."""
    return Command(
        argv=(rustup, "target", "add", "--toolchain", toolchain, triple),
        install_hint="rustup (https://rustup.rs), with network access to static.rust-lang.org",
    )


class Rustup:
    """A target's std downloaded by rustup into the toolchain on PATH."""

    name = "rustup"

    def offer(self, target: Target, tools: HostTools) -> StdOffer | None:
        """Offer rustup's std where rustup manages the toolchain and ships one for the target.

        Not where Debian's rust-web-src is installed: there castoff builds std offline, which
        works on a machine without network access, rather than download it.
        """
        toolchain = tools.default
        if (
            toolchain is None
            or toolchain.rustup is None
            or tools.rustup is None
            or tools.build_std is not None
            or target.triple in NO_RUSTUP_STD
        ):
            return None
        reason = f"`rustup target add {target.triple}` (toolchain {toolchain.rustup})"
        return StdOffer(toolchain=toolchain, reason=reason)

    def setup(self, choice: Choice, tools: HostTools, triple: str) -> tuple[Command, ...]:
        """Return `rustup target add` for the target."""
        toolchain = choice.toolchain
        if toolchain is None or toolchain.rustup is None or tools.rustup is None:
            return ()
        return (target_add(tools.rustup, toolchain.rustup, triple),)

    def prepare(
        self, job: BuildJob, choice: Choice, tools: HostTools, paths: BuildPaths, run: Run
    ) -> BuildPaths:
        """Run `rustup target add` (it does nothing when the target is installed already)."""
        for command in self.setup(choice, tools, job.triple):
            run(command)
        return paths


SOURCE = Rustup()
