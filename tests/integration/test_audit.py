"""castoff audit and retag on binaries that zig compiles here: the promises a tag can break."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from castoff.assemble.assembler import make_alias
from castoff.errors import AssembleError
from castoff.plan import Artifact
from tests.integration.conftest import castoff
from tests.wheels import make_wheel

SOURCE = '#include <stdio.h>\nint main(void) { puts("hello 1.0"); return 0; }\n'


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Compile one C program with zig: glibc 2.34 and 2.17, aarch64, static and dynamic musl."""
    folder = tmp_path_factory.mktemp("zig")
    (folder / "hello.c").write_text(SOURCE)
    kinds = {
        "glibc-2.34": ["-target", "x86_64-linux-gnu.2.34"],
        "glibc-2.17": ["-target", "x86_64-linux-gnu.2.17"],
        "aarch64-static": ["-target", "aarch64-linux-musl"],
        "musl-dynamic": ["-target", "x86_64-linux-musl", "-dynamic"],
        "musl-static": ["-target", "x86_64-linux-musl"],
    }
    result = {}
    for kind, flags in kinds.items():
        out = folder / kind
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ziglang",
                "cc",
                *flags,
                "-o",
                str(out),
                str(folder / "hello.c"),
            ],
            check=True,
            capture_output=True,
        )
        result[kind] = out.read_bytes()
    return result


def test_manylinux_2_17_wheel_needing_glibc_2_34_is_refused(
    tmp_path: Path, binaries: dict[str, bytes]
) -> None:
    """The audit names the wheel, the binary, the symbol and the tag, and exits 7."""
    wheel = make_wheel(tmp_path, ["manylinux_2_17_x86_64"], binaries["glibc-2.34"])
    result = castoff("audit", str(wheel))
    assert result.returncode == 7
    assert (
        "demo-1.0-py3-none-manylinux_2_17_x86_64.whl: demo-1.0.data/scripts/hello needs "
        "GLIBC_2.34 (__libc_start_main) but is tagged manylinux_2_17_x86_64"
    ) in " ".join(result.stderr.split())


def test_the_same_program_for_glibc_2_17_passes(tmp_path: Path, binaries: dict[str, bytes]) -> None:
    """Linked against glibc 2.17, the binary keeps the manylinux_2_17 promise."""
    wheel = make_wheel(
        tmp_path, ["manylinux2014_x86_64", "manylinux_2_17_x86_64"], binaries["glibc-2.17"]
    )
    result = castoff("audit", "--json", str(wheel))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"audited": [wheel.name], "findings": []}


def test_aarch64_binary_in_an_x86_64_wheel_is_refused(
    tmp_path: Path, binaries: dict[str, bytes]
) -> None:
    """An ELF machine that does not match the tag's arch is refused."""
    wheel = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], binaries["aarch64-static"])
    result = castoff("audit", "--json", str(wheel))
    assert result.returncode == 7
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["problem"] == "is EM_AARCH64, not EM_X86_64 (x86_64)"
    assert finding["tag"] == "musllinux_1_2_x86_64"


def test_a_dynamic_binary_cannot_be_tagged_for_glibc_too(
    tmp_path: Path, binaries: dict[str, bytes]
) -> None:
    """Retagging a dynamically linked musl binary manylinux is refused and leaves nothing behind."""
    wheel = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], binaries["musl-dynamic"])
    out = tmp_path / "out"
    result = castoff(
        "retag", str(wheel), "--add-platform", "manylinux_2_17_x86_64", "--out", str(out)
    )
    assert result.returncode == 7
    assert (
        "is linked against musl (/lib/ld-musl-x86_64.so.1) but is tagged manylinux_2_17_x86_64"
        in " ".join(result.stderr.split())
    )
    assert not out.exists() or list(out.iterdir()) == []


def test_a_static_binary_can_be_tagged_for_both_libcs(
    tmp_path: Path, binaries: dict[str, bytes]
) -> None:
    """A static musl binary makes no libc demand: manylinux at the floor is a promise it keeps."""
    wheel = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], binaries["musl-static"])
    result = castoff("retag", str(wheel), "--add-platform", "manylinux_2_17_x86_64", "--json")
    assert result.returncode == 0, result.stderr
    assert Path(json.loads(result.stdout)["wheel"]).name == (
        "demo-1.0-py3-none-manylinux_2_17_x86_64.musllinux_1_2_x86_64.whl"
    )


def test_a_musl_archive_holding_a_glibc_binary_is_refused(
    tmp_path: Path, binaries: dict[str, bytes]
) -> None:
    """An archive named for musl must not hold a binary that needs glibc."""
    archive = tmp_path / "hello-x86_64-unknown-linux-musl.tar.gz"
    source = tmp_path / "hello"
    source.write_bytes(binaries["glibc-2.17"])
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="hello-x86_64-unknown-linux-musl/hello")
    result = castoff("audit", str(archive))
    assert result.returncode == 7
    assert "hello-x86_64-unknown-linux-musl/hello needs libc.so.6" in " ".join(
        result.stderr.split()
    )


def test_a_dynamic_binary_cannot_serve_an_alias(tmp_path: Path, binaries: dict[str, bytes]) -> None:
    """An alias archive is refused when the source binary is dynamically linked."""
    source = tmp_path / "hello-x86_64-unknown-linux-musl.tar.gz"
    member = tmp_path / "hello"
    member.write_bytes(binaries["musl-dynamic"])
    with tarfile.open(source, "w:gz") as tar:
        tar.add(member, arcname="hello-x86_64-unknown-linux-musl/hello")
    alias = Artifact(
        name="hello-x86_64-unknown-linux-gnu.tar.gz",
        kind="archive",
        target="x86_64-unknown-linux-gnu",
        destinations=("github",),
        excluded=(),
        alias_of=source.name,
        platform_tags=(),
        signatures=(),
    )
    with pytest.raises(
        AssembleError, match=r"hello is dynamically linked \(/lib/ld-musl-x86_64.so.1\)"
    ):
        make_alias(source, alias, archive_name="hello", out_dir=tmp_path / "out", mtime=0)
