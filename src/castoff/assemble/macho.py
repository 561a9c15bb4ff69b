"""What a Mach-O binary is and needs, read from its load commands (macholib), slice by slice."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from macholib.mach_o import (
    FAT_MAGIC,
    FAT_MAGIC_64,
    LC_BUILD_VERSION,
    LC_CODE_SIGNATURE,
    LC_DYLD_ENVIRONMENT,
    LC_LAZY_LOAD_DYLIB,
    LC_LOAD_DYLIB,
    LC_LOAD_DYLINKER,
    LC_LOAD_UPWARD_DYLIB,
    LC_LOAD_WEAK_DYLIB,
    LC_REEXPORT_DYLIB,
    LC_REGISTRY,
    LC_REQ_DYLD,
    LC_VERSION_MIN_IPHONEOS,
    LC_VERSION_MIN_MACOSX,
    LC_VERSION_MIN_TVOS,
    LC_VERSION_MIN_WATCHOS,
    MH_CIGAM,
    MH_CIGAM_64,
    MH_MAGIC,
    MH_MAGIC_64,
    PLATFORM_MACOS,
    PLATFORM_NAMES,
    dylib_command,
    dylinker_command,
    fat_arch,
    fat_arch64,
    fat_header,
    load_command,
    mach_header,
    mach_header_64,
)
from macholib.MachO import MachOHeader
from macholib.ptypes import sizeof

# A universal binary has two or three slices; Java class files share the fat magic and
# carry their version (45 and up) where the slice count would be.
MAX_SLICES = 16
# The load commands of a Rust program take a few KiB; no linker writes a MiB of them.
MAX_COMMANDS_BYTES = 1 << 20
DYLIB_COMMANDS = frozenset(
    {LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB}
)
_OTHER_VERSION_MIN = {
    LC_VERSION_MIN_IPHONEOS: "iOS",
    LC_VERSION_MIN_TVOS: "tvOS",
    LC_VERSION_MIN_WATCHOS: "watchOS",
}
_ABI64 = 0x01000000
_ABI64_32 = 0x02000000
_SUBTYPE_MASK = 0x00FFFFFF  # the high byte holds capability bits (arm64e's pointer auth ABI)
_CPUS = {
    (7, None): "i386",
    (_ABI64 | 7, 8): "x86_64h",
    (_ABI64 | 7, None): "x86_64",
    (12, None): "arm",
    (_ABI64 | 12, 2): "arm64e",
    (_ABI64 | 12, None): "arm64",
    (_ABI64_32 | 12, None): "arm64_32",
    (18, None): "ppc",
    (_ABI64 | 18, None): "ppc64",
}


@dataclass(frozen=True, kw_only=True)
class MachOSlice:
    """One architecture's binary: its CPU, the macOS it needs and the libraries it loads."""

    cpu: str  # x86_64, arm64, arm64e, x86_64h, i386, ... as wheel tags and lipo name them
    min_macos: tuple[int, int, int] | None  # from LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX
    other_platforms: tuple[str, ...]  # iOS, tvOS, ...: build versions for anything but macOS
    dylibs: tuple[str, ...]  # every library dyld loads for it, weak and re-exported too
    dyld_environment: tuple[str, ...]  # LC_DYLD_ENVIRONMENT: DYLD_*_PATH settings
    # Its code signature: "valid" (every page hashes as its code directories say), "absent",
    # or why it does not hold. macOS kills an arm64 program without a valid one.
    signature: str = "absent"
    dylinker: str | None = None  # LC_LOAD_DYLINKER: the loader the kernel starts (dyld)


@dataclass(frozen=True, kw_only=True)
class MachOFacts:
    """What a Mach-O file holds: one slice, or several in a universal (fat) binary."""

    fat: bool
    slices: tuple[MachOSlice, ...]


class UnreadableMachO(ValueError):  # noqa: N818 - a value that is not what it claims to be
    """A file that starts like Mach-O but cannot be read as one (truncated, damaged, hostile)."""


def read_macho(source: bytes | BinaryIO) -> MachOFacts | None:
    """Read a binary's Mach-O facts; None when it is not Mach-O; UnreadableMachO when broken."""
    stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    magic = int.from_bytes(stream.read(4), "big")
    if magic not in (FAT_MAGIC, FAT_MAGIC_64, MH_MAGIC, MH_CIGAM, MH_MAGIC_64, MH_CIGAM_64):
        return None
    size = stream.seek(0, io.SEEK_END)
    try:
        if magic in (FAT_MAGIC, FAT_MAGIC_64):
            slices = tuple(_slice(stream, *placed) for placed in _fat_slices(stream, size))
            return MachOFacts(fat=True, slices=slices)
        return MachOFacts(fat=False, slices=(_slice(stream, 0, size, None),))
    except UnreadableMachO:
        raise
    # macholib raises whatever its parser meets on a damaged file (ValueError, struct.error,
    # OSError from its file views, KeyError, UnicodeDecodeError, ...): all mean "not readable".
    except Exception as exc:  # noqa: BLE001
        raise UnreadableMachO(type(exc).__name__) from None


def _fat_slices(stream: BinaryIO, size: int) -> list[tuple[int, int, tuple[int, int]]]:
    """Return each slice's offset, size and (cputype, cpusubtype) from a checked fat header."""
    stream.seek(0)
    header = fat_header.from_fileobj(stream)  # big-endian, as lipo writes it
    entry = fat_arch64 if header.magic == FAT_MAGIC_64 else fat_arch
    count = int(header.nfat_arch)
    if not 0 < count <= MAX_SLICES:
        raise UnreadableMachO(f"a universal binary that claims {count} slices")
    table_end = sizeof(fat_header) + count * sizeof(entry)
    if table_end > size:
        raise UnreadableMachO("its universal header is cut short")
    placed = []
    for _ in range(count):
        arch = entry.from_fileobj(stream)
        offset, length = int(arch.offset), int(arch.size)
        if offset < table_end or length <= 0 or offset + length > size:
            raise UnreadableMachO(
                f"a slice at {offset} of {length} bytes, outside the file's {size} bytes"
            )
        placed.append((offset, length, _cpu_key(arch.cputype, arch.cpusubtype)))
    spans = sorted((o, o + n) for o, n, _ in placed)
    if any(end > start for (_, end), (start, _) in itertools.pairwise(spans)):
        raise UnreadableMachO("slices that overlap")
    keys = [key for _, _, key in placed]
    names = [_cpu_name(key) for key in keys]
    if len(set(keys)) != len(keys) or len(set(names)) != len(names):
        # dyld would pick one of two slices of a CPU; the audit might read the other.
        raise UnreadableMachO("two slices for one CPU")
    return placed


def _cpu_key(cputype: int, cpusubtype: int) -> tuple[int, int]:
    return int(cputype) & 0xFFFFFFFF, int(cpusubtype) & _SUBTYPE_MASK


def _cpu_name(key: tuple[int, int]) -> str:
    cputype, subtype = key
    return _CPUS.get((cputype, subtype)) or _CPUS.get((cputype, None)) or f"CPU type {cputype:#x}"


def _slice(stream: BinaryIO, offset: int, size: int, fat_key: tuple[int, int] | None) -> MachOSlice:
    """Read one slice's header and load commands (and nothing else) with macholib."""
    stream.seek(offset)
    magic = int.from_bytes(stream.read(4), "big")
    kinds = {
        MH_MAGIC: (mach_header, ">"),
        MH_CIGAM: (mach_header, "<"),
        MH_MAGIC_64: (mach_header_64, ">"),
        MH_CIGAM_64: (mach_header_64, "<"),
    }
    if magic not in kinds:
        raise UnreadableMachO(f"a slice that is not a Mach-O binary (magic {magic:#010x})")
    kind, endian = kinds[magic]
    stream.seek(offset)
    head = stream.read(sizeof(kind))
    if len(head) != sizeof(kind):
        raise UnreadableMachO("its Mach-O header is cut short")
    header = kind.from_str(head, _endian_=endian)
    commands_size = int(header.sizeofcmds)
    if commands_size > MAX_COMMANDS_BYTES or sizeof(kind) + commands_size > size:
        raise UnreadableMachO(f"load commands of {commands_size} bytes in a {size}-byte slice")
    key = _cpu_key(header.cputype, header.cpusubtype)
    if fat_key is not None and fat_key != key:
        # The kernel picks a slice by its fat entry, then runs what the slice's header says.
        raise UnreadableMachO(
            f"a slice listed as {_cpu_name(fat_key)} whose header says {_cpu_name(key)}"
        )
    window = _Window(head + stream.read(commands_size))
    parsed = MachOHeader(
        None, window, 0, size, magic, kind, endian, allow_unknown_load_commands=True
    )
    facts = _facts(_cpu_name(key), parsed.commands)
    signatures = [
        (int(cmd.dataoff), int(cmd.datasize))
        for lc, cmd, _ in parsed.commands
        if int(lc.cmd) == LC_CODE_SIGNATURE
    ]
    if len(signatures) > 1:
        raise UnreadableMachO("two code signatures in one slice")
    if signatures:
        verdict = _signature(stream, offset, size, *signatures[0])
        facts = dataclasses.replace(facts, signature=verdict or "valid")
    return facts


# Code signing (Apple's cs_blobs.h): a SuperBlob of blobs, among them code directories, each
# holding one hash per page of the code before the signature.
_SUPERBLOB = 0xFADE0CC0
_CODE_DIRECTORY = 0xFADE0C02
_CD_SLOTS = frozenset({0, *range(0x1000, 0x1005)})  # the code directory and its alternates
_HASHES = {1: ("sha1", 20), 2: ("sha256", 32), 3: ("sha256", 20), 4: ("sha384", 48)}
MAX_SIGNATURE_BYTES = 16 << 20


def _signature(stream: BinaryIO, offset: int, size: int, dataoff: int, datasize: int) -> str | None:
    """Return why a slice's code signature does not hold its code, or None when it does."""
    if datasize > MAX_SIGNATURE_BYTES or dataoff + datasize > size or dataoff <= 0:
        return f"its signature ({datasize} bytes at {dataoff}) lies outside the slice"
    stream.seek(offset + dataoff)
    blob = stream.read(datasize)
    try:
        magic, length, count = struct.unpack_from(">III", blob, 0)
        if magic != _SUPERBLOB or length > datasize or count > 64:
            return "its signature is not a code signature superblob"
        directories = []
        for i in range(count):
            slot, at = struct.unpack_from(">II", blob, 12 + 8 * i)
            if slot in _CD_SLOTS:
                directories.append(at)
        if not directories:
            return "its signature has no code directory"
        for at in directories:
            if problem := _directory(stream, offset, dataoff, blob, at):
                return problem
    except struct.error:
        return "its signature is cut short"
    return None


def _directory(stream: BinaryIO, offset: int, dataoff: int, blob: bytes, at: int) -> str | None:
    """Check one code directory's page hashes against the slice's bytes."""
    magic, _, _, _, hash_offset, _, _, slots, limit, hash_size, hash_type, _, page_log = (
        struct.unpack_from(">IIIIIIIIIBBBB", blob, at)
    )
    if magic != _CODE_DIRECTORY or _HASHES.get(hash_type, ("", -1))[1] != hash_size:
        return "its signature's code directory is damaged"
    if limit != dataoff:
        return f"its signature covers {limit} bytes of code, not the {dataoff} before it"
    page = 1 << page_log if page_log else limit
    if page_log > 16 or slots != -(-limit // page):
        return "its signature's code directory does not page the code"
    table = at + hash_offset
    if table + slots * hash_size > len(blob):
        return "its signature is cut short"
    name = _HASHES[hash_type][0]
    stream.seek(offset)
    for i in range(slots):
        data = stream.read(min(page, limit - i * page))
        expected = blob[table + i * hash_size : table + (i + 1) * hash_size]
        if hashlib.new(name, data).digest()[:hash_size] != expected:
            return f"page {i} of its code does not match its signature (changed after signing)"
    return None


def _facts(cpu: str, commands: list[tuple[Any, Any, bytes]]) -> MachOSlice:
    macos: list[tuple[int, int, int]] = []
    others: list[str] = []
    dylibs: list[str] = []
    environment: list[str] = []
    loaders: list[str] = []
    for lc, cmd, data in commands:
        kind = int(lc.cmd)
        if kind in DYLIB_COMMANDS:
            dylibs.append(_string(int(cmd.name), dylib_command, data))
        elif kind == LC_DYLD_ENVIRONMENT:
            environment.append(_string(int(cmd.name), dylinker_command, data))
        elif kind == LC_LOAD_DYLINKER:
            loaders.append(_string(int(cmd.name), dylinker_command, data))
        elif kind == LC_BUILD_VERSION:
            platform = int(cmd.platform)
            if platform == PLATFORM_MACOS:
                macos.append(_version(int(cmd.minos)))
            else:
                others.append(str(PLATFORM_NAMES.get(platform, f"platform {platform}")))
        elif kind == LC_VERSION_MIN_MACOSX:
            macos.append(_version(int(cmd.version)))
        elif kind in _OTHER_VERSION_MIN:
            others.append(_OTHER_VERSION_MIN[kind])
        elif kind not in LC_REGISTRY and kind & LC_REQ_DYLD:
            # dyld refuses a program with a required command it does not know; castoff cannot
            # tell what such a command loads, so it refuses too.
            raise UnreadableMachO(f"a load command dyld must understand, {kind:#x}, unknown here")
    return MachOSlice(
        cpu=cpu,
        # Two minimum versions in one slice: the higher one is the one that can fail.
        min_macos=max(macos) if macos else None,
        other_platforms=tuple(dict.fromkeys(others)),
        dylibs=tuple(dylibs),
        dyld_environment=tuple(environment),
        # Two loaders in one slice: name them both, so the audit cannot pass the odd one.
        dylinker=" and ".join(loaders) or None,
    )


def _version(packed: int) -> tuple[int, int, int]:
    """Decode the xxxx.yy.zz nibbles of a Mach-O version."""
    return packed >> 16 & 0xFFFF, packed >> 8 & 0xFF, packed & 0xFF


def _string(offset: int, kind: type, data: bytes) -> str:
    """Return a load command's string (at an offset from the command's start), as dyld reads it."""
    start = offset - sizeof(load_command) - sizeof(kind)
    end = data.find(b"\0", max(start, 0))
    if start < 0 or end < 0:
        raise UnreadableMachO("a load command whose name is not inside it")
    name = data[start:end].decode("utf-8")
    if not name:
        raise UnreadableMachO("a load command with an empty name")
    return name


class _Window:
    """A slice's header and load commands, read by macholib; nothing past them.

    macholib reads each section's contents too: here a section outside the load commands reads
    as empty, and one that points back into them is read at most a few times over.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0
        self._budget = 4 * len(data) + 4096

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._data)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._position + size
        chunk = self._data[self._position : end]
        self._position += len(chunk)
        self._budget -= len(chunk)
        if self._budget < 0:
            raise UnreadableMachO("sections that point back into its load commands")
        return chunk
