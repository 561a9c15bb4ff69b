"""zig runs from one copy per version, whichever virtualenv's ziglang castoff was installed with.

zig keys its cache of the C runtimes it compiles (musl, compiler-rt) by its own path: zig from
each nox session's virtualenv would compile them again for every target. A second virtualenv
here is the ziglang package hard-linked into a temporary folder, found as castoff would find it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from castoff import settings
from castoff.build.maturin import zig_shim
from castoff.build.methods import zig as zig_method


def _version() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ziglang", "version"], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def test_zig_from_two_virtualenvs_is_one_stable_copy_and_the_shim_runs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both virtualenvs get the same zig path (copied once); the shim runs that zig."""
    cache = settings.resolve(argparse.Namespace(), os.environ).cache_dir
    version = _version()
    first = zig_method.stable_zig(cache, version, sys.executable)
    assert first is not None
    spec = importlib.util.find_spec("ziglang")
    assert spec is not None
    assert spec.origin is not None
    size = (Path(spec.origin).parent / "zig").stat().st_size
    assert first == cache / "tools" / f"zig-{version}" / f"ziglang-{size}" / "zig"
    inode = first.stat().st_ino
    other = tmp_path / "venv2" / "site-packages" / "ziglang"
    shutil.copytree(
        Path(spec.origin).parent, other, copy_function=os.link,
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    found = ModuleSpec("ziglang", None, origin=str(other / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda _: found)
    second = zig_method.stable_zig(cache, version, sys.executable)
    assert second == first
    assert second.stat().st_ino == inode  # not copied again

    shim = tmp_path / "python"
    shim.write_text(zig_shim(sys.executable, str(first), "baseline"))
    shim.chmod(0o755)
    said = subprocess.run(
        [str(shim), "-m", "ziglang", "version"], check=True, capture_output=True, text=True
    )
    assert said.stdout.strip() == version
    # Anything but `-m ziglang` is the Python it stands in for.
    said = subprocess.run(
        [str(shim), "-c", "import sys; print(sys.executable)"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert said.stdout.strip() == sys.executable
