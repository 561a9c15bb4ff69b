"""Every std source castoff knows, in the order it asks them: the one list.

A source is one module whose SOURCE satisfies castoff.build.std.StdSource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from castoff.build.std import StdOffer, StdSource
from castoff.build.stds import installed, rustup, sysroot

if TYPE_CHECKING:
    from castoff.build.toolchains import HostTools
    from castoff.targets import Target

SOURCES: dict[str, StdSource] = {
    s.name: s for s in (installed.SOURCE, rustup.SOURCE, sysroot.SOURCE)
}
SYSROOT = sysroot.SOURCE.name  # the one source that builds std itself (method build-std)


def choose(
    target: Target, tools: HostTools, *, sysroot_only: bool = False
) -> tuple[str, StdOffer] | None:
    """Return the first source that offers the target's std here, and its offer."""
    for name, source in SOURCES.items():
        if sysroot_only and name != SYSROOT:
            continue
        if (offer := source.offer(target, tools)) is not None:
            return name, offer
    return None


def get(name: str) -> StdSource:
    """Return a source by name."""
    return SOURCES[name]
