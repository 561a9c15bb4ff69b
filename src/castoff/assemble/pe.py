"""What a PE (Windows) binary is and needs, read from its headers and import tables (pefile)."""

from __future__ import annotations

import io
import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import pefile

PE32 = pefile.OPTIONAL_HEADER_MAGIC_PE
PE32_PLUS = pefile.OPTIONAL_HEADER_MAGIC_PE_PLUS
_IMPORT = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"]
_DELAY_IMPORT = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"]
# The sizes of an import and a delay-import descriptor; a table ends with one of zeros.
_DESCRIPTOR = {_IMPORT: 20, _DELAY_IMPORT: 32}
# A Rust program imports a dozen DLLs; pefile walks a table until it meets the zero entry, and
# keeps every entry it read, so a table of millions is refused before pefile reads it.
MAX_DLLS = 1024
# Smaller members are read into memory; bigger ones (on disk in their spool) are mapped.
_IN_MEMORY = 64 << 20


@dataclass(frozen=True, kw_only=True)
class PeFacts:
    """What a binary is and needs, read from its PE headers."""

    machine: str  # the COFF machine: AMD64, I386, ARM64, ... (or its number, if pefile has none)
    magic: int  # the optional header's: PE32 (0x10b) or PE32+ (0x20b)
    imports: tuple[str, ...]  # the DLLs the loader maps at start
    delay_imports: tuple[str, ...]  # the DLLs it maps on first call

    @property
    def kind(self) -> str:
        """Return PE32 or PE32+, as the optional header's magic says."""
        return "PE32+" if self.magic == PE32_PLUS else "PE32"


class UnreadablePE(ValueError):  # noqa: N818 - a value that is not what it claims to be
    """A file that starts like PE (MZ) but cannot be read as one (truncated, damaged, hostile)."""


def read_pe(source: bytes | BinaryIO) -> PeFacts | None:
    """Read a binary's PE facts; None when it does not start with MZ; UnreadablePE when broken."""
    stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    if stream.read(2) != b"MZ":
        return None
    try:
        with _contents(stream) as data:
            return _read(data)
    except UnreadablePE:
        raise
    # pefile raises PEFormatError on most damage, and whatever else its parser meets on the rest
    # (struct.error, IndexError, ValueError, ...): all mean "not readable".
    except Exception as exc:  # noqa: BLE001
        detail = getattr(exc, "value", "") if isinstance(exc, pefile.PEFormatError) else ""
        raise UnreadablePE(str(detail) or type(exc).__name__) from None


@contextmanager
def _contents(stream: BinaryIO) -> Iterator[bytes | mmap.mmap]:
    """Yield the whole file for pefile, which reads it by offset: in memory, or mapped."""
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if size <= _IN_MEMORY:
        yield stream.read()
        return
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        yield stream.read()
        return
    with mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ) as mapped:
        yield mapped


def _read(data: bytes | mmap.mmap) -> PeFacts:
    pe = pefile.PE(data=data, fast_load=True)
    try:
        for directory in (_IMPORT, _DELAY_IMPORT):
            _count_descriptors(pe, directory)
        before = len(pe.get_warnings())
        # Names only: the loader maps every DLL an import descriptor names, with or without
        # symbols, and pefile skips a descriptor whose symbols it cannot read unless told so.
        pe.parse_data_directories(directories=[_IMPORT, _DELAY_IMPORT], import_dllnames_only=True)
        damage = pe.get_warnings()[before:]
        if damage:
            # pefile stops at a table it cannot read, and warns; the loader might read on.
            raise UnreadablePE(f"its import tables are damaged ({str(damage[0])[:120]})")
        machine = int(pe.FILE_HEADER.Machine)
        name = pefile.MACHINE_TYPE.get(machine)
        return PeFacts(
            machine=name.removeprefix("IMAGE_FILE_MACHINE_") if name else f"{machine:#06x}",
            magic=int(pe.OPTIONAL_HEADER.Magic),
            imports=_names(pe, getattr(pe, "DIRECTORY_ENTRY_IMPORT", [])),
            delay_imports=_names(pe, getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", [])),
        )
    finally:
        pe.close()


def _count_descriptors(pe: pefile.PE, directory: int) -> None:
    """Refuse an import table of more than MAX_DLLS entries before pefile walks it."""
    entries = pe.OPTIONAL_HEADER.DATA_DIRECTORY
    if len(entries) <= directory or not entries[directory].VirtualAddress:
        return
    rva, size = int(entries[directory].VirtualAddress), _DESCRIPTOR[directory]
    for index in range(MAX_DLLS + 1):
        try:
            entry = pe.get_data(rva + index * size, size)
        except pefile.PEFormatError:
            return  # pefile meets the same end, and warns
        if len(entry) < size or not any(entry):
            return
    raise UnreadablePE(f"an import table of more than {MAX_DLLS} DLLs")


def _names(pe: pefile.PE, descriptors: list[Any]) -> tuple[str, ...]:
    names = []
    for descriptor in descriptors:
        raw = bytes(descriptor.dll)
        if raw == b"*invalid*":  # pefile's mark for a name that is no DOS file name
            raise UnreadablePE("an imported DLL whose name is not a file name")
        _check_name_ends_in_its_section(pe, descriptor.struct, len(raw))
        names.append(raw.decode("ascii"))
    return tuple(names)


def _check_name_ends_in_its_section(pe: pefile.PE, struct: pefile.Structure, length: int) -> None:
    """Refuse a DLL name whose NUL is not in its section's file data.

    pefile reads a name only as far as the section's raw data goes; the loader reads the mapped
    image, where the next section may go on with more of the name ("user32" + "_x.dll").
    """
    if hasattr(struct, "Name"):
        rva = int(struct.Name)
    else:  # a delay-load descriptor: an RVA, or a VA in the old format (attribute bit 0 clear)
        rva = int(struct.szName)
        if not int(struct.grAttrs) & 1:
            rva -= int(pe.OPTIONAL_HEADER.ImageBase)
    end = rva + length
    section = pe.get_section_by_rva(rva)
    if (
        section is None
        or end - int(section.VirtualAddress) >= int(section.SizeOfRawData)
        or pe.get_data(end, 1) != b"\0"
    ):
        raise UnreadablePE("an imported DLL name that does not end inside its section")
