"""What is released must be what was tagged: the tag, the version and the commit agree.

Checked before the first upload. A tag names the version with an optional `v` (and, for a
repository of several projects, a prefix ending in `-` or `/`); with --commit, the checkout is
that commit and so is the tag, where it exists, so the GitHub release is created at it.
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import InvalidVersion, Version

from castoff.errors import SourceError
from castoff.runner import Command, Runner

COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def tag_problem(tag: str, version: str) -> str | None:
    """Return why a tag does not name a version (compared as PEP 440 versions), or None."""
    wanted = Version(version)
    # The version part starts the tag or follows a '-' or '/' of a prefix; a Cargo-style
    # v1.0.0-rc.1 names the same version as 1.0.0rc1.
    starts = [0] + [i + 1 for i, char in enumerate(tag) if char in "-/"]
    for start in starts:
        try:
            if Version(tag[start:].removeprefix("v")) == wanted:
                return None
        except InvalidVersion:
            continue
    return f"the tag {tag} does not name version {version}"


def _rev(runner: Runner, project: Path, ref: str) -> str | None:
    found = runner.capture(
        Command(argv=("git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"), cwd=project)
    )
    return found.stdout.strip() if found.returncode == 0 else None


def check_source(tag: str, version: str, commit: str | None, project: Path, runner: Runner) -> None:
    """Raise unless the tag names the version and, given a commit, the checkout and tag are it."""
    problem = tag_problem(tag, version)
    if problem is not None:
        raise SourceError(
            f"{problem} (from Cargo.toml / [project]); nothing was uploaded.",
            hint=f"Tag the release v{version}, or bump the version to match the tag.",
        )
    if commit is None:
        return
    head = _rev(runner, project, "HEAD")
    if head is None:
        raise SourceError(
            f"--commit {commit}: {project} is not a git checkout castoff can read.",
            hint="Release from the repository's checkout (actions/checkout), with git installed.",
        )
    if head != commit:
        raise SourceError(
            f"--commit {commit}: the checkout is at {head}, another commit; nothing was uploaded.",
            hint="Release from a checkout of the commit being released (GITHUB_SHA).",
        )
    tagged = _rev(runner, project, f"refs/tags/{tag}")
    if tagged is not None and tagged != commit:
        raise SourceError(
            f"the tag {tag} points at {tagged}, not at --commit {commit}; nothing was uploaded.",
            hint="Move the tag to the commit being released, or release the tagged commit.",
        )
