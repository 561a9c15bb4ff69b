"""What a compiled program said when asked its version or sysroot, kept per machine by its identity.

The probe asks rustc and cargo the same questions on every build (`rustc -vV`, `--print
sysroot`, `cargo -V`): about 0.1 CPU-seconds, most of a warm build's start-up. Their answers
depend on nothing but the toolchain answering, so they are kept here, keyed by the program
file's resolved path and stat (device, inode, size, mtime and ctime: an upgrade or any rewrite
changes them; rustc's version text is in its driver library, which the same upgrade replaces
beside it). cargo keeps `rustc -vV` by rustc's path and mtime in the same way
(`target/.rustc_info.json`). Only compiled programs count (ELF, Mach-O, PE): a script can
answer differently by its environment, so it is always asked.

The file is an optimisation: one that does not read as this module wrote it is ignored (and
left as it is), and a cache folder that cannot be read or written keeps nothing. What it says
is checked on use (toolchains.py): a kept answer never names a file the probe would not find.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from castoff.errors import CastoffError
from castoff.manifest import read_document, write_replacing

SCHEMA = 1
FILE = f"probe-answers-{SCHEMA}.json"  # a newer schema starts a file of its own
# An ELF, Mach-O (both byte orders, 32 and 64 bits, universal) or PE (MZ) header.
_COMPILED = (b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
             b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"MZ")  # fmt: skip
# Bounds on what is read back: a few toolchains' answers fit many times over.
_MOST_ANSWERS = 256
_LONGEST_ANSWER = 4096
_LONGEST_QUESTION = 4
_LARGEST_FILE = 4 << 20


@dataclass(frozen=True, kw_only=True)
class Program:
    """A compiled program file as it is now: its resolved path and what stat says of it."""

    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def identify(path: str | Path) -> Program | None:
    """Return the compiled program at path (links resolved), or None for a script or no file."""
    try:
        real = os.path.realpath(path)
        # Only a regular file is opened, and without waiting: a FIFO there must not hang.
        if not stat.S_ISREG(Path(real).stat().st_mode):
            return None
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            head = handle.read(4) if stat.S_ISREG(info.st_mode) else b""
    # ValueError: a NUL or an unencodable character; RecursionError: realpath on 3.11 and
    # 3.12 follows a long chain of links by recursing.
    except (OSError, ValueError, RecursionError):
        return None
    if not head.startswith(_COMPILED):
        return None
    return Program(
        path=real,
        device=info.st_dev,
        inode=info.st_ino,
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        ctime_ns=info.st_ctime_ns,
    )


Key = tuple[Program, tuple[str, ...]]


def _entry(item: object) -> tuple[Key, str] | None:
    """Return one entry of the file, or None when it is not as this module writes them."""
    fields = ("device", "inode", "size", "mtime_ns", "ctime_ns")
    if not isinstance(item, dict) or set(item) != {*fields, "path", "question", "answer"}:
        return None
    numbers = [item[f] for f in fields]
    path, question, answer = item["path"], item["question"], item["answer"]
    if (
        not all(type(n) is int and n >= 0 for n in numbers)
        or not isinstance(path, str)
        or not Path(path).is_absolute()
        or not isinstance(question, list)
        or not 0 < len(question) <= _LONGEST_QUESTION
        or not all(isinstance(q, str) for q in question)
        or not isinstance(answer, str)
        or len(answer) > _LONGEST_ANSWER
    ):
        return None
    if not all(_plain(text) for text in (path, answer, *question)):
        return None
    program = Program(path=path, **{f: item[f] for f in fields})
    return (program, tuple(question)), answer


def _plain(text: str) -> bool:
    """Return whether text can name a file or be an argument: no NUL, encodable."""
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        return False
    return "\0" not in text


def _read(file: Path) -> dict[Key, str] | None:
    """Return the answers kept in file ({} when there is none), or None when it is not ours."""
    try:
        if file.is_symlink():
            return None  # a link planted there is neither read through nor replaced
        if not file.exists():
            return {}
        # castoff's strict reader: a regular file only, opened without waiting (a FIFO planted
        # there does not hang the build), bounded, UTF-8 JSON.
        doc: Any = read_document(file, "castoff's probe answers", limit=_LARGEST_FILE).value
    except (OSError, CastoffError):  # a folder that cannot be read, not JSON, a FIFO, ...
        return None
    items = doc.get("answers") if isinstance(doc, dict) else None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if (
        type(schema) is not int
        or doc != {"schema": SCHEMA, "answers": items}
        or not isinstance(items, list)
    ):
        return None
    entries = [_entry(item) for item in items[: _MOST_ANSWERS + 1]]
    if len(entries) > _MOST_ANSWERS or None in entries:
        return None
    return dict(e for e in entries if e)


class Answers:
    """The kept answers: read once, asked from the probe's threads, written back once."""

    def __init__(self, folder: Path | None) -> None:
        self._file = folder / FILE if folder else None
        kept = _read(self._file) if self._file else None
        self._writable = kept is not None
        self._kept: dict[Key, str] = kept or {}
        self._new: dict[Key, str] = {}
        self._lock = threading.Lock()

    def get(self, program: Program, question: tuple[str, ...]) -> str | None:
        """Return what program answered to question, if it is kept."""
        with self._lock:
            return self._kept.get((program, question))

    def put(self, program: Program, question: tuple[str, ...], answer: str) -> None:
        """Keep what program answered (its exit code was 0), if it can be read back."""
        readable = all(_plain(text) for text in (program.path, answer, *question))
        if readable and len(answer) <= _LONGEST_ANSWER and 0 < len(question) <= _LONGEST_QUESTION:
            with self._lock:
                self._kept[(program, question)] = answer
                self._new[(program, question)] = answer

    def save(self) -> None:
        """Write the answers back when some are new, dropping those of changed programs."""
        with self._lock:
            if not self._new or not self._writable or self._file is None:
                return
            # An answer whose program has since changed (an upgrade) can never be asked again.
            current = {p for p, _ in self._kept if identify(p.path) == p}
            kept = [(k, a) for k, a in self._kept.items() if k[0] in current]
            items = [
                {**asdict(program), "question": list(question), "answer": answer}
                for (program, question), answer in kept[-_MOST_ANSWERS:]
            ]
            self._new.clear()
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            write_replacing(self._file, json.dumps({"schema": SCHEMA, "answers": items}, indent=1))
        except OSError:
            pass  # a cache folder that cannot be written: the next probe asks again
