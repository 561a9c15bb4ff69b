"""castoff's command line: every command and option, each option declared once.

Values are checked here, before any command starts: a number out of range, a URL with a
password in it or a tag git would refuse never reaches a side effect.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from pathlib import Path

from castoff import __version__


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,9}", text.strip()) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number from {low} to {high}")
        return int(text)

    return parse


def seconds(text: str) -> float:
    """Return a number of seconds from 0 to an hour (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:  # also false for nan
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds from 0 to 3600")
    return value


def url(text: str) -> str:
    """Return an http(s) URL without credentials (argparse type)."""
    from castoff.config import url_problem  # noqa: PLC0415

    problem = url_problem(text)
    if problem is not None:
        # The URL itself is not repeated: it may hold a password.
        raise argparse.ArgumentTypeError(
            f"the URL {problem}; give http(s)://host/path and credentials in TWINE_USERNAME "
            "and TWINE_PASSWORD (or use trusted publishing)"
        )
    return text


def version(text: str) -> str:
    """Return a PEP 440 version, normalized (argparse type)."""
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    try:
        return str(Version(text))
    except InvalidVersion:
        raise argparse.ArgumentTypeError(f"'{text[:60]}' is not a PEP 440 version") from None


def tag(text: str) -> str:
    """Return a git tag name (argparse type): what `git check-ref-format` accepts, simplified."""
    if (
        not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*(/[A-Za-z0-9][A-Za-z0-9._+-]*)*", text)
        or ".." in text
        or text.endswith((".lock", "."))
        or len(text) > 200
    ):
        raise argparse.ArgumentTypeError(
            f"'{text[:60]}' is not a git tag name castoff uses (letters, digits, '.', '_', '+' "
            "and '-', parts joined by '/', no '..', not ending in '.' or '.lock')"
        )
    return text


def commit(text: str) -> str:
    """Return a full git commit id, lowercase (argparse type)."""
    from castoff.publish.source import COMMIT  # noqa: PLC0415

    if not COMMIT.fullmatch(text.strip().lower()):
        raise argparse.ArgumentTypeError(f"'{text[:80]}' is not a full git commit id (40 hex)")
    return text.strip().lower()


def _group(*adders: Callable[[argparse.ArgumentParser], object]) -> argparse.ArgumentParser:
    """Return a parent parser holding the options the adders declare."""
    parent = argparse.ArgumentParser(add_help=False)
    for add in adders:
        add(parent)
    return parent


# Each shared option, declared once; commands take them as parents.
CONFIG = _group(
    lambda p: p.add_argument(
        "--config",
        type=Path,
        help="the project's pyproject.toml (default: $CASTOFF_CONFIG, else ./pyproject.toml)",
    )
)
TARGETS = _group(
    lambda p: p.add_argument(
        "--target",
        action="append",
        metavar="TRIPLE",
        help="act on this target only; repeatable (default: $CASTOFF_TARGETS, else all)",
    )
)
JSON = _group(
    lambda p: p.add_argument("--json", action="store_true", help="print the outcome as JSON")
)
DIST = _group(
    lambda p: p.add_argument("dist", type=Path, metavar="DIST", help="the release folder")
)
KEYS = _group(
    lambda p: p.add_argument(
        "--keys", type=Path, metavar="DIR", help="use throwaway keys from `castoff keygen DIR`"
    )
)
PUBLIC_KEYS = _group(
    lambda p: p.add_argument(
        "--keys", type=Path, metavar="DIR", help="public keys from `castoff keygen DIR`"
    )
)
BACKENDS = _group(
    lambda p: p.add_argument(
        "--backend",
        action="append",
        metavar="NAME",
        help="only this configured backend; repeatable (default: all configured)",
    )
)
INDEX = _group(
    lambda p: p.add_argument(
        "--index-url", type=url, help="the index's simple API (default: publish.pypi.index-url)"
    )
)
PREVIOUS = _group(
    lambda p: p.add_argument("--previous", type=Path, help="the previous release's manifest.json")
)
JOBS = _group(
    lambda p: p.add_argument(
        "--jobs",
        type=bounded_int(1, 256),
        default=os.cpu_count() or 1,
        help="targets built at once (default: CPU count)",
    )
)
BUILD_DIR = _group(
    lambda p: p.add_argument(
        "--build-dir", type=Path, default=Path("build"), help="build folder (default: build)"
    )
)
OUT_DIST = _group(
    lambda p: p.add_argument(
        "--out", type=Path, default=Path("dist"), help="release folder (default: dist)"
    )
)


def _uploads(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--repository-url",
        type=url,
        help="where twine uploads (default: publish.pypi.repository-url)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue a publish the journal says was started"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="everything but the uploads, which are printed"
    )
    p.add_argument(
        "--commit",
        type=commit,
        help="the commit being released: the checkout and the tag must be it; the GitHub "
        "release is created at it (GitHub Actions: $GITHUB_SHA)",
    )
    p.add_argument(
        "--attempts",
        type=bounded_int(1, 100),
        default=4,
        help="tries per file on 5xx, 429 and network errors",
    )
    p.add_argument(
        "--backoff", type=seconds, default=2.0, help="seconds before the first retry; then doubled"
    )
    p.add_argument(
        "--release-folder",
        type=Path,
        metavar="DIR",
        help="publish the release into a local folder instead of GitHub (rehearsals)",
    )
    p.add_argument("--tag", type=tag, help="the release's git tag (default: v<version>)")


UPLOADS = _group(_uploads)
Commands = argparse._SubParsersAction


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every castoff command."""
    parser = argparse.ArgumentParser(
        prog="castoff",
        description="Ship a Rust program as wheels and per-triple archives, never half-published.",
    )
    parser.add_argument("--version", action="version", version=f"castoff {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _planning(commands)
    _files(commands)
    _signing(commands)
    _publishing(commands)
    _project(commands)
    return parser


def _planning(commands: Commands[argparse.ArgumentParser]) -> None:
    plan = commands.add_parser(
        "plan",
        parents=[CONFIG, TARGETS],
        help="print the release plan: every build job and every file, with its destinations",
    )
    plan.add_argument(
        "--format",
        choices=("table", "json", "github-matrix"),
        default="table",
        help="table for people, json for machines, github-matrix for strategy.matrix via fromJson",
    )
    plan.add_argument("--json", action="store_true", help="same as --format json")
    build = commands.add_parser(
        "build",
        parents=[CONFIG, TARGETS, JOBS, JSON],
        help="build each target's wheel and archive, and smoke-run them",
    )
    build.add_argument(
        "--out",
        type=Path,
        default=Path("build"),
        help="output folder, one subfolder per target (default: build)",
    )
    build.add_argument(
        "--keep-going", action="store_true", help="finish the other targets when one fails"
    )
    commands.add_parser(
        "doctor",
        parents=[CONFIG, TARGETS, JSON],
        help="say how each target builds, runs and signs here, and how to install what is missing",
    )
    setup = commands.add_parser(
        "setup",
        parents=[CONFIG, TARGETS, JSON],
        help="install what the targets need here: qemu-user and cross gcc with apt-get (through "
        "sudo unless root), rustup's std; --dry-run prints the commands",
    )
    setup.add_argument(
        "--dry-run", action="store_true", help="print the commands without running them"
    )


def _files(commands: Commands[argparse.ArgumentParser]) -> None:
    assemble = commands.add_parser(
        "assemble",
        parents=[CONFIG, TARGETS, OUT_DIST, PREVIOUS, JSON],
        help="merge build folders into one verified release folder: retag, alias, audit, checksums",
    )
    assemble.add_argument("in_dirs", nargs="+", type=Path, metavar="IN_DIR", help="build folders")
    audit = commands.add_parser(
        "audit",
        parents=[JSON],
        help="check every binary in wheels and archives against their tags and names",
    )
    audit.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="wheels, archives or folders"
    )
    audit.add_argument(
        "--allow-library",
        action="append",
        default=[],
        metavar="NAME",
        help="a library beyond the OS's own the binaries may load (repeat); as a target's "
        "allowed-libraries",
    )
    retag = commands.add_parser(
        "retag",
        parents=[JSON],
        help="add platform tags to wheels (raw copy of their members), each audited first",
    )
    retag.add_argument("wheels", type=Path, nargs="+", metavar="WHEEL")
    retag.add_argument(
        "--add-platform", action="append", required=True, metavar="TAG", help="repeatable"
    )
    retag.add_argument("--out", type=Path, help="output folder (default: beside each wheel)")


def _signing(commands: Commands[argparse.ArgumentParser]) -> None:
    signing = [CONFIG, DIST, BACKENDS, KEYS, JSON]
    commands.add_parser(
        "sign",
        parents=signing,
        help="sign every artifact and the provenance, then verify every signature",
    )
    verify = commands.add_parser(
        "verify",
        parents=signing,
        help="check every file's sha256 and every signature it must have, with public keys only",
    )
    verify.add_argument(
        "--release-version",
        type=version,
        metavar="VERSION",
        help="the version the release must be (default: the config's)",
    )
    keygen = commands.add_parser(
        "keygen",
        parents=[CONFIG, JSON],
        help="make throwaway keys for the configured backends (rehearsals and tests)",
    )
    keygen.add_argument("folder", type=Path, metavar="DIR", help="a new folder")


def _publishing(commands: Commands[argparse.ArgumentParser]) -> None:
    checks = [CONFIG, DIST, INDEX, PUBLIC_KEYS, PREVIOUS, JSON]
    commands.add_parser(
        "preflight",
        parents=checks,
        help="check everything the index or the release would refuse, before any upload",
    )
    publish = commands.add_parser(
        "publish",
        parents=[*checks, UPLOADS],
        help="preflight, then stage the GitHub draft, upload to the index (journaled), publish "
        "the draft",
    )
    publish.add_argument(
        "--step",
        action="append",
        choices=("stage", "index", "finish"),
        help="only this step, repeatable (CI runs each in a job with only its permission): "
        "stage the GitHub draft; upload to the index; check both and publish the draft "
        "(default: all three, in that order)",
    )
    pipeline = [CONFIG, TARGETS, BUILD_DIR, JOBS, JSON]
    release = commands.add_parser(
        "release",
        parents=[*pipeline, OUT_DIST, KEYS, INDEX, UPLOADS],
        help="build, assemble, sign, preflight and publish (--dry-run: all but the uploads)",
    )
    release.add_argument(
        "--no-build",
        action="store_true",
        help="assemble the build folders already there (CI downloads them from the build jobs)",
    )
    release.add_argument(
        "--no-publish",
        action="store_true",
        help="stop after signing and preflight: dist/ is ready for `castoff publish`",
    )
    rehearse = commands.add_parser(
        "rehearse",
        parents=pipeline,
        help="the whole release against a local index and folder, then install it back and run it",
    )
    rehearse.add_argument(
        "--work", type=Path, default=Path("rehearsal"), help="working folder (default: rehearsal)"
    )


def _project(commands: Commands[argparse.ArgumentParser]) -> None:
    init = commands.add_parser(
        "init",
        parents=[JSON],
        help="write noxfile.py, tasks.py, the workflows and a starter [tool.castoff] into a "
        "maturin project",
    )
    init.add_argument(
        "path", type=Path, nargs="?", default=Path(), metavar="PATH", help="the project folder"
    )
    init.add_argument(
        "--force", action="store_true", help="replace files that exist with other content"
    )
    workflows = _group(
        lambda p: p.add_argument(
            "--workflows",
            type=Path,
            default=Path(".github/workflows"),
            help="where the workflows are (default: .github/workflows)",
        ),
        lambda p: p.add_argument(
            "--config-path", help="the config's path as the workflows name it (default: --config)"
        ),
        lambda p: p.add_argument("--nox", help="the nox command the jobs run (default: nox)"),
        lambda p: p.add_argument(
            "--setup",
            action="append",
            help="a shell line that installs nox and castoff in each job; repeatable "
            "(default: pip install of the pinned nox and this castoff)",
        ),
    )
    ci = commands.add_parser("ci", help="GitHub Actions workflows that call castoff's sessions")
    ci_commands = ci.add_subparsers(dest="ci_command", required=True, metavar="COMMAND")
    ci_commands.add_parser(
        "generate", parents=[CONFIG, workflows, JSON], help="write release.yml and ci.yml"
    )
    ci_commands.add_parser(
        "check", parents=[CONFIG, workflows, JSON], help="fail when the checked-in workflows drift"
    )
