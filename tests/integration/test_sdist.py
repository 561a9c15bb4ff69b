"""The sdist end to end: real `maturin sdist`, assemble, signing, and pip building it back."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from castoff.manifest import parse_checksums
from tests.conftest import EXAMPLE, HERE
from tests.integration.conftest import castoff

CONFIG = str(EXAMPLE / "pyproject.toml")
SDIST = "castoff_hello-0.1.0.tar.gz"


def test_the_build_makes_the_sdist_and_the_release_ships_it(
    first_build: dict[str, Any], out_dir: Path, signed: tuple[Path, Path]
) -> None:
    """build/sdist holds maturin's sdist and its manifest; the release lists, sums and signs it."""
    outcomes = {t["target"]: t for t in first_build["targets"]}
    assert outcomes["sdist"]["status"] in ("built", "cached")
    manifest = json.loads((out_dir / "sdist" / "manifest.json").read_text())
    assert manifest["target"] == "sdist"
    assert [a["name"] for a in manifest["artifacts"]] == [SDIST]
    assert manifest["commands"][0]["argv"][1:3] == ["sdist", "--out"]
    release, _ = signed
    sums = parse_checksums((release / "SHA256SUMS").read_bytes(), "SHA256SUMS")
    assert sums[SDIST] == hashlib.sha256((release / SDIST).read_bytes()).hexdigest()
    listed = json.loads((release / "manifest.json").read_text())
    [artifact] = [a for a in listed["artifacts"] if a["kind"] == "sdist"]
    assert artifact["destinations"] == ["github", "pypi"]
    assert {s["name"] for s in artifact["signatures"]} == {f"{SDIST}.minisig", f"{SDIST}.sig"}
    assert "sdist" in [b["target"] for b in listed["builds"]]
    provenance = json.loads((release / "castoff_hello-0.1.0.intoto.json").read_text())
    assert SDIST in [s["name"] for s in provenance["subject"]]
    verified = castoff("verify", "--config", CONFIG, str(release), "--keys", str(signed[1]))
    assert verified.returncode == 0, verified.stderr


def _forged_sdist(folder: Path, pkg_info: bytes) -> None:
    """Replace the sdist with one whose PKG-INFO says otherwise; rehash it as an attacker would."""
    path = folder / SDIST
    with tarfile.open(path, "w:gz") as archive:
        for name, data in (
            ("castoff_hello-0.1.0/PKG-INFO", pkg_info),
            ("castoff_hello-0.1.0/pyproject.toml", b"[build-system]\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["artifacts"][0]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest["artifacts"][0]["size"] = path.stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_assemble_refuses_a_forged_sdist_and_a_missing_one(
    first_build: dict[str, Any], out_dir: Path, tmp_path: Path
) -> None:
    """An sdist of another version is refused by name (exit 8), and so is a release without one."""
    assert first_build["targets"]
    builds = Path(shutil.copytree(out_dir, tmp_path / "builds"))
    _forged_sdist(builds / "sdist", b"Metadata-Version: 2.4\nName: castoff-hello\nVersion: 9.9.9\n")
    out = tmp_path / "dist"
    result = castoff("assemble", "--config", CONFIG, *HERE, str(builds), "--out", str(out))
    assert result.returncode == 8, result.stderr
    message = " ".join(result.stderr.split())
    assert f"{SDIST}: PKG-INFO says version 9.9.9, not 0.1.0" in message
    assert "Traceback" not in result.stderr
    assert not out.exists()
    shutil.rmtree(builds / "sdist")
    result = castoff("assemble", "--config", CONFIG, *HERE, str(builds), "--out", str(out))
    assert result.returncode == 8
    assert "planned targets with no build: sdist" in result.stderr


def _project_whose_sdist_misses_a_file(folder: Path) -> Path:
    """Copy the example so that the program needs a file Cargo.toml leaves out of the package."""
    project = Path(shutil.copytree(EXAMPLE, folder))
    cargo = project / "Cargo.toml"
    cargo.write_text(
        cargo.read_text().replace(
            "publish = false\n", 'publish = false\nexclude = ["src/motd.txt"]\n'
        )
    )
    (project / "src" / "motd.txt").write_text("have a nice day\n")
    main = project / "src" / "main.rs"
    main.write_text(
        main.read_text() + '\n#[allow(dead_code)]\nconst MOTD: &str = include_str!("motd.txt");\n'
    )
    return project


def test_the_rehearsal_builds_the_sdist_back_and_catches_a_missing_file(tmp_path: Path) -> None:
    """The sdist builds back from the index and runs; one missing a needed file fails (exit 14)."""
    work = tmp_path / "good"
    result = castoff(
        "rehearse", "--config", CONFIG, "--target", "sdist", "--build-dir", str(work / "build"),
        "--work", str(work / "rehearsal"), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    [row] = json.loads(result.stdout)["targets"]
    assert (row["target"], row["index"], row["pip"]) == ("sdist", "uploaded", "ok (native)")
    # The index held nothing else, so what pip installed and ran was built from the sdist.
    assert sorted(p.name for p in (work / "rehearsal" / "index" / "packages").iterdir()) == [SDIST]

    project = _project_whose_sdist_misses_a_file(tmp_path / "project")
    broken = tmp_path / "broken"
    result = castoff(
        "rehearse", "--config", str(project / "pyproject.toml"), "--target", "sdist",
        "--build-dir", str(broken / "build"), "--work", str(broken / "rehearsal"), "--json",
    )  # fmt: skip
    assert result.returncode == 14, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    [row] = json.loads(result.stdout)["targets"]
    assert row["pip"].startswith("failed: pip could not build and install castoff-hello==0.1.0"), (
        row
    )
