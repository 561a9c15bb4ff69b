"""Make small but real wheels around given binaries, for audit and retag tests."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    folder: Path,
    platforms: list[str],
    binary: bytes,
    *,
    name: str = "demo",
    version: str = "1.0",
    script: str = "hello",
) -> Path:
    """Write `<name>-<version>-py3-none-<platforms>.whl` holding `binary` as a script."""
    tags = ".".join(sorted(platforms))
    path = folder / f"{name}-{version}-py3-none-{tags}.whl"
    dist_info = f"{name}-{version}.dist-info"
    members = {
        f"{name}-{version}.data/scripts/{script}": binary,
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: castoff-tests\nRoot-Is-Purelib: false\n"
            + "".join(f"Tag: py3-none-{p}\n" for p in sorted(platforms))
        ).encode(),
    }
    record = (
        "".join(f"{n},{_hash(d)},{len(d)}\n" for n, d in members.items())
        + f"{dist_info}/RECORD,,\n"
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16
            wheel.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        wheel.writestr(f"{dist_info}/RECORD", record)
    return path


def elf_stub(
    *, machine: int = 62, elf_class: int = 64, little: bool = True, flags: int = 0
) -> bytes:
    """Return the smallest ELF file pyelftools reads: a header with no segments or sections.

    A static program of that machine as far as an audit can tell (no loader, no libraries).
    """
    import struct  # noqa: PLC0415

    order = "<" if little else ">"
    ident = b"\x7fELF" + bytes([1 if elf_class == 32 else 2, 1 if little else 2, 1, 0]) + bytes(8)
    if elf_class == 64:
        rest = struct.pack(
            order + "HHIQQQIHHHHHH", 2, machine, 1, 0, 0, 0, flags, 64, 56, 0, 64, 0, 0
        )
    else:
        rest = struct.pack(
            order + "HHIIIIIHHHHHH", 2, machine, 1, 0, 0, 0, flags, 52, 32, 0, 40, 0, 0
        )
    return ident + rest + b"\0" * 64


def write_zip(
    path: Path,
    members: dict[str, bytes],
    *,
    modes: dict[str, int] | None = None,
    record: str | None = None,
) -> Path:
    """Write a zip with these members, as given; with `record`, add a RECORD listing them all."""
    entries = dict(members)
    if record is not None:
        entries[record] = (
            "".join(f"{n},{_hash(d)},{len(d)}\n" for n, d in members.items()) + f"{record},,\n"
        ).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in entries.items():
            info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (modes or {}).get(member, 0o100755) << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def wheel_members(
    binary: bytes, *, name: str = "demo", version: str = "1.0", tags: tuple[str, ...] = ()
) -> dict[str, bytes]:
    """Return the members of an honest bin wheel (RECORD aside), to change one at a time."""
    dist_info = f"{name}-{version}.dist-info"
    return {
        f"{name}-{version}.data/scripts/hello": binary,
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: castoff-tests\nRoot-Is-Purelib: false\n"
            + "".join(f"Tag: py3-none-{p}\n" for p in tags)
        ).encode(),
    }


def rewrite_wheel(source: Path, dest: Path, changes: dict[str, bytes | None]) -> Path:
    """Copy a wheel with members replaced (or, with None, removed) and a RECORD that agrees.

    What a build job under an attacker's control would write: a wheel that is consistent in
    itself, so only castoff's own checks can tell it is not what the plan promises.
    """
    with zipfile.ZipFile(source) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    record = next(n for n in members if n.endswith(".dist-info/RECORD"))
    del members[record]
    for name, data in changes.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    return write_zip(dest, members, modes=modes, record=record)


def program_for(triple: str, payload: bytes = b"") -> bytes:
    """Return a stand-in program for a target: its executable header, then the payload."""
    from castoff.targets import TARGETS  # noqa: PLC0415
    from tests.binaries import macho, pe  # noqa: PLC0415

    target = TARGETS[triple]
    if target.os == "macos":
        # The audit reads it: the target's CPU, its lowest macOS, and only libSystem.
        assert target.macos_floor is not None
        return macho(target.wheel_arch, minimum=(*target.macos_floor, 0)) + payload
    if target.os == "windows":
        machine = {"amd64": "AMD64", "win32": "I386", "arm64": "ARM64"}[target.wheel_arch]
        return pe(machine) + payload
    assert target.elf is not None
    flags = {"hard": 0x400, "double": 0x4 if target.elf.machine == "EM_RISCV" else 0x3}
    return (
        elf_stub(
            machine=target.elf.machine_id,
            elf_class=target.elf.elf_class,
            little=target.elf.endianness == "little",
            flags=flags.get(target.elf.float_abi or "", 0),
        )
        + payload
    )
