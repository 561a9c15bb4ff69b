"""Which tags name which versions: the check castoff runs before a release uploads anything."""

from __future__ import annotations

import pytest

from castoff.publish.source import tag_problem


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v0.1.0", "0.1.0"),
        ("0.1.0", "0.1.0"),
        ("v1.0.0-rc.1", "1.0.0rc1"),  # Cargo's spelling of a PEP 440 pre-release
        ("greet-v0.2.0", "0.2.0"),
        ("tools/greet/v0.2.0", "0.2.0"),
    ],
)
def test_tags_that_name_the_version(tag: str, version: str) -> None:
    """A v, a plain version, a pre-release either way, a project prefix."""
    assert tag_problem(tag, version) is None


@pytest.mark.parametrize(
    ("tag", "version"),
    [("v0.1.1", "0.1.0"), ("v10.1.0", "0.1.0"), ("x0.1.0", "0.1.0"), ("v0.1.0-", "0.1.0")],
)
def test_tags_that_name_another_version(tag: str, version: str) -> None:
    """Another version, or one the tag does not spell out, is refused."""
    assert tag_problem(tag, version) == f"the tag {tag} does not name version {version}"
