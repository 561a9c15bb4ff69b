"""The publish journal: each file's state, written after every change, so a release can resume."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from castoff.errors import PlanError, PublishError

JOURNAL_FILE = "publish-journal.json"
JOURNAL_SCHEMA_VERSION = 1
# pending: not on the index yet; uploading: an upload started (it may or may not have landed);
# uploaded: twine said yes; present: the index already had these bytes; verified: read back.
State = Literal["pending", "uploading", "uploaded", "present", "verified"]
DONE: tuple[State, ...] = ("uploaded", "present", "verified")


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One file bound for the index."""

    name: str
    sha256: str
    state: State
    attempts: int = 0
    note: str = ""


@dataclass(kw_only=True)
class Journal:
    """The journal of one release's upload to one index, saved after every change."""

    path: Path
    name: str
    version: str
    repository_url: str
    entries: dict[str, Entry] = field(default_factory=dict)
    github: dict[str, Any] = field(default_factory=dict)

    def set(
        self,
        name: str,
        *,
        state: State | None = None,
        attempts: int | None = None,
        note: str | None = None,
    ) -> Entry:
        """Change one file's entry and save the journal at once."""
        entry = self.entries[name]
        self.entries[name] = replace(
            entry,
            state=entry.state if state is None else state,
            attempts=entry.attempts if attempts is None else attempts,
            note=entry.note if note is None else note,
        )
        self.save()
        return self.entries[name]

    def save(self) -> None:
        """Write the journal whole, then move it into place: it is never half-written."""
        doc = {
            "schema_version": JOURNAL_SCHEMA_VERSION,
            "kind": "publish-journal",
            "name": self.name,
            "version": self.version,
            "repository_url": self.repository_url,
            "files": [asdict(e) for e in self.entries.values()],
            "github": self.github,
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)


def open_journal(
    dist: Path,
    *,
    name: str,
    version: str,
    repository_url: str,
    files: list[tuple[str, str]],
    resume: bool,
) -> Journal:
    """Start a journal for these (name, sha256) files, or continue the one there with --resume."""
    path = dist / JOURNAL_FILE
    fresh = Journal(path=path, name=name, version=version, repository_url=repository_url)
    fresh.entries = {n: Entry(name=n, sha256=s, state="pending") for n, s in files}
    if not path.exists():
        fresh.save()
        return fresh
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = {f["name"]: Entry(**f) for f in doc["files"]}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise PlanError(
            f"{path}: not a castoff publish journal ({exc}).",
            hint="Move it away; castoff checks the index before every upload anyway.",
        ) from None
    if not resume:
        done = sum(e.state in DONE for e in entries.values())
        raise PublishError(
            f"{path}: a publish of {doc.get('name')} {doc.get('version')} to "
            f"{doc.get('repository_url')} was started before ({done} of {len(entries)} files "
            "done).",
            hint="Finish it with `castoff publish --resume`; it uploads only what is missing.",
        )
    same = (
        doc.get("name") == name
        and doc.get("version") == version
        and doc.get("repository_url") == repository_url
        and {n: e.sha256 for n, e in entries.items()} == dict(files)
    )
    if not same:
        raise PublishError(
            f"{path}: the journal is of another release or index than {dist} and "
            f"{repository_url} (different files, bytes, version or index).",
            hint="Resume with the same release folder and index, or move the journal away to "
            "start a new publish.",
        )
    fresh.entries = entries
    fresh.github = doc.get("github") or {}
    fresh.save()
    return fresh
