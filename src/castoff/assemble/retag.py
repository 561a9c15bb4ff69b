"""Add platform tags to a wheel, copying every unchanged member's compressed bytes as they are."""

from __future__ import annotations

import base64
import copy
import csv
import hashlib
import io
import os
import re
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion

from castoff.assemble.contents import ContentsError, Wheel, read_wheel
from castoff.errors import UsageError
from castoff.pypi import tag_set

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # the fixed 30 bytes before a member's name
_DATA_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
_HAS_DATA_DESCRIPTOR = 0x08
_COPY_CHUNK = 1 << 20


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def retagged_name(filename: str, platforms: Iterable[str]) -> str:
    """Return a wheel file name with its platform tag set replaced (sorted)."""
    stem = filename.removesuffix(".whl")
    parts = stem.split("-")
    return "-".join([*parts[:-1], tag_set(platforms)]) + ".whl"


def _raw_span(source: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """Return where a member's local header starts and how long it runs, its data descriptor too."""
    assert source.fp is not None  # noqa: S101 - an open ZipFile has its file
    source.fp.seek(info.header_offset)
    fields = _LOCAL_HEADER.unpack(source.fp.read(_LOCAL_HEADER.size))
    name_length, extra_length = fields[-2], fields[-1]
    length = _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
    if info.flag_bits & _HAS_DATA_DESCRIPTOR:
        # crc, sizes after the data: 12 bytes (16 with its optional signature; zip64 larger).
        source.fp.seek(info.header_offset + length)
        signed = source.fp.read(4) == _DATA_DESCRIPTOR_SIGNATURE
        size = 20 if info.compress_size > 0xFFFFFFFF else 12
        length += size + (4 if signed else 0)
    return info.header_offset, length


def _copy_span(source: IO[bytes], start: int, length: int, out: IO[bytes]) -> None:
    """Append a byte range of one file to another: in the kernel where it can, else by chunks."""
    out.flush()
    copied = 0
    try:
        while copied < length:
            # copy_file_range shares blocks on file systems that can (btrfs, xfs, bcachefs).
            done = os.copy_file_range(
                source.fileno(), out.fileno(), length - copied, start + copied
            )
            if done == 0:
                break
            copied += done
    except (AttributeError, OSError):
        pass  # no copy_file_range (macOS, Windows, old kernels, some file systems): by chunks
    out.seek(0, os.SEEK_END)
    source.seek(start + copied)
    while copied < length:
        chunk = source.read(min(_COPY_CHUNK, length - copied))
        if not chunk:
            raise UsageError("a wheel member ends before its recorded size: the wheel is cut short")
        out.write(chunk)
        copied += len(chunk)


def check_wheel(wheel: Path) -> Wheel:
    """Refuse, as a usage error, a wheel given on the command line that castoff cannot retag."""
    if not wheel.is_file():
        raise UsageError(f"{wheel}: no such wheel file.", hint="Name a .whl file.")
    try:
        # Headers only: a retag copies the programs as they are and audits what they need.
        return read_wheel(wheel, headers_only=True)
    except ContentsError as exc:
        raise UsageError(
            f"{wheel}: {exc.problem}.", hint="castoff retags the wheels castoff builds."
        ) from None


def retag_wheel(
    wheel: Path,
    add_platforms: Iterable[str],
    out_dir: Path,
    *,
    replace: bool = True,
    exact: bool = False,
) -> Path:
    """Write a copy of a wheel with more platform tags (or, `exact`, only these); return its path.

    The tag set in the name and the WHEEL file's Tag lines are rewritten (sorted), RECORD gets
    WHEEL's new hash, and every other member is copied compressed, so a retag costs about what
    copying the file costs. Without `replace`, a file already at the new name is refused.
    """
    try:
        name, version, _, tags = parse_wheel_filename(wheel.name)
    except (InvalidWheelFilename, InvalidVersion) as exc:
        raise UsageError(f"{wheel}: not a wheel file name ({exc}).") from None
    platforms = set(add_platforms) if exact else {t.platform for t in tags} | set(add_platforms)
    interpreters = sorted({(t.interpreter, t.abi) for t in tags})
    target = out_dir / retagged_name(wheel.name, platforms)
    if target.resolve() == wheel.resolve():
        return wheel
    if not replace and (target.exists() or target.is_symlink()):
        raise UsageError(
            f"{target}: already exists; castoff retag does not replace files.",
            hint="Move it away, or pass another folder with --out.",
        )
    dist_info = f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"
    wheel_member, record_member = f"{dist_info}/WHEEL", f"{dist_info}/RECORD"
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, partial_name = tempfile.mkstemp(
        prefix=f".{target.name[:40]}.", suffix=".partial", dir=out_dir
    )
    os.close(fd)
    partial = Path(partial_name)
    try:
        _write_retagged(
            wheel, partial, name=str(name), version=str(version), platforms=platforms,
            interpreters=interpreters, wheel_member=wheel_member, record_member=record_member,
        )  # fmt: skip
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if replace:
        partial.replace(target)
    else:
        try:
            os.link(partial, target)  # fails, rather than replaces, if the name was taken since
        finally:
            partial.unlink(missing_ok=True)
    return target


def _write_retagged(
    wheel: Path,
    partial: Path,
    *,
    name: str,
    version: str,
    platforms: set[str],
    interpreters: list[tuple[str, str]],
    wheel_member: str,
    record_member: str,
) -> None:
    with zipfile.ZipFile(wheel) as source:
        names = set(source.namelist())
        if wheel_member not in names or record_member not in names:
            raise UsageError(
                f"{wheel}: no {wheel_member} or {record_member}; is it a wheel of {name} {version}?"
            )
        metadata = source.read(wheel_member).decode()
        kept = [line for line in metadata.splitlines() if not line.startswith("Tag:")]
        tag_lines = [
            f"Tag: {py}-{abi}-{plat}" for py, abi in interpreters for plat in sorted(platforms)
        ]
        new_wheel = ("\n".join([*kept, *tag_lines]) + "\n").encode()
        # RECORD is CSV (paths may be quoted): read and written as such, WHEEL's row replaced.
        rows = list(csv.reader(source.read(record_member).decode().splitlines()))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in rows:
            if row and row[0] == wheel_member:
                row = [wheel_member, _record_hash(new_wheel), str(len(new_wheel))]  # noqa: PLW2901
            writer.writerow(row)
        new_record = buffer.getvalue().encode()
        with partial.open("wb") as raw_out, zipfile.ZipFile(raw_out, "w") as out:
            for info in source.infolist():
                if info.filename in (wheel_member, record_member):
                    rewritten = copy.copy(info)
                    rewritten.compress_type = zipfile.ZIP_DEFLATED
                    out.writestr(
                        rewritten, new_wheel if info.filename == wheel_member else new_record
                    )
                    continue
                # Raw copy: the local header and compressed bytes as they are, then the member
                # is registered so zipfile writes its central directory entry on close.
                entry = copy.copy(info)
                entry.header_offset = raw_out.tell()
                assert source.fp is not None  # noqa: S101 - an open ZipFile has its file
                _copy_span(source.fp, *_raw_span(source, info), raw_out)
                out.filelist.append(entry)
                out.NameToInfo[entry.filename] = entry
                out.start_dir = raw_out.tell()


def copy_wheel(wheel: Path, out_dir: Path, platforms: Iterable[str]) -> Path:
    """Place a wheel in out_dir with exactly its final tags: a copy if it has them, else a retag.

    The final tags usually add to maturin's; they replace them where maturin could only tag
    plain linux (ppc64 above manylinux2014), which PyPI would refuse.
    """
    _, _, _, tags = parse_wheel_filename(wheel.name)
    final = set(platforms)
    if {t.platform for t in tags} == final:
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / retagged_name(wheel.name, final)
        shutil.copyfile(wheel, target)
        return target
    return retag_wheel(wheel, final, out_dir, exact=True)


def _check_targets(
    wheels: Sequence[Path], add_platforms: Sequence[str], out_dir: Path | None
) -> None:
    """Refuse, before anything is written, a new name that is taken or that two wheels share."""
    targets: set[Path] = set()
    for wheel in wheels:
        try:
            _, _, _, tags = parse_wheel_filename(wheel.name)
        except (InvalidWheelFilename, InvalidVersion) as exc:
            raise UsageError(f"{wheel}: not a wheel file name ({exc}).") from None
        target = (out_dir or wheel.parent) / retagged_name(
            wheel.name, {t.platform for t in tags} | set(add_platforms)
        )
        if target.resolve() == wheel.resolve():
            continue  # it has the tags already: left as it is
        if target.exists() or target.is_symlink() or target.absolute() in targets:
            raise UsageError(
                f"{target}: already exists (or two wheels would be retagged to it); castoff "
                "retag does not replace files.",
                hint="Move it away, or pass another folder with --out.",
            )
        targets.add(target.absolute())


def retag_checked(
    wheels: Sequence[Path], add_platforms: Sequence[str], out_dir: Path | None
) -> list[Path]:
    """Retag wheels given on the command line: every one checked and audited before any is written.

    All or nothing: a wheel that fails its check, its audit or its write leaves none of the new
    wheels behind (only files this call wrote are removed).
    """
    # Imported here: the audit is only needed by this command, and retag starts fast.
    from castoff.assemble.audit import audit_error, audit_members  # noqa: PLC0415

    for tag in add_platforms:
        if not re.fullmatch(r"[a-z0-9_]{1,100}", tag):
            raise UsageError(
                f"--add-platform: '{tag[:60]}' is not a platform tag.",
                hint="Platform tags look like manylinux_2_17_x86_64.",
            )
    if len({w.resolve() for w in wheels}) != len(wheels):
        raise UsageError("a wheel is named twice.", hint="Name each wheel once.")
    _check_targets(wheels, add_platforms, out_dir)
    for wheel in wheels:
        out = out_dir or wheel.parent
        if out.exists() and not out.is_dir():
            raise UsageError(
                f"--out {out}: is a file, not a folder.", hint="Name a folder for the new wheels."
            )
        checked = check_wheel(wheel)
        findings = audit_members(
            checked.programs,
            artifact=wheel.name,
            tags={t.platform for t in checked.tags} | set(add_platforms),
        )
        if findings:
            raise audit_error(findings, {"wheel": str(wheel)})
    results: list[Path] = []
    written: list[Path] = []
    try:
        for wheel in wheels:
            results.append(
                retag_wheel(wheel, add_platforms, out_dir or wheel.parent, replace=False)
            )
            if results[-1].resolve() != wheel.resolve():  # a wheel that has its tags stays as is
                written.append(results[-1])
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return results
