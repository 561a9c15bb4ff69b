"""What an ELF binary is and needs, read from its headers (pyelftools), from bytes or a stream."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import BinaryIO

from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import SymbolTableSection
from elftools.elf.segments import InterpSegment

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True, kw_only=True)
class ElfFacts:
    """What a binary needs and is, read from its ELF headers."""

    machine: str
    elf_class: int
    little_endian: bool
    flags: int
    interpreter: str | None
    needed: tuple[str, ...]
    # The highest GLIBC_x.y version it needs, and one symbol that needs it.
    max_glibc: tuple[tuple[int, ...], str] | None

    @property
    def is_static(self) -> bool:
        """Return whether it needs nothing at run time: no loader, no shared libraries."""
        return self.interpreter is None and not self.needed


class UnreadableElf(ValueError):  # noqa: N818 - a value that is not what it claims to be
    """A file that starts like ELF but cannot be read as one (truncated, damaged, hostile)."""


def read_elf(source: bytes | BinaryIO) -> ElfFacts | None:
    """Read a binary's ELF facts; None when it is not ELF; UnreadableElf when it is broken ELF."""
    stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    if stream.read(4) != ELF_MAGIC:
        return None
    stream.seek(0)
    try:
        elf = ELFFile(stream)
        interpreter = None
        dynamic: DynamicSegment | None = None
        for segment in elf.iter_segments():
            if isinstance(segment, InterpSegment):
                interpreter = segment.get_interp_name()
            elif isinstance(segment, DynamicSegment):
                dynamic = segment
        needed: list[str] = []
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                needed += [str(t.needed) for t in section.iter_tags("DT_NEEDED")]  # type: ignore[attr-defined]
        _check_loader_view(elf, dynamic, interpreter, needed)
        return ElfFacts(
            machine=str(elf["e_machine"]),
            elf_class=elf.elfclass,
            little_endian=elf.little_endian,
            flags=int(elf["e_flags"]),
            interpreter=interpreter,
            needed=tuple(needed),
            max_glibc=_max_glibc(elf),
        )
    except UnreadableElf:
        raise
    # pyelftools raises whatever its parser meets on a damaged file (ELFError, struct and
    # construct errors, KeyError, IndexError, UnicodeDecodeError, ...): all mean "not readable".
    except Exception as exc:  # noqa: BLE001
        raise UnreadableElf(type(exc).__name__) from None


def _check_loader_view(
    elf: ELFFile, dynamic: DynamicSegment | None, interpreter: str | None, needed: list[str]
) -> None:
    """Refuse a binary whose section headers could tell the audit something the loader ignores.

    The loader reads the PT_DYNAMIC segment; the audit reads sections. A dynamic program with no
    section headers, or with a .dynamic or .gnu.version_r that is not what PT_DYNAMIC points at,
    would hide what it needs: such a file is not audited, it is refused.
    """
    if dynamic is None and interpreter is None:
        return
    if elf.num_sections() == 0:
        raise UnreadableElf("a dynamically linked program without section headers")
    if dynamic is None:
        raise UnreadableElf("it names a loader but has no PT_DYNAMIC segment")
    sections = [s for s in elf.iter_sections() if isinstance(s, DynamicSection)]
    if len(sections) != 1 or sections[0]["sh_offset"] != dynamic["p_offset"]:
        raise UnreadableElf("its .dynamic section is not the PT_DYNAMIC segment the loader reads")
    if sorted(str(t.needed) for t in dynamic.iter_tags("DT_NEEDED")) != sorted(needed):  # type: ignore[attr-defined]
        raise UnreadableElf("its dynamic segment and section name different libraries")
    verneed = [t.entry.d_val for t in dynamic.iter_tags("DT_VERNEED")]
    if verneed and not any(
        isinstance(s, GNUVerNeedSection) and s["sh_addr"] == verneed[0] for s in elf.iter_sections()
    ):
        raise UnreadableElf("its version needs are not in a section the audit can read")


def _max_glibc(elf: ELFFile) -> tuple[tuple[int, ...], str] | None:
    versions: dict[int, tuple[int, ...]] = {}
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for _, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    if m := re.fullmatch(r"GLIBC_([0-9]+(?:\.[0-9]+)*)", aux.name):
                        versions[aux["vna_other"]] = tuple(int(p) for p in m[1].split("."))
    if not versions:
        return None
    highest_index = max(versions, key=lambda i: versions[i])
    symbol = "?"
    versym = next((s for s in elf.iter_sections() if isinstance(s, GNUVerSymSection)), None)
    dynsym = elf.get_section_by_name(".dynsym")
    if versym is not None and isinstance(dynsym, SymbolTableSection):
        for i, sym in enumerate(dynsym.iter_symbols()):
            # Bit 15 marks a hidden version; the index is the rest.
            if (
                versym.get_symbol(i)["ndx"] not in ("VER_NDX_LOCAL", "VER_NDX_GLOBAL")
                and (int(versym.get_symbol(i)["ndx"]) & 0x7FFF) == highest_index
            ):
                symbol = sym.name
                break
    return versions[highest_index], symbol
