"""The `castoff` command line: the only place where errors become output and exit codes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castoff import __version__
from castoff.build import DEFAULT_EPOCH
from castoff.errors import AuditError, BuildError, CastoffError, UsageError

# Commands import what they use when they run: `castoff retag` should not pay for rich's
# progress bars or the build machinery at start-up (start-up was most of a retag's time).
if TYPE_CHECKING:
    from rich.console import Console

    from castoff.assemble.audit import Finding
    from castoff.build.builder import BuildOptions, Outcome
    from castoff.build.toolchains import HostTools
    from castoff.config import Config
    from castoff.plan import ReleasePlan
    from castoff.publish.github import ReleaseHost
    from castoff.publish.preflight import Checked
    from castoff.publish.publisher import PublishOptions
    from castoff.runner import Runner

Command = Callable[[argparse.Namespace, "Settings"], int]
# gzip stores a file's time in 32 bits; zip cannot go past 2107.
MAX_EPOCH = (1 << 32) - 1


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type: a whole number in [low, high], checked before anything runs."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,9}", text.strip()) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number from {low} to {high}")
        return int(text)

    return parse


def _seconds(text: str) -> float:
    """Return a number of seconds from 0 to an hour (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:  # also false for nan
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds from 0 to 3600")
    return value


def _url(text: str) -> str:
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


def _version(text: str) -> str:
    """Return a PEP 440 version, normalized (argparse type)."""
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    try:
        return str(Version(text))
    except InvalidVersion:
        raise argparse.ArgumentTypeError(f"'{text[:60]}' is not a PEP 440 version") from None


def _tag(text: str) -> str:
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


def _console(*, stderr: bool = False) -> Console:
    """Return a rich console; piped output gets room for whole file names."""
    from rich.console import Console  # noqa: PLC0415 - see the note on imports above

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 160)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where the config is and which targets to act on, resolved in one documented order."""

    config_path: Path
    targets: tuple[str, ...]
    targets_source: str
    env: Mapping[str, str]
    cache_dir: Path
    source_date_epoch: int


def resolve_settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    """Resolve settings: defaults, then the environment, then the command line (which wins)."""
    config_path = Path("pyproject.toml")
    if env.get("CASTOFF_CONFIG"):
        config_path = Path(env["CASTOFF_CONFIG"])
    if args.config is not None:
        config_path = args.config
    targets: tuple[str, ...] = ()
    source = ""
    if env.get("CASTOFF_TARGETS"):
        targets = tuple(env["CASTOFF_TARGETS"].replace(",", " ").split())
        source = "CASTOFF_TARGETS"
    if args.target:
        targets = tuple(args.target)
        source = "--target"
    epoch = env.get("SOURCE_DATE_EPOCH") or str(DEFAULT_EPOCH)
    # ASCII digits only ('²'.isdigit() is true), and a time tar, gzip and zip can all record.
    if not re.fullmatch(r"[0-9]{1,10}", epoch) or int(epoch) > MAX_EPOCH:
        raise UsageError(
            f"SOURCE_DATE_EPOCH: '{epoch[:40]}' is not a whole number of seconds since 1970.",
            hint=f"Set it to the release commit's time ($(git log -1 --format=%ct)), from 0 to "
            f"{MAX_EPOCH} (what gzip can record), or unset it.",
        )
    if env.get("CASTOFF_CACHE_DIR"):
        cache_dir = Path(env["CASTOFF_CACHE_DIR"])
    else:
        base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
        cache_dir = base / "castoff"
    return Settings(
        config_path=config_path,
        targets=targets,
        targets_source=source,
        env=env,
        cache_dir=cache_dir,
        source_date_epoch=int(epoch),
    )


def _load_plan(settings: Settings) -> tuple[Config, ReleasePlan]:
    from castoff.config import load  # noqa: PLC0415
    from castoff.plan import build_plan, select_targets  # noqa: PLC0415

    config = load(settings.config_path)
    only = select_targets(config, settings.targets, source=settings.targets_source)
    return config, build_plan(config, only=only)


def _cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    _, plan = _load_plan(settings)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        sys.stdout.write(plan.to_json())
    elif fmt == "github-matrix":
        # Compact, on one line: what `echo "matrix=$(...)" >> "$GITHUB_OUTPUT"` needs.
        sys.stdout.write(json.dumps(plan.github_matrix(), separators=(",", ":")) + "\n")
    else:
        _print_plan_table(plan)
    return 0


def _print_plan_table(plan: ReleasePlan) -> None:
    from rich.table import Table  # noqa: PLC0415

    console = _console()
    wheels = {a.target: a for a in plan.artifacts if a.kind == "wheel"}
    table = Table(
        title=f"{plan.name} {plan.version}: {len(plan.jobs)} build jobs", title_justify="left"
    )
    table.add_column("target", no_wrap=True)
    table.add_column("method")
    table.add_column("PyPI", overflow="fold")
    table.add_column("wheel platform tags", overflow="fold")
    for job in plan.jobs:
        wheel = wheels[job.triple]
        pypi = next((e.reason for e in wheel.excluded if e.destination == "pypi"), "upload")
        table.add_row(*map(_escape, (job.triple, job.method, pypi, ".".join(wheel.platform_tags))))
    console.print(table)
    aliases = [a for a in plan.artifacts if a.kind == "archive" and a.alias_of]
    if aliases:
        alias_table = Table(title="Aliases", title_justify="left")
        alias_table.add_column("archive", overflow="fold")
        alias_table.add_column("a copy of", overflow="fold")
        for artifact in aliases:
            alias_table.add_row(_escape(artifact.name), _escape(artifact.alias_of or ""))
        console.print(alias_table)
    github = [a for a in plan.artifacts if "github" in a.destinations]
    signatures = sum(len(a.signatures) for a in plan.artifacts)
    console.print(
        f"GitHub release: {len(github)} files and {signatures} signatures. "
        f"PyPI: {sum('pypi' in a.destinations for a in plan.artifacts)} wheels. "
        "Every file with its destinations: castoff plan --format json"
    )


def _escape(text: str) -> str:
    """Return text that rich prints as it is: '[...]' kept, control characters shown escaped.

    File names come from folders an attacker may fill; an escape sequence in one must not
    reach the terminal.
    """
    from rich.markup import escape  # noqa: PLC0415

    shown = "".join(
        f"\\x{ord(c):02x}" if (ord(c) < 32 and c != "\n") or 127 <= ord(c) < 160 else c
        for c in text
    )
    return escape(shown)


def _runner(env: Mapping[str, str], *, dry_run: bool = False) -> Runner:
    """Return the runner every command uses: commands echoed to stderr, secrets redacted."""
    from castoff.runner import Runner  # noqa: PLC0415

    return Runner(
        base_env=env,
        echo=lambda line: _console(stderr=True).print(_escape(line)),
        dry_run=dry_run,
    )


def _tools(env: Mapping[str, str]) -> tuple[Runner, HostTools]:
    from castoff.build import toolchains  # noqa: PLC0415

    runner = _runner(env)
    return runner, toolchains.probe(runner, env)


def _cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from rich.table import Table  # noqa: PLC0415

    from castoff.build import toolchains  # noqa: PLC0415

    _, plan = _load_plan(settings)
    _, tools = _tools(settings.env)
    rows = []
    for job in plan.jobs:
        choice = toolchains.choose(job, tools)
        smoke = toolchains.smoke_plan(job.target, tools)
        rows.append(
            {
                "target": job.triple,
                "buildable": choice.buildable,
                "method": choice.method,
                "std": choice.std,
                "why": choice.reason,
                "smoke": smoke.runner,
                "smoke_why": smoke.reason,
                "missing": [
                    {"what": m.what, "install": m.install}
                    for m in (*choice.missing, *smoke.missing)
                ],
            }
        )
    if args.json:
        doc = {
            "host": tools.host_triple,
            "maturin": tools.maturin_version,
            "zig": tools.zig_version,
            "targets": rows,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    table = Table(
        title=f"What this machine ({tools.host_triple}) can build and run", title_justify="left"
    )
    for column in ("target", "build", "method", "smoke-run", "missing: install with"):
        table.add_column(column, overflow="fold")
    for row in rows:
        missing = "\n".join(f"{m['what']}: {m['install']}" for m in row["missing"])  # type: ignore[attr-defined]
        table.add_row(
            _escape(str(row["target"])),
            "yes" if row["buildable"] else "[red]no[/red]",
            _escape(f"{row['method']} (std {row['std']})"),
            _escape(str(row["smoke"] or "no")),
            _escape(missing),
        )
    _console().print(table)
    return 0


def _cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    from castoff.build.builder import BuildOptions, build_all  # noqa: PLC0415

    config, plan = _load_plan(settings)
    runner, tools = _tools(settings.env)
    options = BuildOptions(
        # Absolute: maturin runs in the project folder, not where castoff was started.
        out_dir=args.out.resolve(),
        cache_dir=settings.cache_dir,
        project_dir=config.project_root,
        jobs=args.jobs,
        keep_going=args.keep_going,
        source_date_epoch=settings.source_date_epoch,
    )
    console = _console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks = {
            job.triple: progress.add_task(f"{job.triple}: waiting", total=None) for job in plan.jobs
        }

        def report(target: str, what: str) -> None:
            progress.update(tasks[target], description=f"{target}: {what}")
            if what in ("built", "cached", "failed"):
                progress.console.print(_escape(f"{target}: {what}"))

        outcomes = build_all(plan, tools=tools, runner=runner, options=options, report=report)
    doc: dict[str, object] = {
        "out": str(options.out_dir),
        "targets": [_outcome_json(o) for o in outcomes],
    }
    if not args.json:
        _print_outcomes(outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise BuildError(
            f"{len(failed)} of {len(outcomes)} targets failed: "
            + " ".join(f"[{o.target}] {o.error}" for o in failed),
            details=doc,
        )
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    return 0


def _outcome_json(outcome: Outcome) -> dict[str, object]:
    manifest = outcome.manifest
    return {
        "target": outcome.target,
        "status": outcome.status,
        "seconds": round(outcome.seconds, 2),
        "folder": str(outcome.folder),
        "method": manifest.method if manifest else None,
        "artifacts": [a.name for a in manifest.artifacts] if manifest else [],
        "smoke": [
            {"binary": s.binary, "status": s.status, "runner": s.runner, "reason": s.reason}
            for s in manifest.smoke
        ]
        if manifest
        else [],
        "error": outcome.error,
    }


def _print_outcomes(outcomes: Sequence[Outcome]) -> None:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Build", title_justify="left")
    for column in ("target", "status", "method", "seconds", "smoke-run"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        smoke = (
            "; ".join(f"{s.status} ({s.runner or s.reason})" for s in o.manifest.smoke)
            if o.manifest
            else (o.error or "")
        )
        table.add_row(
            _escape(o.target),
            o.status,
            _escape(o.manifest.method if o.manifest else "-"),
            f"{o.seconds:.1f}",
            _escape(smoke),
        )
    _console().print(table)


def _audit_error(findings: Sequence[Finding], details: dict[str, object]) -> AuditError:
    return AuditError(
        f"{len(findings)} broken promises: " + "; ".join(f.line() for f in findings) + ".",
        hint="Fix the build (or the tags it is given); castoff never ships a tag a binary "
        "cannot keep.",
        details=details,
    )


def _cmd_audit(args: argparse.Namespace, _: Settings) -> int:
    from castoff.assemble.audit import audit_paths  # noqa: PLC0415

    audited, findings = audit_paths(args.paths)
    doc: dict[str, object] = {
        "audited": audited,
        "findings": [dataclasses.asdict(f) for f in findings],
    }
    if findings:
        raise _audit_error(findings, doc)
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        _console(stderr=True).print(
            f"audited {len(audited)} files: every binary keeps its promises"
        )
    return 0


def _cmd_retag(args: argparse.Namespace, _: Settings) -> int:
    from castoff.assemble.audit import audit_members  # noqa: PLC0415
    from castoff.assemble.retag import check_wheel, retag_wheel  # noqa: PLC0415

    for tag in args.add_platform:
        if not re.fullmatch(r"[a-z0-9_]{1,100}", tag):
            raise UsageError(
                f"--add-platform: '{tag[:60]}' is not a platform tag.",
                hint="Platform tags look like manylinux_2_17_x86_64.",
            )
    out_dir = args.out or args.wheel.parent
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(
            f"--out {out_dir}: is a file, not a folder.", hint="Name a folder for the new wheel."
        )
    # Checked and audited with its new tags before anything is written.
    wheel = check_wheel(args.wheel)
    findings = audit_members(
        wheel.programs,
        artifact=args.wheel.name,
        tags={t.platform for t in wheel.tags} | set(args.add_platform),
    )
    if findings:
        raise _audit_error(findings, {"wheel": str(args.wheel)})
    result = retag_wheel(args.wheel, args.add_platform, out_dir, replace=False)
    if args.json:
        sys.stdout.write(json.dumps({"wheel": str(result)}) + "\n")
    else:
        sys.stdout.write(f"{result}\n")
    return 0


def _cmd_assemble(args: argparse.Namespace, settings: Settings) -> int:
    from rich.table import Table  # noqa: PLC0415

    from castoff.assemble.assembler import assemble, collect  # noqa: PLC0415

    config, plan = _load_plan(settings)
    manifest = assemble(
        plan,
        config,
        collect(args.in_dirs),
        # Absolute, not resolved: a link given as --out is refused, not followed.
        out_dir=args.out.absolute(),
        previous=args.previous,
        mtime=settings.source_date_epoch,
    )
    if args.json:
        sys.stdout.write(json.dumps(manifest.to_dict(), indent=2) + "\n")
        return 0
    table = Table(title=f"{plan.name} {plan.version} in {args.out}", title_justify="left")
    for column in ("artifact", "kind", "to", "sha256"):
        table.add_column(column, overflow="fold")
    for artifact in manifest.artifacts:
        to = ", ".join(artifact.destinations) or "-"
        table.add_row(_escape(artifact.name), artifact.kind, to, artifact.sha256[:16])
    _console().print(table)
    return 0


def _load_config(settings: Settings) -> Config:
    from castoff.config import load  # noqa: PLC0415

    return load(settings.config_path)


def _cmd_sign(args: argparse.Namespace, settings: Settings) -> int:

    from castoff.sign.signing import sign_release  # noqa: PLC0415

    console = _console(stderr=True)
    manifest = sign_release(
        args.dist,
        _load_config(settings),
        backends=args.backend or (),
        env=settings.env,
        keys_dir=args.keys,
        runner=_runner(settings.env),
        report=lambda line: console.print(_escape(line)),
    )
    signatures = [dataclasses.asdict(s) for a in manifest.artifacts for s in a.signatures]
    if args.json:
        doc = {
            "dist": str(args.dist),
            "provenance": manifest.provenance,
            "signatures": signatures,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        console.print(
            f"signed and verified: {len(signatures)} signatures of "
            f"{sum(bool(a.signatures) for a in manifest.artifacts)} files, "
            f"provenance in {_escape(manifest.provenance or '')}"
        )
    return 0


def _cmd_verify(args: argparse.Namespace, settings: Settings) -> int:

    from castoff.sign.verification import verify_release  # noqa: PLC0415

    console = _console(stderr=True)
    verified = verify_release(
        args.dist,
        _load_config(settings),
        backends=args.backend or (),
        keys_dir=args.keys,
        runner=_runner(settings.env),
        report=lambda line: console.print(_escape(line)),
        version=args.release_version,
    )
    doc = verified.doc
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        count = sum(len(a["signatures"]) for a in doc["artifacts"])
        absent = f"; {len(verified.absent)} not here (not for GitHub)" if verified.absent else ""
        console.print(
            _escape(
                f"verified {doc['name']} {doc['version']}: {len(doc['artifacts'])} files and "
                f"{count} signatures "
                f"({', '.join(doc['backends'])}) against the signed checksums and provenance"
                f"{absent}: all good"
            )
        )
    return 0


def _cmd_keygen(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.sign.signing import keygen  # noqa: PLC0415

    doc = keygen(args.folder, _load_config(settings), _runner(settings.env))
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        _console(stderr=True).print(
            f"throwaway keys for {', '.join(doc['backends']) or 'no backend'} in "
            f"{_escape(doc['folder'])}; use them with --keys {_escape(doc['folder'])} (never for "
            "a real release)"
        )
    return 0


def _preflight(args: argparse.Namespace, settings: Settings, config: Config) -> Checked:
    from datetime import UTC, datetime  # noqa: PLC0415

    from castoff.publish.preflight import preflight  # noqa: PLC0415

    console = _console(stderr=True)
    return preflight(
        args.dist,
        config,
        index_url=args.index_url or config.publish.pypi.index_url,
        runner=_runner(settings.env),
        keys_dir=args.keys,
        previous=args.previous,
        now=datetime.now(UTC),
        report=lambda line: console.print(_escape(line)),
    )


def _cmd_preflight(args: argparse.Namespace, settings: Settings) -> int:
    doc = _preflight(args, settings, _load_config(settings)).doc
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        _console(stderr=True).print(
            f"preflight passed: {len(doc['index'])} files ready for the index, nothing refused"
        )
    return 0


def _release_host(
    args: argparse.Namespace, config: Config, settings: Settings, runner: Runner
) -> ReleaseHost | None:
    from castoff.publish.github import FolderRelease, GhRelease  # noqa: PLC0415

    if not config.publish.github.enabled:
        return None
    tag = args.tag or f"v{config.version}"
    if args.release_folder is not None:
        return FolderRelease(args.release_folder, tag)
    repository = config.publish.github.repository or settings.env.get("GITHUB_REPOSITORY")
    if not repository:
        raise UsageError(
            "the GitHub repository is unknown: tool.castoff.publish.github.repository is not "
            "set and neither is GITHUB_REPOSITORY.",
            hint="Set one of them, or publish into a local folder with --release-folder DIR.",
        )
    return GhRelease(repository, tag, runner)


def _cmd_publish(args: argparse.Namespace, settings: Settings) -> int:

    from castoff.release import publish_checked  # noqa: PLC0415

    config = _load_config(settings)
    console = _console(stderr=True)
    runner = _runner(settings.env)
    # Every check passes before the first byte is uploaded, on a resume too; a dry run
    # shows the uploads without making them.
    doc = publish_checked(
        args.dist,
        config,
        options=_publish_options(args, config),
        host=_release_host(args, config, settings, runner),
        keys_dir=args.keys,
        backends=(),
        runner=runner,
        env=settings.env,
        report=lambda line: console.print(_escape(line)),
        previous=args.previous,
    )
    _print_published(args, doc, console)
    return 0


def _publish_options(args: argparse.Namespace, config: Config) -> PublishOptions:
    from castoff.publish.publisher import PublishOptions  # noqa: PLC0415

    return PublishOptions(
        repository_url=args.repository_url or config.publish.pypi.repository_url,
        index_url=args.index_url or config.publish.pypi.index_url,
        resume=args.resume,
        dry_run=args.dry_run,
        attempts=args.attempts,
        backoff=args.backoff,
    )


def _print_published(args: argparse.Namespace, doc: dict[str, Any], console: Console) -> None:
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    kept = doc["kept_from_index"]
    reasons = ", ".join(f"{k['name']} ({k['reason']})" for k in kept) or "none"
    count = len(doc["index"]["files"]) if doc["index"] else 0
    what = "dry run: would upload" if args.dry_run else "published and read back"
    where = f"; release: {doc['release']['where']}" if doc["release"] else ""
    console.print(
        _escape(f"{what} {count} files to the index{where}; kept off the index: {reasons}")
    )


def _build_options(args: argparse.Namespace, settings: Settings) -> BuildOptions:
    from castoff.build.builder import BuildOptions  # noqa: PLC0415

    return BuildOptions(
        out_dir=args.build_dir.resolve(),
        cache_dir=settings.cache_dir,
        project_dir=settings.config_path.parent,
        jobs=args.jobs,
        keep_going=False,
        source_date_epoch=settings.source_date_epoch,
    )


def _workflows(args: argparse.Namespace, settings: Settings) -> dict[str, str]:
    from castoff.workflows import WorkflowOptions, render_all  # noqa: PLC0415

    config = _load_config(settings)
    options = WorkflowOptions.for_project(args.config_path or str(settings.config_path))
    if args.nox or args.setup is not None:
        options = WorkflowOptions(
            config_path=options.config_path,
            setup=tuple(line for line in args.setup or () if line),
            nox=args.nox or options.nox,
        )
    return render_all(config, options)


def _cmd_ci_generate(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.init import write_all  # noqa: PLC0415
    from castoff.workflows import HEADER  # noqa: PLC0415

    generated = _workflows(args, settings)
    files = {args.workflows / name: text for name, text in generated.items()}
    for path in files:
        if path.is_file() and not path.read_bytes().startswith(HEADER.encode()):
            raise UsageError(
                f"{path}: is not a workflow castoff generated; castoff never replaces a file it "
                "did not write.",
                hint="Move it away (or give --workflows another folder), then generate again.",
            )
    write_all(files)
    if args.json:
        sys.stdout.write(json.dumps({"written": sorted(generated)}) + "\n")
    else:
        _console(stderr=True).print(
            f"wrote {', '.join(sorted(generated))} in {_escape(str(args.workflows))}"
        )
    return 0


def _cmd_ci_check(args: argparse.Namespace, settings: Settings) -> int:
    generated = _workflows(args, settings)
    drifted = []
    for name, text in generated.items():
        path = args.workflows / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            drifted.append(str(path))
    doc: dict[str, object] = {
        "checked": [str(args.workflows / n) for n in sorted(generated)],
        "drifted": drifted,
    }
    if drifted:
        raise UsageError(
            f"{', '.join(drifted)}: differs from what castoff generates (or is missing); the "
            "workflow must only call castoff's nox sessions.",
            hint="Regenerate with `castoff ci generate` (same options) and commit the result.",
            details=doc,
        )
    if args.json:
        sys.stdout.write(json.dumps(doc) + "\n")
    else:
        _console(stderr=True).print(f"{len(generated)} workflows match what castoff generates")
    return 0


def _cmd_init(args: argparse.Namespace, _: Settings) -> int:
    from castoff.init import init  # noqa: PLC0415

    written = init(args.path, force=args.force)
    if args.json:
        sys.stdout.write(json.dumps({"written": [str(p) for p in written]}) + "\n")
    else:
        shown = _escape(", ".join(str(p) for p in written) or "none needed")
        _console(stderr=True).print(
            f"wrote {len(written)} files: {shown}. Next: `nox -s plan`, then `nox -s rehearse`."
        )
    return 0


def _cmd_release(args: argparse.Namespace, settings: Settings) -> int:

    from castoff.release import release  # noqa: PLC0415

    config, plan = _load_plan(settings)
    runner, tools = _tools(settings.env)
    console = _console(stderr=True)
    build_dir = args.build_dir.resolve()
    doc = release(
        config,
        plan,
        build_options=None if args.no_build else _build_options(args, settings),
        build_dir=build_dir,
        # Alias archives get the same times whether built here or downloaded (--no-build).
        mtime=settings.source_date_epoch,
        dist=args.out.absolute(),
        options=_publish_options(args, config),
        host=_release_host(args, config, settings, runner),
        keys_dir=args.keys,
        tools=tools,
        runner=runner,
        env=settings.env,
        report=lambda line: console.print(_escape(line)),
    )
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        what = "dry run done: nothing was uploaded" if args.dry_run else "released"
        console.print(_escape(f"{plan.name} {plan.version}: {what}"))
    return 0


def _cmd_rehearse(args: argparse.Namespace, settings: Settings) -> int:
    from rich.table import Table  # noqa: PLC0415

    from castoff.errors import RehearseError  # noqa: PLC0415
    from castoff.rehearse import rehearse  # noqa: PLC0415

    config, plan = _load_plan(settings)
    runner, tools = _tools(settings.env)
    console = _console(stderr=True)
    doc = rehearse(
        config,
        plan,
        build_options=_build_options(args, settings),
        work=args.work.absolute(),
        tools=tools,
        runner=runner,
        env=settings.env,
        report=lambda line: console.print(_escape(line)),
    )
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        table = Table(title=f"Rehearsal of {plan.name} {plan.version}", title_justify="left")
        for column in ("target", "wheel", "archive", "PyPI", "pip", "uv", "archive run"):
            table.add_column(column, overflow="fold")
        for row in doc["targets"]:
            tags = row["wheel"].split("-py3-none-", 1)[-1].removesuffix(".whl")
            table.add_row(
                *map(
                    _escape,
                    (
                        row["target"],
                        tags,
                        row["archive"],
                        # The whole reason is in --json; its first clause fits a table.
                        row["index"].split(":", 2)[0] + ":" + row["index"].split(":", 2)[1]
                        if row["index"].count(":") > 1
                        else row["index"],
                        row["pip"],
                        row["uv"],
                        row["archive_run"],
                    ),
                )
            )
        _console().print(table)
    if doc["failed"]:
        raise RehearseError(
            f"{len(doc['failed'])} targets failed the rehearsal: {', '.join(doc['failed'])}.",
            hint="The table (or --json) says what failed for each.",
            details=doc,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every castoff command."""
    parser = argparse.ArgumentParser(
        prog="castoff",
        description="Ship a Rust program as wheels and per-triple archives, never half-published.",
    )
    parser.add_argument("--version", action="version", version=f"castoff {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        help="the project's pyproject.toml (default: $CASTOFF_CONFIG, else ./pyproject.toml)",
    )
    common.add_argument(
        "--target",
        action="append",
        metavar="TRIPLE",
        help="act on this target only; repeatable (default: $CASTOFF_TARGETS, else all)",
    )

    plan = commands.add_parser(
        "plan",
        parents=[common],
        help="print the release plan: every build job and every file, with its destinations",
    )
    plan.add_argument(
        "--format",
        choices=("table", "json", "github-matrix"),
        default="table",
        help="table for people, json for machines, github-matrix for strategy.matrix via fromJson",
    )
    plan.add_argument("--json", action="store_true", help="same as --format json")
    plan.set_defaults(func=_cmd_plan)

    build = commands.add_parser(
        "build", parents=[common], help="build each target's wheel and archive, and smoke-run them"
    )
    build.add_argument(
        "--out",
        type=Path,
        default=Path("build"),
        help="output folder, one subfolder per target (default: build)",
    )
    build.add_argument(
        "--jobs",
        type=_bounded_int(1, 256),
        default=os.cpu_count() or 1,
        help="targets built at once (default: CPU count)",
    )
    build.add_argument(
        "--keep-going", action="store_true", help="finish the other targets when one fails"
    )
    build.add_argument("--json", action="store_true", help="print the outcome as JSON")
    build.set_defaults(func=_cmd_build)

    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="say how each target builds and runs here, and how to install what is missing",
    )
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")
    doctor.set_defaults(func=_cmd_doctor)

    assemble_parser = commands.add_parser(
        "assemble",
        parents=[common],
        help="merge build folders into one verified release folder: retag, alias, audit, checksums",
    )
    assemble_parser.add_argument(
        "in_dirs", nargs="+", type=Path, metavar="IN_DIR", help="build folders"
    )
    assemble_parser.add_argument(
        "--out", type=Path, default=Path("dist"), help="release folder (default: dist)"
    )
    assemble_parser.add_argument(
        "--previous", type=Path, help="the previous release's manifest.json"
    )
    assemble_parser.add_argument("--json", action="store_true", help="print the release manifest")
    assemble_parser.set_defaults(func=_cmd_assemble)

    audit = commands.add_parser(
        "audit", help="check every binary in wheels and archives against their tags and names"
    )
    audit.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="wheels, archives or folders"
    )
    audit.add_argument("--json", action="store_true", help="print what was audited as JSON")
    audit.set_defaults(func=_cmd_audit, config=None, target=None)

    retag = commands.add_parser(
        "retag", help="add platform tags to a wheel (raw copy of its members), then audit it"
    )
    retag.add_argument("wheel", type=Path, metavar="WHEEL")
    retag.add_argument(
        "--add-platform", action="append", required=True, metavar="TAG", help="repeatable"
    )
    retag.add_argument("--out", type=Path, help="output folder (default: beside the wheel)")
    retag.add_argument("--json", action="store_true", help="print the new wheel's path as JSON")
    retag.set_defaults(func=_cmd_retag, config=None, target=None)
    _add_signing_commands(commands)
    return parser


def _add_signing_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config_only = argparse.ArgumentParser(add_help=False)
    config_only.add_argument(
        "--config",
        type=Path,
        help="the project's pyproject.toml (default: $CASTOFF_CONFIG, else ./pyproject.toml)",
    )
    signing = argparse.ArgumentParser(add_help=False, parents=[config_only])
    signing.add_argument("dist", type=Path, metavar="DIST", help="the release folder")
    signing.add_argument(
        "--backend",
        action="append",
        metavar="NAME",
        help="only this configured backend; repeatable (default: all configured)",
    )
    signing.add_argument(
        "--keys", type=Path, metavar="DIR", help="use throwaway keys from `castoff keygen DIR`"
    )
    signing.add_argument("--json", action="store_true", help="print the outcome as JSON")
    sign = commands.add_parser(
        "sign",
        parents=[signing],
        help="sign every artifact and the provenance, then verify every signature",
    )
    sign.set_defaults(func=_cmd_sign, target=None)
    verify = commands.add_parser(
        "verify",
        parents=[signing],
        help="check every file's sha256 and every signature it must have, with public keys only",
    )
    verify.add_argument(
        "--release-version",
        type=_version,
        metavar="VERSION",
        help="the version the release must be (default: the config's)",
    )
    verify.set_defaults(func=_cmd_verify, target=None)
    keygen_parser = commands.add_parser(
        "keygen",
        parents=[config_only],
        help="make throwaway keys for the configured backends (rehearsals and tests)",
    )
    keygen_parser.add_argument("folder", type=Path, metavar="DIR", help="a new folder")
    keygen_parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    keygen_parser.set_defaults(func=_cmd_keygen, target=None)

    index_options = argparse.ArgumentParser(add_help=False, parents=[config_only])
    index_options.add_argument("dist", type=Path, metavar="DIST", help="the release folder")
    index_options.add_argument(
        "--index-url", type=_url, help="the index's simple API (default: publish.pypi.index-url)"
    )
    index_options.add_argument(
        "--keys", type=Path, metavar="DIR", help="public keys from `castoff keygen DIR`"
    )
    index_options.add_argument("--previous", type=Path, help="the previous release's manifest")
    index_options.add_argument("--json", action="store_true", help="print the outcome as JSON")
    preflight = commands.add_parser(
        "preflight",
        parents=[index_options],
        help="check everything the index or the release would refuse, before any upload",
    )
    preflight.set_defaults(func=_cmd_preflight, target=None)
    publish = commands.add_parser(
        "publish",
        parents=[index_options, _upload_options()],
        help="preflight, then upload the index-bound files one at a time, journaled",
    )
    publish.set_defaults(func=_cmd_publish, target=None)

    _add_pipeline_commands(commands, config_only)
    _add_ci_commands(commands, config_only)


def _add_ci_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    config_only: argparse.ArgumentParser,
) -> None:
    options = argparse.ArgumentParser(add_help=False, parents=[config_only])
    options.add_argument(
        "--workflows",
        type=Path,
        default=Path(".github/workflows"),
        help="where the workflows are (default: .github/workflows)",
    )
    options.add_argument(
        "--config-path", help="the config's path as the workflows name it (default: --config)"
    )
    options.add_argument("--nox", help="the nox command the jobs run (default: nox)")
    options.add_argument(
        "--setup",
        action="append",
        help="a shell line that installs nox and castoff in each job; repeatable "
        "(default: pip install of the pinned nox and this castoff)",
    )
    options.add_argument("--json", action="store_true", help="print the outcome as JSON")
    init_parser = commands.add_parser(
        "init",
        help="write noxfile.py, tasks.py, the workflows and a starter [tool.castoff] into a "
        "maturin project",
    )
    init_parser.add_argument(
        "path", type=Path, nargs="?", default=Path(), metavar="PATH", help="the project folder"
    )
    init_parser.add_argument(
        "--force", action="store_true", help="replace files that exist with other content"
    )
    init_parser.add_argument("--json", action="store_true", help="print what was written")
    init_parser.set_defaults(func=_cmd_init, config=None, target=None)
    ci = commands.add_parser("ci", help="GitHub Actions workflows that call castoff's sessions")
    ci_commands = ci.add_subparsers(dest="ci_command", required=True, metavar="COMMAND")
    generate = ci_commands.add_parser(
        "generate", parents=[options], help="write release.yml and ci.yml"
    )
    generate.set_defaults(func=_cmd_ci_generate, target=None)
    check = ci_commands.add_parser(
        "check", parents=[options], help="fail when the checked-in workflows drift"
    )
    check.set_defaults(func=_cmd_ci_check, target=None)


def _upload_options() -> argparse.ArgumentParser:
    uploads = argparse.ArgumentParser(add_help=False)
    uploads.add_argument(
        "--repository-url",
        type=_url,
        help="where twine uploads (default: publish.pypi.repository-url)",
    )
    uploads.add_argument(
        "--resume", action="store_true", help="continue a publish the journal says was started"
    )
    uploads.add_argument(
        "--dry-run", action="store_true", help="everything but the uploads, which are printed"
    )
    uploads.add_argument(
        "--attempts",
        type=_bounded_int(1, 100),
        default=4,
        help="tries per file on 5xx, 429 and network errors",
    )
    uploads.add_argument(
        "--backoff",
        type=_seconds,
        default=2.0,
        help="seconds before the first retry; then doubled",
    )
    uploads.add_argument(
        "--release-folder",
        type=Path,
        metavar="DIR",
        help="publish the release into a local folder instead of GitHub (rehearsals)",
    )
    uploads.add_argument("--tag", type=_tag, help="the release's git tag (default: v<version>)")
    return uploads


def _add_pipeline_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    config_only: argparse.ArgumentParser,
) -> None:
    pipeline = argparse.ArgumentParser(add_help=False, parents=[config_only])
    pipeline.add_argument(
        "--target",
        action="append",
        metavar="TRIPLE",
        help="this target only; repeatable (default: $CASTOFF_TARGETS, else all)",
    )
    pipeline.add_argument(
        "--build-dir", type=Path, default=Path("build"), help="build folder (default: build)"
    )
    pipeline.add_argument(
        "--jobs",
        type=_bounded_int(1, 256),
        default=os.cpu_count() or 1,
        help="targets built at once",
    )
    pipeline.add_argument("--json", action="store_true", help="print the outcome as JSON")
    release_parser = commands.add_parser(
        "release",
        parents=[pipeline, _upload_options()],
        help="build, assemble, sign, preflight and publish (--dry-run: all but the uploads)",
    )
    release_parser.add_argument(
        "--no-build",
        action="store_true",
        help="assemble the build folders already there (CI downloads them from the build jobs)",
    )
    release_parser.add_argument(
        "--out", type=Path, default=Path("dist"), help="release folder (default: dist)"
    )
    release_parser.add_argument(
        "--keys", type=Path, metavar="DIR", help="throwaway keys from `castoff keygen DIR`"
    )
    release_parser.add_argument("--index-url", type=_url, help="the index's simple API")
    release_parser.set_defaults(func=_cmd_release)

    rehearse_parser = commands.add_parser(
        "rehearse",
        parents=[pipeline],
        help="the whole release against a local index and folder, then install it back and run it",
    )
    rehearse_parser.add_argument(
        "--work", type=Path, default=Path("rehearsal"), help="working folder (default: rehearsal)"
    )
    rehearse_parser.set_defaults(func=_cmd_rehearse)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run castoff and return its exit code."""
    args = build_parser().parse_args(argv)
    raised: BaseException
    try:
        settings = resolve_settings(args, os.environ if env is None else env)
        command: Command = args.func
        return command(args, settings)
    except CastoffError as exc:
        error, raised = exc, exc
    except KeyboardInterrupt:
        _console(stderr=True).print("[bold red]castoff: interrupted[/bold red]")
        return 130
    # A failure castoff did not foresee is a bug, but still one paragraph, never a traceback
    # (unless --debug asks for it).
    except Exception as exc:  # noqa: BLE001
        raised = exc
        error = CastoffError(
            f"castoff failed unexpectedly: {type(exc).__name__}: {exc}",
            hint="This is a bug in castoff; please report it with the output of --debug.",
        )
    if args.debug:
        traceback.print_exception(raised)
    if getattr(args, "json", False):
        doc = {
            **error.details,
            "error": {
                "kind": type(error).__name__,
                "exit_code": error.exit_code,
                "message": error.message,
                "hint": error.hint,
            },
        }
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    _console(stderr=True).print(
        f"[bold red]castoff: error:[/bold red] {_escape(error.paragraph())}", soft_wrap=True
    )
    return error.exit_code


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
