"""The `castoff` command line: the only place where errors become output and exit codes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from castoff import __version__
from castoff import config as config_module
from castoff.errors import CastoffError
from castoff.plan import ReleasePlan, build_plan, select_targets

Command = Callable[[argparse.Namespace, "Settings"], int]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where the config is and which targets to act on, resolved in one documented order."""

    config_path: Path
    targets: tuple[str, ...]
    targets_source: str


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
    return Settings(config_path=config_path, targets=targets, targets_source=source)


def _load_plan(settings: Settings) -> ReleasePlan:
    config = config_module.load(settings.config_path)
    only = select_targets(config, settings.targets, source=settings.targets_source)
    return build_plan(config, only=only)


def _cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    plan = _load_plan(settings)
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
    # Piped output gets room for whole file names; a terminal keeps its own width.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    wheels = {a.target: a for a in plan.artifacts if a.kind == "wheel"}
    table = Table(
        title=f"{plan.name} {plan.version}: {len(plan.jobs)} build jobs", title_justify="left"
    )
    table.add_column("target", no_wrap=True)
    table.add_column("method")
    table.add_column("PyPI", overflow="fold")
    table.add_column("wheel platform tags", overflow="fold")
    for job in plan.jobs:
        wheel = wheels[job.target]
        pypi = next((e.reason for e in wheel.excluded if e.destination == "pypi"), "upload")
        table.add_row(*map(escape, (job.target, job.method, pypi, ".".join(wheel.platform_tags))))
    console.print(table)
    aliases = [a for a in plan.artifacts if a.kind == "archive" and a.alias_of]
    if aliases:
        alias_table = Table(title="Aliases", title_justify="left")
        alias_table.add_column("archive", overflow="fold")
        alias_table.add_column("a copy of", overflow="fold")
        for artifact in aliases:
            alias_table.add_row(escape(artifact.name), escape(artifact.alias_of or ""))
        console.print(alias_table)
    github = [a for a in plan.artifacts if "github" in a.destinations]
    signatures = sum(len(a.signatures) for a in plan.artifacts)
    console.print(
        f"GitHub release: {len(github)} files and {signatures} signatures. "
        f"PyPI: {sum('pypi' in a.destinations for a in plan.artifacts)} wheels. "
        "Every file with its destinations: castoff plan --format json"
    )


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
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run castoff and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = resolve_settings(args, os.environ if env is None else env)
        command: Command = args.func
        return command(args, settings)
    except CastoffError as exc:
        if args.debug:
            traceback.print_exc()
        if getattr(args, "json", False):
            error = {
                "error": {
                    "kind": type(exc).__name__,
                    "exit_code": exc.exit_code,
                    "message": exc.message,
                    "hint": exc.hint,
                }
            }
            sys.stdout.write(json.dumps(error, indent=2) + "\n")
        Console(stderr=True, soft_wrap=True, highlight=False).print(
            f"[bold red]castoff: error:[/bold red] {escape(exc.paragraph())}"
        )
        return exc.exit_code


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
