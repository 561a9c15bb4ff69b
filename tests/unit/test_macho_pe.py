"""The Mach-O and PE readers and their audit, on hand-made files: honest, lying and hostile.

Each reader must return facts, None for another format, or its Unreadable error, never another
exception, never read past its limits. The audit must name every broken promise of a macOS or
Windows tag or triple, and pass the honest binaries.
"""

from __future__ import annotations

import contextlib
import struct
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from castoff.assemble.audit import (
    archive_findings,
    audit_archive,
    audit_binary,
    audit_wheel,
    is_macos_system_library,
    is_windows_system_dll,
)
from castoff.assemble.contents import ContentsError, Expected, read_archive, read_wheel, sniff
from castoff.assemble.macho import MAX_SLICES, UnreadableMachO, read_macho
from castoff.assemble.pe import MAX_DLLS, PE32, PE32_PLUS, UnreadablePE, read_pe
from tests.binaries import (
    LC_BUILD_VERSION,
    LC_DYLD_ENVIRONMENT,
    LC_LAZY_LOAD_DYLIB,
    LC_LOAD_UPWARD_DYLIB,
    LC_LOAD_WEAK_DYLIB,
    LC_REEXPORT_DYLIB,
    LC_VERSION_MIN_IPHONEOS,
    SYSTEM,
    build_version,
    dylib_command,
    fat,
    load_command,
    macho,
    pe,
    version_min,
)
from tests.wheels import elf_stub, make_wheel, program_for, write_zip

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
X86 = macho("x86_64", minimum=(10, 12, 0))
ARM = macho("arm64", minimum=(11, 0, 0))


def _problems(binary: bytes, tag: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    facts = read_macho(binary) or read_pe(binary)
    assert facts is not None
    findings = audit_binary(
        facts, artifact="w.whl", binary="hello", tags=[tag], allowed_libraries=allowed
    )
    assert all(f.tag == tag for f in findings)
    return [f.problem for f in findings]


# Mach-O: what the reader sees.


def test_a_thin_binary_has_one_slice_with_its_cpu_minimum_and_libraries() -> None:
    """CPU from cputype, minimum macOS from LC_BUILD_VERSION, the libraries it loads."""
    facts = read_macho(macho("x86_64", minimum=(10, 12, 1), dylibs=(SYSTEM, "@rpath/libfoo.dylib")))
    assert facts is not None
    assert not facts.fat
    [found] = facts.slices
    assert (found.cpu, found.min_macos, found.dylibs) == (
        "x86_64",
        (10, 12, 1),
        (SYSTEM, "@rpath/libfoo.dylib"),
    )
    assert found.other_platforms == ()


def test_version_min_macosx_is_decoded_from_its_nibbles() -> None:
    """LC_VERSION_MIN_MACOSX packs xxxx.yy.zz; older linkers write it instead of a build version."""
    [found] = read_macho(macho(commands=[version_min((10, 9, 3))])).slices  # type: ignore[union-attr]
    assert found.min_macos == (10, 9, 3)


def test_the_higher_of_two_minimum_versions_counts() -> None:
    """Both commands in one slice: the one that can fail is the higher."""
    commands = [version_min((10, 9, 0)), build_version((12, 0, 0))]
    [found] = read_macho(macho(commands=commands)).slices  # type: ignore[union-attr]
    assert found.min_macos == (12, 0, 0)


def test_every_command_that_loads_a_library_is_read() -> None:
    """Weak, re-exported, lazy and upward libraries are loaded by dyld too."""
    kinds = [LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB]
    commands = [build_version((11, 0, 0))] + [
        dylib_command(f"@rpath/lib{i}.dylib", kind) for i, kind in enumerate(kinds)
    ]
    [found] = read_macho(macho(commands=commands)).slices  # type: ignore[union-attr]
    assert found.dylibs == tuple(f"@rpath/lib{i}.dylib" for i in range(4))


def test_other_platforms_are_recorded() -> None:
    """An iOS build version or LC_VERSION_MIN_IPHONEOS names iOS, not a macOS minimum."""
    commands = [
        build_version((15, 0, 0), platform=2),
        version_min((9, 0, 0), LC_VERSION_MIN_IPHONEOS),
    ]
    [found] = read_macho(macho(commands=commands)).slices  # type: ignore[union-attr]
    assert (found.min_macos, found.other_platforms) == (None, ("iOS",))


def test_a_universal_binary_has_a_slice_per_cpu() -> None:
    """Each slice is read at its offset, with its own minimum."""
    facts = read_macho(fat([X86, ARM]))
    assert facts is not None
    assert facts.fat
    assert [(s.cpu, s.min_macos) for s in facts.slices] == [
        ("x86_64", (10, 12, 0)),
        ("arm64", (11, 0, 0)),
    ]


def test_arm64e_and_x86_64h_are_not_arm64_and_x86_64() -> None:
    """Their subtypes run on fewer Macs: they are named apart."""
    assert read_macho(macho("arm64e")).slices[0].cpu == "arm64e"  # type: ignore[union-attr]
    assert read_macho(macho("x86_64h")).slices[0].cpu == "x86_64h"  # type: ignore[union-attr]


def test_other_formats_are_not_mach_o() -> None:
    """ELF, PE and text are None, not errors."""
    assert read_macho(elf_stub()) is None
    assert read_macho(pe()) is None
    assert read_macho(b"#!/bin/sh\n") is None
    assert read_macho(b"") is None


def _slice_count(count: int) -> bytes:
    return struct.pack(">II", 0xCAFEBABE, count) + b"\0" * 64


HOSTILE_FAT = {
    "huge slice count": (_slice_count(0xFFFFFFFF), "claims 4294967295 slices"),
    "no slices": (_slice_count(0), "claims 0 slices"),
    "too many slices": (_slice_count(MAX_SLICES + 1), f"claims {MAX_SLICES + 1} slices"),
    "table past the end": (struct.pack(">II", 0xCAFEBABE, 3) + b"\0" * 20, "cut short"),
    "offset past the end": (fat([ARM], entries=[(0x0100000C, 0, 0xFFFFFF00, 64, 12)]), "outside"),
    "size past the end": (fat([ARM], entries=[(0x0100000C, 0, 4096, 1 << 30, 12)]), "outside"),
    "slice over the table": (fat([ARM], entries=[(0x0100000C, 0, 0, 64, 0)]), "outside"),
    "empty slice": (fat([ARM], entries=[(0x0100000C, 0, 4096, 0, 12)]), "outside"),
    "overlapping slices": (
        fat([ARM], entries=[(0x0100000C, 0, 4096, len(ARM), 12), (0x01000007, 3, 4100, 16, 0)]),
        "overlap",
    ),
    "two arm64 slices": (fat([ARM, macho("arm64", minimum=(15, 0, 0))]), "two slices for one CPU"),
    "entry and header disagree": (
        fat([ARM], entries=[(0x01000007, 3, 4096, len(ARM), 12)]),
        "listed as x86_64 whose header says arm64",
    ),
    "nested universal binary": (fat([fat([ARM])]), "not a Mach-O binary"),
    "slice of zeros": (fat([b"\0" * 64], entries=[(0x0100000C, 0, 4096, 64, 12)]), "not a Mach-O"),
}


@pytest.mark.parametrize(("binary", "match"), HOSTILE_FAT.values(), ids=HOSTILE_FAT.keys())
def test_hostile_universal_headers_are_refused(binary: bytes, match: str) -> None:
    """Slice counts, offsets and sizes are checked against the file before anything is read."""
    with pytest.raises(UnreadableMachO, match=match):
        read_macho(binary)


def _with_header(binary: bytes, **fields: int) -> bytes:
    names = [
        "magic",
        "cputype",
        "cpusubtype",
        "filetype",
        "ncmds",
        "sizeofcmds",
        "flags",
        "reserved",
    ]
    values = list(struct.unpack_from("<8I", binary))
    for name, value in fields.items():
        values[names.index(name)] = value
    return struct.pack("<8I", *values) + binary[32:]


def _name_at(offset: int, tail: bytes = b"x\0") -> bytes:
    return macho(
        signed=False, commands=[load_command(0xC, struct.pack("<IIII", offset, 0, 0, 0) + tail)]
    )


# Unsigned: the damage is in the load commands, not in a signature after them.
BARE = macho(signed=False)
DAMAGED = {
    "header cut short": (BARE[:20], "header is cut short"),
    "huge sizeofcmds": (_with_header(BARE, sizeofcmds=0xFFFFFFF0), "load commands of 4294967280"),
    "sizeofcmds past the end": (_with_header(BARE, sizeofcmds=len(ARM)), "bytes in a"),
    "commands cut short": (BARE[:-8], "bytes in a"),
    # More commands than the bytes hold: macholib runs out of load commands to read.
    "huge ncmds": (_with_header(BARE, ncmds=0xFFFFFFFF), "error"),
    "command longer than the commands": (
        macho(signed=False, commands=[struct.pack("<II", LC_BUILD_VERSION, 4096) + bytes(16)]),
        "Error",
    ),
    "command shorter than itself": (
        macho(signed=False, commands=[struct.pack("<II", LC_BUILD_VERSION, 0) + bytes(16)]),
        "Error",
    ),
    "name past its command": (_name_at(4096), "not inside"),
    "name inside the command's fields": (_name_at(8), "not inside"),
    "name without its NUL": (_name_at(24, b"abcdefgh"), "not inside"),
    "empty name": (macho(signed=False, commands=[dylib_command("")]), "empty name"),
    "name that is not UTF-8": (
        macho(signed=False, commands=[dylib_command(b"lib\xff.dylib")]),
        "Unicode",
    ),
    # A command dyld must understand (LC_REQ_DYLD) that no one here knows.
    "unknown required command": (
        macho(signed=False, commands=[load_command(0x80000077, bytes(8))]),
        "dyld must understand",
    ),
}


@pytest.mark.parametrize(("binary", "match"), DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_load_commands_are_refused(binary: bytes, match: str) -> None:
    """Truncated, overlong or pointing outside themselves: UnreadableMachO, never a crash."""
    with pytest.raises(UnreadableMachO, match=match):
        read_macho(binary)


def test_an_unknown_command_dyld_may_ignore_is_ignored() -> None:
    """New linkers add commands (LC_ATOM_INFO): without LC_REQ_DYLD, dyld skips them too."""
    binary = macho(commands=[build_version((11, 0, 0)), load_command(0x36, bytes(8))])
    assert read_macho(binary) is not None


def _segment_pointing_back(sections: int) -> bytes:
    body = b"__TEXT".ljust(16, b"\0") + struct.pack("<QQQQIIII", 0, 0, 0, 0, 5, 5, sections, 0)
    for _ in range(sections):
        # offset 0, a gigabyte: each section "reads" the load commands again.
        body += b"__text".ljust(16, b"\0") + b"__TEXT".ljust(16, b"\0")
        body += struct.pack("<QQIIIIIIII", 0, 1 << 30, 0, 0, 0, 0, 0, 0, 0, 0)
    return struct.pack("<II", 0x19, 8 + len(body)) + body


def test_sections_pointing_back_into_the_load_commands_are_refused_quickly() -> None:
    """Macholib reads each section's bytes; a thousand over the commands would cost gigabytes."""
    binary = macho(commands=[_segment_pointing_back(1000)])
    start = time.monotonic()
    with pytest.raises(UnreadableMachO, match="point back into its load commands"):
        read_macho(binary)
    assert time.monotonic() - start < 5


def test_sections_past_the_load_commands_are_not_read() -> None:
    """An honest segment's sections lie after the commands: the reader needs none of it."""
    body = b"__TEXT".ljust(16, b"\0") + struct.pack("<QQQQIIII", 0, 0, 0, 0, 5, 5, 1, 0)
    body += b"__text".ljust(16, b"\0") + b"__TEXT".ljust(16, b"\0")
    body += struct.pack("<QQIIIIIIII", 0, 4096, 8192, 0, 0, 0, 0, 0, 0, 0)
    segment = struct.pack("<II", 0x19, 8 + len(body)) + body
    binary = macho(commands=[segment, build_version((11, 0, 0)), dylib_command(SYSTEM)])
    facts = read_macho(binary.ljust(16384, b"\xcc"))
    assert facts is not None
    assert facts.slices[0].dylibs == (SYSTEM,)


@FUZZ
@given(st.binary(min_size=1, max_size=24), st.integers(0, len(fat([X86, ARM])) - 1))
def test_mutated_mach_o_never_crashes(junk: bytes, at: int) -> None:
    """Bytes overwritten anywhere in a universal binary: facts or UnreadableMachO."""
    honest = fat([X86, ARM])
    binary = honest[:at] + junk + honest[at + len(junk) :]
    with contextlib.suppress(UnreadableMachO):
        read_macho(binary)


@FUZZ
@given(st.integers(0, len(ARM) - 1))
def test_truncated_mach_o_never_crashes(cut: int) -> None:
    """Cut anywhere: None (too short for a magic), facts, or UnreadableMachO."""
    with contextlib.suppress(UnreadableMachO):
        read_macho(ARM[:cut])


# PE: what the reader sees.


@pytest.mark.parametrize(
    ("machine", "magic"), [("AMD64", PE32_PLUS), ("I386", PE32), ("ARM64", PE32_PLUS)]
)
def test_a_pe_has_its_machine_magic_and_imports(machine: str, magic: int) -> None:
    """The COFF machine, PE32 or PE32+, and the DLLs of both import tables."""
    facts = read_pe(pe(machine, imports=("KERNEL32.dll", "libfoo.dll"), delay_imports=("bar.dll",)))
    assert facts is not None
    assert (facts.machine, facts.magic) == (machine, magic)
    assert facts.imports == ("KERNEL32.dll", "libfoo.dll")
    assert facts.delay_imports == ("bar.dll",)


def test_other_formats_are_not_pe() -> None:
    """No MZ: None."""
    assert read_pe(elf_stub()) is None
    assert read_pe(ARM) is None
    assert read_pe(b"M") is None


@pytest.mark.parametrize("cut", [2, 63, 0x40, 0x50, 0x120, 0x200, 0x210])
def test_a_truncated_pe_is_refused(cut: int) -> None:
    """Cut in its DOS header, PE header, optional header or import table."""
    with pytest.raises(UnreadablePE):
        read_pe(pe(imports=("KERNEL32.dll", "libfoo.dll"))[:cut])


def test_a_pe_header_pointing_past_the_file_is_refused() -> None:
    """e_lfanew beyond the end of the file."""
    binary = bytearray(pe())
    binary[0x3C:0x40] = struct.pack("<I", 1 << 30)
    with pytest.raises(UnreadablePE):
        read_pe(bytes(binary))


def test_an_import_table_that_never_ends_is_refused_quickly() -> None:
    """Millions of descriptors would each become a pefile structure: refused at MAX_DLLS."""
    descriptor = struct.pack("<IIIII", 0, 0, 0, 0x1000, 0)
    binary = pe(descriptors=descriptor * (MAX_DLLS + 10) + bytes(20))
    start = time.monotonic()
    with pytest.raises(UnreadablePE, match=f"more than {MAX_DLLS} DLLs"):
        read_pe(binary)
    assert time.monotonic() - start < 5


def test_an_import_table_outside_the_file_is_refused() -> None:
    """Pefile stops at a table it cannot read, and warns; the loader might read on."""
    binary = bytearray(pe())
    optional = 0x40 + 4 + 20
    binary[optional + 112 + 8 : optional + 112 + 12] = struct.pack("<I", 0x7FFF0000)
    with pytest.raises(UnreadablePE, match="import tables are damaged"):
        read_pe(bytes(binary))


def test_an_imported_name_that_is_no_file_name_is_refused() -> None:
    """Pefile marks it *invalid*: castoff cannot say what the loader would look for."""
    with pytest.raises(UnreadablePE, match="not a file name"):
        read_pe(pe(imports=("evil\x01.dll",)))


@FUZZ
@given(st.binary(min_size=1, max_size=16), st.integers(0, 0x400))
def test_mutated_pe_never_crashes(junk: bytes, at: int) -> None:
    """Bytes overwritten in the headers or the import table: facts or UnreadablePE."""
    honest = pe(imports=("KERNEL32.dll", "libfoo.dll"), delay_imports=("bar.dll",))
    with contextlib.suppress(UnreadablePE):
        read_pe(honest[:at] + junk + honest[at + len(junk) :])


# The audit of macOS tags.


@pytest.mark.parametrize(
    ("binary", "tag"),
    [
        (X86, "macosx_10_12_x86_64"),
        (ARM, "macosx_11_0_arm64"),
        (macho("arm64", minimum=(13, 0, 0)), "macosx_13_0_arm64"),
        (fat([X86, ARM]), "macosx_11_0_universal2"),
        (fat([X86, ARM]), "macosx_10_12_x86_64"),
        (fat([X86, ARM]), "macosx_11_0_arm64"),
        # No Mac before 11.0 runs arm64: a 10.12 universal2 tag speaks for x86_64 alone.
        (fat([X86, ARM]), "macosx_10_12_universal2"),
        (
            macho(
                "x86_64",
                dylibs=(
                    SYSTEM,
                    "/System/Library/Frameworks/CoreFoundation.framework/Versions/A/CoreFoundation",
                    "/usr/lib/libiconv.2.dylib",
                ),
            ),
            "macosx_11_0_x86_64",
        ),
    ],
)
def test_honest_mach_o_binaries_keep_their_tags(binary: bytes, tag: str) -> None:
    """The right slices, a minimum at or below the tag's, only system libraries."""
    assert _problems(binary, tag) == []


@pytest.mark.parametrize(
    ("binary", "tag", "problem"),
    [
        (ARM, "macosx_10_12_x86_64", "is arm64, not x86_64"),
        (macho("arm64e"), "macosx_11_0_arm64", "is arm64e, not arm64"),
        (ARM, "macosx_11_0_universal2", "has no x86_64 slice (it is arm64)"),
        (macho("arm64", minimum=(13, 0, 0)), "macosx_11_0_arm64", "needs macOS 13.0"),
        (macho("x86_64", minimum=(10, 12, 1)), "macosx_10_12_x86_64", "needs macOS 10.12.1"),
        (
            fat([X86, macho("arm64", minimum=(12, 0, 0))]),
            "macosx_10_12_universal2",
            "needs macOS 12.0 (its arm64 slice)",
        ),
        # A slice the tag does not name runs too (arm64 natively on Apple silicon): checked.
        (
            fat([X86, macho("arm64", dylibs=(SYSTEM, "/opt/homebrew/lib/libssl.3.dylib"))]),
            "macosx_10_12_x86_64",
            (
                "loads /opt/homebrew/lib/libssl.3.dylib (its arm64 slice), which is not a "
                "system library"
            ),
        ),
        (
            fat([X86, macho("x86_64h", minimum=(15, 0, 0))]),
            "macosx_10_12_x86_64",
            "needs macOS 15.0 (its x86_64h slice)",
        ),
        (
            macho(
                "arm64",
                commands=[
                    build_version((11, 0, 0)),
                    load_command(0xE, struct.pack("<I", 12) + b"/tmp/evil/dyld\0"),
                ],
            ),
            "macosx_11_0_arm64",
            "names /tmp/evil/dyld as its loader, not /usr/lib/dyld",
        ),
        (
            macho(minimum=None),
            "macosx_11_0_arm64",
            "names no minimum macOS version (LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX)",
        ),
        (
            macho(commands=[build_version((11, 0, 0)), build_version((14, 0, 0), platform=2)]),
            "macosx_11_0_arm64",
            "is built for iOS, not macOS",
        ),
        (
            macho(dylibs=(SYSTEM, "@rpath/libfoo.dylib")),
            "macosx_11_0_arm64",
            "loads @rpath/libfoo.dylib, which is not a system library",
        ),
        (
            macho(dylibs=("/opt/homebrew/lib/libssl.3.dylib", "@executable_path/libz.dylib")),
            "macosx_11_0_arm64",
            (
                "loads /opt/homebrew/lib/libssl.3.dylib, @executable_path/libz.dylib, which are "
                "not system libraries"
            ),
        ),
        (
            macho(dylibs=("/usr/lib/../local/lib/libfoo.dylib",)),
            "macosx_11_0_arm64",
            "loads /usr/lib/../local/lib/libfoo.dylib, which is not a system library",
        ),
        (
            macho(dylibs=("/System/Library/PrivateFrameworks/X.framework/X",)),
            "macosx_11_0_arm64",
            "loads /System/Library/PrivateFrameworks/X.framework/X, which is not a system library",
        ),
        (
            macho(
                commands=[
                    build_version((11, 0, 0)),
                    load_command(
                        LC_DYLD_ENVIRONMENT,
                        struct.pack("<I", 12) + b"DYLD_LIBRARY_PATH=@executable_path\0",
                    ),
                ]
            ),
            "macosx_11_0_arm64",
            (
                "sets dyld's environment (DYLD_LIBRARY_PATH=@executable_path), so it can load "
                "libraries from anywhere"
            ),
        ),
        (pe(), "macosx_11_0_arm64", "is PE, not Mach-O"),
        (ARM, "macosx_11_0_intel", "is in a wheel whose tag castoff cannot audit"),
    ],
)
def test_mach_o_lies_are_named(binary: bytes, tag: str, problem: str) -> None:
    """Each broken promise of a macOS tag, in the words the finding uses."""
    assert _problems(binary, tag) == [problem]


def test_allowed_libraries_are_mach_o_install_names_exactly() -> None:
    """A project can vouch for a library it ships; the install name must match to the byte."""
    binary = macho(dylibs=(SYSTEM, "@rpath/libfoo.dylib"))
    assert _problems(binary, "macosx_11_0_arm64", frozenset({"@rpath/libfoo.dylib"})) == []
    assert _problems(binary, "macosx_11_0_arm64", frozenset({"@rpath/LIBFOO.dylib"})) != []


def test_system_library_names() -> None:
    """/usr/lib and public frameworks are macOS's; paths that only start like them are not."""
    assert is_macos_system_library("/usr/lib/libSystem.B.dylib")
    assert is_macos_system_library("/System/Library/Frameworks/Security.framework/Security")
    for name in (
        "/usr/local/lib/libfoo.dylib",
        "/usr/lib/../../opt/x.dylib",
        "/usr/lib//libfoo.dylib",
        "/usr/libfoo.dylib",
        "@rpath/libSystem.B.dylib",
        "libSystem.B.dylib",
        "/System/Library/PrivateFrameworks/X.framework/X",
    ):
        assert not is_macos_system_library(name), name


# The audit of Windows tags.


@pytest.mark.parametrize(
    ("machine", "tag"), [("AMD64", "win_amd64"), ("I386", "win32"), ("ARM64", "win_arm64")]
)
def test_honest_pe_binaries_keep_their_tags(machine: str, tag: str) -> None:
    """The tag's machine and PE kind; system DLLs and API sets only."""
    imports = ("KERNEL32.dll", "ntdll.dll", "api-ms-win-crt-runtime-l1-1-0.dll", "WS2_32.dll")
    assert (
        _problems(pe(machine, imports=imports, delay_imports=("ext-ms-win-foo-l1-1-0.dll",)), tag)
        == []
    )


@pytest.mark.parametrize(
    ("binary", "tag", "problem"),
    [
        (pe("ARM64"), "win_amd64", "is ARM64, not AMD64"),
        (pe("I386"), "win_amd64", "is I386, not AMD64"),
        (pe("AMD64"), "win32", "is AMD64, not I386"),
        (pe("AMD64"), "win_arm64", "is AMD64, not ARM64"),
        (pe("AMD64", pe32_plus=False), "win_amd64", "is PE32, not PE32+"),
        (pe("I386", pe32_plus=True), "win32", "is PE32+, not PE32"),
        (
            pe(imports=("KERNEL32.dll", "libfoo.dll")),
            "win_amd64",
            "imports libfoo.dll, which is not a Windows system or UCRT DLL",
        ),
        (
            pe(imports=("libgcc_s_seh-1.dll", "libwinpthread-1.dll", "VCRUNTIME140.dll")),
            "win_amd64",
            (
                "imports libgcc_s_seh-1.dll, libwinpthread-1.dll, VCRUNTIME140.dll, which are not "
                "Windows system or UCRT DLLs"
            ),
        ),
        (
            pe(delay_imports=("libfoo.dll",)),
            "win_amd64",
            "imports libfoo.dll, which is not a Windows system or UCRT DLL",
        ),
        (ARM, "win_amd64", "is Mach-O, not PE"),
        (pe(), "manylinux_2_17_x86_64", "is PE, not ELF"),
        (ARM, "musllinux_1_2_aarch64", "is Mach-O, not ELF"),
    ],
)
def test_pe_lies_are_named(binary: bytes, tag: str, problem: str) -> None:
    """Each broken promise of a Windows tag, in the words the finding uses."""
    assert _problems(binary, tag) == [problem]


def test_allowed_libraries_are_dll_names_in_any_case() -> None:
    """Windows compares DLL names without case; so does the allow-list."""
    binary = pe(imports=("KERNEL32.dll", "VCRUNTIME140.dll"))
    assert _problems(binary, "win_amd64", frozenset({"vcruntime140.DLL"})) == []
    assert _problems(binary, "win_amd64", frozenset({"vcruntime140_1.dll"})) != []


def test_windows_system_dll_names() -> None:
    """System DLLs and API sets in any case; paths and look-alikes are not."""
    for name in ("KERNEL32.dll", "kernel32", "ucrtbase.DLL", "api-ms-win-core-synch-l1-2-0.dll"):
        assert is_windows_system_dll(name), name
    for name in (
        "C:\\Windows\\System32\\evil.dll",
        "..\\kernel32.dll",
        "sub/kernel32.dll",
        "kernel32.dll.evil",
        "api-ms-win-../evil.dll",
        "vcruntime140.dll",
        "python312.dll",
    ):
        assert not is_windows_system_dll(name), name


# Wheels, archives and the members that carry the facts.


def test_a_mac_wheel_is_audited_from_its_bytes(tmp_path: Path) -> None:
    """audit_wheel reads the member's Mach-O facts and checks the wheel's tag."""
    lying = make_wheel(tmp_path, ["macosx_11_0_arm64"], macho("arm64", minimum=(13, 0, 0)))
    [finding] = audit_wheel(lying)
    assert finding.line() == (
        "demo-1.0-py3-none-macosx_11_0_arm64.whl: demo-1.0.data/scripts/hello needs macOS 13.0 "
        "but is tagged macosx_11_0_arm64"
    )
    honest = make_wheel(tmp_path, ["macosx_13_0_arm64"], macho("arm64", minimum=(13, 0, 0)))
    assert audit_wheel(honest) == []


def test_allowed_libraries_reach_the_wheel_audit(tmp_path: Path) -> None:
    """audit_wheel passes the allow-list down to each binary."""
    wheel = make_wheel(tmp_path, ["win_amd64"], pe(imports=("KERNEL32.dll", "libfoo.dll")))
    [finding] = audit_wheel(wheel)
    assert finding.problem == "imports libfoo.dll, which is not a Windows system or UCRT DLL"
    assert audit_wheel(wheel, allowed_libraries=frozenset({"LIBFOO.DLL"})) == []


def test_an_unreadable_mach_o_is_a_finding_and_refused_by_the_plan(tmp_path: Path) -> None:
    """The member carries the reader's problem: the audit names it, a planned read refuses it."""
    wheel = make_wheel(tmp_path, ["macosx_11_0_arm64"], _slice_count(0xFFFFFFFF))
    [finding] = audit_wheel(wheel)
    assert finding.problem == (
        "is not a readable Mach-O file (a universal binary that claims 4294967295 slices)"
    )
    expected = Expected(
        project="demo", version="1.0", binaries=("hello",), format="mach-o", executable=True
    )
    with pytest.raises(ContentsError, match="is not a readable Mach-O file"):
        read_wheel(wheel, expected)


def test_an_unreadable_pe_is_a_finding(tmp_path: Path) -> None:
    """Truncated PE in a Windows wheel: named, never a crash."""
    wheel = make_wheel(tmp_path, ["win_amd64"], pe()[:0x100])
    [finding] = audit_wheel(wheel)
    assert finding.problem.startswith("is not a readable PE file (")


def test_a_64_bit_universal_header_is_mach_o() -> None:
    """FAT_MAGIC_64 (0xcafebabf) is a universal binary too."""
    assert sniff(b"\xca\xfe\xba\xbf") == "mach-o"
    binary = b"\xca\xfe\xba\xbf" + struct.pack(">I", 1) + b"\0" * 32
    with pytest.raises(UnreadableMachO, match="outside"):
        read_macho(binary)


def _tar(path: Path, folder: str, binary: bytes) -> Path:
    source = path.parent / "hello"
    source.write_bytes(binary)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source, arcname=f"{folder}/hello")
    return path


@pytest.mark.parametrize(
    ("triple", "binary", "problems"),
    [
        ("aarch64-apple-darwin", ARM, []),
        # An archive's name promises no minimum macOS.
        ("aarch64-apple-darwin", macho("arm64", minimum=(15, 0, 0)), []),
        ("x86_64-apple-darwin", fat([X86, ARM]), []),
        ("x86_64-apple-darwin", ARM, ["is arm64, not x86_64"]),
        (
            "aarch64-apple-darwin",
            macho(dylibs=("@rpath/libfoo.dylib",)),
            ["loads @rpath/libfoo.dylib, which is not a system library"],
        ),
        ("aarch64-apple-darwin", elf_stub(machine=183), ["is ELF, not Mach-O"]),
        ("x86_64-unknown-linux-musl", X86, ["is Mach-O, not ELF"]),
    ],
)
def test_mac_archives_are_audited_by_triple(
    tmp_path: Path, triple: str, binary: bytes, problems: list[str]
) -> None:
    """CPU, format and libraries against the triple in the archive's name."""
    path = _tar(tmp_path / f"hello-{triple}.tar.gz", f"hello-{triple}", binary)
    findings = audit_archive(path)
    assert [f.problem for f in findings] == problems
    assert all(f.tag == triple for f in findings)


@pytest.mark.parametrize(
    ("triple", "binary", "problems"),
    [
        ("x86_64-pc-windows-gnu", pe("AMD64"), []),
        ("i686-pc-windows-msvc", pe("I386"), []),
        ("aarch64-pc-windows-msvc", pe("ARM64"), []),
        ("x86_64-pc-windows-msvc", pe("ARM64"), ["is ARM64, not AMD64"]),
        (
            "x86_64-pc-windows-msvc",
            pe(imports=("VCRUNTIME140.dll",)),
            ["imports VCRUNTIME140.dll, which is not a Windows system or UCRT DLL"],
        ),
        ("x86_64-pc-windows-gnu", X86, ["is Mach-O, not PE"]),
    ],
)
def test_windows_archives_are_audited_by_triple(
    tmp_path: Path, triple: str, binary: bytes, problems: list[str]
) -> None:
    """Machine, format and DLLs against the triple in the zip's name."""
    path = write_zip(tmp_path / f"hello-{triple}.zip", {f"hello-{triple}/hello.exe": binary})
    assert [f.problem for f in audit_archive(path)] == problems


def test_archive_findings_take_allowed_libraries(tmp_path: Path) -> None:
    """The assembler's path: members already read, the allow-list passed in."""
    triple = "x86_64-pc-windows-msvc"
    path = write_zip(
        tmp_path / f"hello-{triple}.zip",
        {f"hello-{triple}/hello.exe": pe(imports=("VCRUNTIME140.dll",))},
    )
    members = read_archive(path)
    assert archive_findings(members, artifact=path.name, triple=triple) != []
    assert (
        archive_findings(
            members,
            artifact=path.name,
            triple=triple,
            allowed_libraries=frozenset({"vcruntime140.dll"}),
        )
        == []
    )


@pytest.mark.parametrize(
    "triple", ["aarch64-apple-darwin", "x86_64-apple-darwin", "x86_64-pc-windows-gnu"]
)
def test_the_tests_stand_in_programs_pass_the_audit(tmp_path: Path, triple: str) -> None:
    """program_for (the benchmark's and fake builds' binaries) keeps its target's promises."""
    from castoff.targets import TARGETS, native_platform_tags  # noqa: PLC0415

    target = TARGETS[triple]
    binary = program_for(triple, b"payload")
    tags = list(native_platform_tags(target, macosx=target.macos_floor))
    assert audit_wheel(make_wheel(tmp_path, tags, binary)) == []


def _mac_problems(binary: bytes, tag: str = "macosx_11_0_arm64") -> list[str]:
    facts = read_macho(binary)
    assert facts is not None
    return [f.problem for f in audit_binary(facts, artifact="a.whl", binary="hello", tags=[tag])]


def test_an_arm64_program_needs_a_code_signature_that_holds_its_code() -> None:
    """An arm64 program with no signature, or whose pages changed after signing, is refused."""
    signed = macho("arm64")
    assert read_macho(signed).slices[0].signature == "valid"  # type: ignore[union-attr]
    assert _mac_problems(signed) == []
    assert _mac_problems(macho("arm64", signed=False)) == [
        "has no code signature, which macOS requires of arm64 code"
    ]
    # A byte of code changed after signing (a strip that does not sign again).
    changed = bytearray(signed)
    changed[28] ^= 0xFF  # the header's reserved field: only the signature notices
    (problem,) = _mac_problems(bytes(changed))
    assert problem.startswith("has a code signature macOS would reject: page 0 of its code")
    # x86_64 may go unsigned; a signature it has must hold all the same.
    assert (
        _mac_problems(macho("x86_64", signed=False, minimum=(10, 12, 0)), "macosx_10_12_x86_64")
        == []
    )
    intel = bytearray(macho("x86_64", signed=True, minimum=(10, 12, 0)))
    assert _mac_problems(bytes(intel), "macosx_10_12_x86_64") == []
    intel[28] ^= 0xFF
    assert _mac_problems(bytes(intel), "macosx_10_12_x86_64")[0].startswith(
        "has a code signature macOS would reject"
    )


def _resign(binary: bytes, mutate: Callable[[bytes], bytes]) -> bytes:
    """Return a signed binary whose signature blob a function changed (bytes in, bytes out)."""
    start = binary.rfind(b"\xfa\xde\x0c\xc0")
    return binary[:start] + mutate(binary[start:])


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda b: b[:16], "lies outside the slice"),
        # A directory that claims more hashes than the blob holds.
        (lambda b: b[:36] + struct.pack(">I", 4000) + b[40:], "cut short"),
        (lambda b: b"\0\0\0\0" + b[4:], "not a code signature superblob"),
        (lambda b: b[:8] + b"\0\0\0\0" + b[12:], "has no code directory"),
        (lambda b: b[:20] + b"\0\0\0\0" + b[24:], "code directory is damaged"),
        # codeLimit (at 20 + 32) says less code than precedes the signature.
        (lambda b: b[:52] + struct.pack(">I", 16) + b[56:], "covers 16 bytes of code"),
        # nCodeSlots (at 20 + 28) disagrees with the pages.
        (lambda b: b[:48] + struct.pack(">I", 99) + b[52:], "does not page the code"),
    ],
)
def test_a_damaged_code_signature_is_named_never_a_crash(
    mutate: Callable[[bytes], bytes], problem: str
) -> None:
    """Each way a signature can fail to hold its code is a finding, read within the slice."""
    (found,) = _mac_problems(_resign(macho("arm64"), mutate))
    assert problem in found, found


def test_a_signature_outside_the_slice_is_named() -> None:
    """LC_CODE_SIGNATURE pointing past the file is refused before anything is read there."""
    signed = bytearray(macho("arm64"))
    at = signed.find(struct.pack("<II", 0x1D, 16))
    struct.pack_into("<II", signed, at + 8, 1 << 30, 64)
    (found,) = _mac_problems(bytes(signed))
    assert "lies outside the slice" in found


def test_two_slices_of_one_cpu_name_are_refused() -> None:
    """arm64 subtypes 1 and 0 are both arm64: dyld runs one, the audit would read the other."""
    other = bytearray(macho("arm64", dylibs=(SYSTEM, "/opt/homebrew/lib/libx.dylib")))
    struct.pack_into("<I", other, 8, 1)  # cpusubtype 1 (ARM64_V8)
    with pytest.raises(UnreadableMachO, match="two slices for one CPU"):
        read_macho(fat([bytes(other), ARM]))


def _spanning_name(tail: bytes = b"_x.dll\0") -> bytes:
    """Return a PE whose imported DLL name ends in the next section (the reviewer's layout)."""
    section_align, file_align = 0x1000, 0x200
    hdr_size = 0x400
    s1_va, s1_size = 0x1000, 0x1000
    s2_va, s2_size = 0x2000, 0x200
    sec1 = bytearray(s1_size)
    # hint/name at 0x1100, ILT at 0x1080, IAT at 0x10c0
    struct.pack_into("<H", sec1, 0x100, 0)
    sec1[0x102:0x10B] = b"Function\0"
    struct.pack_into("<QQ", sec1, 0x80, 0x1100, 0)
    struct.pack_into("<QQ", sec1, 0xC0, 0x1100, 0)
    name_rva = s1_va + s1_size - 6
    sec1[-6:] = b"user32"  # no NUL: the name continues in memory
    struct.pack_into("<IIIII", sec1, 0, 0x1080, 0, 0, name_rva, 0x10C0)  # descriptor + zero one
    sec2 = bytearray(s2_size)
    sec2[: len(tail)] = tail
    dirs = [(0, 0)] * 16
    dirs[1] = (0x1000, 40)
    size_of_image = s2_va + section_align
    opt = struct.pack(
        "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
        0x20B,
        14,
        0,
        s1_size,
        s2_size,
        0,
        0x1000,
        0x1000,
        0x140000000,
        section_align,
        file_align,
        6,
        0,
        0,
        0,
        6,
        0,
        0,
        size_of_image,
        hdr_size,
        0,
        3,
        0x8160,
        0x100000,
        0x1000,
        0x100000,
        0x1000,
        0,
        16,
    ) + b"".join(struct.pack("<II", *d) for d in dirs)
    coff = struct.pack("<HHIIIHH", 0x8664, 2, 0, 0, 0, len(opt), 0x22)
    sh1 = struct.pack(
        "<8sIIIIIIHHI", b".idata", s1_size, s1_va, s1_size, hdr_size, 0, 0, 0, 0, 0xC0000040
    )
    sh2 = struct.pack(
        "<8sIIIIIIHHI",
        b".data",
        s2_size,
        s2_va,
        s2_size,
        hdr_size + s1_size,
        0,
        0,
        0,
        0,
        0xC0000040,
    )
    dos = b"MZ" + b"\0" * 0x3A + struct.pack("<I", 0x40)
    headers = dos + b"PE\0\0" + coff + opt + sh1 + sh2
    return headers + b"\0" * (hdr_size - len(headers)) + bytes(sec1) + bytes(sec2)


def test_a_dll_name_running_past_its_sections_data_is_refused() -> None:
    """Pefile would read "user32" where the mapped image holds "user32_x.dll": refused."""
    with pytest.raises(UnreadablePE, match="does not end inside its section"):
        read_pe(_spanning_name())
    # Ended inside the section, the same layout reads, and names its DLL.
    honest = bytearray(_spanning_name())
    name_end = 0x400 + 0x1000
    honest[name_end - 6 : name_end] = b"user\0\0"
    facts = read_pe(bytes(honest))
    assert facts is not None
    assert facts.imports == ("user",)


def test_libstdcxx_in_a_wheel_maturin_built_plain_linux_is_refused() -> None:
    """ppc64 above manylinux2014: nothing checked GLIBCXX_, so libstdc++ is not let through."""
    from castoff.assemble.audit import unchecked_cxx_findings  # noqa: PLC0415
    from castoff.assemble.contents import Member  # noqa: PLC0415
    from castoff.assemble.elf import ElfFacts  # noqa: PLC0415

    def program(needed: tuple[str, ...]) -> Member:
        elf = ElfFacts(
            machine="EM_PPC64", elf_class=64, little_endian=False, flags=1,
            interpreter="/lib64/ld64.so.1", needed=needed, max_glibc=((2, 34), "x"),
        )  # fmt: skip
        return Member(
            name="demo-1.0.data/scripts/hello", sha256="0" * 64, size=1, executable=True,
            format="elf", elf=elf, macho=None, pe=None, binary_problem=None,
        )  # fmt: skip

    tags = ["manylinux_2_34_ppc64"]
    rust_only = program(("libgcc_s.so.1", "libc.so.6"))
    assert unchecked_cxx_findings([rust_only], artifact="w.whl", tags=tags) == []
    cxx = program(("libstdc++.so.6", "libgcc_s.so.1", "libc.so.6"))
    (finding,) = unchecked_cxx_findings([cxx], artifact="w.whl", tags=tags)
    assert finding.tag == "manylinux_2_34_ppc64"
    assert finding.line().startswith("w.whl: demo-1.0.data/scripts/hello needs libstdc++.so.6")
