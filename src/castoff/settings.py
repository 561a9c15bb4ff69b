"""Settings resolved in one place, in one documented order: defaults, pyproject, environment, CLI.

Each later source wins over the earlier ones (as twine's `Settings.from_argparse`):

- the config: ./pyproject.toml; CASTOFF_CONFIG; --config
- targets: every planned target; CASTOFF_TARGETS; --target
- file times: 1980-01-01 (DEFAULT_EPOCH); SOURCE_DATE_EPOCH
- the cache: ~/.cache/castoff; XDG_CACHE_HOME, then CASTOFF_CACHE_DIR
- the upload URL: PyPI's; publish.pypi.repository-url; --repository-url
- the index URL: PyPI's; publish.pypi.index-url; --index-url
- the GitHub repository: GITHUB_REPOSITORY; publish.github.repository
- the release tag: v<version>; --tag

GITHUB_REPOSITORY is a default, not an override: GitHub sets it to the repository a job runs
in, and a project may release from one repository to another.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from castoff.build import DEFAULT_EPOCH
from castoff.errors import UsageError

if TYPE_CHECKING:
    from castoff.build.builder import BuildOptions
    from castoff.config import Config
    from castoff.publish.publisher import PublishOptions
    from castoff.workflows import WorkflowOptions

# gzip stores a file's time in 32 bits; zip cannot go past 2107.
MAX_EPOCH = (1 << 32) - 1


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where the config is, which targets to act on, and the machine's folders and times."""

    config_path: Path
    targets: tuple[str, ...]
    targets_source: str  # which setting named the targets, for messages
    env: Mapping[str, str]
    cache_dir: Path
    source_date_epoch: int


def resolve(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    """Resolve the settings every command shares: defaults, then environment, then command line."""
    config_path = Path("pyproject.toml")
    if env.get("CASTOFF_CONFIG"):
        config_path = Path(env["CASTOFF_CONFIG"])
    if getattr(args, "config", None) is not None:
        config_path = args.config
    targets: tuple[str, ...] = ()
    source = ""
    if env.get("CASTOFF_TARGETS"):
        targets = tuple(env["CASTOFF_TARGETS"].replace(",", " ").split())
        source = "CASTOFF_TARGETS"
    if getattr(args, "target", None):
        targets = tuple(args.target)
        source = "--target"
    return Settings(
        config_path=config_path,
        targets=targets,
        targets_source=source,
        env=env,
        cache_dir=_cache_dir(env),
        source_date_epoch=_epoch(env),
    )


def _epoch(env: Mapping[str, str]) -> int:
    epoch = env.get("SOURCE_DATE_EPOCH") or str(DEFAULT_EPOCH)
    # ASCII digits only ('²'.isdigit() is true), and a time tar, gzip and zip can all record.
    if not re.fullmatch(r"[0-9]{1,10}", epoch) or int(epoch) > MAX_EPOCH:
        raise UsageError(
            f"SOURCE_DATE_EPOCH: '{epoch[:40]}' is not a whole number of seconds since 1970.",
            hint=f"Set it to the release commit's time ($(git log -1 --format=%ct)), from 0 to "
            f"{MAX_EPOCH} (what gzip can record), or unset it.",
        )
    return int(epoch)


def _cache_dir(env: Mapping[str, str]) -> Path:
    if env.get("CASTOFF_CACHE_DIR"):
        return Path(env["CASTOFF_CACHE_DIR"])
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "castoff"


@dataclass(frozen=True, kw_only=True)
class ReleaseSettings:
    """Where a release goes: the index's URLs and retries, and the GitHub release."""

    options: PublishOptions
    github: bool  # publish.github.enabled
    tag: str
    commit: str | None  # --commit: what the tag and the checkout must be
    repository: str | None  # None: unknown (an error only when publishing to GitHub)
    release_folder: Path | None  # a local folder standing in for GitHub (rehearsals)
    # Which publish steps run, in this order: stage the draft, upload to the index, publish
    # the draft (CI runs each in a job holding only its own permission).
    steps: tuple[str, ...]


def resolve_release(
    args: argparse.Namespace, config: Config, env: Mapping[str, str]
) -> ReleaseSettings:
    """Resolve where a publish or release goes: pyproject, then environment, then command line."""
    from castoff.publish.publisher import STEPS, PublishOptions  # noqa: PLC0415

    chosen = getattr(args, "step", None) or STEPS
    steps = tuple(s for s in STEPS if s in chosen)
    needs = {"stage": "github", "index": "pypi", "finish": "github"}
    enabled = {"github": config.publish.github.enabled, "pypi": config.publish.pypi.enabled}
    off = [s for s in steps if not enabled[needs[s]]] if getattr(args, "step", None) else []
    if off:
        raise UsageError(
            f"--step {off[0]}: tool.castoff.publish.{needs[off[0]]} is disabled in "
            f"{config.pyproject}, so there is nothing to {off[0]}.",
            hint="Drop that --step, or enable the destination in the config.",
        )
    return ReleaseSettings(
        options=PublishOptions(
            repository_url=args.repository_url or config.publish.pypi.repository_url,
            index_url=args.index_url or config.publish.pypi.index_url,
            resume=args.resume,
            dry_run=args.dry_run,
            attempts=args.attempts,
            backoff=args.backoff,
        ),
        github=config.publish.github.enabled,
        tag=args.tag or f"v{config.version}",
        commit=args.commit,
        repository=config.publish.github.repository or env.get("GITHUB_REPOSITORY") or None,
        release_folder=args.release_folder,
        steps=steps,
    )


def resolve_build(args: argparse.Namespace, settings: Settings, out: str) -> BuildOptions:
    """Return the build's options; `out` names the option holding the build folder."""
    from castoff.build.builder import BuildOptions  # noqa: PLC0415

    return BuildOptions(
        # Absolute: maturin runs in the project folder, not where castoff was started.
        out_dir=getattr(args, out).resolve(),
        cache_dir=settings.cache_dir,
        project_dir=settings.config_path.parent,
        jobs=args.jobs,
        keep_going=getattr(args, "keep_going", False),
        source_date_epoch=settings.source_date_epoch,
    )


def resolve_workflows(args: argparse.Namespace, settings: Settings) -> WorkflowOptions:
    """Return how the generated workflows call castoff: defaults, then the command line."""
    from castoff.workflows import WorkflowOptions  # noqa: PLC0415

    options = WorkflowOptions.for_project(args.config_path or str(settings.config_path))
    if args.nox or args.setup is not None:
        options = WorkflowOptions(
            config_path=options.config_path,
            setup=tuple(line for line in args.setup or () if line),
            nox=args.nox or options.nox,
        )
    return options
