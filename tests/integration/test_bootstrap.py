"""ci/nox, the bootstrap this repository's workflows run, on the Pythons runners have."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _stub(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def _nox_version(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the copied bootstrap as a job would: `ci/nox --version`."""
    return subprocess.run(
        [str(root / "ci" / "nox"), "--version"],
        capture_output=True, text=True, check=False, env=env, timeout=600,
    )  # fmt: skip


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "ci").mkdir(parents=True)
    shutil.copy2(REPO / "ci" / "nox", root / "ci" / "nox")
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_without_python3_it_takes_python_as_on_a_windows_runner(tmp_path: Path) -> None:
    """Stand-in for Git Bash on windows-latest: python3 is the Store's stub, python is real."""
    root = _copy(tmp_path)
    fake = tmp_path / "fake"
    fake.mkdir()
    _stub(fake, "python3", "exit 9009")  # what the Microsoft Store alias answers
    _stub(fake, "python", f'exec {sys.executable} "$@"')
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    env.pop("PYTHON", None)
    result = _nox_version(root, env)
    assert result.returncode == 0, result.stderr
    assert (root / ".nox" / "_bootstrap" / ".pins").read_text().startswith("nox==")


def test_without_any_python_it_says_what_to_install(tmp_path: Path) -> None:
    """Neither python3 nor python runs: one line says so, and nothing is made."""
    root = _copy(tmp_path)
    fake = tmp_path / "fake"
    fake.mkdir()
    _stub(fake, "python3", "exit 9009")
    _stub(fake, "python", "exit 127")
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    env.pop("PYTHON", None)
    result = _nox_version(root, env)
    assert result.returncode == 1
    assert "no Python 3.11 or later as python3 or python" in result.stderr
    assert not (root / ".nox").exists()


def test_a_python_too_old_in_python_is_refused_by_name(tmp_path: Path) -> None:
    """PYTHON names the interpreter; one older than 3.11 (no tomllib) is refused, by name."""
    root = _copy(tmp_path)
    fake = tmp_path / "fake"
    fake.mkdir()
    _stub(fake, "python3.8", "exit 1")  # what `sys.exit(sys.version_info < (3, 11))` says
    env = {**os.environ, "PYTHON": str(fake / "python3.8")}
    result = _nox_version(root, env)
    assert result.returncode == 1
    assert f"no Python 3.11 or later as {fake / 'python3.8'}" in result.stderr
    assert not (root / ".nox").exists()
