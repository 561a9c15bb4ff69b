"""The release pipeline: build, assemble, sign, preflight, publish; rehearse runs it too."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from castoff.config import Config
from castoff.errors import BuildError, UsageError
from castoff.manifest import ReleaseManifest
from castoff.plan import ReleasePlan
from castoff.publish.github import FolderRelease, ReleaseHost
from castoff.publish.preflight import preflight
from castoff.publish.publisher import STEPS, PublishOptions, publish_release
from castoff.results import PreflightResult, PublishResult, ReleaseResult, Report
from castoff.runner import Runner
from castoff.sign import registry

if TYPE_CHECKING:
    from castoff.build.builder import BuildOptions
    from castoff.build.toolchains import HostTools


def keyed_backends(
    config: Config, keys_dir: Path | None, report: Report, *, uploads: bool
) -> tuple[str, ...] | None:
    """Return the backends that sign with --keys' throwaway keys (None: no --keys, all sign).

    Keyless backends (sigstore) sign with the identity of the release workflow, which a
    rehearsal (a pull request) does not have: with throwaway keys they are skipped, saying so.
    A release that uploads (not dry, not into a local folder) never skips one.
    """
    if keys_dir is None:
        return None
    keyless = [b for b in config.sign.backends if registry.get(b).keyless]
    if keyless and uploads:
        raise UsageError(
            f"--keys: {', '.join(keyless)} (tool.castoff.sign.backends) signs keylessly and "
            "would be skipped, and this release uploads to the index and GitHub.",
            hint="Drop --keys for a real release, or add --dry-run (or --release-folder DIR) "
            "to rehearse with throwaway keys.",
        )
    if keyless:
        report(
            f"{', '.join(keyless)}: skipped, as keyless signing needs the release workflow's "
            "identity; --keys signs with throwaway keys only"
        )
    return tuple(b for b in config.sign.backends if b not in keyless)


def build_and_assemble(  # noqa: PLR0913 - the build's and the assembly's inputs
    config: Config,
    plan: ReleasePlan,
    *,
    build_options: BuildOptions | None,
    build_dir: Path,
    dist: Path,
    mtime: int,
    tools: HostTools,
    runner: Runner,
    report: Report,
) -> ReleaseManifest:
    """Build every planned target (unless build_options is None: folders are there) and assemble."""
    # Imported here: `castoff publish` (this module's other half) starts without them.
    from castoff.assemble.assembler import assemble, collect  # noqa: PLC0415
    from castoff.build.builder import build_all, check_buildable_here  # noqa: PLC0415

    if build_options is not None:
        check_buildable_here(plan, tools)
        outcomes = build_all(
            plan,
            tools=tools,
            runner=runner,
            options=build_options,
            report=lambda target, what: (
                report(f"{target}: {what}") if what in ("built", "cached", "failed") else None
            ),
        )
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            raise BuildError(" ".join(f"[{o.target}] {o.error}" for o in failed))
    report(f"assembling {dist}")
    # Built here: this plan's target folders. Not built (downloaded by CI): whatever is there.
    folders = [build_dir / name for name in plan.build_folders] if build_options else [build_dir]
    return assemble(
        plan,
        config,
        collect(folders),
        out_dir=dist,
        previous=None,
        mtime=mtime,
        runner=runner,
    )


def uploads(options: PublishOptions, host: ReleaseHost | None) -> bool:
    """Return whether a publish with these options uploads anywhere real (not dry, not a folder)."""
    return not options.dry_run and not isinstance(host, FolderRelease)


def _preflight(  # noqa: PLR0913 - preflight's inputs, and how many signatures it verifies
    dist: Path,
    config: Config,
    options: PublishOptions,
    keys_dir: Path | None,
    backends: tuple[str, ...] | None,
    runner: Runner,
    report: Report,
    previous: Path | None,
    *,
    every_signature: bool = True,
) -> PreflightResult:
    return preflight(
        dist,
        config,
        index_url=options.index_url,
        runner=runner,
        keys_dir=keys_dir,
        previous=previous,
        now=datetime.now(UTC),
        report=report,
        backends=backends,
        every_signature=every_signature,
    )


def publish_checked(  # noqa: PLR0913 - both destinations and the checks before them
    dist: Path,
    config: Config,
    *,
    options: PublishOptions,
    host: ReleaseHost | None,
    keys_dir: Path | None,
    backends: tuple[str, ...] | None,
    runner: Runner,
    env: Mapping[str, str],
    report: Report,
    previous: Path | None = None,
    steps: tuple[str, ...] = STEPS,
) -> PublishResult:
    """Preflight (every check, nothing uploaded on a failure), then run the publish steps.

    backends: the signatures preflight verifies (None: every configured backend's).
    """
    # Signature files are published only with the GitHub release: a publish with no GitHub
    # step (the index step) verifies the signatures of what vouches for every file's bytes.
    every_signature = host is not None and bool({"stage", "finish"} & set(steps))
    checked = _preflight(
        dist,
        config,
        options,
        keys_dir,
        backends,
        runner,
        report,
        previous,
        every_signature=every_signature,
    )
    published = publish_release(
        dist,
        checked.manifest,
        options=options,
        host=host,
        index_enabled=config.publish.pypi.enabled,
        runner=runner,
        env=env,
        report=report,
        steps=steps,
        served=checked.served,
    )
    return PublishResult(
        status="dry-run" if options.dry_run else "published",
        index=published["index"],
        release=published["release"],
        kept_from_index=checked.kept_from_index,
    )


def release(  # noqa: PLR0913 - the whole pipeline's inputs
    config: Config,
    plan: ReleasePlan,
    *,
    build_options: BuildOptions | None,
    build_dir: Path,
    dist: Path,
    mtime: int,
    options: PublishOptions,
    host: ReleaseHost | None,
    keys_dir: Path | None,
    publish: bool,
    tools: HostTools,
    runner: Runner,
    env: Mapping[str, str],
    report: Report,
) -> ReleaseResult:
    """Build, assemble, sign and verify, preflight, then publish (or, dry, show the uploads).

    Without publish it stops after preflight: the release folder is ready for `castoff publish`.
    """
    from castoff.sign.signing import sign_release  # noqa: PLC0415

    build_and_assemble(
        config,
        plan,
        build_options=build_options,
        build_dir=build_dir,
        dist=dist,
        mtime=mtime,
        tools=tools,
        runner=runner,
        report=report,
    )
    backends = keyed_backends(config, keys_dir, report, uploads=publish and uploads(options, host))
    if plan.signing_backends and backends != ():
        sign_release(
            dist,
            config,
            backends=backends or (),
            env=env,
            keys_dir=keys_dir,
            runner=runner,
            report=report,
        )
    if not publish:
        checked = _preflight(dist, config, options, keys_dir, backends, runner, report, None)
        return ReleaseResult(
            name=plan.name,
            version=plan.version,
            published=PublishResult(
                status="checked", index=None, release=None, kept_from_index=checked.kept_from_index
            ),
        )
    published = publish_checked(
        dist,
        config,
        options=options,
        host=host,
        keys_dir=keys_dir,
        backends=backends,
        runner=runner,
        env=env,
        report=report,
    )
    return ReleaseResult(name=plan.name, version=plan.version, published=published)
