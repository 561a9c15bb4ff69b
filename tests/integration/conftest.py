"""Integration tests run real tools; they are marked so `-m 'not integration'` gives a quick run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE, HERE

# A cold build of all sixteen targets builds std for each: minutes on two cores. Cached std
# lives in ~/.cache/castoff between runs, as it does for users.
BUILD_TIMEOUT = 3600


def castoff(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed castoff command, with variables added to the environment."""
    executable = shutil.which("castoff")
    assert executable is not None
    return subprocess.run(
        [executable, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=BUILD_TIMEOUT,
    )


def project_with_sign_table(folder: Path, sign_table: str) -> Path:
    """Copy the example's pyproject.toml (and Cargo.toml) with another [tool.castoff.sign]."""
    text = (EXAMPLE / "pyproject.toml").read_text()
    start, end = text.index("[tool.castoff.sign]"), text.index("[tool.castoff.contract]")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pyproject.toml"
    path.write_text(text[:start] + sign_table + "\n" + text[end:])
    # The version comes from Cargo.toml; the Rust sources are not needed to sign.
    shutil.copy(EXAMPLE / "Cargo.toml", folder / "Cargo.toml")
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder as an integration test."""
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a build folder shared by this module's tests."""
    return tmp_path_factory.mktemp("build")


@pytest.fixture(scope="session")
def first_build(out_dir: Path) -> dict[str, Any]:
    """Build every target of the example once and return the JSON outcome."""
    result = castoff(
        "build", "--config", str(EXAMPLE / "pyproject.toml"), "--out", str(out_dir), "--json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


@pytest.fixture(scope="session")
def dist(
    first_build: dict[str, Any], out_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Assemble the example's full build into a release folder (tests copy it to change it)."""
    assert first_build["targets"]
    folder = tmp_path_factory.mktemp("release") / "dist"
    config = str(EXAMPLE / "pyproject.toml")
    result = castoff(
        "assemble", "--config", config, *HERE, str(out_dir), "--out", str(folder), "--json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.fixture(scope="session")
def signed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return the example release signed with throwaway keys, and the keys' folder."""
    root = tmp_path_factory.mktemp("signed-example")
    keys = root / "keys"
    config = str(EXAMPLE / "pyproject.toml")
    assert castoff("keygen", "--config", config, str(keys)).returncode == 0
    folder = Path(shutil.copytree(dist, root / "dist"))
    signed = castoff("sign", "--config", config, str(folder), "--keys", str(keys))
    assert signed.returncode == 0, signed.stderr
    return folder, keys


@pytest.fixture
def release(signed: tuple[Path, Path], tmp_path: Path) -> Path:
    """Return a private copy of the signed example release."""
    return Path(shutil.copytree(signed[0], tmp_path / "dist"))
