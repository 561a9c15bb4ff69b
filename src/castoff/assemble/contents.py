"""Read wheels and archives as an attacker might have made them: streamed, bounded, checked.

Build folders come from CI jobs. Before castoff copies, retags or audits a wheel or an archive,
every member is read once, as a stream, into a bounded spool: names that leave their folder,
links, devices, duplicates, sizes no binary has, RECORD hashes that do not match, a dist-info
that names another project or version, and binaries that are missing, not executable or of the
wrong file type are all refused with a ContentsError that names the member.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import gzip
import hashlib
import re
import stat
import struct
import tarfile
import tempfile
import tomllib
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Literal, NoReturn, cast

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from castoff.assemble.elf import ElfFacts
    from castoff.assemble.macho import MachOFacts
    from castoff.assemble.pe import PeFacts

# No Rust binary comes near these; a member above them is a bomb or a mistake.
MAX_MEMBER_BYTES = 1 << 30
MAX_TOTAL_BYTES = 4 << 30
MAX_MEMBERS = 20_000
MAX_METADATA_BYTES = 4 << 20
# warehouse's decompression-bomb rule for zips: over 64 MiB unpacked and 50 times the packed
# size. castoff applies it to every .tar.gz it reads (tarfile has no limit of its own).
UNPACK_RATIO = 50
UNPACK_FLOOR = 64 << 20
# Members up to this size stay in memory while they are checked; bigger ones go to disk.
SPOOL_BYTES = 16 << 20
_CHUNK = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # the fixed 30 bytes before a zip member's name
Format = Literal["elf", "pe", "mach-o", "other"]
_MACH_O = (b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
_FAT = (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf")  # universal binaries: 32- and 64-bit offsets
# What zipfile, tarfile and gzip raise on a damaged or hostile file.
_READ_ERRORS = (
    csv.Error,  # a RECORD field over csv's limit
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    zlib.error,
    gzip.BadGzipFile,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,  # an encrypted zip member
    UnicodeDecodeError,
    KeyError,
)


class ContentsError(Exception):
    """A wheel or archive that castoff will not ship; the message names the member."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True, kw_only=True)
class Member:
    """A file inside a wheel or archive that looks like a program, with what it is."""

    name: str
    sha256: str | None  # None: read only as far as its headers (a retag), not hashed
    size: int
    executable: bool
    format: Format
    elf: ElfFacts | None
    macho: MachOFacts | None
    pe: PeFacts | None
    binary_problem: str | None  # starts like ELF, Mach-O or PE but cannot be read as one


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What a wheel or archive of a planned target must hold."""

    project: str
    version: str
    binaries: tuple[str, ...]  # file names: hello, or hello.exe on Windows
    format: Format  # the file type of the target's programs
    executable: bool  # Unix modes must carry an execute bit (not for Windows)


@dataclass(frozen=True, kw_only=True)
class Wheel:
    """What a wheel holds: its name and version, tags, and the programs in it."""

    project: str
    version: str
    tags: frozenset[Tag]
    programs: tuple[Member, ...]


def sniff(head: bytes) -> Format:
    """Return the executable format a file's first bytes announce."""
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head.startswith(b"MZ"):
        return "pe"
    if head[:4] in _MACH_O or head[:4] in _FAT:
        return "mach-o"
    return "other"


def member_name_problem(name: str) -> str | None:
    """Return why an archive member's name could write outside its folder, or None."""
    if not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if "\\" in name:
        return "has a backslash, which Windows reads as a folder separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "has a control character"
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "has an empty, '.' or '..' part"
    return None


def _show(name: str) -> str:
    return repr(name) if any(ord(c) < 32 for c in name) else f"'{name}'"


@contextmanager
def _spooled(stream: IO[bytes], limit: int, name: str) -> Iterator[tuple[BinaryIO, str, int]]:
    """Copy a member's stream into a bounded spool; yield it with its sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ContentsError(f"member {_show(name)} is bigger than it says it is")
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        yield cast("BinaryIO", spool), digest.hexdigest(), size


class _OnDemand:
    """A zip member inflated only as far as a reader asks, kept in a bounded spool.

    A retag's audit reads a program's headers, not its code: a header-only look at a 40 MB
    binary inflates a few kilobytes. The end of the member is where its central directory entry
    says (a reader that goes there inflates everything, and a member bigger than it says is
    refused). Nothing here is hashed: the caller is told that RECORD was not checked for it.
    """

    def __init__(self, stream: IO[bytes], size: int, name: str, spool: IO[bytes]) -> None:
        self._stream, self._size, self._name, self._spool = stream, size, name, spool
        self._have = 0
        self._pos = 0

    def _fill(self, upto: int) -> None:
        while self._have < upto:
            chunk = self._stream.read(min(_CHUNK, max(upto - self._have, 1 << 16)))
            if not chunk:
                return
            if self._have + len(chunk) > self._size:
                raise ContentsError(f"member {_show(self._name)} is bigger than it says it is")
            self._spool.seek(self._have)
            self._spool.write(chunk)
            self._have += len(chunk)

    def read(self, size: int | None = -1) -> bytes:
        """Read from the position, inflating what has not been inflated yet."""
        end = self._size if size is None or size < 0 else self._pos + size
        self._fill(min(end, self._size))
        self._spool.seek(self._pos)
        data = self._spool.read(max(0, min(end, self._have) - self._pos))
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the position; the end is the size the member claims."""
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        """Return the position."""
        return self._pos

    def fileno(self) -> int:
        """Inflate all of it and return the spool's file (a reader that maps the whole file)."""
        self._fill(self._size)
        return self._spool.fileno()


def _member(
    spool: BinaryIO, name: str, digest: str | None, size: int, *, executable: bool
) -> Member:
    spool.seek(0)
    kind = sniff(spool.read(4))
    # The binary readers (pyelftools, macholib, pefile) load only when a program is read.
    from castoff.assemble.elf import UnreadableElf, read_elf  # noqa: PLC0415
    from castoff.assemble.macho import UnreadableMachO, read_macho  # noqa: PLC0415
    from castoff.assemble.pe import UnreadablePE, read_pe  # noqa: PLC0415

    elf, macho, pe, problem = None, None, None, None
    try:
        if kind == "elf":
            elf = read_elf(spool)
        elif kind == "mach-o":
            macho = read_macho(spool)
        elif kind == "pe":
            pe = read_pe(spool)
    except UnreadableElf as exc:
        problem = f"is not a readable ELF file ({exc})"
    except UnreadableMachO as exc:
        problem = f"is not a readable Mach-O file ({exc})"
    except UnreadablePE as exc:
        problem = f"is not a readable PE file ({exc})"
    return Member(
        name=name,
        sha256=digest,
        size=size,
        executable=executable,
        format=kind,
        elf=elf,
        macho=macho,
        pe=pe,
        binary_problem=problem,
    )


def _check_size(name: str, size: int, total: int) -> None:
    if size > MAX_MEMBER_BYTES:
        raise ContentsError(
            f"member {_show(name)} claims {size} bytes, more than the "
            f"{MAX_MEMBER_BYTES >> 20} MiB castoff reads of one member"
        )
    if total > MAX_TOTAL_BYTES:
        raise ContentsError(f"its members add up to more than {MAX_TOTAL_BYTES >> 30} GiB")


def _record_hash(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _unique(names: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        # Two names that differ in case are one file on macOS and Windows.
        folded = name.rstrip("/").casefold()
        if folded in seen:
            raise ContentsError(f"holds {_show(name)} twice (or once more in other case)")
        seen[folded] = name


def _zip_mode(info: zipfile.ZipInfo) -> int | None:
    mode = info.external_attr >> 16
    return mode if info.create_system == 3 and mode else None


def _check_zip_member(info: zipfile.ZipInfo) -> None:
    problem = member_name_problem(info.filename)
    if problem:
        raise ContentsError(f"member {_show(info.filename)} {problem}")
    if info.flag_bits & 0x1:
        raise ContentsError(f"member {_show(info.filename)} is encrypted")
    mode = _zip_mode(info)
    if mode is not None and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise ContentsError(f"member {_show(info.filename)} is {what}")


def _parse_record(text: str) -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for row in csv.reader(text.splitlines()):
        if not row:
            continue
        if len(row) != 3:
            raise ContentsError("RECORD has a line that is not path,hash,size")
        path, digest, size = row
        if path in rows:
            raise ContentsError(f"RECORD lists {_show(path)} twice")
        rows[path] = (digest, size)
    return rows


def _check_record(
    rows: dict[str, tuple[str, str]], hashes: dict[str, tuple[bytes | None, int]], record: str
) -> None:
    for name, (digest, size) in hashes.items():
        if name == record:
            continue
        if name not in rows:
            raise ContentsError(f"member {_show(name)} is not listed in RECORD")
        algorithm, _, expected = rows[name][0].partition("=")
        if algorithm != "sha256":
            raise ContentsError(f"RECORD gives {_show(name)} no sha256 ({rows[name][0][:40]!r})")
        if (digest is not None and expected != _record_hash(digest)) or rows[name][1] != str(size):
            raise ContentsError(f"member {_show(name)} does not match its RECORD hash and size")
    extra = sorted(set(rows) - set(hashes))
    if extra:
        raise ContentsError(f"RECORD lists {_show(extra[0])}, which the wheel does not hold")


def _headers(text: str, what: str) -> dict[str, list[str]]:
    parsed = HeaderParser().parsestr(text)
    headers: dict[str, list[str]] = {}
    for key, value in parsed.items():
        headers.setdefault(key.lower(), []).append(str(value).strip())
    if not headers:
        raise ContentsError(f"{what} has no headers")
    return headers


def _one(headers: dict[str, list[str]], key: str, what: str) -> str:
    values = headers.get(key.lower(), [])
    if len(values) != 1:
        raise ContentsError(f"{what} has {len(values)} '{key}' fields, not one")
    return values[0]


def _check_metadata(
    metadata: str, wheel_text: str, *, project: str, version: str, tags: frozenset[Tag]
) -> None:
    meta = _headers(metadata, "METADATA")
    name = _one(meta, "Name", "METADATA")
    if canonicalize_name(name) != canonicalize_name(project):
        raise ContentsError(
            f"METADATA names the project '{name}', but the file name says '{project}'"
        )
    try:
        meta_version = Version(_one(meta, "Version", "METADATA"))
    except InvalidVersion:
        raise ContentsError("METADATA's Version is not a PEP 440 version") from None
    if meta_version != Version(version):
        raise ContentsError(
            f"METADATA says version {meta_version}, but the file name says {version}"
        )
    wheel = _headers(wheel_text, "WHEEL")
    if not _one(wheel, "Wheel-Version", "WHEEL").startswith("1."):
        raise ContentsError("WHEEL's Wheel-Version is not 1.x")
    declared = set()
    for line in wheel.get("tag", []):
        parts = line.split("-")
        if len(parts) != 3:
            raise ContentsError(f"WHEEL has a Tag line that is not a tag: {line[:60]!r}")
        declared.add(Tag(*parts))
    if declared != set(tags):
        raise ContentsError("WHEEL's Tag lines do not match the tags in the file name")


def read_wheel(
    path: Path, expected: Expected | None = None, *, headers_only: bool = False
) -> Wheel:
    """Read and check a whole wheel, member by member; raise ContentsError naming the problem.

    headers_only (a retag, which copies the programs as they are): its programs are read only as
    far as their ELF, Mach-O or PE readers look, and not hashed against RECORD.
    """
    try:
        project, version, _, tags = parse_wheel_filename(path.name)
    except (InvalidWheelFilename, InvalidVersion) as exc:
        raise ContentsError(f"is not a wheel file name ({exc})") from None
    try:
        return _read_wheel(path, str(project), str(version), tags, expected, headers_only)
    except _READ_ERRORS as exc:
        raise ContentsError(f"is not a readable wheel ({type(exc).__name__}: {exc})") from None


def _read_wheel(
    path: Path,
    project: str,
    version: str,
    tags: frozenset[Tag],
    expected: Expected | None,
    headers_only: bool,
) -> Wheel:
    stem = path.name.split("-")[0] + "-" + path.name.split("-")[1]
    dist_info, data = f"{stem}.dist-info/", f"{stem}.data/"
    scripts = f"{data}scripts/"
    with zipfile.ZipFile(path) as archive:
        infos = _zip_members(archive)
        for info in infos:
            if not info.filename.startswith((dist_info, scripts)):
                # Anything else would be installed into site-packages (a .pth runs at start-up).
                raise ContentsError(
                    f"member {_show(info.filename)} is outside {dist_info} and {scripts}: a "
                    "binary wheel of castoff's holds nothing else"
                )
        if f"{dist_info}entry_points.txt" in {i.filename for i in infos}:
            raise ContentsError(f"{dist_info}entry_points.txt would install commands of its own")
        programs = _read_members(
            archive,
            infos,
            stem,
            (project, version, tags),
            lambda name: name.startswith(scripts),
            headers_only=headers_only,
        )
    if expected is not None:
        if canonicalize_name(project) != canonicalize_name(expected.project) or Version(
            version
        ) != Version(expected.version):
            raise ContentsError(
                f"is {project} {version}, but the plan is {expected.project} {expected.version}"
            )
        _check_programs(programs, [scripts + b for b in expected.binaries], expected)
    return Wheel(project=project, version=version, tags=tags, programs=tuple(programs))


def _read_members(
    archive: zipfile.ZipFile,
    infos: Sequence[zipfile.ZipInfo],
    stem: str,
    identity: tuple[str, str, frozenset[Tag]],
    keep: Callable[[str], bool],
    *,
    headers_only: bool = False,
) -> list[Member]:
    """Check a wheel's dist-info (RECORD hashes, METADATA, WHEEL) and read the members kept.

    headers_only: the kept members are read only as far as their readers look, and their RECORD
    hashes are not checked (their RECORD rows, sizes and sha256 algorithm are).
    """
    dist_info = f"{stem}.dist-info/"
    names = {i.filename for i in infos}
    record = f"{dist_info}RECORD"
    for needed in (f"{dist_info}METADATA", f"{dist_info}WHEEL", record):
        if needed not in names:
            raise ContentsError(f"has no {needed} (or its dist-info is not named {stem})")
    hashes: dict[str, tuple[bytes | None, int]] = {}
    small: dict[str, str] = {}
    members: list[Member] = []
    lazy = keep if headers_only else (lambda _: False)
    for info, mode, (spool, digest, size) in _zip_files(archive, infos, lazy):
        hashes[info.filename] = (bytes.fromhex(digest) if digest is not None else None, size)
        if info.filename in (f"{dist_info}METADATA", f"{dist_info}WHEEL", record):
            if size > MAX_METADATA_BYTES:
                raise ContentsError(f"{info.filename} is over {MAX_METADATA_BYTES} bytes")
            small[info.filename] = spool.read().decode("utf-8")
        elif keep(info.filename):
            executable = mode is not None and bool(mode & 0o111)
            members.append(_member(spool, info.filename, digest, size, executable=executable))
    _check_record(_parse_record(small[record]), hashes, record)
    project, version, tags = identity
    _check_metadata(
        small[f"{dist_info}METADATA"],
        small[f"{dist_info}WHEEL"],
        project=project,
        version=version,
        tags=tags,
    )
    return members


def read_extension_wheel(path: Path, *, project: str, version: str, module: str) -> Wheel:
    """Read and check an extension module's wheel whole; its programs are its shared objects.

    Besides its dist-info it may hold only the module (a `knot.abi3.so`-like file, or a `knot/`
    package) and the libraries auditwheel or delvewheel graft in (`<name>.libs/`): a `.pth`, a
    top-level module of another name or a .data folder would run or install code the project
    did not name.
    """
    try:
        name, wheel_version, _, tags = parse_wheel_filename(path.name)
    except (InvalidWheelFilename, InvalidVersion) as exc:
        raise ContentsError(f"is not a wheel file name ({exc})") from None
    if canonicalize_name(name) != canonicalize_name(project) or Version(
        str(wheel_version)
    ) != Version(version):
        raise ContentsError(f"is {name} {wheel_version}, but the plan is {project} {version}")
    try:
        return _read_extension_wheel(path, str(name), str(wheel_version), tags, module)
    except _READ_ERRORS as exc:
        raise ContentsError(f"is not a readable wheel ({type(exc).__name__}: {exc})") from None


_SHARED_OBJECT = (".so", ".pyd", ".dylib", ".dll")


def _read_extension_wheel(
    path: Path, project: str, version: str, tags: frozenset[Tag], module: str
) -> Wheel:
    stem = path.name.split("-")[0] + "-" + path.name.split("-")[1]
    dist_info = f"{stem}.dist-info/"
    top = module.split(".", 1)[0]
    grafted = (f"{stem.split('-')[0]}.libs/", f"{top}.libs/")
    with zipfile.ZipFile(path) as archive:
        infos = _zip_members(archive)
        package, files = False, []
        for info in infos:
            member = info.filename
            first = member.split("/", 1)[0]
            in_package = member.startswith(f"{top}/")
            single = (
                "/" not in member
                and first.split(".", 1)[0] == top
                and (first.endswith(_SHARED_OBJECT) or first.endswith((".py", ".pyi")))
            )
            if not (member.startswith(dist_info) or member.startswith(grafted)) and not (
                in_package or single
            ):
                raise ContentsError(
                    f"member {_show(member)} is neither the module {top} nor its dist-info or "
                    "grafted libraries: it would install code the project does not name"
                )
            if member.endswith(".pth"):
                raise ContentsError(f"member {_show(member)} is a .pth file, run at start-up")
            package = package or in_package
            files += [member] if single else []
        if not package and not files:
            raise ContentsError(f"holds no module {top} (tool.castoff.module)")
        if (package and files) or len(files) > 1:
            # Python imports one of them; the others would ship unused, or unaudited.
            raise ContentsError(
                f"holds the module {top} more than once ({', '.join(map(_show, files))}"
                f"{' and the package ' + top + '/' if package else ''})"
            )
        members = _read_members(archive, infos, stem, (project, version, tags), lambda _: True)
    # Every file that is an object by its name or its first bytes: the audit reads each.
    objects = [
        m
        for m in members
        if m.format != "other" or m.name.endswith(_SHARED_OBJECT) or ".so." in m.name
    ]
    if not objects:
        raise ContentsError("holds no shared object: an extension module's wheel builds one")
    return Wheel(project=project, version=version, tags=tags, programs=tuple(objects))


def _check_programs(programs: Sequence[Member], wanted: Sequence[str], expected: Expected) -> None:
    by_name = {p.name: p for p in programs}
    extra = sorted(set(by_name) - set(wanted))
    if extra:
        planned = ", ".join(n.rsplit("/", 1)[-1] for n in wanted)
        raise ContentsError(
            f"holds {_show(extra[0])}, which is not one of the planned binaries ({planned}; "
            "tool.castoff.binaries)"
        )
    for name in wanted:
        member = by_name.get(name)
        if member is None:
            raise ContentsError(f"has no {_show(name)}: the binary is missing")
        if expected.executable and not member.executable:
            raise ContentsError(f"{_show(name)} is not executable (no execute bit in its mode)")
        if member.format != expected.format:
            found = "a script or data" if member.format == "other" else f"{member.format}"
            raise ContentsError(f"{_show(name)} is {found}, not an {expected.format} program")
        if member.binary_problem:
            raise ContentsError(f"{_show(name)} {member.binary_problem}")


class _Bounded:
    """A gzip stream that refuses to unpack past a limit.

    tarfile reads a pax or GNU long-name header whole, at the size the header claims, before
    any member is seen: only the stream itself can stop a small file that unpacks to gigabytes.
    """

    def __init__(self, raw: gzip.GzipFile, limit: int) -> None:
        self.raw = raw
        self.limit = limit

    def _refuse(self) -> NoReturn:
        raise ContentsError(
            f"unpacks to more than {self.limit >> 20} MiB, over {UNPACK_RATIO} times its own "
            "size: a decompression bomb by warehouse's rule"
        )

    def read(self, size: int | None = -1) -> bytes:
        left = self.limit - self.raw.tell()
        wanted = left + 1 if size is None or size < 0 else min(size, left + 1)
        data = self.raw.read(max(0, wanted))
        if self.raw.tell() > self.limit:
            self._refuse()
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.raw.tell()}.get(whence)
        if base is None or base + offset > self.limit:
            # Seeking from the end would unpack everything to find it.
            self._refuse()
        return self.raw.seek(base + offset)

    def tell(self) -> int:
        return self.raw.tell()


def unpack_limit(path: Path) -> int:
    """Return how much a .tar.gz may unpack to: warehouse's rule of 50 times, at least 64 MiB."""
    return max(UNPACK_FLOOR, UNPACK_RATIO * path.stat().st_size)


@contextmanager
def open_tar_gz(path: Path) -> Iterator[tarfile.TarFile]:
    """Open a gzip-compressed tar file whose unpacked stream is bounded by unpack_limit."""
    with (
        gzip.GzipFile(path, "rb") as raw,
        tarfile.open(
            fileobj=cast("IO[bytes]", _Bounded(raw, unpack_limit(path))), mode="r:"
        ) as tar,
    ):
        yield tar


def read_archive(
    path: Path, folder: str | None = None, expected: Expected | None = None
) -> list[Member]:
    """Read and check a .tar.gz or .zip archive; return its programs (every file, with facts)."""
    reader = _read_zip_archive if path.name.endswith(".zip") else _read_tar_archive
    try:
        members = reader(path)
    except _READ_ERRORS as exc:
        raise ContentsError(f"is not a readable archive ({type(exc).__name__}: {exc})") from None
    if folder is not None:
        outside = [m.name for m in members if not m.name.startswith(folder + "/")]
        if outside:
            raise ContentsError(f"member {_show(outside[0])} is not inside {folder}/")
    if expected is not None and folder is not None:
        _check_programs(members, [f"{folder}/{b}" for b in expected.binaries], expected)
    return members


def _read_tar_archive(path: Path) -> list[Member]:
    members: list[Member] = []
    names: list[str] = []
    total = 0
    with open_tar_gz(path) as archive:
        while (info := archive.next()) is not None:
            names.append(info.name)
            if len(names) > MAX_MEMBERS:
                raise ContentsError("holds more members than an archive of one program")
            problem = member_name_problem(info.name)
            if problem:
                raise ContentsError(f"member {_show(info.name)} {problem}")
            if info.isdir():
                continue
            if not info.isreg():
                what = "a link" if info.issym() or info.islnk() else "not a regular file"
                raise ContentsError(f"member {_show(info.name)} is {what}")
            total += info.size
            _check_size(info.name, info.size, total)
            stream = archive.extractfile(info)
            if stream is None:  # pragma: no cover - regular members always have data
                raise ContentsError(f"member {_show(info.name)} has no data")
            with _spooled(stream, info.size, info.name) as (spool, digest, size):
                if size != info.size:
                    raise ContentsError(f"member {_show(info.name)} is truncated")
                executable = bool(info.mode & 0o111)
                members.append(_member(spool, info.name, digest, size, executable=executable))
        _check_tar_end(archive)
    _unique(names)
    return members


def _check_tar_end(archive: tarfile.TarFile) -> None:
    """Refuse data after the last member: tarfile stops at a bad header, GNU tar reads on."""
    stream = archive.fileobj
    assert stream is not None  # noqa: S101 - an open archive has its stream
    stream.seek(archive.offset)
    left = MAX_TOTAL_BYTES
    while chunk := stream.read(_CHUNK):
        left -= len(chunk)
        if chunk.count(0) != len(chunk) or left < 0:
            raise ContentsError(
                "holds data after its last member that castoff cannot read and some tar "
                "programs would still unpack"
            )


def _check_zip_layout(archive: zipfile.ZipFile, infos: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse bytes the central directory does not account for.

    Data before the first member, or between members, is what a reader walking local headers
    would find and castoff would not.
    """
    handle = archive.fp
    assert handle is not None  # noqa: S101 - an open archive has its file
    offset = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset != offset:
            raise ContentsError(
                f"has {abs(info.header_offset - offset)} bytes its member list does not account "
                f"for, before member {_show(info.filename)}"
            )
        handle.seek(info.header_offset)
        header = handle.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise ContentsError(f"member {_show(info.filename)} has no local header")
        name_length, extra_length = _LOCAL_HEADER.unpack(header)[-2:]
        offset = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        offset += info.compress_size
        if info.flag_bits & 0x08:
            handle.seek(offset)
            signature = handle.read(4)
            zip64 = info.compress_size > 0xFFFFFFFF or info.file_size > 0xFFFFFFFF
            offset += (4 if signature == b"PK\x07\x08" else 0) + (20 if zip64 else 12)
    if offset != archive.start_dir:
        raise ContentsError(
            f"has {abs(archive.start_dir - offset)} bytes its member list does not account for, "
            "before its central directory"
        )


def _zip_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Return a zip's members once the whole file and every member name, type and size pass."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ContentsError(
            f"holds {len(infos)} members, more than the {MAX_MEMBERS} castoff reads"
        )
    _unique([i.filename for i in infos])
    _check_zip_layout(archive, infos)
    total = 0
    for info in infos:
        _check_zip_member(info)
        total += info.file_size
        _check_size(info.filename, info.file_size, total)
    return infos


def _zip_files(
    archive: zipfile.ZipFile,
    infos: Sequence[zipfile.ZipInfo],
    on_demand: Callable[[str], bool] = lambda _: False,
) -> Iterator[tuple[zipfile.ZipInfo, int | None, tuple[BinaryIO, str | None, int]]]:
    """Yield each file member with its Unix mode and its bounded spool (valid until the next).

    A member `on_demand` picks is inflated only as far as it is read, and has no sha256 (None).
    """
    for info in infos:
        if info.is_dir():
            continue
        if on_demand(info.filename):
            with archive.open(info) as stream, tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool:
                lazy = _OnDemand(stream, info.file_size, info.filename, spool)
                yield info, _zip_mode(info), (cast("BinaryIO", lazy), None, info.file_size)
            continue
        with archive.open(info) as stream, _spooled(stream, info.file_size, info.filename) as spool:
            yield info, _zip_mode(info), spool


def _read_zip_archive(path: Path) -> list[Member]:
    members: list[Member] = []
    with zipfile.ZipFile(path) as archive:
        for info, mode, (spool, digest, size) in _zip_files(archive, _zip_members(archive)):
            executable = mode is None or bool(mode & 0o111)
            members.append(_member(spool, info.filename, digest, size, executable=executable))
    return members


def read_sidecar(path: Path, archive: str, digest: str) -> None:
    """Check a `<archive>.sha256` sidecar: exactly `<sha256>  <archive>` for the archive's bytes."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(4097)
    except OSError as exc:
        raise ContentsError(f"cannot be read ({exc.strerror or exc})") from None
    if raw != f"{digest}  {archive}\n".encode():
        raise ContentsError(
            f"is not the sha256sum line of {archive}'s bytes ('<sha256>  {archive}' and a newline)"
        )


@dataclass(frozen=True, kw_only=True)
class Sdist:
    """What an sdist holds: its PKG-INFO's name, version and metadata version, and its files."""

    name: str
    version: str
    metadata_version: str
    files: tuple[str, ...]  # member names below the sdist's folder
    build_requires: tuple[str, ...]  # pyproject.toml's [build-system] requires, each checked


def read_sdist(path: Path, *, folder: str, project: str, version: str) -> Sdist:
    """Read and check a whole sdist (a .tar.gz of one folder); raise ContentsError naming why."""
    try:
        return _read_sdist(path, folder, project, version)
    except _READ_ERRORS as exc:
        raise ContentsError(
            f"is not a readable gzip-compressed tar file ({type(exc).__name__}: {exc})"
        ) from None


def _read_sdist(path: Path, folder: str, project: str, version: str) -> Sdist:
    names: list[str] = []
    small: dict[str, bytes] = {}
    wanted = {f"{folder}/PKG-INFO", f"{folder}/pyproject.toml"}
    # Only gzip: PyPI takes only gzip-compressed sdists (PEP 625).
    with open_tar_gz(path) as archive:
        while (info := archive.next()) is not None:
            names.append(info.name)
            if len(names) > MAX_MEMBERS:
                raise ContentsError(f"holds more than {MAX_MEMBERS} members")
            if not _sdist_file(info, folder):
                continue
            stream = archive.extractfile(info)
            if stream is None:  # pragma: no cover - regular members always have data
                raise ContentsError(f"member {_show(info.name)} has no data")
            keep = info.name in wanted and info.size <= MAX_METADATA_BYTES
            data, size = bytearray(), 0
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if keep:
                    data += chunk
            if size != info.size:
                raise ContentsError(f"member {_show(info.name)} is truncated")
            if keep:
                small[info.name] = bytes(data)
        _check_tar_end(archive)
    _unique(names)
    for needed in sorted(wanted):
        if needed not in small:
            raise ContentsError(
                f"has no {needed} (or one over {MAX_METADATA_BYTES >> 20} MiB); pip builds an "
                "sdist from its pyproject.toml, and PyPI reads its PKG-INFO"
            )
    sdist = _sdist_metadata(small[f"{folder}/PKG-INFO"], names, folder, project, version)
    requires = _build_requires(small[f"{folder}/pyproject.toml"])
    return dataclasses.replace(sdist, build_requires=requires)


def _build_requires(raw: bytes) -> tuple[str, ...]:
    """Return pyproject.toml's build requirements: a list of plain requirements, no URLs."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ContentsError(f"pyproject.toml is not UTF-8 TOML ({exc})") from None
    system = data.get("build-system")
    requires = system.get("requires") if isinstance(system, dict) else None
    if (
        not isinstance(requires, list)
        or not requires
        or not all(isinstance(r, str) for r in requires)
    ):
        raise ContentsError(
            "pyproject.toml has no [build-system] requires list of strings, which pip needs "
            "to build it"
        )
    checked = []
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            raise ContentsError(
                f"pyproject.toml: build-system.requires has {text[:60]!r}, not a requirement"
            ) from None
        if requirement.url:
            # pip would fetch it from anywhere, not from an index.
            raise ContentsError(
                f"pyproject.toml: build-system.requires names a URL ({text[:60]!r})"
            )
        checked.append(str(requirement))
    return tuple(checked)


def _sdist_file(info: tarfile.TarInfo, folder: str) -> bool:
    """Refuse a member an sdist of castoff's cannot hold; return whether it is a file."""
    problem = member_name_problem(info.name)
    if problem:
        raise ContentsError(f"member {_show(info.name)} {problem}")
    if info.name.rstrip("/") != folder and not info.name.startswith(folder + "/"):
        raise ContentsError(f"member {_show(info.name)} is not inside {folder}/")
    if info.isdir():
        return False
    if info.name.rstrip("/") == folder:
        raise ContentsError(f"member {_show(info.name)} is a file where the sdist's folder is")
    if not info.isreg():
        # pip would unpack a link that points anywhere; maturin writes none.
        what = "a link" if info.issym() or info.islnk() else "not a regular file"
        raise ContentsError(f"member {_show(info.name)} is {what}")
    return True


def _sdist_metadata(
    raw: bytes, names: Sequence[str], folder: str, project: str, version: str
) -> Sdist:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ContentsError("PKG-INFO is not UTF-8 text") from None
    headers = _headers(text, "PKG-INFO")
    metadata_version = _one(headers, "Metadata-Version", "PKG-INFO")
    name = _one(headers, "Name", "PKG-INFO")
    if canonicalize_name(name) != canonicalize_name(project):
        raise ContentsError(f"PKG-INFO names the project '{name[:80]}', not '{project}'")
    try:
        found = Version(_one(headers, "Version", "PKG-INFO"))
    except InvalidVersion:
        raise ContentsError("PKG-INFO's Version is not a PEP 440 version") from None
    if found != Version(version) or str(found) != version:
        raise ContentsError(f"PKG-INFO says version {str(found)[:40]}, not {version}")
    files = tuple(n.removeprefix(folder + "/") for n in names if n.rstrip("/") != folder)
    return Sdist(
        name=name, version=version, metadata_version=metadata_version, files=files,
        build_requires=(),
    )  # fmt: skip
