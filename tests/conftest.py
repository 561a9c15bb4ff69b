"""Shared fixtures: paths to the repository and the embedded example."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "hello"
GOLDEN_PLAN = REPO / "tests" / "fixtures" / "plan-hello.json"


def _built_here() -> tuple[str, ...]:
    """Return the example's targets a Linux machine builds: all but MSVC's, and the sdist."""
    import tomllib  # noqa: PLC0415

    document = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    triples = [t["triple"] for t in document["tool"]["castoff"]["targets"]]
    return (*(t for t in triples if not t.endswith("-windows-msvc")), "sdist")


# Only Windows runners build MSVC: `castoff build` here lists them as built elsewhere, and a
# release assembled from this machine's builds names the targets it has (--target).
BUILT_HERE = _built_here()
HERE = tuple(arg for triple in BUILT_HERE for arg in ("--target", triple))


@pytest.fixture
def example_pyproject() -> Path:
    """Return the embedded example's pyproject.toml."""
    return EXAMPLE / "pyproject.toml"
