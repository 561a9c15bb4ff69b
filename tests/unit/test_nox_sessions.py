"""castoff's nox sessions install castoff as a project's noxfile asks, without a network."""

from __future__ import annotations

from pathlib import Path

import pytest

from castoff import __version__
from castoff.nox import install_released_castoff


class Recorder:
    """Stands in for nox.Session: records what would be installed."""

    def __init__(self) -> None:
        self.installed: list[tuple[str, ...]] = []

    def install(self, *args: str) -> None:
        """Record one `session.install` call."""
        self.installed.append(args)


@pytest.mark.parametrize("spelling", ["path", "url"])
def test_a_checkout_path_or_url_in_castoff_requirement_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    """A plain path (as a user types it) becomes the file:// URL pip needs after '@'."""
    checkout = tmp_path / "castoff checkout"
    checkout.mkdir()
    monkeypatch.setenv(
        "CASTOFF_REQUIREMENT", str(checkout) if spelling == "path" else checkout.as_uri()
    )
    session = Recorder()
    install_released_castoff(session, ())  # type: ignore[arg-type]
    assert session.installed == [(f"castoff @ {checkout.as_uri()}",)]


def test_without_castoff_requirement_this_version_is_pinned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A user's noxfile installs the castoff that wrote it, from the index."""
    monkeypatch.delenv("CASTOFF_REQUIREMENT", raising=False)
    session = Recorder()
    install_released_castoff(session, ())  # type: ignore[arg-type]
    assert session.installed == [(f"castoff=={__version__}",)]
