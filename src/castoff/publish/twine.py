"""twine: `twine check --strict` as a command, and uploads through twine's API in this process."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from castoff.runner import Command, Result, redact

_INSTALL = "pip install twine"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PLAIN = {"NO_COLOR": "1"}
# What twine reads for an upload: credentials (the password is a secret) and certificates.
SECRETS = ("TWINE_PASSWORD",)
VARIABLES = ("TWINE_USERNAME", "TWINE_PASSWORD", "TWINE_CERT", "TWINE_CLIENT_CERT")


@dataclass(frozen=True, kw_only=True)
class UploadOutcome:
    """What one upload did: ok, or the HTTP status and whether trying again may help."""

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


class Uploader:
    """twine's own upload, in this process: one session, one credential lookup for every file.

    One `twine.repository.Repository` serves the whole publish, so its connection is reused and
    trusted publishing (in GitHub Actions, with no password given) exchanges one token per
    release, not one per file. What it says is shown with the password taken out.
    """

    def __init__(
        self, repository_url: str, env: Mapping[str, str], *, secrets: Sequence[str] = ()
    ) -> None:
        # twine (requests, rich, readme renderers) loads only when something is uploaded.
        from twine import settings  # noqa: PLC0415

        self.repository_url = repository_url
        self.secrets = (*secrets, *(env[k] for k in SECRETS if env.get(k)))
        self._settings = settings.Settings(
            repository_url=repository_url,
            username=env.get("TWINE_USERNAME") or None,
            password=env.get("TWINE_PASSWORD") or None,
            non_interactive=True,
            disable_progress_bar=True,
            cacert=env.get("TWINE_CERT") or None,
            client_cert=env.get("TWINE_CLIENT_CERT") or None,
        )
        self._repository: Any = None

    def __enter__(self) -> Uploader:
        return self

    def __exit__(self, *_: object) -> None:
        if self._repository is not None:
            self._repository.close()

    def upload(self, file: Path, attestation: Path | None) -> UploadOutcome:
        """Upload one file (and its PEP 740 attestation); say how it went, never raising."""
        import requests  # noqa: PLC0415
        from twine import exceptions, package  # noqa: PLC0415

        try:
            dist = package.PackageFile.from_filename(str(file), comment=None)
            if attestation is not None:
                dist.add_attestations([str(attestation)])
        # twine's readers (zipfile, tarfile, pkginfo) raise whatever a bad file makes them.
        except Exception as exc:  # noqa: BLE001
            return self._failed(None, f"twine cannot read {file.name}: {exc}", transient=False)
        try:
            if self._repository is None:
                # Credentials are resolved here, once: a keyring, or a trusted publishing token.
                self._repository = self._settings.create_repository()
            # twine prints "Uploading <file>" to stdout, which is castoff's --json output.
            with contextlib.redirect_stdout(io.StringIO()):
                response = self._repository.upload(dist)
        except requests.RequestException as exc:
            # No connection, or one that broke mid-answer: the upload may be worth another try.
            return self._failed(None, f"{type(exc).__name__}: {exc}", transient=True)
        except exceptions.TwineException as exc:
            return self._failed(None, f"{type(exc).__name__}: {exc}", transient=False)
        if response.is_redirect:
            where = response.headers.get("location", "?")
            return self._failed(
                response.status_code, f"the index redirected the upload to {where}", transient=False
            )
        if response.status_code == 200:
            return UploadOutcome(ok=True, status=None, transient=False, message="")
        status = response.status_code
        body = " ".join((response.text or "").split())[:300]
        return self._failed(
            status,
            f"HTTPError: {status} {response.reason} from {response.url} {body}".strip(),
            transient=status >= 500 or status in (408, 429),
        )

    def _failed(self, status: int | None, message: str, *, transient: bool) -> UploadOutcome:
        return UploadOutcome(
            ok=False, status=status, transient=transient, message=redact(message, self.secrets)
        )
