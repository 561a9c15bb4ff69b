"""Folders castoff owns: a marker it writes, so it only ever replaces or deletes its own files.

A folder castoff makes (a release folder, a target's build folder, a rehearsal's work folder)
gets `.castoff.json`: its kind and the names of the entries castoff wrote there. castoff writes
into a folder that is new, empty or marked with the same kind, and it deletes only the entries
the marker lists: anything else in the folder is someone else's, and the command refuses.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from castoff.errors import CastoffError
from castoff.manifest import write_replacing

MARKER = ".castoff.json"
Kind = Literal["release", "build", "rehearsal", "keys"]


def _read_marker(folder: Path) -> tuple[str, set[str]] | None:
    path = folder / MARKER
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("castoff") != 1:
        return None
    kind, files = data.get("kind"), data.get("files")
    if not isinstance(kind, str) or not isinstance(files, list):
        return None
    # A plain name in this folder: no separator of any OS (Windows takes '\\' and 'C:').
    names = {
        f
        for f in files
        if isinstance(f, str) and f and not set(f) & set("/\\:") and f not in (".", "..")
    }
    return kind, names


def owned_entries(folder: Path, kind: Kind) -> set[str] | None:
    """Return the entries castoff wrote in a folder marked as `kind`, or None if unmarked."""
    marker = _read_marker(folder)
    if marker is None or marker[0] != kind:
        return None
    return marker[1]


def mark(folder: Path, kind: Kind, files: Iterable[str]) -> None:
    """Write (or extend) the marker: the folder is castoff's, with these entries its own."""
    before = owned_entries(folder, kind) or set()
    names = sorted(before | {f for f in files if f != MARKER})
    write_replacing(
        folder / MARKER, json.dumps({"castoff": 1, "kind": kind, "files": names}, indent=1) + "\n"
    )


def foreign_entries(folder: Path, kind: Kind) -> list[str] | None:
    """Return the entries of an existing folder castoff did not write; None when it may not own it.

    None: the folder is not empty and carries no marker of this kind, so none of it is castoff's.
    """
    entries = sorted(p.name for p in folder.iterdir())
    if not entries:
        return []
    owned = owned_entries(folder, kind)
    if owned is None:
        return None
    return [e for e in entries if e not in owned and e != MARKER]


def check_claimable(folder: Path, kind: Kind, error: type[CastoffError], option: str) -> None:
    """Refuse a folder castoff may not write into: a file, a link, or someone else's folder."""
    what = {
        "release": "release folder",
        "build": "build folder",
        "rehearsal": "work folder",
        "keys": "keys folder",
    }
    name = what.get(kind, "folder")
    if folder.is_symlink():
        raise error(
            f"{folder}: is a symbolic link; castoff writes a {name} only into a real folder.",
            hint=f"Pass the folder it points to, or a new one, as {option}.",
        )
    if folder.exists() and not folder.is_dir():
        raise error(
            f"{folder}: is a file, not a folder.",
            hint=f"Choose a new or empty folder for {option}.",
        )
    if not folder.exists():
        return
    try:
        foreign = foreign_entries(folder, kind)
    except OSError as exc:
        raise error(f"{folder}: cannot be read ({exc.strerror or exc}).") from None
    if foreign is None:
        marker = _read_marker(folder)
        state = (
            f"its {MARKER} says it is a {marker[0]} folder"
            if marker is not None
            else f"it has no readable {MARKER} marker"
        )
        raise error(
            f"{folder}: is not empty and is not a {name} castoff made ({state}); castoff never "
            "replaces files it did not write.",
            hint=f"Choose a new or empty folder for {option}, or move this one away (a folder "
            "from a castoff older than its marker has to be removed by hand once).",
        )
    if foreign:
        shown = ", ".join(foreign[:8]) + (" ..." if len(foreign) > 8 else "")
        raise error(
            f"{folder}: holds files castoff did not write: {shown}; castoff would have to "
            "delete them to replace the folder.",
            hint=f"Move them out of {folder}, or choose another folder for {option}.",
        )


def remove_owned(folder: Path, kind: Kind) -> None:
    """Delete what castoff wrote in a folder (the marker says what), then the folder if empty."""
    owned = owned_entries(folder, kind) or set()
    for name in owned:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    (folder / MARKER).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


@contextmanager
def staging_beside(target: Path) -> Iterator[Path]:
    """Yield a new private folder beside target (same file system); removed unless moved away."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.castoff-", dir=target.parent))
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def replace_folder(staging: Path, target: Path, kind: Kind) -> None:
    """Move a finished staging folder into place; an earlier castoff folder there is removed.

    The caller has run check_claimable: target is new, empty, or castoff's own of this kind.
    """
    if not target.exists():
        staging.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.castoff-old-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        staging.rename(target)
    except OSError:
        old.rename(target)
        raise
    if owned_entries(old, kind) is None and not any(old.iterdir()):
        old.rmdir()
    else:
        remove_owned(old, kind)
