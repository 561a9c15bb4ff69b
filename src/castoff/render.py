"""Everything castoff shows people: tables, one-line summaries, progress and errors (rich).

Names shown here come from folders and indexes an attacker may fill: every one goes through
`escape`, so neither rich markup nor a terminal escape sequence in a name has any effect.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

# rich is imported where it is used: `castoff retag` should not pay for it at start-up.
if TYPE_CHECKING:
    from rich.console import Console

    from castoff.build.setup import SetupPlan
    from castoff.errors import CastoffError
    from castoff.manifest import ReleaseManifest
    from castoff.plan import ReleasePlan
    from castoff.results import (
        BuildResult,
        DoctorResult,
        KeygenResult,
        PreflightResult,
        PublishResult,
        RehearseResult,
        SignResult,
        VerifyResult,
    )


def console(*, stderr: bool = False) -> Console:
    """Return a rich console; piped output gets room for whole file names."""
    from rich.console import Console  # noqa: PLC0415

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 160)


def escape(text: str) -> str:
    """Return text that rich prints as it is: '[...]' kept, control characters shown escaped."""
    from rich.markup import escape as markup  # noqa: PLC0415

    shown = "".join(
        f"\\x{ord(c):02x}" if (ord(c) < 32 and c != "\n") or 127 <= ord(c) < 160 else c
        for c in text
    )
    return markup(shown)


def say(line: str) -> None:
    """Print one line of progress or outcome for people, on stderr."""
    console(stderr=True).print(escape(line))


def emit_json(doc: object, *, indent: int | None = 2) -> None:
    """Write JSON for machines on stdout."""
    sys.stdout.write(json.dumps(doc, indent=indent, default=str) + "\n")


def error(exc: CastoffError, *, as_json: bool) -> None:
    """Show an error: its paragraph on stderr and, for --json, a document on stdout."""
    if as_json:
        emit_json(
            {
                **exc.details,
                "error": {
                    "kind": type(exc).__name__,
                    "exit_code": exc.exit_code,
                    "message": exc.message,
                    "hint": exc.hint,
                },
            }
        )
    console(stderr=True).print(
        f"[bold red]castoff: error:[/bold red] {escape(exc.paragraph())}", soft_wrap=True
    )


def interrupted() -> None:
    """Say that castoff was interrupted."""
    console(stderr=True).print("[bold red]castoff: interrupted[/bold red]")


def plan_table(plan: ReleasePlan) -> None:
    """Print the plan: each job's method and PyPI fate, then the aliases and the totals."""
    from rich.table import Table  # noqa: PLC0415

    from castoff.build import methods  # noqa: PLC0415 - what `auto` picks, as the build will

    out = console()
    wheels = {a.target: a for a in plan.artifacts if a.kind == "wheel"}
    table = Table(
        title=f"{plan.name} {plan.version}: {len(plan.build_folders)} build jobs",
        title_justify="left",
    )
    table.add_column("target", no_wrap=True)
    table.add_column("method")
    table.add_column("runner (GitHub)", overflow="fold")
    table.add_column("PyPI", overflow="fold")
    table.add_column("wheel platform tags", overflow="fold")
    for job in plan.jobs:
        wheel = wheels[job.triple]
        pypi = next((e.reason for e in wheel.excluded if e.destination == "pypi"), "upload")
        runner = job.runner
        if job.linked_glibc:
            runner += f" (links glibc {job.linked_glibc.replace('_', '.')})"
        method = job.method
        if (picked := methods.resolved(job.method, job.target, job.runner)) and (
            picked.name != method
        ):
            method += f": {picked.name}"
        if job.no_smoke_run:
            method += f" (not run: {job.no_smoke_run})"
        row = (job.triple, method, runner, pypi, ".".join(wheel.platform_tags))
        table.add_row(*map(escape, row))
    by_name = {a.name: a for a in plan.artifacts}
    for ext in plan.extensions:
        for identifier, name in zip(ext.identifiers, ext.wheels, strict=True):
            wheel = by_name[name]
            pypi = next((e.reason for e in wheel.excluded if e.destination == "pypi"), "upload")
            row = (ext.triple, f"cibuildwheel {identifier}", ext.runner, pypi, name)
            table.add_row(*map(escape, row))
    if plan.sdist is not None:
        sdist = next(a for a in plan.artifacts if a.kind == "sdist")
        pypi = next((e.reason for e in sdist.excluded if e.destination == "pypi"), "upload")
        row = ("sdist", "maturin sdist", plan.sdist.runner, pypi, sdist.name)
        table.add_row(*map(escape, row))
    out.print(table)
    aliases = [a for a in plan.artifacts if a.kind == "archive" and a.alias_of]
    if aliases:
        alias_table = Table(title="Aliases", title_justify="left")
        alias_table.add_column("archive", overflow="fold")
        alias_table.add_column("a copy of", overflow="fold")
        for artifact in aliases:
            alias_table.add_row(escape(artifact.name), escape(artifact.alias_of or ""))
        out.print(alias_table)
    github = [a for a in plan.artifacts if "github" in a.destinations]
    sdists = [a for a in plan.artifacts if a.kind == "sdist"]
    signatures = sum(len(a.signatures) for a in plan.artifacts)
    out.print(
        f"GitHub release: {len(github)} files and {signatures} signatures. "
        f"PyPI: {sum('pypi' in a.destinations for a in plan.artifacts if a.kind == 'wheel')} "
        f"wheels{' and the sdist' if any('pypi' in a.destinations for a in sdists) else ''}. "
        "Every file with its destinations: castoff plan --format json"
    )


def doctor_table(result: DoctorResult) -> None:
    """Print what each target needs here, and the signing tools."""
    from rich.table import Table  # noqa: PLC0415

    table = Table(
        title=f"What this machine ({result.host}) can build and run", title_justify="left"
    )
    for column in ("target", "build", "method", "smoke-run", "missing: install with"):
        table.add_column(column, overflow="fold")
    for row in result.targets:
        missing = "\n".join(f"{m.what}: {m.install}" for m in row.missing)
        table.add_row(
            escape(row.target),
            "yes" if row.buildable else "[red]no[/red]",
            escape(f"{row.method} (std {row.std})"),
            escape(row.smoke or "no"),
            escape(missing),
        )
    out = console()
    out.print(table)
    if result.setup:
        out.print("`castoff setup` (nox -s setup) installs what is missing with:")
        for line in result.setup:
            out.print(escape(f"  {line}"), soft_wrap=True)
    if result.signing:
        signing = Table(title="Signing tools", title_justify="left")
        for column in ("backend", "tool", "found", "install with"):
            signing.add_column(column, overflow="fold")
        for tool in result.signing:
            found = escape(tool.found) if tool.found else "[red]no[/red]"
            signing.add_row(escape(tool.backend), escape(tool.command), found, escape(tool.install))
        out.print(signing)


def setup_summary(setup: SetupPlan, *, ran: bool) -> None:
    """Print what castoff setup ran (or would run) on this machine."""
    out = console()
    for target, runner in setup.elsewhere:
        out.print(escape(f"{target}: built elsewhere (natively on {runner}); nothing to install"))
    if not setup.steps and not setup.manual:
        out.print(f"Nothing to install on this {setup.system} machine for the planned targets.")
        return
    if setup.steps:
        out.print(("Installed" if ran else "Would run") + f" on this {setup.system} machine:")
    for step in setup.steps:
        out.print(escape(f"  {step.command.display()}    # {step.what}"), soft_wrap=True)
    if setup.manual:
        out.print(
            f"To install by hand first (castoff cannot here, on this {setup.system} machine):"
        )
    for missing in setup.manual:
        out.print(escape(f"  {missing.what}: {missing.install}"), soft_wrap=True)


# The steps a build reports that end a target: each printed on its own line.
_OUTCOMES = ("built", "cached", "failed", "elsewhere")


@contextmanager
def build_progress(targets: Sequence[str]) -> Iterator[Callable[[str, str], None]]:
    """Yield a reporter that shows each target's current step as a spinner line."""
    shown = console(stderr=True)
    if not shown.is_interactive:
        # A log (CI's, a pipe) gets the outcome lines only, which is all rich's transient
        # display leaves there; rich.progress, a tenth of a build's start-up, is not imported.
        def outcome(target: str, what: str) -> None:
            if what in _OUTCOMES:
                shown.print(escape(f"{target}: {what}"))

        yield outcome
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=shown,
        transient=True,
    ) as progress:
        tasks = {t: progress.add_task(escape(f"{t}: waiting"), total=None) for t in targets}

        def report(target: str, what: str) -> None:
            progress.update(tasks[target], description=escape(f"{target}: {what}"))
            if what in _OUTCOMES:
                progress.console.print(escape(f"{target}: {what}"))

        yield report


def load_tables() -> None:
    """Import rich's tables now, while the caller waits for something else (its probe)."""
    import rich.table  # noqa: F401, PLC0415


def build_table(result: BuildResult) -> None:
    """Print each target's build outcome and smoke-run."""
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Build", title_justify="left")
    for column in ("target", "status", "method", "seconds", "smoke-run"):
        table.add_column(column, overflow="fold")
    for o in result.outcomes:
        smoke = (
            "; ".join(f"{s.status} ({s.runner or s.reason})" for s in o.manifest.smoke)
            if o.manifest
            else (o.error or o.reason or "")
        )
        table.add_row(
            escape(o.target),
            o.status,
            escape(o.manifest.method if o.manifest else "-"),
            f"{o.seconds:.1f}",
            escape(smoke),
        )
    console().print(table)


def release_table(manifest: ReleaseManifest, where: str) -> None:
    """Print an assembled release: each file, its kind, destinations and sha256."""
    from rich.table import Table  # noqa: PLC0415

    table = Table(
        title=escape(f"{manifest.name} {manifest.version} in {where}"), title_justify="left"
    )
    for column in ("artifact", "kind", "to", "sha256"):
        table.add_column(column, overflow="fold")
    for artifact in manifest.artifacts:
        to = ", ".join(artifact.destinations) or "-"
        table.add_row(escape(artifact.name), artifact.kind, to, artifact.sha256[:16])
    console().print(table)


def keygen_summary(result: KeygenResult) -> None:
    """Say where the throwaway keys are and how to use them."""
    folder = str(result.folder)
    say(
        f"throwaway keys for {', '.join(result.backends) or 'no backend'} in {folder}; use them "
        f"with --keys {folder} (never for a real release)"
    )


def sign_summary(result: SignResult) -> None:
    """Say how many signatures were written and checked."""
    say(
        f"signed and verified: {result.signature_count} signatures of {result.files_signed} "
        f"files, provenance in {result.manifest.provenance or ''}"
    )


def verify_summary(result: VerifyResult) -> None:
    """Say what was verified."""
    absent = f"; {result.absent} not here (not for GitHub)" if result.absent else ""
    say(
        f"verified {result.name} {result.version}: {result.files} files and "
        f"{result.signatures} signatures ({', '.join(result.backends)}) against the signed "
        f"checksums and provenance{absent}: all good"
    )


def preflight_summary(result: PreflightResult) -> None:
    """Say that every check passed."""
    say(f"preflight passed: {len(result.index_files)} files ready for the index, nothing refused")


def publish_summary(result: PublishResult) -> None:
    """Say where the release went and what stayed off the index."""
    reasons = ", ".join(f"{name} ({why})" for name, why in result.kept_from_index) or "none"
    what = "dry run: would upload" if result.status == "dry-run" else "published and read back"
    where = f"; release: {result.release_where}" if result.release_where else ""
    say(f"{what} {result.index_count} files to the index{where}; kept off the index: {reasons}")


def rehearse_table(result: RehearseResult) -> None:
    """Print each target's way through the rehearsal."""
    from rich.table import Table  # noqa: PLC0415

    table = Table(
        title=escape(f"Rehearsal of {result.name} {result.version}"), title_justify="left"
    )
    for column in ("target", "wheel", "archive", "PyPI", "pip", "uv", "archive run"):
        table.add_column(column, overflow="fold")
    for row in result.targets:
        tags = row.wheel.split("-py3-none-", 1)[-1].removesuffix(".whl")
        # The whole reason is in --json; its first clause fits a table.
        parts = row.index.split(":", 2)
        index = f"{parts[0]}:{parts[1]}" if len(parts) > 2 else row.index
        cells = (row.target, tags, row.archive, index, row.pip, row.uv, row.archive_run)
        table.add_row(*map(escape, cells))
    console().print(table)
