"""Build planned targets: cache check, maturin, archive, smoke-run and a partial manifest each."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from castoff import __version__
from castoff import targets as tg
from castoff.build import extension, methods, stds
from castoff.build.archive import ARCHIVE_RECIPE, write_archive, write_sidecar
from castoff.build.maturin import BuildPaths, maturin_command
from castoff.build.record import (
    BUILD_LOG,
    JobLog,
    built_artifact,
    reusable,
    source_tree_sha256,
)
from castoff.build.smoke import run_smoke
from castoff.build.toolchains import Choice, HostTools, choose, smoke_plan, version_folder
from castoff.config import EXTENSION_METHOD
from castoff.errors import BuildError, CastoffError, ConfigError, ToolMissingError, UsageError
from castoff.filelock import locked
from castoff.folders import check_claimable, mark
from castoff.manifest import (
    MANIFEST_SCHEMA_VERSION,
    PARTIAL_MANIFEST,
    PartialManifest,
    SmokeRecord,
)
from castoff.plan import SDIST, BuildJob, ExtensionJob, ReleasePlan
from castoff.pypi import canonical_wheel_name
from castoff.runner import Command, CommandFailedError, Runner

BUILD_ENVIRONMENT = ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_PROFILE_RELEASE_LTO")


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How a build run behaves."""

    out_dir: Path
    cache_dir: Path
    project_dir: Path  # the folder of the project's pyproject.toml, where maturin runs
    jobs: int
    keep_going: bool
    source_date_epoch: int


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How one target's build ended."""

    target: str
    status: str  # built, cached, failed, skipped, elsewhere (only its own OS's runner builds it)
    seconds: float
    folder: Path
    manifest: PartialManifest | None
    error: str | None
    reason: str | None = None  # why a target was not built here (elsewhere)


StepReport = Callable[[str, str], None]  # (target, its step now): drawn as one spinner per target


def _toolchain_record(job: BuildJob, choice: Choice, tools: HostTools) -> dict[str, str | None]:
    toolchain = choice.toolchain
    return {
        "rustc": toolchain.version if toolchain else None,
        "cargo": toolchain.cargo_version if toolchain else None,
        "maturin": tools.maturin_version,
        "zig": tools.zig_version if methods.get(choice.method).uses_zig else None,
        "linker": choice.linker,
        # A cross gcc links against this machine's glibc: the binary's needs depend on it.
        "glibc": tools.cross_glibc.get(job.target.gnu_triple or "")
        if methods.get(choice.method).links_machine_glibc
        else None,
    }


# Failures whose cause is known and not castoff's, found in the build log: what to do about them.
_KNOWN_CAUSES = (
    (
        re.compile(r"undefined symbol: (?:open|fopen|lseek|fstat|stat|mmap|pread|pwrite)64\b"),
        (
            "musl 1.2.4 and later (zig's among them) no longer link the LFS64 names (open64, "
            "fstat64, ...) that releases of the libc crate before 0.2.146 use: update it with "
            "`cargo update -p libc` (getrandom 0.2 and others pull it in)"
        ),
    ),
)


def known_causes(log: Path) -> list[str]:
    """Return what to do about the known causes a failed build's log shows."""
    try:
        with log.open("rb") as file:
            # The cause is in the linker's note near the end; logs can be large.
            file.seek(max(0, log.stat().st_size - 2_000_000))
            text = file.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [advice for pattern, advice in _KNOWN_CAUSES if pattern.search(text)]


def check_machine_glibc(job: BuildJob, choice: Choice, tools: HostTools) -> None:
    """Refuse, before building, a tag no binary linked against this machine's glibc keeps."""
    glibc = tools.cross_glibc.get(job.target.gnu_triple or "")
    linked = tg.parse_version(glibc) if glibc else None
    manylinux = tg.parse_version(job.manylinux or "")
    if not (linked and manylinux and methods.get(choice.method).links_machine_glibc):
        return
    found = tg.linked_glibc_problem(manylinux, linked, "this machine")
    if found is not None:
        raise ConfigError(
            f"{job.triple}: manylinux {found.problem}",
            hint=f"{found.fix} Or build this target on a machine whose cross glibc is older "
            "than 2.34, where its manylinux key (tool.castoff.targets) can hold.",
        )


def cache_key(
    *,
    job: BuildJob,
    plan: ReleasePlan,
    choice: Choice,
    toolchain: dict[str, str | None],
    tree: str,
    epoch: int,
    environment: Mapping[str, str] | None = None,
) -> str:
    """Return the key of a build: equal keys mean the same inputs, so the outputs can be reused."""
    inputs = {
        "castoff": __version__,
        "archive": ARCHIVE_RECIPE,
        "job": asdict(job),
        "project": [plan.name, plan.version, list(plan.binaries)],
        "choice": [choice.method, choice.std, choice.linker],
        "toolchain": toolchain,
        "tree": tree,
        "source_date_epoch": epoch,
        # The caller's own flags reach rustc too, and change the binary.
        "environment": {k: (environment or {}).get(k) for k in BUILD_ENVIRONMENT},
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _check_built_tags(wheel: Path, job: BuildJob) -> None:
    _, _, _, tags = parse_wheel_filename(wheel.name)
    found = sorted({t.platform for t in tags})
    if found != sorted(job.built_platform_tags):
        raise BuildError(
            f"{job.triple}: maturin tagged {wheel.name} {'.'.join(found)}, but the plan promises "
            f"{'.'.join(job.built_platform_tags)}.",
            hint="The binary needs more than the configured compatibility allows (for glibc: "
            "a newer glibc); raise manylinux/musllinux for this target, or build it in an "
            "older image.",
        )


def _binaries_from_wheel(wheel: Path, plan: ReleasePlan, job: BuildJob) -> list[tuple[str, bytes]]:
    scripts = f"{canonical_wheel_name(plan.name)}-{plan.version}.data/scripts/"
    result = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for binary in job.binaries:
            member = scripts + binary
            if member not in names:
                raise BuildError(
                    f"{job.triple}: {wheel.name} has no {member}.",
                    hint="Check tool.castoff.binaries against Cargo.toml's [[bin]] names.",
                )
            result.append((binary, archive.read(member)))
    return result


def _smoke(
    binaries: Sequence[tuple[str, bytes]],
    job: BuildJob,
    version: str,
    tools: HostTools,
    runner: Runner,
    log: JobLog,
    cache_dir: Path,
) -> tuple[SmokeRecord, ...]:
    how = smoke_plan(job.target, tools)
    records = []
    # Windows may still hold a binary that just ran (a virus scanner): cleaning up is best effort.
    with tempfile.TemporaryDirectory(prefix="castoff-smoke-", ignore_cleanup_errors=True) as tmp:
        for name, data in binaries:
            path = Path(tmp) / name
            path.write_bytes(data)
            path.chmod(0o755)
            records.append(
                run_smoke(
                    path,
                    name=name,
                    target=job.target,
                    plan=how,
                    runner=runner,
                    version=version,
                    log=log.write,
                    cache_dir=cache_dir,
                )
            )
    return tuple(records)


def _unrun_allowed(
    job: BuildJob, smoke: tuple[SmokeRecord, ...], tools: HostTools
) -> tuple[SmokeRecord, ...]:
    """Refuse binaries nobody ran, unless the target's config says why they may ship so."""
    unrun = [s for s in smoke if s.status == "not-run"]
    if not unrun:
        return smoke
    if job.no_smoke_run is None:
        how = smoke_plan(job.target, tools)
        installs = "; ".join(dict.fromkeys(m.install for m in how.missing))
        raise BuildError(
            f"{job.triple}: its binaries could not be run here ({unrun[0].reason}), and castoff "
            "ships no binary nobody ran.",
            hint=(f"Install: {installs}; or " if installs else "Build it where it runs, or ")
            + f"set no-smoke-run = '<why>' on the target ({job.triple}) in the config.",
        )
    allowed = f"; allowed by the config: {job.no_smoke_run}"
    return tuple(
        dataclasses.replace(s, reason=s.reason + allowed) if s.status == "not-run" else s
        for s in smoke
    )


def _compile(
    job: BuildJob,
    *,
    plan: ReleasePlan,
    choice: Choice,
    tools: HostTools,
    runner: Runner,
    options: BuildOptions,
    log: JobLog,
) -> Path:
    """Run maturin for one job and return its wheel, named as the plan names it."""
    target_dir = options.cache_dir / "cargo-target" / canonical_wheel_name(plan.name) / job.triple
    # Kept between runs and shared by every checkout of the project on this machine: two
    # builds of one target at once (two checkouts, a test run beside a rehearsal) take turns,
    # or maturin's staging of one would move the other's binary away.
    with locked(target_dir.with_name(job.triple + ".lock")):
        return _compile_locked(
            job, choice=choice, tools=tools, runner=runner, options=options, log=log,
            target_dir=target_dir,
        )  # fmt: skip


def _compile_locked(
    job: BuildJob,
    *,
    choice: Choice,
    tools: HostTools,
    runner: Runner,
    options: BuildOptions,
    log: JobLog,
    target_dir: Path,
) -> Path:
    folder = log.path.parent
    paths = BuildPaths(
        project_dir=options.project_dir.resolve(),
        wheel_dir=folder / ".wheel",
        # Kept between runs (one per project and target): std built from source lives here.
        cargo_target_dir=target_dir,
        cache_dir=options.cache_dir,
    )
    paths = methods.get(choice.method).prepare(job, paths, tools)

    def run(command: Command) -> None:
        log.run(runner, command)

    if choice.std in stds.SOURCES:
        try:
            paths = stds.get(choice.std).prepare(job, choice, tools, paths, run)
        except CommandFailedError as exc:
            raise BuildError(
                f"{job.triple}: getting std ({choice.std}) failed. {exc.message}",
                hint=f"Full log: {log.path}",
            ) from None
    check_machine_glibc(job, choice, tools)
    command = maturin_command(job, choice, tools, paths, inherited_env=runner.base_env)
    try:
        log.run(runner, command)
    except CommandFailedError as exc:
        hint = f"Full log: {log.path}" + "".join(f". {c}" for c in known_causes(log.path))
        glibc = tools.cross_glibc.get(job.target.gnu_triple or "")
        if glibc and methods.get(choice.method).links_machine_glibc:
            # maturin says "too-recent versioned symbols" without saying where they came from.
            hint += (
                f". The cross gcc linked against this machine's glibc {glibc}: where the binary "
                "needs more than the tag promises, build on a machine whose cross glibc is older "
                f"({tg.CROSS_GCC_RUNNER}'s is "
                f"{'.'.join(map(str, tg.RUNNER_CROSS_GLIBC[tg.CROSS_GCC_RUNNER]))}) or raise the "
                "target's manylinux."
            )
        raise BuildError(f"{job.triple}: maturin failed. {exc.message}", hint=hint) from None
    built = sorted(paths.wheel_dir.glob("*.whl"))
    if len(built) != 1:
        raise BuildError(
            f"{job.triple}: maturin wrote {len(built)} wheels, expected 1.",
            hint=f"Full log: {log.path}",
        )
    _check_built_tags(built[0], job)
    wheel = folder / job.built_wheel
    built[0].rename(wheel)
    shutil.rmtree(paths.wheel_dir)
    return wheel


def build_job(
    job: BuildJob,
    *,
    plan: ReleasePlan,
    tools: HostTools,
    runner: Runner,
    options: BuildOptions,
    source_commit: str | None,
    tree: str,
    report: StepReport,
) -> tuple[PartialManifest, bool]:
    """Build one job into its folder; return its manifest and whether the cache served it."""
    choice = choose(job, tools)
    if not choice.buildable:
        lacking = ", ".join(m.what for m in choice.missing)
        raise ToolMissingError(
            f"{job.triple} cannot be built here: missing {lacking}.",
            hint="Install: "
            + "; ".join(dict.fromkeys(m.install for m in choice.missing))
            + ". `castoff doctor` shows every target.",
        )
    folder = options.out_dir / job.triple
    toolchain = _toolchain_record(job, choice, tools)
    key = cache_key(
        job=job,
        plan=plan,
        choice=choice,
        toolchain=toolchain,
        tree=tree,
        epoch=options.source_date_epoch,
        environment=runner.base_env,
    )
    if (cached := reusable(folder, key)) is not None:
        return cached, True

    started = time.monotonic()
    # Only a folder castoff made for this target's build (or none, or an empty one) is replaced.
    check_claimable(folder, "build", BuildError, f"--out (its {job.triple} folder)")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    mark(
        folder,
        "build",
        [BUILD_LOG, PARTIAL_MANIFEST, ".wheel", job.built_wheel, *job.artifacts[1:]],
    )
    log = JobLog(folder / BUILD_LOG)
    try:
        report(job.triple, f"building ({choice.method}, std {choice.std})")
        wheel = _compile(
            job, plan=plan, choice=choice, tools=tools, runner=runner, options=options, log=log
        )
        report(job.triple, "archiving")
        binaries = _binaries_from_wheel(wheel, plan, job)
        archive = folder / job.archive
        write_archive(
            archive, folder=job.archive_folder, binaries=binaries, mtime=options.source_date_epoch
        )
        sidecar = write_sidecar(archive)

        report(job.triple, "smoke-running")
        smoke = _smoke(binaries, job, plan.version, tools, runner, log, options.cache_dir)
        failed = [s for s in smoke if s.status == "failed"]
        if failed:
            details = "; ".join(
                f"{s.binary} {s.reason} (output: {s.output[:200]!r})" for s in failed
            )
            raise BuildError(
                f"{job.triple}: smoke-run failed: {details}.", hint=f"Full log: {log.path}"
            )
        smoke = _unrun_allowed(job, smoke, tools)
    finally:
        log.close()

    manifest = PartialManifest(
        schema_version=MANIFEST_SCHEMA_VERSION,
        name=plan.name,
        version=plan.version,
        target=job.triple,
        method=choice.method,
        std=choice.std,
        cache_key=key,
        source_commit=source_commit,
        source_tree_sha256=tree,
        image=job.image,
        toolchain=toolchain,
        commands=tuple(log.commands),
        seconds=round(time.monotonic() - started, 3),
        artifacts=(
            built_artifact(wheel, "wheel", job.built_platform_tags),
            built_artifact(archive, "archive"),
            built_artifact(sidecar, "checksum"),
        ),
        smoke=smoke,
    )
    manifest.write(folder)
    return manifest, False


def stable_maturin(tools: HostTools, cache_dir: Path) -> HostTools:
    """Return tools whose maturin is a copy at a path that depends only on its version.

    maturin's zig linker wrappers live in a folder named after maturin's own path, and cargo
    rebuilds everything, std included, when the linker path changes: a maturin in each venv or
    checkout would rebuild std every time. One copy per version keeps the cargo cache warm.
    """
    if tools.maturin is None or tools.maturin_version is None:
        return tools
    name = version_folder(tools.maturin_version)
    stable = cache_dir / "tools" / name / Path(tools.maturin).name  # maturin.exe on Windows
    source = Path(tools.maturin)
    if not stable.is_file() or stable.stat().st_size != source.stat().st_size:
        stable.parent.mkdir(parents=True, exist_ok=True)
        partial = stable.with_suffix(".partial")
        shutil.copy2(source, partial)
        partial.replace(stable)  # atomic: a parallel run never sees half a binary
    return dataclasses.replace(tools, maturin=str(stable))


def built_elsewhere(plan: ReleasePlan, tools: HostTools) -> dict[str, str]:
    """Return, per target only a machine of its own OS builds (which this is not), its runner."""
    host = tg.lookup(tools.host_triple or "")
    found = {}
    for job in plan.jobs:
        # On its own OS (or where the host is unknown: no rustc) a target that cannot build
        # here fails, saying what is missing; only another OS's native build is elsewhere.
        if host is None or job.target.os == host.os:
            continue
        method = methods.resolved(job.method, job.target, job.runner)
        if method is not None and method.name == "native" and method.missing(job, tools):
            found[job.triple] = job.runner
    return found


def elsewhere_reason(triple: str, runner: str) -> str:
    """Say where a target that cannot be built here is built instead."""
    return (
        f"not built here: only a machine of its own OS builds {triple}; the release workflow "
        f"builds it natively on {runner} (castoff ci generate)"
    )


def check_buildable_here(plan: ReleasePlan, tools: HostTools) -> None:
    """Refuse, before any build, a release whose plan has targets only other runners build."""
    elsewhere = built_elsewhere(plan, tools)
    if elsewhere:
        runners = ", ".join(f"{t} on {r}" for t, r in elsewhere.items())
        raise UsageError(
            f"a release needs every planned target, and only their own OS builds {runners}: "
            "it cannot be built on this machine.",
            hint="Release from GitHub Actions: `castoff ci generate` builds each target on its "
            "runner, then releases the build folders with `--no-build`. Here, `castoff "
            "rehearse` tries everything this machine builds.",
        )


# What a cold build of each part took on 2 cores (issue 16), in seconds: only to start the
# longest builds first, so that the last one does not run alone while the other cores idle.
_SECONDS_BUILD = 10
_SECONDS_STD_FROM_SOURCE = 60
# zig compiles the C runtime it links with: musl's libc, or mingw-w64's (whose binaries then
# boot wine's prefix for their smoke-run).
_SECONDS_ZIG_C_RUNTIME: dict[str, int] = {"musl": 45, "mingw": 130}


def expected_seconds(job: BuildJob, tools: HostTools, cache_dir: Path) -> int:
    """Return about how long a job's build takes here, from what it builds and what is cached."""
    try:
        choice = choose(job, tools)
    except CastoffError:
        return 0  # the build itself says what is wrong
    seconds = _SECONDS_BUILD
    toolchain = choice.toolchain
    if choice.std == stds.SYSROOT and toolchain is not None:
        try:
            cached = stds.sysroot.built(cache_dir, toolchain, job)
        except OSError:
            cached = False  # the build says what is wrong with the cache
        seconds += 0 if cached else _SECONDS_STD_FROM_SOURCE
    if methods.get(choice.method).uses_zig:
        seconds += _SECONDS_ZIG_C_RUNTIME.get(job.target.libc, 0)
    return seconds


def start_order(expected: Sequence[int], jobs: int) -> list[int]:
    """Return the order builds start in: the longest first when several run at once.

    One at a time, the order changes nothing but what a failure leaves unstarted: the plan's.
    """
    if jobs <= 1:
        return list(range(len(expected)))
    return sorted(range(len(expected)), key=lambda i: -expected[i])  # stable: plan order next


def build_all(
    plan: ReleasePlan,
    *,
    tools: HostTools,
    runner: Runner,
    options: BuildOptions,
    report: StepReport,
    skip_elsewhere: bool = False,
) -> list[Outcome]:
    """Build every job of a plan, up to options.jobs at once; failures are outcomes, not raises.

    With skip_elsewhere (no target was named), a target only its own OS's runner builds is an
    `elsewhere` outcome rather than a failure; named, it fails as any target that cannot build.
    """
    commit = runner.capture(Command(argv=("git", "rev-parse", "HEAD"), cwd=options.project_dir))
    source_commit = commit.stdout.strip() if commit.returncode == 0 else None
    tree = source_tree_sha256(options.project_dir, exclude=[options.out_dir])
    # Every target's folder is castoff's to replace (or new) before any build starts.
    if options.out_dir.exists() and not options.out_dir.is_dir():
        raise UsageError(f"{options.out_dir}: is a file, not a folder for the builds.")
    for name in plan.build_folders:
        check_claimable(options.out_dir / name, "build", UsageError, "--out")
    options.out_dir.mkdir(parents=True, exist_ok=True)
    tools = stable_maturin(tools, options.cache_dir)
    elsewhere = built_elsewhere(plan, tools) if skip_elsewhere else {}
    # Set by the failing worker itself, so a worker that is free next sees it before starting.
    stop = threading.Event()

    def one(name: str, build: Callable[[], tuple[PartialManifest, bool]]) -> Outcome:
        folder = options.out_dir / name
        if stop.is_set():
            error = "not started after an earlier failure (use --keep-going)"
            return Outcome(
                target=name, status="skipped", seconds=0.0, folder=folder, manifest=None,
                error=error,
            )  # fmt: skip
        if name in elsewhere:
            report(name, "elsewhere")
            return Outcome(
                target=name, status="elsewhere", seconds=0.0, folder=folder, manifest=None,
                error=None, reason=elsewhere_reason(name, elsewhere[name]),
            )  # fmt: skip
        started = time.monotonic()
        try:
            manifest, cached = build()
        except CastoffError as exc:
            if not options.keep_going:
                stop.set()
            report(name, "failed")
            seconds = time.monotonic() - started
            return Outcome(
                target=name, status="failed", seconds=seconds, folder=folder, manifest=None,
                error=exc.paragraph(),
            )  # fmt: skip
        status = "cached" if cached else "built"
        report(name, status)
        seconds = time.monotonic() - started
        return Outcome(
            target=name, status=status, seconds=seconds, folder=folder, manifest=manifest,
            error=None,
        )  # fmt: skip

    def target(job: BuildJob) -> Callable[[], tuple[PartialManifest, bool]]:
        return lambda: build_job(
            job, plan=plan, tools=tools, runner=runner, options=options,
            source_commit=source_commit, tree=tree, report=report,
        )  # fmt: skip

    work = [(job.triple, target(job)) for job in plan.jobs]
    expected = [expected_seconds(job, tools, options.cache_dir) for job in plan.jobs]
    if (sdist := plan.sdist) is not None:

        def source() -> tuple[PartialManifest, bool]:
            # Imported here: its checks (the sdist reader) are not needed for wheels alone.
            from castoff.build.sdist import build_sdist  # noqa: PLC0415

            report(SDIST, "maturin sdist")
            return build_sdist(
                sdist, plan=plan, tools=tools, runner=runner, out_dir=options.out_dir,
                project_dir=options.project_dir, source_commit=source_commit, tree=tree,
            )  # fmt: skip

        work.append((SDIST, source))
        expected.append(0)
    if plan.extensions:
        builder = extension.get(EXTENSION_METHOD)
        extension_tools = builder.probe(
            runner, runner.base_env, options.cache_dir, docker=tools.docker
        )

        def extension_build(ext: ExtensionJob) -> Callable[[], tuple[PartialManifest, bool]]:
            def build() -> tuple[PartialManifest, bool]:
                report(ext.triple, builder.name)
                return builder.build(
                    ext, plan=plan, tools=extension_tools, runner=runner,
                    out_dir=options.out_dir,
                    project_dir=options.project_dir, source_commit=source_commit, tree=tree,
                )  # fmt: skip

            return build

        work[len(plan.jobs) : len(plan.jobs)] = [
            (e.triple, extension_build(e)) for e in plan.extensions
        ]
        expected[len(plan.jobs) : len(plan.jobs)] = [0] * len(plan.extensions)
    # The outcomes keep the plan's order, whatever order the builds start in.
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        started = {i: pool.submit(one, *work[i]) for i in start_order(expected, options.jobs)}
        return [started[i].result() for i in range(len(work))]
