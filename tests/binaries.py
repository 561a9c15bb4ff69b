"""Hand-made Mach-O and PE files: the smallest ones macholib and pefile read, honest or not."""

from __future__ import annotations

import hashlib
import struct

LC_LOAD_DYLIB = 0xC
LC_LOAD_WEAK_DYLIB = 0x80000018
LC_REEXPORT_DYLIB = 0x8000001F
LC_LAZY_LOAD_DYLIB = 0x20
LC_LOAD_UPWARD_DYLIB = 0x80000023
LC_VERSION_MIN_MACOSX = 0x24
LC_VERSION_MIN_IPHONEOS = 0x25
LC_BUILD_VERSION = 0x32
LC_DYLD_ENVIRONMENT = 0x27
CPU_TYPES = {
    "x86_64": (0x01000007, 3),
    "x86_64h": (0x01000007, 8),
    "arm64": (0x0100000C, 0),
    "arm64e": (0x0100000C, 0x80000002),
    "i386": (7, 3),
}
SYSTEM = "/usr/lib/libSystem.B.dylib"
MACHINES = {"AMD64": 0x8664, "I386": 0x14C, "ARM64": 0xAA64}


def packed_version(major: int, minor: int, patch: int = 0) -> int:
    """Return a version as Mach-O packs it: xxxx.yy.zz in nibbles."""
    return major << 16 | minor << 8 | patch


def load_command(cmd: int, body: bytes) -> bytes:
    """Return one load command, padded to 8 bytes as a 64-bit binary's must be."""
    size = 8 + len(body)
    body += b"\0" * (-size % 8)
    return struct.pack("<II", cmd, 8 + len(body)) + body


def dylib_command(name: str | bytes, cmd: int = LC_LOAD_DYLIB) -> bytes:
    """Return a command that loads a library (the name right after the 24-byte command)."""
    raw = name.encode() if isinstance(name, str) else name
    return load_command(cmd, struct.pack("<IIII", 24, 2, 0x10000, 0x10000) + raw + b"\0")


def build_version(minimum: tuple[int, int, int], platform: int = 1) -> bytes:
    """Return an LC_BUILD_VERSION: the platform (1 is macOS) and its minimum version."""
    return load_command(
        LC_BUILD_VERSION, struct.pack("<IIII", platform, packed_version(*minimum), 0, 0)
    )


def version_min(minimum: tuple[int, int, int], cmd: int = LC_VERSION_MIN_MACOSX) -> bytes:
    """Return an LC_VERSION_MIN_* command, as older linkers write the minimum version."""
    return load_command(cmd, struct.pack("<II", packed_version(*minimum), 0))


def macho(
    cpu: str = "arm64",
    *,
    commands: list[bytes] | None = None,
    minimum: tuple[int, int, int] | None = (11, 0, 0),
    dylibs: tuple[str, ...] = (SYSTEM,),
    signed: bool | None = None,
) -> bytes:
    """Return a 64-bit little-endian Mach-O executable of these load commands.

    By default: a build version for macOS `minimum` and one LC_LOAD_DYLIB per library; arm64
    code is signed ad hoc, as ld64 and zig sign it (`signed` decides otherwise).
    """
    if commands is None:
        commands = [build_version(minimum)] if minimum else []
        commands += [dylib_command(name) for name in dylibs]
    cputype, subtype = CPU_TYPES[cpu]
    if signed is None:
        signed = cpu.startswith("arm64")
    if not signed:
        body = b"".join(commands)
        header = struct.pack(
            "<IiIIIIII", 0xFEEDFACF, cputype, subtype, 2, len(commands), len(body), 0, 0
        )
        return header + body
    # The signature sits after the code, 16-byte aligned; its size depends only on the pages.
    ncmds, body_size = len(commands) + 1, sum(map(len, commands)) + 16
    code_size = -(-(32 + body_size) // 16) * 16
    slots = -(-code_size // PAGE)
    ident = b"a\0"
    directory_size = 44 + len(ident) + 32 * slots
    superblob_size = 12 + 8 + directory_size
    signature = load_command(LC_CODE_SIGNATURE, struct.pack("<II", code_size, superblob_size))
    header = struct.pack("<IiIIIIII", 0xFEEDFACF, cputype, subtype, 2, ncmds, body_size, 0, 0)
    code = header + b"".join(commands) + signature
    code += b"\0" * (code_size - len(code))
    return code + code_signature(code, ident)


PAGE = 4096
LC_CODE_SIGNATURE = 0x1D


def code_signature(code: bytes, ident: bytes = b"a\0") -> bytes:
    """Return an ad-hoc code signature of this code: a superblob with one SHA-256 directory."""
    slots = -(-len(code) // PAGE)
    hashes = b"".join(
        hashlib.sha256(code[i * PAGE : (i + 1) * PAGE]).digest() for i in range(slots)
    )
    hash_offset = 44 + len(ident)
    directory = struct.pack(
        ">IIIIIIIIIBBBBI",
        0xFADE0C02, hash_offset + len(hashes), 0x20100, 0x20002, hash_offset, 44, 0, slots,
        len(code), 32, 2, 0, 12, 0,
    )  # fmt: skip
    directory += ident + hashes
    return struct.pack(">IIIII", 0xFADE0CC0, 20 + len(directory), 1, 0, 20) + directory


def fat(
    slices: list[bytes], *, align: int = 12, entries: list[tuple[int, ...]] | None = None
) -> bytes:
    """Return a universal binary of these thin slices, each at an aligned offset, as lipo does.

    `entries` replaces the fat table's (cputype, cpusubtype, offset, size, align) rows.
    """
    rows = []
    offset = 1 << align
    for thin in slices:
        cputype, subtype = struct.unpack_from("<iI", thin, 4)
        rows.append((cputype, subtype, offset, len(thin), align))
        offset += -(-len(thin) // (1 << align)) * (1 << align)
    table = entries if entries is not None else rows
    out = bytearray(struct.pack(">II", 0xCAFEBABE, len(table)))
    for row in table:
        out += struct.pack(">iIIII", *row)
    for (_, _, at, _, _), thin in zip(rows, slices, strict=True):
        out += b"\0" * (at - len(out)) + thin
    return bytes(out)


def pe(
    machine: str = "AMD64",
    *,
    pe32_plus: bool | None = None,
    imports: tuple[str, ...] = ("KERNEL32.dll",),
    delay_imports: tuple[str, ...] = (),
    descriptors: bytes | None = None,
) -> bytes:
    """Return a PE executable with one section holding these import tables.

    PE32+ for 64-bit machines unless `pe32_plus` says otherwise. `descriptors` replaces the
    import descriptor table (for hostile ones).
    """
    wide = machine != "I386" if pe32_plus is None else pe32_plus
    thunk = "<Q" if wide else "<I"
    rva = 0x1000
    section = bytearray()

    def put(data: bytes) -> int:
        at = rva + len(section)
        section.extend(data + b"\0" * (-len(data) % 8))
        return at

    def thunks(name: str) -> tuple[int, int, int]:
        hint = put(b"\0\0" + b"Function\0")
        table = struct.pack(thunk, hint) + struct.pack(thunk, 0)
        return put(name.encode() + b"\0"), put(table), put(table)

    tables = [thunks(n) for n in imports]
    delayed = [thunks(n) for n in delay_imports]
    import_table = (
        descriptors
        if descriptors is not None
        else b"".join(struct.pack("<IIIII", ilt, 0, 0, name, iat) for name, ilt, iat in tables)
        + bytes(20)
    )
    import_rva = put(import_table)
    delay_rva = put(
        b"".join(struct.pack("<8I", 1, name, 0, iat, ilt, 0, 0, 0) for name, ilt, iat in delayed)
        + bytes(32)
    )
    section.extend(b"\0" * (-len(section) % 0x200))
    directories = [(0, 0)] * 16
    directories[1] = (import_rva, len(import_table))
    if delay_imports:
        directories[13] = (delay_rva, 32 * (len(delay_imports) + 1))
    dirs = b"".join(struct.pack("<II", *d) for d in directories)
    size_of_image = rva + len(section)
    if wide:
        optional = struct.pack(
            "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII", 0x20B, 14, 0, 0, len(section), 0, rva, rva,
            0x140000000, 0x1000, 0x200, 6, 0, 0, 0, 6, 0, 0, size_of_image, 0x200, 0, 3, 0x8160,
            0x100000, 0x1000, 0x100000, 0x1000, 0, 16,
        )  # fmt: skip
    else:
        optional = struct.pack(
            "<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII", 0x10B, 14, 0, 0, len(section), 0, rva, rva, rva,
            0x400000, 0x1000, 0x200, 6, 0, 0, 0, 6, 0, 0, size_of_image, 0x200, 0, 3, 0x8140,
            0x100000, 0x1000, 0x100000, 0x1000, 0, 16,
        )  # fmt: skip
    optional += dirs
    coff = struct.pack(
        "<HHIIIHH", MACHINES[machine], 1, 0, 0, 0, len(optional), 0x22 if wide else 0x102
    )
    header = struct.pack(
        "<8sIIIIIIHHI", b".idata", len(section), rva, len(section), 0x200, 0, 0, 0, 0, 0xC0000040
    )
    dos = b"MZ" + b"\0" * 0x3A + struct.pack("<I", 0x40)
    headers = dos + b"PE\0\0" + coff + optional + header
    return headers + b"\0" * (0x200 - len(headers)) + bytes(section)
