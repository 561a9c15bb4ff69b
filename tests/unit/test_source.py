"""Which tags name which versions: the check castoff runs before a release uploads anything."""

from __future__ import annotations

import re

import pytest

from castoff.publish.source import tag_patterns, tag_problem


@pytest.mark.parametrize(
    ("tag", "version"),
    [
        ("v0.1.0", "0.1.0"),
        ("0.1.0", "0.1.0"),
        ("v1.0.0-rc.1", "1.0.0rc1"),  # Cargo's spelling of a PEP 440 pre-release
        ("greet-v0.2.0", "0.2.0"),
        ("tools/greet/v0.2.0", "0.2.0"),
        ("greet-cli-0.2.0", "0.2.0"),  # a binary's name
        ("tools/greet-v0.2.0", "0.2.0"),
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
        # A name as written or as PyPI normalises it, nothing else: release.yml's trigger
        # lists exactly these, so a tag it would not fire for is not accepted either.
        ("Greet_CLI-0.1.0", "0.1.0"),
        ("GREET-v0.1.0", "0.1.0"),
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


def _github_glob(pattern: str) -> re.Pattern[str]:
    """Return GitHub's filter pattern as a regex: '*' stops at '/', '**' does not."""
    out = ""
    for part in re.split(r"(\*\*|\*|\[[^]]*\])", pattern):
        if part == "**":
            out += ".*"
        elif part == "*":
            out += "[^/]*"
        elif part.startswith("["):
            out += part
        else:
            out += re.escape(part)
    return re.compile(out)


@pytest.mark.parametrize(
    "tag",
    [
        "v0.2.0",
        "0.2.0",
        "greet-v0.2.0",
        "greet-cli-0.2.0",
        "tools/greet/v0.2.0",
        "greet/0.2.0",
        "tools/greet-v0.2.0",
        "a/b/greet-cli-0.2.0",
        "Greet.Cli-v0.2.0",
    ],
)
def test_the_workflow_trigger_fires_for_every_accepted_tag(tag: str) -> None:
    """Each spelling castoff accepts (as the config writes the names) starts release.yml."""
    names = ("greet", "Greet.Cli")  # as a config may write them
    assert tag_problem(tag, "0.2.0", names) is None
    assert any(_github_glob(p).fullmatch(tag) for p in tag_patterns(names)), tag


@pytest.mark.parametrize("tag", ["nightly-0.2.0", "other-v0.2.0", "release", "tools/other/v1.0"])
def test_the_workflow_trigger_ignores_tags_of_nothing_castoff_releases(tag: str) -> None:
    """Another project's tag or a word does not start a release that would only fail."""
    assert not any(_github_glob(p).fullmatch(tag) for p in tag_patterns(("greet", "greet-cli")))
