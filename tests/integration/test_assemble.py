"""castoff assemble over the real build folders: final tags, aliases, audit, checksums, contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from castoff.config import load
from castoff.plan import build_plan
from tests.conftest import BUILT_HERE, EXAMPLE, HERE
from tests.integration.conftest import castoff

CONFIG = str(EXAMPLE / "pyproject.toml")


def _manifest(dist: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((dist / "manifest.json").read_text())
    return data


def test_every_planned_file_is_in_the_release_with_its_hash_and_destinations(dist: Path) -> None:
    """The release folder holds exactly the planned files; the manifest lists each one."""
    plan = build_plan(load(EXAMPLE / "pyproject.toml"), only=BUILT_HERE)
    planned = {a.name: a for a in plan.artifacts}
    # The provenance is written and signed by `castoff sign`.
    unsigned = {n for n, a in planned.items() if a.kind != "provenance"}
    # And castoff's marker: the folder is castoff's to replace, and these are its files.
    assert {p.name for p in dist.iterdir()} == unsigned | {"manifest.json", ".castoff.json"}
    marker = json.loads((dist / ".castoff.json").read_text())
    assert (marker["kind"], set(marker["files"])) == ("release", unsigned | {"manifest.json"})
    manifest = _manifest(dist)
    assert manifest["kind"] == "release"
    assert len(manifest["builds"]) == 16 + 1  # the sdist's too
    for entry in manifest["artifacts"]:
        artifact = planned[entry["name"]]
        assert entry["signatures"] == []
        assert entry["destinations"] == list(artifact.destinations)
        assert entry["alias_of"] == artifact.alias_of
        digest = subprocess.run(
            ["sha256sum", str(dist / entry["name"])], capture_output=True, text=True, check=True
        )
        assert digest.stdout.split()[0] == entry["sha256"]
    loong = next(
        a
        for a in manifest["artifacts"]
        if a["kind"] == "wheel" and a["target"].startswith("loongarch64")
    )
    assert loong["destinations"] == ["github"]
    assert loong["excluded"][0]["reason"].startswith(
        "PyPI refuses platform tag 'manylinux_2_36_loongarch64'"
    )


def test_checksums_and_audit_pass_on_the_release(dist: Path) -> None:
    """SHA256SUMS and every sidecar verify with sha256sum; castoff audit finds nothing."""
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=dist, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout
    assert check.stdout.count(": OK") == 16 + 21 + 1  # wheels, archives and the sdist
    for sidecar in dist.glob("*.sha256"):
        assert (
            subprocess.run(
                ["sha256sum", "-c", sidecar.name], cwd=dist, capture_output=True, check=False
            ).returncode
            == 0
        )
    assert castoff("audit", str(dist)).returncode == 0


def test_static_musl_wheels_carry_their_manylinux_tags(dist: Path) -> None:
    """The tag policy's manylinux tags are on the wheels, sorted in the name and in WHEEL."""
    wheels = {p.name for p in dist.glob("*.whl")}
    assert "castoff_hello-0.1.0-py3-none-manylinux_2_31_riscv64.musllinux_1_2_riscv64.whl" in wheels
    assert (
        "castoff_hello-0.1.0-py3-none-manylinux2014_armv7l.manylinux_2_17_armv7l.musllinux_1_2_armv7l.whl"
        in wheels
    )
    assert "castoff_hello-0.1.0-py3-none-musllinux_1_2_x86_64.whl" in wheels


def test_alias_archives_rename_the_folder_and_keep_the_binary(dist: Path) -> None:
    """hello-s390x-unknown-linux-gnu.tar.gz holds the musl build's binary under the gnu name."""
    with (
        tarfile.open(dist / "hello-s390x-unknown-linux-gnu.tar.gz") as alias,
        tarfile.open(dist / "hello-s390x-unknown-linux-musl.tar.gz") as source,
    ):
        assert alias.getnames() == [
            "hello-s390x-unknown-linux-gnu",
            "hello-s390x-unknown-linux-gnu/hello",
        ]
        aliased, original = (
            alias.extractfile("hello-s390x-unknown-linux-gnu/hello"),
            source.extractfile("hello-s390x-unknown-linux-musl/hello"),
        )
        assert aliased is not None
        assert original is not None
        assert aliased.read() == original.read()
    manifest = {a["name"]: a for a in _manifest(dist)["artifacts"]}
    assert (
        manifest["hello-s390x-unknown-linux-gnu.tar.gz"]["alias_of"]
        == "hello-s390x-unknown-linux-musl.tar.gz"
    )


def _copy_builds(out_dir: Path, tmp_path: Path, targets: list[str] | None = None) -> Path:
    folder = tmp_path / "builds"
    for child in sorted(out_dir.iterdir()):
        if child.is_dir() and (targets is None or child.name in targets):
            shutil.copytree(child, folder / child.name)
    return folder


@pytest.mark.usefixtures("first_build")
def test_a_missing_target_is_refused(out_dir: Path, tmp_path: Path) -> None:
    """Without every planned target the release is refused, naming what is missing."""
    builds = _copy_builds(
        out_dir, tmp_path, ["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"]
    )
    result = castoff("assemble", "--config", CONFIG, str(builds), "--out", str(tmp_path / "dist"))
    assert result.returncode == 8
    stderr = " ".join(result.stderr.split())
    assert (
        "planned targets with no build: aarch64-apple-darwin, aarch64-pc-windows-msvc, "
        "aarch64-unknown-linux-gnu, aarch64-unknown-linux-musl," in stderr
    )
    assert (
        "Built only on their own OS's runners: i686-pc-windows-msvc on windows-latest, "
        "aarch64-pc-windows-msvc on windows-11-arm." in stderr
    )
    assert not (tmp_path / "dist").exists()


@pytest.mark.usefixtures("first_build")
def test_two_builds_of_one_target_are_refused(out_dir: Path, tmp_path: Path) -> None:
    """The same target from two folders is refused, naming both."""
    folder = out_dir / "s390x-unknown-linux-musl"
    result = castoff(
        "assemble", "--config", CONFIG, *HERE, str(out_dir), str(folder),
        "--out", str(tmp_path / "dist"),
    )  # fmt: skip
    assert result.returncode == 8
    assert f"s390x-unknown-linux-musl was built twice: in {folder} and in {folder}" in " ".join(
        result.stderr.split()
    )


@pytest.mark.usefixtures("first_build")
def test_an_altered_artifact_is_refused(out_dir: Path, tmp_path: Path) -> None:
    """A file whose sha256 no longer matches its manifest is refused, naming folder and file."""
    builds = _copy_builds(out_dir, tmp_path)
    archive = builds / "riscv64gc-unknown-linux-musl" / "hello-riscv64gc-unknown-linux-musl.tar.gz"
    data = bytearray(archive.read_bytes())
    data[-1] ^= 0xFF
    archive.write_bytes(bytes(data))
    result = castoff(
        "assemble", "--config", CONFIG, *HERE, str(builds), "--out", str(tmp_path / "dist")
    )
    assert result.returncode == 8
    assert (
        f"{builds / 'riscv64gc-unknown-linux-musl'}: hello-riscv64gc-unknown-linux-musl.tar.gz "
        "does not match the sha256 in its manifest"
    ) in " ".join(result.stderr.split())


@pytest.mark.usefixtures("first_build")
def test_mixed_versions_are_refused(out_dir: Path, tmp_path: Path) -> None:
    """A build of another version cannot join the release."""
    builds = _copy_builds(out_dir, tmp_path)
    manifest = builds / "i686-unknown-linux-musl" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"version": "0.1.0"', '"version": "0.0.9"'))
    result = castoff(
        "assemble", "--config", CONFIG, *HERE, str(builds), "--out", str(tmp_path / "dist")
    )
    assert result.returncode == 8
    assert "built castoff-hello 0.0.9, but this release is castoff-hello 0.1.0" in " ".join(
        result.stderr.split()
    )


def test_a_disappearing_archive_breaks_the_contract_unless_retired(
    dist: Path, out_dir: Path, tmp_path: Path
) -> None:
    """An archive name the previous release had must exist again, or be retired with a reason."""
    previous = _manifest(dist)
    # The previous release had another version: its versioned names (wheels) are not promises.
    for artifact in previous["artifacts"]:
        artifact["name"] = artifact["name"].replace("-0.1.0", "-0.0.9")
    previous["artifacts"].append(
        {"name": "hello-mips64-unknown-linux-gnuabi64.tar.gz", "kind": "archive"}
    )
    previous_path = tmp_path / "previous.json"
    previous_path.write_text(json.dumps(previous))
    args = (
        "assemble",
        *HERE,
        str(out_dir),
        "--out",
        str(tmp_path / "dist"),
        "--previous",
        str(previous_path),
    )
    result = castoff(*args, "--config", CONFIG)
    assert result.returncode == 9
    assert "had hello-mips64-unknown-linux-gnuabi64.tar.gz, which this release lacks" in " ".join(
        result.stderr.split()
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["previous.json"]  # nothing half-done

    project = tmp_path / "hello"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target"))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "retired = {}",
            'retired = { "hello-mips64-unknown-linux-gnuabi64.tar.gz" = "MIPS is not built" }',
        )
    )
    retired = castoff(*args, "--config", str(pyproject))
    assert retired.returncode == 0, retired.stderr
