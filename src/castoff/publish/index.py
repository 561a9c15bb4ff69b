"""Read what a package index serves for a project: PEP 691 JSON, or the PEP 503 HTML page.

The index's answers are input like any other: a page is read up to a size limit and parsed
strictly, and where the index gives no sha256 for a file, the file is downloaded and hashed.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.client import HTTPMessage
from typing import IO

from packaging.utils import canonicalize_name

from castoff.errors import PublishError
from castoff.manifest import MAX_DOCUMENT_BYTES, Field, is_sha256

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


@dataclass(frozen=True, kw_only=True)
class IndexFile:
    """One file the index serves: its name, sha256 (if given), upload time and where it is."""

    filename: str
    sha256: str | None
    upload_time: datetime | None
    url: str | None = None


class _HttpOnly(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only: an index cannot send castoff to file:// or ftp://."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.URLError(f"a redirect to {newurl[:80]} (not http or https)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnly)


def project_url(index_url: str, project: str) -> str:
    """Return the simple-API page of a project (normalized name, trailing slash)."""
    return urllib.parse.urljoin(index_url.rstrip("/") + "/", canonicalize_name(project) + "/")


def _time(value: str | None, where: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PublishError(f"{where}: '{value[:40]}' is not an ISO 8601 time.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_json(text: str, source: str = "the index") -> list[IndexFile]:
    """Parse a PEP 691 project page strictly (a PublishError names what is wrong)."""
    import json  # noqa: PLC0415 - only this reader needs it

    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PublishError(f"{source}: the index's answer is not JSON ({exc}).") from None
    doc = Field(data, "", source, PublishError)
    files = []
    for entry in doc.key("files").items():
        hashes = entry.optional("hashes")
        digest = None
        if hashes is not None and hashes.optional("sha256") is not None:
            digest = hashes.key("sha256").string().lower()
            if not is_sha256(digest):
                hashes.key("sha256").fail("is not a sha256.")
        uploaded = entry.optional("upload-time")
        url = entry.optional("url")
        files.append(
            IndexFile(
                filename=entry.key("filename").string(),
                sha256=digest,
                upload_time=_time(uploaded.optional_string() if uploaded else None, source),
                url=url.string() if url is not None else None,
            )
        )
    return files


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: list[IndexFile] = []
        self._href: str | None = None
        self._uploaded: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            values = dict(attrs)
            self._href = values.get("href") or ""
            self._uploaded = values.get("data-upload-time")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != "a" or self._href is None:
            return
        split = urllib.parse.urlsplit(self._href)
        algorithm, _, digest = split.fragment.partition("=")
        name = "".join(self._text).strip() or urllib.parse.unquote(split.path.rsplit("/", 1)[-1])
        digest = digest.lower()
        self.files.append(
            IndexFile(
                filename=name,
                sha256=digest if algorithm == "sha256" and is_sha256(digest) else None,
                upload_time=_time(self._uploaded, "the index's page"),
                url=self._href,
            )
        )
        self._href = None


def parse_html(text: str) -> list[IndexFile]:
    """Parse a PEP 503 project page: one link per file, sha256 in the URL fragment."""
    parser = _Links()
    parser.feed(text)
    parser.close()
    return parser.files


def _get(url: str, *, accept: str, timeout: float, limit: int) -> tuple[bytes, str, str]:
    """Fetch a URL (http(s) only, bounded); return the body, its content type and final URL."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PublishError(f"{url[:120]}: not an http(s) URL.", hint="Check the index URL.")
    request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 - http(s) only
    with _OPENER.open(request, timeout=timeout) as response:
        body = response.read(limit + 1)
        if len(body) > limit:
            raise PublishError(f"{url}: the index's answer is over {limit} bytes.")
        return body, response.headers.get_content_type(), response.geturl()


def project_files(index_url: str, project: str, *, timeout: float = 30.0) -> dict[str, IndexFile]:
    """Return every file the index serves for a project, by name; none if it has no such project."""
    url = project_url(index_url, project)
    try:
        body, kind, final = _get(url, accept=ACCEPT, timeout=timeout, limit=MAX_DOCUMENT_BYTES)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise PublishError(
            f"{url}: the index answered {exc.code} {exc.reason}.", hint="Check the index URL."
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PublishError(
            f"{url}: the index cannot be reached ({reason}).",
            hint="Check the network and the index URL, then run the step again.",
        ) from None
    text = body.decode("utf-8", "replace")
    files = parse_json(text, url) if kind == JSON_TYPE else parse_html(text)
    found: dict[str, IndexFile] = {}
    for file in files:
        if file.url is not None:
            # Relative links are relative to the page the index answered with.
            file = IndexFile(  # noqa: PLW2901
                filename=file.filename,
                sha256=file.sha256,
                upload_time=file.upload_time,
                url=urllib.parse.urljoin(final, file.url),
            )
        if file.filename in found and found[file.filename] != file:
            raise PublishError(f"{url}: the index lists {file.filename[:100]} twice.")
        found[file.filename] = file
    return found


def served_sha256(file: IndexFile, *, limit: int, timeout: float = 120.0) -> str:
    """Return the sha256 of what the index serves: the one it gives, or that of a download."""
    if file.sha256 is not None:
        return file.sha256
    if not file.url:
        raise PublishError(
            f"the index lists {file.filename} with neither a sha256 nor a link to download it."
        )
    # No hash on the page: the only way to know the bytes is to fetch them (up to the size
    # the file should have, plus a little; more than that is other bytes anyway).
    digest = hashlib.sha256()
    url = file.url.split("#", 1)[0]
    try:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise PublishError(f"{url[:120]}: not an http(s) URL.")
        request = urllib.request.Request(url)  # noqa: S310 - http(s) only, checked above
        with _OPENER.open(request, timeout=timeout) as response:
            size = 0
            while chunk := response.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    return "other bytes (longer than the file)"
                digest.update(chunk)
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PublishError(
            f"{url}: cannot download {file.filename} to compare its bytes ({reason}).",
            hint="The index gives no sha256 for it; check the network, then run the step again.",
        ) from None
    return digest.hexdigest()
