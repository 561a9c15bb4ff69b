"""build-std: zig, with std always built from source (even where a prebuilt std exists)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from castoff.build.methods.zig import Zig

if TYPE_CHECKING:
    from castoff.targets import Target


class BuildStd(Zig):
    """maturin --zig -Zbuild-std: a std of the exact flags the build uses."""

    name = "build-std"
    builds_std = True

    def auto_reason(self, target: Target) -> str | None:
        """Never picked by auto: zig builds std from source by itself where it must."""
        return None


METHOD = BuildStd()
