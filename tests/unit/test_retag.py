"""Retag rewrites only the name, WHEEL and RECORD; every other member is copied compressed."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest

from castoff.assemble.contents import ContentsError, _OnDemand, read_wheel
from castoff.assemble.retag import copy_wheel, retag_checked, retag_wheel, retagged_name
from castoff.errors import CastoffError, UsageError
from tests.wheels import elf_stub, make_wheel


def _compressed(wheel: Path, member: str) -> bytes:
    """Return a member's compressed bytes, read from its local header on."""
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo(member)
    data = wheel.read_bytes()
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    return data[start : start + info.compress_size]


def test_retag_adds_sorted_tags_and_keeps_compressed_bytes(tmp_path: Path) -> None:
    """New tags land sorted in the name and WHEEL; the binary's compressed bytes are untouched."""
    binary = os.urandom(1 << 16) + b"\0" * (1 << 16)
    source = make_wheel(tmp_path, ["musllinux_1_2_s390x"], binary)
    out = retag_wheel(source, ["manylinux_2_17_s390x", "manylinux2014_s390x"], tmp_path / "out")
    assert (
        out.name
        == "demo-1.0-py3-none-manylinux2014_s390x.manylinux_2_17_s390x.musllinux_1_2_s390x.whl"
    )
    with zipfile.ZipFile(source) as before, zipfile.ZipFile(out) as after:
        assert after.testzip() is None
        assert [i.filename for i in after.infolist()] == [i.filename for i in before.infolist()]
        script = "demo-1.0.data/scripts/hello"
        assert _compressed(out, script) == _compressed(source, script)
        assert after.read(script) == binary
        assert after.getinfo(script).external_attr == before.getinfo(script).external_attr
        wheel_text = after.read("demo-1.0.dist-info/WHEEL").decode()
        assert wheel_text.splitlines()[-3:] == [
            "Tag: py3-none-manylinux2014_s390x",
            "Tag: py3-none-manylinux_2_17_s390x",
            "Tag: py3-none-musllinux_1_2_s390x",
        ]
        lines = after.read("demo-1.0.dist-info/RECORD").decode().splitlines()
        record = {line.split(",")[0]: line.split(",")[1] for line in lines}
        for name in after.namelist():
            if record[name]:
                digest = base64.urlsafe_b64encode(hashlib.sha256(after.read(name)).digest()).rstrip(
                    b"="
                )
                assert record[name] == "sha256=" + digest.decode(), name


def test_retag_with_nothing_new_returns_the_same_wheel(tmp_path: Path) -> None:
    """Adding a tag the wheel already has changes nothing."""
    source = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], b"\x7fELF")
    assert retag_wheel(source, ["musllinux_1_2_x86_64"], tmp_path) == source


def test_retagged_name_sorts_the_set() -> None:
    """The platform part of the name is the sorted set; the rest of the name is kept."""
    name = "castoff_hello-0.1.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert retagged_name(name, ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]) == (
        "castoff_hello-0.1.0-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    )


def test_a_plain_linux_wheel_gets_exactly_its_final_tags(tmp_path: Path) -> None:
    """A linux_ppc64 wheel (maturin's ceiling) gets its final tags instead: PyPI refuses it."""
    binary = os.urandom(1 << 12)
    source = make_wheel(tmp_path, ["linux_ppc64"], binary)
    out = copy_wheel(source, tmp_path / "out", ["manylinux_2_34_ppc64"])
    assert out.name == "demo-1.0-py3-none-manylinux_2_34_ppc64.whl"
    with zipfile.ZipFile(out) as after:
        tags = [
            x for x in after.read("demo-1.0.dist-info/WHEEL").decode().splitlines() if "Tag" in x
        ]
        assert tags == ["Tag: py3-none-manylinux_2_34_ppc64"]
        assert after.read("demo-1.0.data/scripts/hello") == binary
    # A wheel that already has its final tags is copied byte for byte.
    same = copy_wheel(source, tmp_path / "same", ["linux_ppc64"])
    assert same.read_bytes() == source.read_bytes()


def test_several_wheels_are_all_audited_before_any_is_written(tmp_path: Path) -> None:
    """One wheel whose program cannot be read stops the retag of all: no new wheel is left."""
    (tmp_path / "a").mkdir()
    good = make_wheel(tmp_path / "a", ["musllinux_1_2_x86_64"], elf_stub(), name="good")
    broken = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], b"\x7fELF\x02", name="broken")
    out = tmp_path / "out"
    with pytest.raises(CastoffError) as raised:
        retag_checked([good, broken], ["manylinux_2_17_x86_64"], out)
    assert broken.name in raised.value.message
    assert not out.exists() or list(out.iterdir()) == []
    written = retag_checked([good], ["manylinux_2_17_x86_64"], out)
    assert [p.name for p in written] == [
        "good-1.0-py3-none-manylinux_2_17_x86_64.musllinux_1_2_x86_64.whl"
    ]


def test_a_wheel_named_twice_or_already_retagged_is_refused_and_nothing_is_left(
    tmp_path: Path,
) -> None:
    """The same wheel twice is a usage error; a name already taken leaves no partial output."""
    first = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], elf_stub(), name="one")
    second = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], elf_stub(), name="two")
    with pytest.raises(UsageError, match="named twice"):
        retag_checked([first, first], ["manylinux_2_17_x86_64"], tmp_path / "out")
    out = tmp_path / "out"
    taken = out / "two-1.0-py3-none-manylinux_2_17_x86_64.musllinux_1_2_x86_64.whl"
    out.mkdir()
    taken.write_bytes(b"someone else's file")
    with pytest.raises(UsageError, match="already exists"):
        retag_checked([first, second], ["manylinux_2_17_x86_64"], out)
    assert sorted(p.name for p in out.iterdir()) == [taken.name]
    assert taken.read_bytes() == b"someone else's file"


def test_retag_inflates_a_program_only_as_far_as_its_headers(tmp_path: Path) -> None:
    """A program's code is copied, not inflated: damage past its headers does not stop a retag.

    A whole read (assemble's) refuses the same wheel: its member does not inflate. The retag's
    audit still read the real ELF header at the front, and the copy keeps the bytes as they were.
    """
    program = elf_stub() + os.urandom(4 << 20)
    wheel = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], program, name="big")
    script = "big-1.0.data/scripts/hello"
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo(script)
    data = bytearray(wheel.read_bytes())
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    # Random bytes deflate to stored blocks: a flipped length field near the end breaks them.
    data[start + info.compress_size - 1000 : start + info.compress_size - 990] = b"\xff" * 10
    wheel.write_bytes(bytes(data))
    with pytest.raises(ContentsError):
        read_wheel(wheel)
    [out] = retag_checked([wheel], ["manylinux_2_17_x86_64"], tmp_path / "out")
    assert _compressed(out, script) == _compressed(wheel, script)


def test_a_program_read_to_its_end_may_not_be_longer_than_it_says(tmp_path: Path) -> None:
    """Read on demand to its end, a member longer than its declared size is refused."""
    wheel = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], elf_stub() + b"x" * 5000, name="long")
    data = bytearray(wheel.read_bytes())
    # Shrink the central directory's size of the program, its first member (the local header
    # keeps the truth, and zipfile inflates by the compressed size).
    at = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, at + 24, 100)
    wheel.write_bytes(bytes(data))
    with zipfile.ZipFile(wheel) as archive:
        info = archive.infolist()[0]
        assert info.file_size == 100
        with archive.open(info) as stream, tempfile.TemporaryFile() as spool:
            reader = _OnDemand(stream, info.file_size, info.filename, spool)
            assert reader.seek(0, 2) == 100  # the end it claims, before anything is inflated
            reader.seek(0)
            # zipfile stops at the declared size, where the CRC no longer matches.
            with pytest.raises((ContentsError, zipfile.BadZipFile)):
                reader.read()
