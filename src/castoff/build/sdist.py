"""Build the sdist: `maturin sdist`, checked as PyPI and pip will read it, into build/sdist/."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from castoff import __version__
from castoff.assemble.contents import ContentsError, read_sdist
from castoff.build.record import built_artifact, fresh_job_folder, reusable
from castoff.build.toolchains import INSTALL_BUILD_PYTHON, HostTools
from castoff.errors import BuildError, ToolMissingError
from castoff.manifest import MANIFEST_SCHEMA_VERSION, PartialManifest
from castoff.plan import SDIST, SDIST_METHOD, ReleasePlan, SdistJob
from castoff.runner import Command, CommandFailedError, Runner

# Where maturin writes, inside the folder; the sdist is moved out of it once checked.
_STAGING = ".sdist"


def sdist_command(tools: HostTools, out: Path, project_dir: Path) -> Command:
    """Return `maturin sdist` for the project, with the cargo it lists the package with."""
    env = {}
    if tools.default is not None:
        # maturin asks `cargo package --list` which files belong to the crate.
        env["CARGO"] = tools.default.cargo
    return Command(
        argv=(tools.maturin or "maturin", "sdist", "--out", str(out)),
        env=env,
        cwd=project_dir,
        install_hint=INSTALL_BUILD_PYTHON,
    )


def sdist_key(
    sdist: SdistJob, plan: ReleasePlan, toolchain: dict[str, str | None], tree: str
) -> str:
    """Return the sdist's cache key: the same sources and tools make the same sdist."""
    inputs = {
        "castoff": __version__,
        "sdist": [sdist.name, sdist.runner],
        "project": [plan.name, plan.version],
        "toolchain": toolchain,
        "tree": tree,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def build_sdist(
    sdist: SdistJob,
    *,
    plan: ReleasePlan,
    tools: HostTools,
    runner: Runner,
    out_dir: Path,
    project_dir: Path,
    source_commit: str | None,
    tree: str,
) -> tuple[PartialManifest, bool]:
    """Build the sdist into out_dir/sdist; return its manifest and whether the cache served it."""
    if tools.maturin is None:
        raise ToolMissingError(
            "the sdist cannot be built here: maturin is missing.", hint=INSTALL_BUILD_PYTHON
        )
    folder = out_dir / SDIST
    toolchain: dict[str, str | None] = {
        "maturin": tools.maturin_version,
        "cargo": tools.default.cargo_version if tools.default else None,
    }
    key = sdist_key(sdist, plan, toolchain, tree)
    if (cached := reusable(folder, key)) is not None:
        return cached, True
    started = time.monotonic()
    log = fresh_job_folder(folder, [_STAGING, sdist.name], "its sdist folder")
    staging = folder / _STAGING
    try:
        try:
            log.run(runner, sdist_command(tools, staging, project_dir.resolve()))
        except CommandFailedError as exc:
            raise BuildError(
                f"sdist: maturin sdist failed. {exc.message}", hint=f"Full log: {log.path}"
            ) from None
        made = sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []
        if made != [sdist.name]:
            raise BuildError(
                f"sdist: maturin sdist wrote {', '.join(made) or 'nothing'}, but the plan names "
                f"{sdist.name}.",
                hint="The name comes from [project] name and the version; check that maturin "
                "reads the same pyproject.toml (castoff needs maturin 1.8 or later).",
            )
        try:
            read_sdist(
                staging / sdist.name, folder=sdist.folder, project=plan.name, version=plan.version
            )
        except ContentsError as exc:
            raise BuildError(
                f"sdist: {sdist.name} {exc.problem}.", hint=f"Full log: {log.path}"
            ) from None
        (staging / sdist.name).rename(folder / sdist.name)
        staging.rmdir()
    finally:
        log.close()
    manifest = PartialManifest(
        schema_version=MANIFEST_SCHEMA_VERSION,
        name=plan.name,
        version=plan.version,
        target=SDIST,
        method=SDIST_METHOD,
        std="none",
        cache_key=key,
        source_commit=source_commit,
        source_tree_sha256=tree,
        image=None,
        toolchain=toolchain,
        commands=tuple(log.commands),
        seconds=round(time.monotonic() - started, 3),
        artifacts=(built_artifact(folder / sdist.name, "sdist"),),
        smoke=(),
    )
    manifest.write(folder)
    return manifest, False
