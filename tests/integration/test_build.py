"""`castoff build` on the embedded example with the real tools: maturin, zig, cargo, qemu-user."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile

from castoff.config import load
from castoff.plan import build_plan, wheel_filename
from castoff.pypi import canonical_wheel_name
from castoff.targets import TARGETS
from tests.conftest import EXAMPLE
from tests.integration.conftest import castoff

MSVC = ["i686-pc-windows-msvc", "aarch64-pc-windows-msvc"]
EF_ARM_ABI_FLOAT_HARD = 0x400
EF_RISCV_FLOAT_ABI_DOUBLE = 0x4


def _binaries(first_build: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the outcomes of the targets built here (not the sdist, which holds no binary)."""
    return [
        t for t in first_build["targets"] if t["target"] != "sdist" and t["status"] != "elsewhere"
    ]


def test_doctor_says_every_example_target_builds_and_runs_here() -> None:
    """After .ci/run's install step, doctor finds every target buildable and smoke-runnable."""
    result = castoff("doctor", "--config", str(EXAMPLE / "pyproject.toml"), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["targets"]
    assert len(rows) == 18 + 1  # and the sdist
    assert rows[-1]["target"] == "sdist"
    # MSVC: only a Windows runner has Microsoft's C runtime and SDK.
    assert [r["target"] for r in rows if not r["buildable"]] == MSVC
    # Every binary runs here (Windows under Wine) but macOS's, which nothing here runs.
    assert [r["target"] for r in rows if not r["smoke"]] == [
        "aarch64-apple-darwin",
        "x86_64-apple-darwin",
        *MSVC,
    ]


def test_every_planned_target_is_built(first_build: dict[str, Any], out_dir: Path) -> None:
    """Each job yields its wheel, archive, sidecar, log and partial manifest in its own folder."""
    config = load(EXAMPLE / "pyproject.toml")
    plan = build_plan(config)
    statuses = {t["target"]: t["status"] for t in first_build["targets"]}
    assert statuses == {name: statuses[name] for name in [j.triple for j in plan.jobs] + ["sdist"]}
    # MSVC is not built here, nor is it a failure: the table says where it is built.
    elsewhere = {t["target"]: t["reason"] for t in first_build["targets"] if t["target"] in MSVC}
    assert {statuses[t] for t in MSVC} == {"elsewhere"}
    assert elsewhere["aarch64-pc-windows-msvc"].endswith(
        "the release workflow builds it natively on windows-11-arm (castoff ci generate)"
    )
    assert not any((out_dir / t).exists() for t in MSVC)
    assert {s for t, s in statuses.items() if t not in MSVC} <= {"built", "cached"}
    for job in plan.jobs:
        if job.triple in MSVC:
            continue
        folder = out_dir / job.triple
        names = {p.name for p in folder.iterdir()}
        archive = f"hello-{job.triple}.{job.target.archive_kind}"
        expected_wheel = wheel_filename(config.name, config.version, job.built_platform_tags)
        assert names == {
            expected_wheel,
            archive,
            archive + ".sha256",
            "manifest.json",
            "build.log",
            ".castoff.json",
        }
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["target"] == job.triple
        assert [a["name"] for a in manifest["artifacts"]] == [
            expected_wheel,
            archive,
            archive + ".sha256",
        ]
        assert manifest["commands"][0]["argv"][1:3] == ["build", "--release"]
        assert manifest["toolchain"]["maturin"] == "maturin 1.16.0"
        check = subprocess.run(
            ["sha256sum", "-c", archive + ".sha256"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr


def _wheel_binary(wheel: Path) -> bytes:
    config = load(EXAMPLE / "pyproject.toml")
    scripts = f"{canonical_wheel_name(config.name)}-{config.version}.data/scripts/"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        return archive.read(scripts + ("hello.exe" if scripts + "hello.exe" in names else "hello"))


def test_every_wheels_binary_is_for_the_arch_its_tags_name(
    first_build: dict[str, Any], out_dir: Path
) -> None:
    """The ELF machine, class, endianness and float ABI of each binary match its target and tags.

    (macOS and Windows binaries: the Mach-O and PE audit, tests/integration/test_audit_macho_pe.py,
    and assemble's audit of every wheel.)
    """
    for entry in _binaries(first_build):
        target = TARGETS[entry["target"]]
        if target.elf is None:
            continue
        (wheel,) = (out_dir / entry["target"]).glob("*.whl")
        tags = wheel.name.removesuffix(".whl").split("-")[-1].split(".")
        assert all(tag.endswith("_" + target.wheel_arch) for tag in tags), wheel.name
        elf = ELFFile(io.BytesIO(_wheel_binary(wheel)))
        assert elf["e_machine"] == target.elf.machine, entry["target"]
        assert elf.elfclass == target.elf.elf_class
        assert elf.little_endian == (target.elf.endianness == "little")
        flags = elf["e_flags"]
        if target.elf.float_abi == "hard" and target.elf.machine == "EM_ARM":
            assert flags & EF_ARM_ABI_FLOAT_HARD
        if target.elf.machine == "EM_RISCV":
            assert flags & EF_RISCV_FLOAT_ABI_DOUBLE


def test_archive_holds_the_wheels_binary_in_a_triple_named_folder(
    first_build: dict[str, Any], out_dir: Path
) -> None:
    """The archive's binary is byte-identical to the wheel's, under hello-<triple>/."""
    for entry in _binaries(first_build):
        folder = out_dir / entry["target"]
        (wheel,) = folder.glob("*.whl")
        target = TARGETS[entry["target"]]
        inside = f"hello-{entry['target']}/hello"
        if target.os == "windows":
            with zipfile.ZipFile(folder / f"hello-{entry['target']}.zip") as archive:
                assert archive.read(inside + ".exe") == _wheel_binary(wheel)
            continue
        with tarfile.open(folder / f"hello-{entry['target']}.tar.gz") as tar:
            member = tar.extractfile(inside)
            assert member is not None
            assert member.read() == _wheel_binary(wheel)


NOT_RUN_MACOS = "cross-built on Linux, where nothing runs Mach-O; audited, not run"


def test_every_binary_that_can_run_here_ran_and_named_version_and_target(
    first_build: dict[str, Any],
) -> None:
    """Smoke-runs passed natively, under qemu or Wine: a binary nobody ran fails its build.

    But macOS: nothing here runs Mach-O, and the config's no-smoke-run says so.
    """
    for entry in _binaries(first_build):
        (smoke,) = entry["smoke"]
        target = TARGETS[entry["target"]]
        if target.os == "macos":
            assert smoke["status"] == "not-run", entry
            assert smoke["reason"].endswith("allowed by the config: " + NOT_RUN_MACOS), smoke
            continue
        assert smoke["status"] == "passed", entry
        assert smoke["reason"].startswith("printed its version and target"), smoke
        expected_runner = (
            "wine64"
            if target.os == "windows"
            else "native"
            if entry["target"].startswith("x86_64")
            else target.qemu
        )
        assert smoke["runner"] == expected_runner


@pytest.mark.usefixtures("first_build")
def test_a_second_build_rebuilds_nothing(out_dir: Path) -> None:
    """With nothing changed, every target is served from the cache and the files stay the same."""
    before = {p: p.read_bytes() for p in out_dir.rglob("*.tar.gz")}
    result = castoff(
        "build", "--config", str(EXAMPLE / "pyproject.toml"), "--out", str(out_dir), "--json"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    statuses = {t["target"]: t["status"] for t in json.loads(result.stdout)["targets"]}
    assert {s for t, s in statuses.items() if t not in MSVC} == {"cached"}
    assert {p: p.read_bytes() for p in out_dir.rglob("*.tar.gz")} == before


def test_a_retagged_static_musl_wheel_installs_with_pip_and_uv_and_runs(
    first_build: dict[str, Any], out_dir: Path, tmp_path: Path
) -> None:
    """The s390x musl wheel, also tagged manylinux, installs for glibc s390x and runs under qemu."""
    assert "s390x-unknown-linux-musl" in {t["target"] for t in first_build["targets"]}
    (wheel,) = (out_dir / "s390x-unknown-linux-musl").glob("*.whl")
    result = castoff(
        "retag", str(wheel), "--add-platform", "manylinux_2_17_s390x",
        "--add-platform", "manylinux2014_s390x", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    retagged = Path(json.loads(result.stdout)["wheel"])
    assert retagged.name.endswith(
        "-py3-none-manylinux2014_s390x.manylinux_2_17_s390x.musllinux_1_2_s390x.whl"
    )
    unpack = subprocess.run(
        [sys.executable, "-m", "wheel", "unpack", str(retagged), "-d", str(tmp_path / "unpacked")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert unpack.returncode == 0, unpack.stderr
    uv = shutil.which("uv")
    assert uv is not None
    installers = {
        "pip": [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                "--only-binary=:all:", "--platform", "manylinux2014_s390x", "--target"],
        "uv": [uv, "pip", "install", "--no-deps", "--python-platform", "s390x-manylinux_2_17",
               "--python-version", "3.11", "--target"],
    }  # fmt: skip
    for installer, argv in installers.items():
        target = tmp_path / installer
        install = subprocess.run(
            [*argv, str(target), str(retagged)], capture_output=True, text=True, check=False
        )
        assert install.returncode == 0, install.stderr
        run = subprocess.run(
            ["qemu-s390x-static", str(target / "bin" / "hello"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.stdout == "hello 0.1.0 (s390x-unknown-linux-musl)\n", (installer, run.stderr)


def _example_copy(tmp_path: Path) -> Path:
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target"))
    return project


def test_a_changed_source_rebuilds_its_target(tmp_path: Path) -> None:
    """Editing the sources invalidates the cache key, and the new binary says what changed."""
    project = _example_copy(tmp_path)
    args = ["build", "--config", str(project / "pyproject.toml"), "--out", str(tmp_path / "out")]
    args += ["--json", "--target", "x86_64-unknown-linux-musl"]
    assert castoff(*args).returncode == 0
    main = project / "src" / "main.rs"
    main.write_text(main.read_text().replace("Hello, world!", "Hello again, world!"))
    second = castoff(*args)
    assert second.returncode == 0, second.stderr[-2000:]
    (entry,) = json.loads(second.stdout)["targets"]
    assert entry["status"] == "built"
    (wheel,) = (tmp_path / "out" / "x86_64-unknown-linux-musl").glob("*.whl")
    assert b"Hello again, world!" in _wheel_binary(wheel)


def test_keep_going_finishes_the_others_and_reports_every_failure(tmp_path: Path) -> None:
    """A native glibc build cannot keep a manylinux_2_17 promise here; the musl one still builds."""
    project = _example_copy(tmp_path)
    pyproject = project / "pyproject.toml"
    # Linked against this machine's glibc 2.36, the binary needs GLIBC_2.34: maturin refuses 2_17.
    pyproject.write_text(
        pyproject.read_text().replace(
            'triple = "x86_64-unknown-linux-gnu"\nmanylinux = "2_17"',
            'triple = "x86_64-unknown-linux-gnu"\nmanylinux = "2_17"\nmethod = "native"',
        )
    )
    targets = ("--target", "x86_64-unknown-linux-gnu", "--target", "x86_64-unknown-linux-musl")
    base = (
        "build",
        "--config",
        str(pyproject),
        "--out",
        str(tmp_path / "out"),
        "--json",
        "--jobs",
        "1",
    )
    result = castoff(*base, *targets, "--keep-going")
    assert result.returncode == 6
    document = json.loads(result.stdout)  # one JSON document: the outcome and the error
    assert document["error"]["kind"] == "BuildError"
    statuses = {t["target"]: t for t in document["targets"]}
    assert statuses["x86_64-unknown-linux-musl"]["status"] in {"built", "cached"}
    failed = statuses["x86_64-unknown-linux-gnu"]
    assert failed["status"] == "failed"
    assert "maturin failed" in failed["error"]
    assert "GLIBC_2.34" in failed["error"]
    assert str(tmp_path / "out" / "x86_64-unknown-linux-gnu" / "build.log") in failed["error"]
    stderr = " ".join(result.stderr.split())
    assert "castoff: error: 1 of 2 targets failed: [x86_64-unknown-linux-gnu]" in stderr

    stopped = castoff(*base, *targets)
    assert stopped.returncode == 6
    after = {t["target"]: t["status"] for t in json.loads(stopped.stdout)["targets"]}
    assert after == {"x86_64-unknown-linux-gnu": "failed", "x86_64-unknown-linux-musl": "skipped"}
