"""The publish journal (each file's state, written after every change) and the publish lock.

The journal is a hint for people and for `--resume`; the index is the truth: a resumed publish
asks the index about every file, whatever the journal says. The lock makes one publish per
release folder at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

from castoff.errors import PlanError, PublishError
from castoff.filelock import try_lock
from castoff.folders import mark
from castoff.manifest import JOURNAL_FILE, PUBLISH_LOCK, read_document, write_document

JOURNAL_SCHEMA_VERSION = 1
# pending: not on the index yet; uploading: an upload started (it may or may not have landed);
# uploaded: twine said yes; present: the index already had these bytes; verified: read back.
State = Literal["pending", "uploading", "uploaded", "present", "verified"]
STATES: tuple[str, ...] = get_args(State)
DONE: tuple[State, ...] = ("uploaded", "present", "verified")
__all__ = ["DONE", "JOURNAL_FILE", "Entry", "Journal", "open_journal", "publish_lock"]


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

    def set_all(self, names: Iterable[str], state: State) -> None:
        """Give several files one state and save the journal once."""
        for name in names:
            self.entries[name] = replace(self.entries[name], state=state)
        self.save()

    def save(self) -> None:
        """Write the journal whole, then move it into place: it is never half-written."""
        doc = {
            "schema_version": JOURNAL_SCHEMA_VERSION,
            "kind": "publish-journal",
            "name": self.name,
            "version": self.version,
            "repository_url": self.repository_url,
            # Its fields are plain values: a copy of each entry's own, without asdict's deep copy
            # (the journal is saved twice per uploaded file).
            "files": [dict(vars(e)) for e in self.entries.values()],
            "github": self.github,
        }
        write_document(self.path, doc)


@dataclass(frozen=True, kw_only=True)
class _Saved:
    name: str
    version: str
    repository_url: str
    entries: dict[str, Entry]
    github: dict[str, Any]


def read_journal(path: Path) -> _Saved:
    """Read a journal strictly; anything else is a PlanError naming the field."""
    doc = read_document(path, "a castoff publish journal")
    doc.object()
    if doc.key("schema_version").value != JOURNAL_SCHEMA_VERSION:
        doc.key("schema_version").fail(f"is not {JOURNAL_SCHEMA_VERSION}.")
    if doc.key("kind").value != "publish-journal":
        doc.key("kind").fail("is not 'publish-journal'.")
    entries: dict[str, Entry] = {}
    for item in doc.key("files").items():
        item.only(("name", "sha256", "state", "attempts", "note"))
        name = item.key("name").file_name()
        if name in entries:
            item.fail(f"lists {name} a second time.")
        entries[name] = Entry(
            name=name,
            sha256=item.key("sha256").sha256(),
            state=cast("State", item.key("state").choice(STATES)),
            attempts=item.key("attempts").integer(),
            note=item.key("note").string(),
        )
    github = doc.optional("github")
    return _Saved(
        name=doc.key("name").string(),
        version=doc.key("version").string(),
        repository_url=doc.key("repository_url").string(),
        entries=entries,
        github=github.object() if github is not None else {},
    )


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
    if not path.exists() and not path.is_symlink():
        fresh.save()
        mark(dist, "release", [JOURNAL_FILE])
        return fresh
    if path.is_symlink() or not path.is_file():
        raise PlanError(
            f"{path}: is not a plain file, so not a castoff publish journal.",
            hint="Move it away; castoff checks the index before every upload anyway.",
        )
    try:
        saved = read_journal(path)
    except PlanError as exc:
        raise PlanError(
            exc.message,
            hint="Move it away to start over; castoff asks the index about every file anyway.",
        ) from None
    if not resume:
        done = sum(e.state in DONE for e in saved.entries.values())
        raise PublishError(
            f"{path}: a publish of {saved.name} {saved.version} was started before ({done} of "
            f"{len(saved.entries)} files done).",
            hint="Finish it with `castoff publish --resume`; it uploads only what is missing.",
        )
    same = (
        saved.name == name
        and saved.version == version
        and saved.repository_url == repository_url
        and {n: e.sha256 for n, e in saved.entries.items()} == dict(files)
    )
    if not same:
        differs = [
            what
            for what, equal in (
                ("name", saved.name == name),
                ("version", saved.version == version),
                ("index", saved.repository_url == repository_url),
                (
                    "files or their bytes",
                    {n: e.sha256 for n, e in saved.entries.items()} == dict(files),
                ),
            )
            if not equal
        ]
        raise PublishError(
            f"{path}: records a publish of {saved.name} {saved.version} to "
            f"{saved.repository_url}; this one is {name} {version} to {repository_url} (they "
            f"differ in: {', '.join(differs)}).",
            hint=f"Resume with --repository-url {saved.repository_url} and this folder as it "
            "was verified, or move the journal away to start a new publish.",
        )
    fresh.entries = saved.entries
    fresh.github = saved.github
    fresh.save()
    return fresh


@contextlib.contextmanager
def publish_lock(dist: Path) -> Iterator[None]:
    """Hold the release folder's publish lock (an OS lock); a second holder is told who has it."""
    path = dist / PUBLISH_LOCK
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        link = " (it is a symbolic link: remove it)" if path.is_symlink() else ""
        raise PublishError(
            f"{path}: cannot open the publish lock ({exc.strerror or exc}){link}.",
            hint="castoff keeps this file beside the release; check the folder's permissions.",
        ) from None
    try:
        if not try_lock(fd):
            try:
                os.lseek(fd, 0, os.SEEK_SET)
                holder = os.read(fd, 4096).decode("utf-8", "replace").strip()
            except OSError:  # Windows: the holder's locked byte cannot be read
                holder = ""
            try:
                who = json.loads(holder)
                said = (
                    f"process {who['pid']} on {who['host']}, since {who['since']}"
                    if isinstance(who, dict)
                    else holder[:200]
                )
            except (json.JSONDecodeError, KeyError, TypeError):
                said = holder[:200] or "another process"
            raise PublishError(
                f"{dist}: another publish of this release folder is running ({said}; it holds "
                f"{path}).",
                hint="Wait for it to finish (or stop it: the lock goes with its process), then "
                "run `castoff publish --resume`.",
            )
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(me) + "\n").encode())
        mark(dist, "release", [PUBLISH_LOCK])
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)
