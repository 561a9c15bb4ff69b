"""twine in this process: `twine check --strict` verdicts, and uploads through one session."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from castoff.errors import ToolMissingError
from castoff.runner import redact

# twine's own secret: whatever twine says is shown without it.
SECRETS = ("TWINE_PASSWORD",)
_RENEW = 600.0  # seconds before a connection without a password is made again (a fresh token)


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
        import twine.settings  # noqa: F401, PLC0415
    except ImportError as exc:
        raise _missing(exc) from None
    # readme_renderer comes with twine; docutils loads only for a reStructuredText check.
    if importlib.util.find_spec("readme_renderer") is None:
        raise _missing(ImportError("No module named 'readme_renderer'"))


def _missing(exc: ImportError) -> ToolMissingError:
    return ToolMissingError(
        f"twine cannot be loaded ({exc}); castoff publishes through it.",
        hint="Install it: pip install 'castoff[publish]' (or pip install twine).",
    )


def check(files: Sequence[Path]) -> dict[str, str]:
    """Check each file's description as `twine check --strict` does; return a verdict per file.

    twine's metadata reader and readme_renderer (what PyPI renders descriptions with) are called
    in this process: "PASSED", "FAILED due to warnings: ..." (a missing description or content
    type, which PyPI takes) or "FAILED: ..." (a description PyPI cannot render, or no metadata).
    """
    require()
    reader = _metadata_reader()
    rendered: dict[str, str | None] = {}  # one render per description: most files share one
    verdicts: dict[str, str] = {}
    for file in files:
        try:
            fields = reader(str(file))
        # twine's readers (zipfile, tarfile, pkginfo) raise whatever a bad file makes them.
        except Exception as exc:  # noqa: BLE001
            verdicts[file.name] = f"FAILED: twine cannot read it ({type(exc).__name__}: {exc})"
            continue
        description = str(fields.get("description") or "")
        content_type = str(fields.get("description_content_type") or "")
        warnings = []
        if not content_type:
            warnings.append("`long_description_content_type` missing (read as text/x-rst)")
        if not description.strip() or description.rstrip() == "UNKNOWN":
            warnings.append("`long_description` missing")
        elif content_type.split(";", maxsplit=1)[0].strip().lower() in ("", "text/x-rst"):
            # Markdown and plain text always render; reStructuredText may not.
            if description not in rendered:
                rendered[description] = _rst_problem(description)
            if (problem := rendered[description]) is not None:
                verdicts[file.name] = f"FAILED: the description does not render: {problem}"
                continue
        verdicts[file.name] = f"{_WARNINGS_ONLY}: {'; '.join(warnings)}" if warnings else "PASSED"
    return verdicts


def _rst_problem(description: str) -> str | None:
    """Return what readme_renderer says of a reStructuredText description it cannot render."""
    try:
        from readme_renderer import rst  # noqa: PLC0415 - docutils is slow to load, rarely needed
    except ImportError as exc:
        raise _missing(exc) from None
    said = io.StringIO()
    if rst.render(description, stream=said) is not None:
        return None
    return " ".join(said.getvalue().split())[:500]


@functools.cache
def _metadata_reader() -> Callable[[str], Mapping[str, object]]:
    """Return twine's reader of a distribution's metadata: twine's checks, without the hashing.

    twine's `PackageFile.from_filename` reads and validates the metadata, then hashes the whole
    file for an upload; a check needs the metadata alone.
    """
    from packaging.metadata import RawMetadata  # noqa: PLC0415
    from twine import package  # noqa: PLC0415 - loads only when there is something to check

    class MetadataOnly(package.PackageFile):
        # from_filename makes cls(filename, comment, metadata, python_version, filetype).
        def __init__(self, _file: str, _note: str | None, metadata: RawMetadata, *_: str) -> None:
            self.metadata = metadata

    return lambda path: MetadataOnly.from_filename(path, None).metadata


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
        self._since = 0.0

    def _connect(self) -> Any:  # noqa: ANN401 - twine's Repository
        """Return twine's Repository, made at the first upload: credentials are resolved once.

        A token found by trusted publishing lasts 15 minutes: without a password, the
        connection (and its token) is made again after 10.
        """
        from twine import settings  # noqa: PLC0415

        renew = not self._env.get("TWINE_PASSWORD") and time.monotonic() - self._since > _RENEW
        if self._repository is not None and renew:
            self._repository.close()
            self._repository = None
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
            # A keyring's password or a trusted publishing token is found here.
            self._repository = made.create_repository()
            self._since = time.monotonic()
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
        # twine's trusted publishing reads the index's JSON answers by key, unguarded.
        except Exception as exc:  # noqa: BLE001
            return self._failed(None, f"twine failed: {type(exc).__name__}: {exc}", transient=False)
        return self._answer(response)

    def _answer(self, response: Any) -> UploadOutcome:  # noqa: ANN401 - a requests Response
        """Read the index's answer to an upload."""
        if response.is_redirect:
            where = response.headers.get("location", "?")
            return self._failed(
                response.status_code, f"the index redirected the upload to {where}", transient=False
            )
        if 200 <= response.status_code < 300:
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
