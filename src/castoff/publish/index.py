"""Read what a package index serves for a project: PEP 691 JSON, or the PEP 503 HTML page."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

from packaging.utils import canonicalize_name

from castoff.errors import PublishError

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


@dataclass(frozen=True, kw_only=True)
class IndexFile:
    """One file the index serves: its name, sha256 (if given) and upload time (if given)."""

    filename: str
    sha256: str | None
    upload_time: datetime | None


def project_url(index_url: str, project: str) -> str:
    """Return the simple-API page of a project (normalized name, trailing slash)."""
    return urllib.parse.urljoin(index_url.rstrip("/") + "/", canonicalize_name(project) + "/")


def parse_json(text: str) -> list[IndexFile]:
    """Parse a PEP 691 project page."""
    data = json.loads(text)
    files = []
    for entry in data.get("files", []):
        uploaded = entry.get("upload-time")
        files.append(
            IndexFile(
                filename=entry["filename"],
                sha256=(entry.get("hashes") or {}).get("sha256"),
                upload_time=datetime.fromisoformat(uploaded.replace("Z", "+00:00"))
                if uploaded
                else None,
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
        fragment = urllib.parse.urlsplit(self._href).fragment
        algorithm, _, digest = fragment.partition("=")
        name = "".join(self._text).strip() or urllib.parse.unquote(
            urllib.parse.urlsplit(self._href).path.rsplit("/", 1)[-1]
        )
        self.files.append(
            IndexFile(
                filename=name,
                sha256=digest if algorithm == "sha256" and digest else None,
                upload_time=datetime.fromisoformat(self._uploaded.replace("Z", "+00:00"))
                if self._uploaded
                else None,
            )
        )
        self._href = None


def parse_html(text: str) -> list[IndexFile]:
    """Parse a PEP 503 project page: one link per file, sha256 in the URL fragment."""
    parser = _Links()
    parser.feed(text)
    return parser.files


def project_files(index_url: str, project: str, *, timeout: float = 30.0) -> dict[str, IndexFile]:
    """Return every file the index serves for a project, by name; none if it has no such project."""
    url = project_url(index_url, project)
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})  # noqa: S310 - http(s) only
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PublishError(f"{index_url}: not an http(s) index URL.")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read().decode("utf-8", "replace")
            kind = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise PublishError(
            f"{url}: the index answered {exc.code} {exc.reason}.", hint="Check the index URL."
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PublishError(
            f"{url}: the index cannot be reached ({reason}).",
            hint="Check the network and the index URL, then run the step again.",
        ) from None
    try:
        files = parse_json(body) if kind == JSON_TYPE else parse_html(body)
    except (ValueError, KeyError, TypeError) as exc:
        raise PublishError(f"{url}: cannot read the index's answer ({exc}).") from None
    return {f.filename: f for f in files}
