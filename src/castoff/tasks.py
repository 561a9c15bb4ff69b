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

    @task(help={"path": "a wheel, an archive or a folder (default: dist)"})
    def audit(c: Context, path: str = "dist") -> None:  # noqa: ARG001
        """Check every binary against what its wheel's tags or archive's name promise."""
        _run(["audit", path])

    @task(help={"wheel": "the wheel to retag", "add": "a platform tag to add", "out": "folder"})
    def retag(c: Context, wheel: str, add: str, out: str = "") -> None:  # noqa: ARG001
        """Add a platform tag to a wheel (raw copy of its members), then audit it."""
        _run(["retag", wheel, "--add-platform", add, *(["--out", out] if out else [])])

    @task(help={"builds": "the build folders' parent", "out": "the release folder"})
    def assemble(c: Context, builds: str = "build", out: str = "dist") -> None:  # noqa: ARG001
        """Merge build folders into one verified release folder."""
        _run(["assemble", "--config", default_config, builds, "--out", out])

    @task(help={"dist": "the release folder", "keys": "throwaway keys from `castoff keygen`"})
    def sign(c: Context, dist: str = "dist", keys: str = "") -> None:  # noqa: ARG001
        """Sign every artifact and the provenance with each backend, then verify them."""
        _run(["sign", "--config", default_config, dist, *(["--keys", keys] if keys else [])])

    @task(help={"dist": "the release folder", "keys": "throwaway keys from `castoff keygen`"})
    def verify(c: Context, dist: str = "dist", keys: str = "") -> None:  # noqa: ARG001
        """Check every file's sha256 and every signature it must have, with public keys only."""
        _run(["verify", "--config", default_config, dist, *(["--keys", keys] if keys else [])])

    return Collection(plan, audit, retag, assemble, sign, verify)
