"""twine commands: `twine check --strict` and one `twine upload` per file, with its outcome read."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from castoff.runner import Command, Result

_INSTALL = "pip install twine"
_STATUS = re.compile(r"HTTPError: (\d{3})")
# What requests and urllib3 say when the connection, not the server, failed.
_CONNECTION = re.compile(
    r"ConnectionError|Connection aborted|Connection refused|RemoteDisconnected|Max retries exceeded"
    r"|timed out|ProtocolError|ChunkedEncodingError|IncompleteRead"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PLAIN = {"NO_COLOR": "1"}


@dataclass(frozen=True, kw_only=True)
class UploadOutcome:
    """What one `twine upload` did: ok, or the HTTP status and whether trying again may help."""

    ok: bool
    status: int | None
    transient: bool
    message: str


def check_command(files: Sequence[Path]) -> Command:
    """Return `twine check --strict` over the files."""
    return Command(
        argv=(sys.executable, "-m", "twine", "check", "--strict", *map(str, files)),
        env=_PLAIN,
        install_hint=_INSTALL,
    )


# twine's only warnings are a missing description or content type; --strict fails them, and
# PyPI takes such a file (it shows no description). A description that does not render is an
# error ("FAILED"), which PyPI refuses too.
_WARNINGS_ONLY = "FAILED due to warnings"


def _verdicts(result: Result, files: Sequence[Path]) -> dict[str, str]:
    """Return what twine check said of each file it names."""
    # twine's rich console wraps at 80 columns, even inside a file name; the line breaks it
    # adds carry no meaning, so the text is read with them taken out.
    text = _ANSI.sub("", result.stdout + result.stderr).replace("\n", "")
    verdicts: dict[str, str] = {}
    for file in files:
        at = text.find(f"{file}: ")
        if at >= 0:
            verdict = text[at + len(str(file)) + 2 :].split("Checking ", 1)[0]
            verdicts[file.name] = " ".join(verdict.split())
    return verdicts


def check_failures(result: Result, files: Sequence[Path]) -> dict[str, str]:
    """Return each file twine check refused as PyPI would, with what twine said about it."""
    return {
        name: verdict
        for name, verdict in _verdicts(result, files).items()
        if verdict.startswith("FAILED") and not verdict.startswith(_WARNINGS_ONLY)
    }


def check_warnings(result: Result, files: Sequence[Path]) -> list[str]:
    """Return the files --strict failed only for a missing description, which PyPI takes."""
    return [n for n, v in _verdicts(result, files).items() if v.startswith(_WARNINGS_ONLY)]


def upload_command(file: Path, *, repository_url: str, attestations: Sequence[Path]) -> Command:
    """Return `twine upload` of one file (and its PEP 740 attestations), never prompting."""
    return Command(
        argv=(
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            repository_url,
            *(["--attestations"] if attestations else []),
            str(file),
            *map(str, attestations),
        ),
        env=_PLAIN,
        install_hint=_INSTALL,
    )


def outcome(result: Result) -> UploadOutcome:
    """Read twine's exit code and output: the HTTP status, and whether it is worth a retry."""
    if result.returncode == 0:
        return UploadOutcome(ok=True, status=None, transient=False, message="")
    text = _ANSI.sub("", f"{result.stdout}\n{result.stderr}")
    match = _STATUS.search(text)
    status = int(match[1]) if match else None
    transient = (status is not None and (status >= 500 or status in (408, 429))) or (
        status is None and bool(_CONNECTION.search(text))
    )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "HTTPError" in line or "ERROR" in line), 0)
    return UploadOutcome(
        ok=False, status=status, transient=transient, message=" ".join(lines[start:][:6])
    )
