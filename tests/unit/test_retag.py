"""Retag rewrites only the name, WHEEL and RECORD; every other member is copied compressed."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

from castoff.assemble.retag import _raw_member, copy_wheel, retag_wheel, retagged_name
from tests.wheels import make_wheel


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
        assert _raw_member(after, after.getinfo(script)) == _raw_member(
            before, before.getinfo(script)
        )
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
