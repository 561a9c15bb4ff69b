"""Integration tests run real tools; they are marked so `-m 'not integration'` gives a quick run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE

# A cold build of all eleven targets builds std eleven times: minutes on two cores. Cached std
# lives in ~/.cache/castoff between runs, as it does for users.
BUILD_TIMEOUT = 3600


def castoff(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed castoff command."""
    executable = shutil.which("castoff")
    assert executable is not None
    return subprocess.run(
        [executable, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=BUILD_TIMEOUT,
    )


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
