"""Signing backends: each signs with secret material and verifies with public material only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class Signer(Protocol):
    """Writes one backend's signatures beside files (in the signing step's staging folder)."""

    backend: str

    def sign(self, files: Sequence[Path]) -> None:
        """Write each file's signatures beside it; raise SignError naming the file on failure."""


class Checker(Protocol):
    """Verifies one backend's signature of a file with public material only."""

    backend: str
    # Whether verify may run beside other verifications: it starts a process of its own
    # (an in-process library's verifier runs one at a time).
    concurrent: bool

    def verify(self, file: Path, signature: Path) -> str | None:
        """Return why the signature does not check out, or None when it does."""


def last_line(text: str) -> str:
    """Return a tool's last non-empty line of output: the one that says what went wrong."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
