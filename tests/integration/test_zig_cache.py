"""zig runs from one copy per version, whichever virtualenv's ziglang castoff was installed with.

And its version is asked of that package's zig, which counts as missing when it cannot answer.

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
from castoff.build.toolchains import _zig_version
from castoff.runner import Runner


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


def _ziglang(root: Path, script: str | None, mode: int = 0o755) -> Path:
    """Write a ziglang package whose zig is a script (or none) into a folder put on sys.path."""
    package = root / "ziglang"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    if script is not None:
        zig = package / "zig"
        zig.write_text(f"#!/bin/sh\n{script}\n")
        zig.chmod(mode)
    return root


@pytest.mark.parametrize(
    ("script", "mode", "version"),
    [
        ("echo 0.17.0", 0o755, "0.17.0"),
        ("exit 3", 0o755, None),  # a zig that fails
        ("echo 0.17.0", 0o644, None),  # not executable (a lost mode bit, a noexec mount)
        (None, 0o755, None),  # a package without its zig
    ],
)
def test_zigs_version_is_asked_of_the_packages_zig_and_a_broken_one_is_missing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    script: str | None,
    mode: int,
    version: str | None,
) -> None:
    """The version is asked of the ziglang package's zig; when it cannot say, zig is missing."""
    monkeypatch.syspath_prepend(str(_ziglang(tmp_path, script, mode)))
    monkeypatch.delitem(sys.modules, "ziglang", raising=False)
    runner = Runner(base_env=os.environ, echo=lambda _: None)
    assert _zig_version(runner) == version
