"""Nox session factories a project's noxfile calls: castoff's pipeline steps as sessions.

Only nox is imported here, so a noxfile can import this module before castoff's own
dependencies exist; the sessions run the `castoff` command inside their own virtualenv.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nox

Installer = Callable[[nox.Session], None]


def install_released_castoff(session: nox.Session) -> None:
    """Install castoff from the package index into a session."""
    session.install("castoff")


def release_sessions(
    *, project: str | Path = ".", install: Installer = install_released_castoff
) -> None:
    """Register castoff's sessions for the project whose pyproject.toml is in `project`."""
    config = str(Path(project) / "pyproject.toml")

    @nox.session(name="plan")
    def plan(session: nox.Session) -> None:
        """Print the release plan; castoff plan options go after `--` (e.g. -- --format json)."""
        install(session)
        session.run("castoff", "plan", "--config", config, *session.posargs)
