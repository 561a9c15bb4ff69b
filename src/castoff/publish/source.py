"""What is released must be what was tagged: the tag, the version and the commit agree.

Checked before the first upload. A tag names the version with an optional `v`; in a
repository of several projects it may start with the project's (or its binary's) name, as
written or as PyPI normalises it, and a `-` or `/` (`greet-v1.2.3`, `tools/greet/v1.2.3`), as
cargo-dist names them, and with nothing else: `nightly-1.2.3` or `v9.9.9-1.2.3` name no release
of this project. With --commit, the checkout is that commit and so is the tag, in the checkout
or (absent there, as in a shallow checkout of a branch) on the release host, so the GitHub
release is created at it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from castoff.errors import SourceError
from castoff.runner import Command, Runner

if TYPE_CHECKING:
    from castoff.publish.github import ReleaseHost

COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SPELLED = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*([-.+]?[A-Za-z][0-9A-Za-z.+-]*)?")
_GIT = "git (apt-get install git; on GitHub, actions/checkout brings the repository)"


def tag_problem(tag: str, version: str, names: Sequence[str]) -> str | None:
    """Return why a tag does not name this project's version (PEP 440 comparison), or None."""
    wanted = Version(version)
    # As written or as PyPI normalises it: exactly what tag_patterns lists.
    known = {form for n in names for form in (n, canonicalize_name(n))}
    # The version part starts the tag or follows a '-' or '/' after one of the project's
    # names; a Cargo-style v1.0.0-rc.1 names the same version as 1.0.0rc1.
    for start in [0] + [i + 1 for i, char in enumerate(tag) if char in "-/"]:
        if start and tag[: start - 1].rsplit("/", 1)[-1] not in known:
            continue
        text = tag[start:].removeprefix("v")
        # As written in Cargo.toml or PEP 440: no leading zeros, epochs or extra parts,
        # so one version has one tag (v1.2 or v01.2.3 do not name 1.2.3).
        if not _SPELLED.fullmatch(text):
            continue
        try:
            if str(Version(text)) == str(wanted):
                return None
        except InvalidVersion:
            continue
    return (
        f"the tag {tag} does not name version {version} of {names[0]} (a tag is v{version}, "
        f"or {names[0]}-v{version} in a repository of several projects)"
    )


def tag_patterns(names: Sequence[str]) -> tuple[str, ...]:
    """Return the push-tag filters (GitHub's glob) matching the tags tag_problem can accept."""
    versions = ("v[0-9]*", "[0-9]*")
    patterns = list(versions)
    for name in dict.fromkeys(n for raw in names for n in (raw, canonicalize_name(raw))):
        # A tag's '*' stops at '/': tools/greet/v1.2.3 needs '**/'.
        patterns += [
            f"{prefix}{name}{sep}{v}" for prefix in ("", "**/") for sep in "-/" for v in versions
        ]
    return tuple(patterns)


def _rev(runner: Runner, project: Path, ref: str) -> tuple[str | None, str]:
    """Return the commit a ref names in the checkout (None: no such ref) and git's stderr."""
    found = runner.capture(
        Command(
            argv=("git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"),
            cwd=project,
            install_hint=_GIT,
        )
    )
    return (found.stdout.strip() or None) if found.returncode == 0 else None, found.stderr


def check_source(
    tag: str,
    version: str,
    names: Sequence[str],
    commit: str | None,
    project: Path,
    runner: Runner,
    host: ReleaseHost | None = None,
) -> None:
    """Raise unless the tag names the version and, given a commit, the checkout and tag are it."""
    problem = tag_problem(tag, version, names)
    if problem is not None:
        raise SourceError(
            f"{problem}; the version comes from Cargo.toml / [project]. Nothing was uploaded.",
            hint=f"Tag the release v{version}, or bump the version to match the tag.",
        )
    if commit is None:
        return
    folder = project.resolve()
    head, stderr = _rev(runner, folder, "HEAD")
    if head is None:
        said = stderr.strip().splitlines()[-1][:300] if stderr.strip() else "no HEAD commit"
        raise SourceError(
            f"--commit {commit}: git cannot read the checkout at {folder}: {said}.",
            hint="Release from the repository's checkout (actions/checkout), with git installed.",
        )
    if head != commit:
        raise SourceError(
            f"--commit {commit}: the checkout ({folder}) is at {head}, another commit; "
            "nothing was uploaded.",
            hint="Release from a checkout of the commit being released (GITHUB_SHA).",
        )
    tagged, _ = _rev(runner, folder, f"refs/tags/{tag}")
    where = "in the checkout"
    if tagged is None and host is not None:
        # A shallow checkout of a branch has no tags: the host knows where the tag is.
        tagged, where = host.tag_commit(tag), f"on {host.where}"
    if tagged is not None and tagged != commit:
        raise SourceError(
            f"the tag {tag} {where} points at {tagged}, not at --commit {commit}; nothing was "
            "uploaded.",
            hint="Move the tag to the commit being released, or release the tagged commit.",
        )
