"""Reproducible archives named by triple, and sha256sum-format sidecars."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from castoff.build import DEFAULT_EPOCH
from castoff.runner import usable_cores

# Bump when the bytes of an archive change for the same binaries (builds' cache keys hold it):
# 2, gzip at zlib's default level; 3, its deflate stream made in 64 KiB pieces on every core.
ARCHIVE_RECIPE = 3
# As pigz: each piece is deflated apart, primed with the 32 KiB before it (deflate's window), and
# ends on a byte boundary, so the pieces join into one stream any gzip reader reads. The pieces'
# size is fixed, so the bytes do not depend on how many cores made them. Measured on two cores:
# a 26 MB program's archive took 0.72 s (1.2 s in one stream) and was 0.09% larger.
_PIECE = 64 << 10
_WINDOW = 32 << 10
_LEVEL = 6  # zlib's default, as `tar czf`: -9 takes three times as long for 0.6% less


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class NotARegularFileError(OSError):
    """A path that is a link, a folder or a device where castoff expects a plain file."""


def copy_hashed(source: Path, dest: Path, *, limit: int) -> tuple[str, int]:
    """Copy a regular file (never through a link) while hashing it; return its sha256 and size.

    Reading stops past `limit` bytes: the caller knows how big the file should be.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(source, flags)
    except OSError as exc:
        if source.is_symlink():
            raise NotARegularFileError(f"{source.name} is a symbolic link") from None
        raise NotARegularFileError(f"{source.name}: {exc.strerror or exc}") from None
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            raise NotARegularFileError(f"{source.name} is not a regular file")
        with dest.open("xb") as out:
            while chunk := src.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    break
                digest.update(chunk)
                out.write(chunk)
    return digest.hexdigest(), size


def write_sidecar(path: Path, digest: str | None = None) -> Path:
    """Write `<file>.sha256` in `sha256sum` format; pass the digest when it is already known."""
    sidecar = path.with_name(path.name + ".sha256")
    sidecar.write_text(
        f"{digest or sha256_file(path)}  {path.name}\n", encoding="utf-8", newline="\n"
    )
    return sidecar


def write_archive(
    dest: Path, *, folder: str, binaries: Sequence[tuple[str, bytes]], mtime: int
) -> None:
    """Write binaries into `folder/` inside a tar.gz or zip, byte-identical for identical input."""
    members = sorted(binaries)
    if dest.name.endswith(".zip"):
        _write_zip(dest, folder, members, mtime)
    else:
        _write_tar_gz(dest, folder, members, mtime)


def _write_tar_gz(
    dest: Path, folder: str, members: Sequence[tuple[str, bytes]], mtime: int
) -> None:
    raw = io.BytesIO()
    # PAX would add variable headers; GNU format with fixed owners keeps the bytes stable.
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_tar_info(f"{folder}/", tarfile.DIRTYPE, 0o755, 0, mtime))
        for name, data in members:
            tar.addfile(
                _tar_info(f"{folder}/{name}", tarfile.REGTYPE, 0o755, len(data), mtime),
                io.BytesIO(data),
            )
    dest.write_bytes(_gzip(raw.getvalue(), mtime))


def _deflate_piece(data: bytes, index: int, last: bool) -> bytes:
    start = index * _PIECE
    raw_deflate = -zlib.MAX_WBITS
    piece = (
        zlib.compressobj(_LEVEL, zlib.DEFLATED, raw_deflate, zdict=data[start - _WINDOW : start])
        if index
        else zlib.compressobj(_LEVEL, zlib.DEFLATED, raw_deflate)
    )
    body = piece.compress(data[start : start + _PIECE])
    # A sync flush ends a piece on a byte boundary without ending the stream; the last ends it.
    return body + piece.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _gzip(data: bytes, mtime: int) -> bytes:
    """Return data as one gzip member (RFC 1952), deflated in pieces on every core."""
    pieces = max(1, -(-len(data) // _PIECE))
    if pieces == 1:
        deflated = _deflate_piece(data, 0, last=True)
    else:
        # zlib lets go of the interpreter while it compresses: the pieces run side by side.
        with ThreadPoolExecutor(max_workers=min(pieces, usable_cores())) as pool:
            deflated = b"".join(
                pool.map(lambda i: _deflate_piece(data, i, last=i == pieces - 1), range(pieces))
            )
    # The header Python's gzip writes: no name, the given mtime, no extra flags, OS unknown.
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", mtime) + b"\x00\xff"
    return header + deflated + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def _tar_info(name: str, kind: bytes, mode: int, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _write_zip(dest: Path, folder: str, members: Sequence[tuple[str, bytes]], mtime: int) -> None:
    import time  # noqa: PLC0415 - only zip needs the broken-down time

    stamp = time.gmtime(max(mtime, DEFAULT_EPOCH))[:6]
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=stamp)
            info.external_attr = (0o100755 & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode above is honoured
            archive.writestr(info, data)
