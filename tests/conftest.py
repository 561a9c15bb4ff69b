"""Shared fixtures: paths to the repository and the embedded example."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "hello"
GOLDEN_PLAN = REPO / "tests" / "fixtures" / "plan-hello.json"


@pytest.fixture
def example_pyproject() -> Path:
    """Return the embedded example's pyproject.toml."""
    return EXAMPLE / "pyproject.toml"
