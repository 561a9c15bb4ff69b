"""Invoke tasks that run one castoff step by hand; a project's tasks.py exposes `collection()`."""

from __future__ import annotations

from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from castoff.cli import main


def _run(argv: list[str]) -> None:
    # In-process: the same code path as the castoff command, without starting a process.
    code = main(argv)
    if code:
        raise Exit(code=code)


def collection(*, project: str | Path = ".") -> Collection:
    """Return castoff's invoke tasks for the project whose pyproject.toml is in `project`."""
    default_config = str(Path(project) / "pyproject.toml")

    @task(
        help={
            "config": "the project's pyproject.toml",
            "format": "table, json or github-matrix",
            "target": "limit the plan to one target triple",
        }
    )
    def plan(
        c: Context,  # noqa: ARG001 - invoke passes the context first
        config: str = default_config,
        format: str = "table",  # noqa: A002 - the CLI option is called --format
        target: str = "",
    ) -> None:
        """Print the release plan."""
        _run(
            [
                "plan",
                "--config",
                config,
                "--format",
                format,
                *(["--target", target] if target else []),
            ]
        )

    return Collection(plan)
