"""Wine, standing in for Windows x64: castoff's DLL shim, built once, rebuilt if changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pefile
import pytest

from castoff.build import wine
from castoff.build.toolchains import WINE_LOADERS
from castoff.runner import Runner

RUNNER = Runner(base_env=dict(os.environ), echo=lambda _: None)
LOADER = next((p for p in WINE_LOADERS if Path(p).is_file()), None)


@pytest.mark.skipif(LOADER is None, reason="Wine (wine64) is not installed: ci/install-system.sh")
def test_the_shim_exports_process_prng_and_a_changed_one_is_built_again(tmp_path: Path) -> None:
    """Zig builds bcryptprimitives.dll once; a shim whose digest no longer matches is rebuilt."""
    setup = wine.prepare(tmp_path, RUNNER)
    built = setup.shim.read_bytes()
    dll = pefile.PE(data=built)
    exports = [e.name for e in dll.DIRECTORY_ENTRY_EXPORT.symbols]
    assert b"ProcessPrng" in exports
    assert dll.FILE_HEADER.Machine == 0x8664
    # Unchanged: used as it is (same file, not rebuilt).
    before = setup.shim.stat().st_mtime_ns
    assert wine.prepare(tmp_path, RUNNER).shim.stat().st_mtime_ns == before
    # Changed behind castoff's back: its digest no longer matches, so it is built again.
    setup.shim.write_bytes(b"MZ not the shim")
    again = wine.prepare(tmp_path, RUNNER)
    assert again.shim.read_bytes()[:2] == b"MZ"
    assert b"ProcessPrng" in again.shim.read_bytes()
    staged = tmp_path / "stage"
    staged.mkdir()
    program = tmp_path / "hello.exe"
    shutil.copyfile(again.shim, program)  # any file: stage only copies
    copy = again.stage(program, staged)
    assert sorted(p.name for p in staged.iterdir()) == ["bcryptprimitives.dll", "hello.exe"]
    assert copy == staged / "hello.exe"
    assert "winemenubuilder.exe=d" in again.env()["WINEDLLOVERRIDES"]
