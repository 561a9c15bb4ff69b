"""Nox session factories a project's noxfile calls: castoff's pipeline steps as sessions.

Only nox is imported here, so a noxfile can import this module before castoff's own
dependencies exist; the sessions run the `castoff` command inside their own virtualenv.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import nox

# Installs castoff with the named extras (e.g. "build": maturin and zig) into a session.
Installer = Callable[[nox.Session, Sequence[str]], None]

# The tool versions this castoff was tested with, per extra: a project's sessions install
# exactly these, so a new maturin or twine cannot change a release between two runs. (A unit
# test keeps them equal to castoff's own [dependency-groups].)
TESTED: dict[str, tuple[str, ...]] = {
    "build": ("maturin==1.16.0", "ziglang==0.17.0", "cibuildwheel==4.3.3"),
    "sigstore": ("sigstore==4.5.1", "pypi-attestations==0.0.30"),
    "publish": ("twine==7.0.0",),
    "audit": ("abi3audit==0.0.26",),
    "rehearse": ("twine==7.0.0", "pypiserver[passlib]==2.4.2", "pip==26.3", "uv==0.13.8"),
}


def install_released_castoff(session: nox.Session, extras: Sequence[str]) -> None:
    """Install this castoff's version from the index (or $CASTOFF_REQUIREMENT) into a session."""
    from castoff import __version__  # noqa: PLC0415 - castoff.nox imports only nox at start

    name = f"castoff[{','.join(extras)}]" if extras else "castoff"
    # A checkout or wheel to install instead, e.g. file:///src/castoff (tests, forks); a plain
    # path is made a file:// URL, which is the only spelling pip takes after '@'.
    source = os.environ.get("CASTOFF_REQUIREMENT")
    if source and "://" not in source and Path(source).exists():
        source = Path(source).resolve().as_uri()
    pins = sorted({pin for extra in extras for pin in TESTED.get(extra, ())})
    session.install(f"{name} @ {source}" if source else f"{name}=={__version__}", *pins)


def release_sessions(  # noqa: PLR0915 - one short nested function per session
    *,
    project: str | Path = ".",
    install: Installer = install_released_castoff,
    prepare: Callable[[nox.Session], object] | None = None,
) -> None:
    """Register castoff's sessions for the project whose pyproject.toml is in `project`.

    `prepare` runs first in the sessions that build (build, release, rehearse): a project can
    install its system toolchains there.
    """
    config = str(Path(project) / "pyproject.toml")

    def ready(session: nox.Session) -> None:
        if prepare is not None:
            prepare(session)

    def session(name: str) -> Callable[[Callable[[nox.Session], None]], object]:
        # The workflows call these names: a project session of the same name would be
        # silently replaced (or replace castoff's), so it is refused here.
        if name in nox.registry.get():
            raise ValueError(
                f"noxfile.py defines a session named {name!r} before release_sessions(), "
                f"which registers castoff's own {name!r} (the generated workflows call it). "
                "Rename the project's session."
            )
        return nox.session(name=name)

    @session("plan")
    def plan(session: nox.Session) -> None:
        """Print the release plan; castoff plan options go after `--` (e.g. -- --format json)."""
        install(session, ())
        session.run("castoff", "plan", "--config", config, *session.posargs)

    @session("doctor")
    def doctor(session: nox.Session) -> None:
        """Say how each target builds and smoke-runs here, and how to install what is missing."""
        install(session, ("build",))
        session.run("castoff", "doctor", "--config", config, *session.posargs)

    @session("setup")
    def setup(session: nox.Session) -> None:
        """Install what the targets (or `-- --target T`) need here: apt-get, rustup (CI runners)."""
        install(session, ("build",))
        session.run("castoff", "setup", "--config", config, *session.posargs)

    @session("build")
    def build(session: nox.Session) -> None:
        """Build every target (or `-- --target T`), one folder each under build/."""
        ready(session)
        install(session, ("build",))
        session.run("castoff", "build", "--config", config, *session.posargs)

    @session("assemble")
    def assemble(session: nox.Session) -> None:
        """Merge build/ into dist/: final tags, aliases, audit, checksums, one manifest."""
        install(session, ("audit",))
        args = session.posargs or ["build", "--out", "dist"]
        session.run("castoff", "assemble", "--config", config, *args)

    @session("sign")
    def sign(session: nox.Session) -> None:
        """Sign dist/ with every configured backend and verify it (-- --keys DIR: throwaway)."""
        # The sigstore extra is installed whether or not it signs: verification needs it too.
        install(session, ("sigstore",))
        args = session.posargs or ["dist"]
        session.run("castoff", "sign", "--config", config, *args)

    @session("verify")
    def verify(session: nox.Session) -> None:
        """Check every file's sha256 and every signature in dist/, with public keys only."""
        install(session, ("sigstore",))
        args = session.posargs or ["dist"]
        session.run("castoff", "verify", "--config", config, *args)

    @session("keygen")
    def keygen(session: nox.Session) -> None:
        """Make throwaway keys for rehearsals: -- DIR, then `nox -s sign -- dist --keys DIR`."""
        install(session, ())
        session.run("castoff", "keygen", "--config", config, *session.posargs)

    @session("release")
    def release(session: nox.Session) -> None:
        """Build, assemble, sign, preflight and publish (-- --dry-run: everything but uploads)."""
        ready(session)
        install(session, ("build", "audit", "sigstore", "publish"))
        session.run("castoff", "release", "--config", config, *session.posargs)

    @session("publish")
    def publish(session: nox.Session) -> None:
        """Preflight dist/, then upload it (-- DIST --step stage|index|finish: one destination)."""
        install(session, ("sigstore", "publish"))
        args = session.posargs or ["dist"]
        session.run("castoff", "publish", "--config", config, *args)

    @session("rehearse")
    def rehearse(session: nox.Session) -> None:
        """Rehearse the release: a local pypiserver and folder, then install back and run."""
        ready(session)
        install(session, ("build", "audit", "rehearse"))
        session.run("castoff", "rehearse", "--config", config, *session.posargs)
