"""`castoff audit` on Mach-O and PE programs zig links: each lie named, each honest one passes."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from castoff.assemble.audit import audit_wheel
from tests.binaries import fat
from tests.integration.conftest import castoff
from tests.wheels import make_wheel

HELLO = '#include <stdio.h>\nint main(void) { puts("hello 1.0"); return 0; }\n'
FOO = "int foo(void) { return 42; }\n"
USES_FOO = '#include <stdio.h>\nint foo(void);\nint main(void) { printf("%d\\n", foo()); }\n'
# What zig builds, by name: its flags and its source. zig takes the minimum macOS from the
# target's OS version (x86_64-macos.10.12 writes LC_VERSION_MIN_MACOSX, 11 and up
# LC_BUILD_VERSION); -mmacosx-version-min is ignored.
BUILDS: dict[str, tuple[list[str], str]] = {
    "mac-x86_64-10.12": (["-target", "x86_64-macos.10.12"], HELLO),
    "mac-arm64-11.0": (["-target", "aarch64-macos.11.0"], HELLO),
    "mac-arm64-13.0": (["-target", "aarch64-macos.13.0"], HELLO),
    "win-x86_64.exe": (["-target", "x86_64-windows-gnu"], HELLO),
    "win-aarch64.exe": (["-target", "aarch64-windows-gnu"], HELLO),
    "win-x86.exe": (["-target", "x86-windows-gnu"], HELLO),
}
# Built after the libraries they link against.
LINKED: dict[str, tuple[list[str], str]] = {
    "mac-arm64-uses-foo": (["-target", "aarch64-macos.11.0", "-L.", "-lfoo"], USES_FOO),
    "win-x86_64-uses-foo.exe": (["-target", "x86_64-windows-gnu", "-L.", "-lfoo"], USES_FOO),
}
LIBRARIES: dict[str, tuple[list[str], str]] = {
    "libfoo.dylib": (
        ["-target", "aarch64-macos.11.0", "-shared", "-Wl,-install_name,@rpath/libfoo.dylib"],
        FOO,
    ),
    "foo.dll": (["-target", "x86_64-windows-gnu", "-shared"], FOO),
}


def _zig(folder: Path, name: str, flags: list[str], source: str) -> None:
    src = folder / f"{name}.c"
    src.write_text(source)
    command = [sys.executable, "-m", "ziglang", "cc", *flags, "-o", name, src.name]
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)}: {result.stderr}"


@pytest.fixture(scope="session")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Compile and link every program once per session, two at a time (for two cores)."""
    if importlib.util.find_spec("ziglang") is None:
        pytest.skip("the ziglang package (pip install ziglang) is not installed")
    folder = tmp_path_factory.mktemp("zig-macho-pe")
    with ThreadPoolExecutor(max_workers=2) as pool:
        for stage in (BUILDS | LIBRARIES, LINKED):
            for job in [pool.submit(_zig, folder, n, *b) for n, b in stage.items()]:
                job.result()
    built = {name: (folder / name).read_bytes() for name in BUILDS | LINKED}
    # lipo's layout, which zig does not write: both slices behind a universal header.
    built["mac-universal2"] = fat([built["mac-x86_64-10.12"], built["mac-arm64-11.0"]], align=14)
    return built


def _audit(wheel: Path) -> tuple[int, list[dict[str, str]]]:
    result = castoff("audit", "--json", str(wheel))
    return result.returncode, json.loads(result.stdout)["findings"]


@pytest.mark.parametrize(
    ("binary", "tag"),
    [
        ("mac-x86_64-10.12", "macosx_10_12_x86_64"),
        ("mac-arm64-11.0", "macosx_11_0_arm64"),
        ("mac-arm64-13.0", "macosx_13_0_arm64"),
        ("mac-universal2", "macosx_11_0_universal2"),
        # No Mac before 11.0 runs arm64: 10.12 speaks for the x86_64 slice alone.
        ("mac-universal2", "macosx_10_12_universal2"),
        ("mac-universal2", "macosx_11_0_arm64"),
        ("win-x86_64.exe", "win_amd64"),
        ("win-aarch64.exe", "win_arm64"),
        ("win-x86.exe", "win32"),
    ],
)
def test_honest_binaries_pass(
    tmp_path: Path, binaries: dict[str, bytes], binary: str, tag: str
) -> None:
    """The tag's CPU and format, a minimum at or below its macOS, system libraries only: exit 0."""
    wheel = make_wheel(tmp_path, [tag], binaries[binary])
    result = castoff("audit", "--json", str(wheel))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"audited": [wheel.name], "findings": []}


@pytest.mark.parametrize(
    ("binary", "tag", "problem"),
    [
        ("mac-arm64-11.0", "macosx_10_12_x86_64", "is arm64, not x86_64"),
        ("mac-arm64-13.0", "macosx_11_0_arm64", "needs macOS 13.0"),
        ("mac-x86_64-10.12", "macosx_10_9_x86_64", "needs macOS 10.12"),
        ("mac-arm64-11.0", "macosx_11_0_universal2", "has no x86_64 slice (it is arm64)"),
        ("mac-universal2", "macosx_10_9_universal2", "needs macOS 10.12 (its x86_64 slice)"),
        (
            "mac-arm64-uses-foo",
            "macosx_11_0_arm64",
            "loads @rpath/libfoo.dylib, which is not a system library",
        ),
        ("win-x86_64.exe", "macosx_11_0_arm64", "is PE, not Mach-O"),
        ("mac-arm64-11.0", "manylinux_2_17_aarch64", "is Mach-O, not ELF"),
        ("win-aarch64.exe", "win_amd64", "is ARM64, not AMD64"),
        ("win-x86.exe", "win_amd64", "is I386, not AMD64"),
        ("win-x86_64.exe", "win32", "is AMD64, not I386"),
        (
            "win-x86_64-uses-foo.exe",
            "win_amd64",
            "imports foo.dll, which is not a Windows system or UCRT DLL",
        ),
        ("mac-arm64-11.0", "win_arm64", "is Mach-O, not PE"),
    ],
)
def test_each_lie_is_refused_with_its_finding(
    tmp_path: Path, binaries: dict[str, bytes], binary: str, tag: str, problem: str
) -> None:
    """Exit 7, and the finding names the binary, the problem and the tag (JSON and text)."""
    wheel = make_wheel(tmp_path, [tag], binaries[binary])
    code, findings = _audit(wheel)
    assert code == 7
    assert findings == [
        {
            "artifact": wheel.name,
            "binary": "demo-1.0.data/scripts/hello",
            "tag": tag,
            "problem": problem,
        }
    ]
    text = castoff("audit", str(wheel))
    assert text.returncode == 7
    assert f"hello {problem} but is tagged {tag}" in " ".join(text.stderr.split())


def test_a_library_the_project_vouches_for_is_allowed(
    tmp_path: Path, binaries: dict[str, bytes]
) -> None:
    """allowed_libraries: exact install names for Mach-O, DLL names in any case for PE."""
    mac = make_wheel(tmp_path, ["macosx_11_0_arm64"], binaries["mac-arm64-uses-foo"])
    assert audit_wheel(mac, allowed_libraries=frozenset({"@rpath/libfoo.dylib"})) == []
    assert audit_wheel(mac, allowed_libraries=frozenset({"libfoo.dylib"})) != []
    win = make_wheel(tmp_path, ["win_amd64"], binaries["win-x86_64-uses-foo.exe"])
    assert audit_wheel(win, allowed_libraries=frozenset({"FOO.DLL"})) == []


def _tar(path: Path, folder: str, binary: bytes) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{folder}/hello")
        info.size, info.mode = len(binary), 0o755
        tar.addfile(info, io.BytesIO(binary))
    return path


def _zip(path: Path, folder: str, binary: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{folder}/hello.exe", binary)
    return path


@pytest.mark.parametrize(
    ("triple", "binary", "problem"),
    [
        ("aarch64-apple-darwin", "mac-arm64-13.0", None),  # archives promise no minimum macOS
        ("x86_64-apple-darwin", "mac-universal2", None),
        ("x86_64-apple-darwin", "mac-arm64-11.0", "is arm64, not x86_64"),
        (
            "aarch64-apple-darwin",
            "mac-arm64-uses-foo",
            "loads @rpath/libfoo.dylib, which is not a system library",
        ),
        ("x86_64-pc-windows-gnu", "win-x86_64.exe", None),
        ("aarch64-pc-windows-msvc", "win-aarch64.exe", None),
        ("x86_64-pc-windows-gnu", "win-aarch64.exe", "is ARM64, not AMD64"),
        (
            "x86_64-pc-windows-gnu",
            "win-x86_64-uses-foo.exe",
            "imports foo.dll, which is not a Windows system or UCRT DLL",
        ),
    ],
)
def test_archives_are_audited_by_their_triple(
    tmp_path: Path, binaries: dict[str, bytes], triple: str, binary: str, problem: str | None
) -> None:
    """Mac and Windows archives: format, CPU and libraries against the triple in the name."""
    folder = f"hello-{triple}"
    if "windows" in triple:
        archive = _zip(tmp_path / f"{folder}.zip", folder, binaries[binary])
        member = f"{folder}/hello.exe"
    else:
        archive = _tar(tmp_path / f"{folder}.tar.gz", folder, binaries[binary])
        member = f"{folder}/hello"
    code, findings = _audit(archive)
    if problem is None:
        assert (code, findings) == (0, [])
    else:
        assert code == 7
        assert findings == [
            {"artifact": archive.name, "binary": member, "tag": triple, "problem": problem}
        ]


def test_an_arm64_program_changed_after_zig_signed_it_is_refused(
    tmp_path: Path, binaries: dict[str, bytes]
) -> None:
    """A byte changed after zig signed it breaks the page hash macOS checks: refused.

    That is what a strip that does not sign again, or a patch, leaves behind.
    """
    honest = binaries["mac-arm64-11.0"]
    for folder in ("honest", "patched"):
        (tmp_path / folder).mkdir()
    assert _audit(make_wheel(tmp_path / "honest", ["macosx_11_0_arm64"], honest)) == (0, [])
    patched = bytearray(honest)
    patched[28] ^= 0xFF  # the Mach-O header's reserved field: nothing but the signature sees it
    wheel = make_wheel(tmp_path / "patched", ["macosx_11_0_arm64"], bytes(patched))
    code, findings = _audit(wheel)
    assert code == 7
    (finding,) = findings
    assert finding["problem"] == (
        "has a code signature macOS would reject: page 0 of its code does not match its "
        "signature (changed after signing)"
    )


def test_castoff_audit_takes_the_libraries_a_project_vouches_for(
    tmp_path: Path, binaries: dict[str, bytes]
) -> None:
    """--allow-library, as a target's allowed-libraries: the DLL it names passes, no other."""
    wheel = make_wheel(tmp_path, ["win_amd64"], binaries["win-x86_64-uses-foo.exe"])
    refused = castoff("audit", str(wheel))
    assert refused.returncode == 7
    assert "allowed-libraries" in refused.stderr
    allowed = castoff("audit", "--allow-library", "FOO.DLL", str(wheel))
    assert allowed.returncode == 0, allowed.stderr
    other = castoff("audit", "--allow-library", "bar.dll", str(wheel))
    assert other.returncode == 7


def _rustup_objcopy() -> tuple[Path, Path]:
    """Return rustup's stable rust-objcopy and its toolchain (the host std's, no target added)."""
    found = subprocess.run(
        ["rustup", "run", "stable", "rustc", "--print", "sysroot"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    toolchain = Path(found.stdout.strip())
    (objcopy,) = (toolchain / "lib" / "rustlib").glob("*/bin/rust-objcopy")
    return objcopy, toolchain


@pytest.mark.parametrize("flag", ["--strip-all", "--strip-debug"])
def test_rustups_objcopy_strips_an_arm64_program_and_keeps_its_signature(
    binaries: dict[str, bytes], tmp_path: Path, flag: str
) -> None:
    """As rustc strips macOS builds on a GitHub ubuntu runner (rustup's rust-objcopy).

    Debian's rustc has no rust-objcopy, so castoff's builds here keep their symbols; a runner's
    rustup toolchain strips. llvm-objcopy rewrites the linker's ad-hoc signature: the stripped
    program must still verify, or macOS would kill it.
    """
    objcopy, toolchain = _rustup_objcopy()
    linked = tmp_path / "hello"
    linked.write_bytes(binaries["mac-arm64-11.0"])
    stripped = tmp_path / "hello.stripped"
    env = {"LD_LIBRARY_PATH": str(toolchain / "lib"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [str(objcopy), flag, str(linked), str(stripped)],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    if flag == "--strip-all":
        assert stripped.stat().st_size < linked.stat().st_size
    wheel = make_wheel(tmp_path, ["macosx_11_0_arm64"], stripped.read_bytes())
    code, findings = _audit(wheel)
    assert (code, findings) == (0, [])
    # And the audit would see a change after signing: one byte of code, flipped.
    changed = bytearray(stripped.read_bytes())
    changed[0x4000 + 100] ^= 0xFF
    (tmp_path / "tampered").mkdir()
    tampered = make_wheel(tmp_path / "tampered", ["macosx_11_0_arm64"], bytes(changed))
    code, findings = _audit(tampered)
    assert code == 7
    assert any("does not match its signature" in f["problem"] for f in findings), findings
