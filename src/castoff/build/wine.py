"""Wine, standing in for Windows x64 on Linux: its prefix and the DLL shim Wine 8.0 lacks."""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from castoff.build.toolchains import INSTALL_BUILD_PYTHON
from castoff.errors import BuildError
from castoff.filelock import locked
from castoff.runner import Command, Runner

SHIM = "bcryptprimitives.dll"
RECIPE = 1  # bump when the shim's source or build changes: it keys the cache
# Rust's std (1.78 on) imports ProcessPrng from bcryptprimitives.dll, which Windows 10 and 11
# have and Wine 8.0 (Debian 12) does not: this stand-in answers it from BCryptGenRandom, the
# system RNG Wine does have. It sits beside the program only while Wine runs it, never in a
# release.
SHIM_SOURCE = r"""/* Written by castoff: Windows' ProcessPrng for Wine 8.0, which lacks it. */
#include <windows.h>
#include <bcrypt.h>
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
    return BCryptGenRandom(NULL, data, (ULONG)size, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
"""


@dataclass(frozen=True, kw_only=True)
class WineSetup:
    """Castoff's own Wine prefix and shim, made once per machine in its cache."""

    prefix: Path
    shim: Path

    def env(self) -> dict[str, str]:
        """Return the environment of a quiet run in castoff's prefix (no Mono or Gecko prompt)."""
        return {
            "WINEPREFIX": str(self.prefix),
            # Quiet, but for the loader's errors: the one clue when a DLL is missing.
            "WINEDEBUG": "-all,err+module",
            # No Mono or Gecko prompt, and no menu entries or file associations in ~/.local.
            "WINEDLLOVERRIDES": "mscoree,mshtml=;winemenubuilder.exe=d",
        }

    def stage(self, binary: Path, folder: Path) -> Path:
        """Copy a program beside the shim into a folder of its own; return the copy."""
        copy = folder / binary.name
        shutil.copyfile(binary, copy)
        shutil.copyfile(self.shim, folder / SHIM)
        return copy


def shim_command(source: Path, out: Path, python: str = sys.executable) -> Command:
    """Return the zig command that builds the shim DLL for x86_64 Windows."""
    return Command(
        argv=(
            python, "-m", "ziglang", "cc", "-target", "x86_64-windows-gnu", "-shared", "-O2",
            "-s", "-o", str(out), str(source), "-lbcrypt",
        ),
        install_hint=INSTALL_BUILD_PYTHON,
    )  # fmt: skip


def _marker(shim: Path) -> Path:
    return shim.with_name(shim.name + ".sha256")


def _intact(shim: Path) -> bool:
    """Return whether the shim is the plain file castoff built, by the digest it recorded."""
    marker = _marker(shim)
    if shim.parent.is_symlink() or any(p.is_symlink() or not p.is_file() for p in (shim, marker)):
        return False
    recorded = marker.read_text(encoding="utf-8").strip()
    return hashlib.sha256(shim.read_bytes()).hexdigest() == recorded


def prepare(cache_dir: Path, runner: Runner) -> WineSetup:
    """Build the shim once per machine (atomically, under a lock) and return the setup."""
    root = cache_dir / "wine"
    shim = root / f"shim-{RECIPE}" / SHIM
    setup = WineSetup(prefix=root / "prefix", shim=shim)
    if _intact(shim):
        return setup
    root.mkdir(parents=True, exist_ok=True)
    with locked(root / "shim.lock"):
        if _intact(shim):
            return setup
        work = Path(tempfile.mkdtemp(prefix="shim-", dir=root))
        try:
            (work / "shim.c").write_text(SHIM_SOURCE, encoding="utf-8", newline="\n")
            result = runner.run(
                shim_command(work / "shim.c", work / SHIM), check=False, log=lambda _: None
            )
            if result.returncode != 0 or not (work / SHIM).is_file():
                raise BuildError(
                    f"zig could not build Wine's {SHIM} shim (exit {result.returncode}).",
                    hint=f"Check `{sys.executable} -m ziglang version`; {INSTALL_BUILD_PYTHON}.",
                )
            shim.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256((work / SHIM).read_bytes()).hexdigest()
            (work / SHIM).replace(shim)
            # Written last: a shim without its matching digest (changed, half-written) is
            # castoff's own leftover and is built again.
            marker = work / "sha256"
            marker.write_text(digest + "\n", encoding="utf-8", newline="\n")
            marker.replace(_marker(shim))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return setup
