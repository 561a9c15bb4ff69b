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
        ("Greet_CLI-0.2.0", "0.2.0"),  # a binary's name, as PyPI normalises names
    ],
)
def test_tags_that_name_the_version(tag: str, version: str) -> None:
    """A v, a plain version, a pre-release either way, a project prefix."""
    assert tag_problem(tag, version, ("greet", "greet-cli")) is None


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v0.1.1", "0.1.0"),
        ("v10.1.0", "0.1.0"),
        ("x0.1.0", "0.1.0"),
        ("v0.1.0-", "0.1.0"),
        # Whatever comes before the version must be one of the project's names.
        ("v9.9.9-0.1.0", "0.1.0"),
        ("nightly-0.1.0", "0.1.0"),
        ("other/v0.1.0", "0.1.0"),
        ("greetings-v0.1.0", "0.1.0"),
        # One version, one tag: no other spelling of it.
        ("v0.1", "0.1.0"),
        ("v00.1.0", "0.1.0"),
        ("v0!0.1.0", "0.1.0"),
        ("v0.1.0.0", "0.1.0"),
        ("vv0.1.0", "0.1.0"),
    ],
)
def test_tags_that_name_another_version(tag: str, version: str) -> None:
    """Another version, one the tag does not spell out, or another project's, is refused."""
    problem = tag_problem(tag, version, ("greet", "greet-cli"))
    assert problem is not None
    assert problem.startswith(f"the tag {tag} does not name version {version} of greet")
