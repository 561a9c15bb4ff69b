"""Unit tests are pure: any attempt to start a process or open a socket fails the test."""

from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest


def _refuse(*args: Any, **_kwargs: Any) -> NoReturn:
    raise AssertionError(f"unit tests must not reach the outside world (called with {args!r})")


@pytest.fixture(autouse=True)
def _no_outside_world(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make subprocess and sockets raise inside unit tests."""
    monkeypatch.setattr(subprocess, "Popen", _refuse)
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr("os.system", _refuse)
    monkeypatch.setattr("os.execv", _refuse)
