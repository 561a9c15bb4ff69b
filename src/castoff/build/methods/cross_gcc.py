"""cross-gcc: a Debian cross gcc links (ppc64 and ppc64le glibc, which zig cannot link)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from castoff.build.maturin import BuildPaths, base_argv, finish
from castoff.build.method import Defaults
from castoff.build.toolchains import APT, DEBIAN_ARCH, Choice, HostTools, Missing
from castoff.errors import ConfigError
from castoff.runner import Command

if TYPE_CHECKING:
    from castoff.plan import BuildJob
    from castoff.targets import Target


# zig's glibc has no big-endian ppc64 at all ("unable to provide libc"), and its ppc64le links fail.
_NOT_ZIG = frozenset({"ppc64", "ppc64le"})


class CrossGcc(Defaults):
    """maturin with cargo's linker set to `<gnu triple>-gcc`."""

    name = "cross-gcc"
    uses_zig = False
    builds_std = False
    links_machine_glibc = True

    def auto_reason(self, target: Target) -> str | None:
        """Pick it for ppc64 and ppc64le glibc: zig cannot link them."""
        if target.os == "linux" and target.libc == "gnu" and target.wheel_arch in _NOT_ZIG:
            return f"zig cannot link {target.wheel_arch} glibc binaries"
        return None

    def missing(self, job: BuildJob, tools: HostTools) -> list[Missing]:
        """Return the cross gcc, when it is not installed."""
        gnu = job.target.gnu_triple
        if gnu is None or gnu in tools.cross_gcc:
            return []
        # libc6-dev is only recommended by the gcc, so --no-install-recommends would leave a
        # cross gcc that cannot link (no crt1.o, no libc.so).
        packages = (f"gcc-{gnu}", f"libc6-dev-{DEBIAN_ARCH.get(gnu, gnu)}-cross")
        return [
            Missing(what=f"{gnu}-gcc", install=f"{APT} {' '.join(packages)}", packages=packages)
        ]

    def linker(self, job: BuildJob, tools: HostTools) -> str | None:
        """Return the cross gcc's path."""
        gnu = job.target.gnu_triple
        return tools.cross_gcc.get(gnu) if gnu else None

    def command(
        self,
        job: BuildJob,
        choice: Choice,
        tools: HostTools,
        paths: BuildPaths,
        inherited_env: Mapping[str, str],
        rustflags: tuple[str, ...] = (),
    ) -> Command:
        """Return `maturin build` with CARGO_TARGET_<TRIPLE>_LINKER set."""
        if choice.linker is None:
            raise ConfigError(f"{job.triple}: no cross gcc to link with.")
        argv, env = base_argv(job, tools, paths)
        env[f"CARGO_TARGET_{job.triple.upper().replace('-', '_')}_LINKER"] = choice.linker
        return finish(
            job, choice, paths, argv, env, inherited_env=inherited_env, rustflags=rustflags
        )


METHOD = CrossGcc()
