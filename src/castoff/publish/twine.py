"""twine in this process: `twine check --strict` verdicts, and uploads through one session."""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from castoff.errors import ToolMissingError
from castoff.runner import redact

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# twine's own secret: whatever twine says is shown without it.
SECRETS = ("TWINE_PASSWORD",)


@dataclass(frozen=True, kw_only=True)
class UploadOutcome:
    """What one upload did: ok, or the HTTP status and whether trying again may help."""

    ok: bool
    status: int | None
    transient: bool
    message: str


# twine's only warnings are a missing description or content type; --strict fails them, and
# PyPI takes such a file (it shows no description). A description that does not render is an
# error ("FAILED"), which PyPI refuses too.
_WARNINGS_ONLY = "FAILED due to warnings"


def require() -> None:
    """Raise ToolMissingError, with how to install it, when twine cannot be imported."""
    try:
        import twine.commands.check  # noqa: PLC0415
        import twine.settings  # noqa: F401, PLC0415
    except ImportError as exc:
        raise ToolMissingError(
            f"twine is not installed ({exc}); castoff publishes through it.",
            hint="Install it: pip install 'castoff[publish]' (or pip install twine).",
        ) from None


def check(files: Sequence[Path]) -> dict[str, str]:
    """Run `twine check --strict` on each file in this process; return what it said of each."""
    require()
    # twine (readme renderers) loads only when there is something to check.
    from twine.commands import check as twine_check  # noqa: PLC0415

    logger = logging.getLogger(twine_check.__name__)
    verdicts: dict[str, str] = {}
    for file in files:
        said = io.StringIO()
        handler = logging.StreamHandler(said)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        saved = logger.propagate, logger.level
        logger.addHandler(handler)
        logger.propagate, logger.level = False, logging.INFO
        try:
            # twine prints each verdict to stdout (castoff's --json output) and logs the rest.
            with contextlib.redirect_stdout(said):
                twine_check.check([str(file)], strict=True)
        # twine's readers (zipfile, tarfile, pkginfo) raise whatever a bad file makes them.
        except Exception as exc:  # noqa: BLE001
            said.write(
                f"Checking {file}: FAILED twine cannot read it ({type(exc).__name__}: {exc})"
            )
        finally:
            logger.removeHandler(handler)
            logger.propagate, logger.level = saved
        verdicts[file.name] = _verdict(said.getvalue(), file)
    return verdicts


def _verdict(text: str, file: Path) -> str:
    """Return what twine check said of one file, from its output."""
    text = _ANSI.sub("", text)
    # rich wraps at the console's width, even inside the file name: the line breaks it put in
    # "Checking <file>: " are skipped; after it, a line break is a space.
    prefix = f"Checking {file}: "
    at = matched = 0
    while at < len(text) and matched < len(prefix):
        if text[at] == "\n":
            at += 1
        elif text[at] == prefix[matched]:
            at, matched = at + 1, matched + 1
        else:
            break
    return " ".join((text[at:] if matched == len(prefix) else text).split())


def check_failures(verdicts: Mapping[str, str]) -> dict[str, str]:
    """Return each file twine check refused as PyPI would, with what twine said about it."""
    return {
        name: verdict
        for name, verdict in verdicts.items()
        if not verdict.startswith("PASSED") and not verdict.startswith(_WARNINGS_ONLY)
    }


def check_warnings(verdicts: Mapping[str, str]) -> list[str]:
    """Return the files --strict failed only for a missing description, which PyPI takes."""
    return [n for n, v in verdicts.items() if v.startswith(_WARNINGS_ONLY)]


class Uploader:
    """twine's own upload, in this process: one session, one credential lookup for every file.

    One `twine.repository.Repository` serves the whole publish, so its connection is reused and
    trusted publishing (in GitHub Actions, with no password given) exchanges one token per
    release, not one per file. What it says is shown with the password taken out.
    """

    def __init__(
        self, repository_url: str, env: Mapping[str, str], *, secrets: Sequence[str] = ()
    ) -> None:
        require()
        self.repository_url = repository_url
        self.secrets = (*secrets, *(env[k] for k in SECRETS if env.get(k)))
        self._env = env
        self._repository: Any = None

    def _connect(self) -> Any:  # noqa: ANN401 - twine's Repository
        """Return twine's Repository, made at the first upload: credentials are resolved once."""
        from twine import settings  # noqa: PLC0415

        if self._repository is None:
            made = settings.Settings(
                repository_url=self.repository_url,
                username=self._env.get("TWINE_USERNAME") or None,
                password=self._env.get("TWINE_PASSWORD") or None,
                non_interactive=True,
                disable_progress_bar=True,
                cacert=self._env.get("TWINE_CERT") or None,
                client_cert=self._env.get("TWINE_CLIENT_CERT") or None,
            )
            # A keyring's password or a trusted publishing token is found here, once.
            self._repository = made.create_repository()
            auth = self._repository.session.auth
            if isinstance(auth, tuple) and len(auth) == 2 and auth[1]:
                self.secrets = (*self.secrets, str(auth[1]))
        return self._repository

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
            repository = self._connect()
            # twine prints "Uploading <file>" to stdout, which is castoff's --json output.
            with contextlib.redirect_stdout(io.StringIO()):
                response = repository.upload(dist)
        except requests.RequestException as exc:
            # No connection, or one that broke mid-answer: the upload may be worth another try.
            return self._failed(None, f"{type(exc).__name__}: {exc}", transient=True)
        except (exceptions.TwineException, OSError) as exc:
            # Credentials twine could not find, a certificate file it could not read, ...
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
