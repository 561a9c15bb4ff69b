"""examples/knot, a PyO3 extension module, end to end: real cibuildwheel in podman, then castoff.

cibuildwheel builds Linux wheels only inside a container. This machine has no Docker and no
registry, so castoff makes its own images (mmdebstrap and podman, once per machine, cached under
~/.cache/castoff/podman): a glibc one for the manylinux wheel and a musl one (CPython built
against musl) for the musllinux wheel. cibuildwheel builds, repairs and import-tests each in it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.integration.conftest import castoff

KNOT = REPO / "examples" / "knot"
CONFIG = str(KNOT / "pyproject.toml")
TRIPLE = "x86_64-unknown-linux-gnu"
WHEEL = "castoff_knot-0.1.0-cp38-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
MUSL = "x86_64-unknown-linux-musl"
MUSL_WHEEL = "castoff_knot-0.1.0-cp38-abi3-musllinux_1_2_x86_64.whl"
SDIST = "castoff_knot-0.1.0.tar.gz"
FOLDERS = (TRIPLE, MUSL, "sdist")


@pytest.fixture(scope="module")
def knot_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Build the example's wheels (cibuildwheel, podman) and sdist once; return folder, outcome."""
    out = tmp_path_factory.mktemp("knot-build")
    result = castoff("build", "--config", CONFIG, "--out", str(out), "--json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(result.stdout)
    return out, outcome


def test_cibuildwheel_builds_the_planned_wheel_in_castoffs_image(
    knot_build: tuple[Path, dict[str, Any]],
) -> None:
    """The wheel has the plan's name; the manifest records cibuildwheel, its settings, the image."""
    out, outcome = knot_build
    statuses = {t["target"]: t["status"] for t in outcome["targets"]}
    assert set(statuses) == set(FOLDERS)
    assert set(statuses.values()) <= {"built", "cached"}
    manifest = json.loads((out / TRIPLE / "manifest.json").read_text())
    assert manifest["method"] == "cibuildwheel"
    assert re.fullmatch(r"localhost/castoff-cibw@sha256:[0-9a-f]{64}", manifest["image"])
    assert [a["name"] for a in manifest["artifacts"]] == [WHEEL]
    env = manifest["commands"][0]["env"]
    # The image has CPython 3.11: it builds the abi3 wheel the plan names for cp38.
    assert env["CIBW_BUILD"] == "cp311-manylinux_x86_64"
    assert env["CIBW_TEST_COMMAND"] == 'python -c "import knot"'
    assert env["CIBW_CONTAINER_ENGINE"] == "podman"
    assert env["CIBW_MANYLINUX_X86_64_IMAGE"] == manifest["image"].split("@", 1)[1]
    log = (out / TRIPLE / "build.log").read_text()
    # cibuildwheel ran its test-command (the import) on the repaired wheel.
    assert "Testing wheel..." in log
    with zipfile.ZipFile(out / TRIPLE / WHEEL) as wheel:
        assert "knot/knot.abi3.so" in wheel.namelist()


def test_cibuildwheel_builds_the_musllinux_wheel_in_castoffs_musl_image(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The musl wheel comes from the musl image (by ID); musl's CPython repairs and imports it."""
    out, _ = knot_build
    manifest = json.loads((out / MUSL / "manifest.json").read_text())
    assert re.fullmatch(r"localhost/castoff-cibw-musl@sha256:[0-9a-f]{64}", manifest["image"])
    assert [a["name"] for a in manifest["artifacts"]] == [MUSL_WHEEL]
    env = manifest["commands"][0]["env"]
    assert env["CIBW_BUILD"] == "cp311-musllinux_x86_64"
    assert env["CIBW_MUSLLINUX_X86_64_IMAGE"] == manifest["image"].split("@", 1)[1]
    assert f"--target {MUSL}" in env["CIBW_ENVIRONMENT_LINUX"]
    log = (out / MUSL / "build.log").read_text()
    assert "Testing wheel..." in log
    # The module needs musl's libc only, with no glibc symbol version.
    with zipfile.ZipFile(out / MUSL / MUSL_WHEEL) as wheel:
        (tmp_path / "knot.so").write_bytes(wheel.read("knot/knot.abi3.so"))
    dynamic = subprocess.run(
        ["readelf", "--dynamic", "--version-info", str(tmp_path / "knot.so")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert re.findall(r"\(NEEDED\)\s+Shared library: \[(.*?)\]", dynamic) == ["libc.so"]
    assert "GLIBC_" not in dynamic


def test_a_second_build_is_served_from_the_cache(
    knot_build: tuple[Path, dict[str, Any]],
) -> None:
    """An unchanged tree and image reuse the folder: cibuildwheel does not run again."""
    out, _ = knot_build
    result = castoff("build", "--config", CONFIG, "--out", str(out), "--target", TRIPLE, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    [target] = json.loads(result.stdout)["targets"]
    assert target["status"] == "cached"


def test_assemble_audits_the_shared_object_and_ships_the_wheel_as_built(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The release holds cibuildwheel's wheel byte for byte, with the sdist and SHA256SUMS."""
    out, _ = knot_build
    dist = tmp_path / "dist"
    result = castoff("assemble", "--config", CONFIG, "--out", str(dist),
                     *(str(out / f) for f in FOLDERS))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    shipped = sorted(p.name for p in dist.iterdir() if not p.name.startswith("."))
    assert shipped == sorted(["SHA256SUMS", "manifest.json", SDIST, WHEEL, MUSL_WHEEL])
    assert (dist / WHEEL).read_bytes() == (out / TRIPLE / WHEEL).read_bytes()
    assert (dist / MUSL_WHEEL).read_bytes() == (out / MUSL / MUSL_WHEEL).read_bytes()


def _forge(folder: Path, replace: dict[str, bytes]) -> None:
    """Rewrite the folder's wheel with members replaced or added, RECORD and manifest rehashed."""
    path = folder / (MUSL_WHEEL if folder.name == MUSL else WHEEL)
    with zipfile.ZipFile(path) as wheel:
        members = {i.filename: wheel.read(i) for i in wheel.infolist() if not i.is_dir()}
    members.update(replace)
    record = next(n for n in members if n.endswith(".dist-info/RECORD"))
    lines = []
    for name, data in members.items():
        if name == record:
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    members[record] = ("\n".join([*lines, f"{record},,"]) + "\n").encode()
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in members.items():
            wheel.writestr(name, data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["artifacts"][0]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest["artifacts"][0]["size"] = path.stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _forged_copy(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path, triple: str = TRIPLE
) -> Path:
    out, _ = knot_build
    folder = tmp_path / triple
    shutil.copytree(out / triple, folder)
    return folder


def _assemble_with(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path, folder: Path
) -> subprocess.CompletedProcess[str]:
    """Assemble the build with one target's folder replaced by a forged copy."""
    out, _ = knot_build
    others = [str(out / f) for f in FOLDERS if f != folder.name]
    return castoff("assemble", "--config", CONFIG, "--out", str(tmp_path / "dist"),
                   str(folder), *others)  # fmt: skip


def _assemble_forged(
    knot_build: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    replace: dict[str, bytes],
    triple: str = TRIPLE,
) -> subprocess.CompletedProcess[str]:
    """Assemble the build with the wheel's members replaced (RECORD and manifest rehashed)."""
    folder = _forged_copy(knot_build, tmp_path, triple)
    _forge(folder, replace)
    return _assemble_with(knot_build, tmp_path, folder)


def _module_from_c(tmp_path: Path, source: str) -> dict[str, bytes]:
    """Compile C into a shared object standing in for the wheel's module."""
    (tmp_path / "module.c").write_text(source)
    built = tmp_path / "knot.abi3.so"
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", str(built), str(tmp_path / "module.c")], check=True
    )
    return {"knot/knot.abi3.so": built.read_bytes()}


def test_a_shared_object_needing_a_newer_glibc_than_its_tag_is_refused(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A module linked against glibc 2.34's pthread_create breaks manylinux_2_17: audit says so."""
    module = _module_from_c(
        tmp_path,
        "#include <pthread.h>\n"
        "static void *run(void *a) { return a; }\n"
        "int start(void) { pthread_t t; return pthread_create(&t, 0, run, 0); }\n",
    )
    result = _assemble_forged(knot_build, tmp_path, module)
    assert result.returncode != 0
    assert "manylinux_2_17_x86_64" in result.stderr
    assert "GLIBC_2.34" in result.stderr
    assert not (tmp_path / "dist").exists()


def test_a_module_calling_outside_the_stable_abi_is_refused(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """abi3audit finds a call the cp38 stable ABI lacks: the abi3 wheel's promise is broken."""
    # PyUnicode_AsUTF8 joined the stable ABI in 3.10: a cp38-abi3 module may not call it.
    module = _module_from_c(
        tmp_path,
        "extern const char *PyUnicode_AsUTF8(void *);\n"
        "const char *text(void *o) { return PyUnicode_AsUTF8(o); }\n",
    )
    result = _assemble_forged(knot_build, tmp_path, module)
    assert result.returncode != 0
    assert "outside the stable ABI (PyUnicode_AsUTF8)" in result.stderr
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize(
    ("member", "fragment"),
    [
        ("evil.pth", "neither the module knot"),
        ("other_module.py", "neither the module knot"),
        ("knot/hook.pth", ".pth file, run at start-up"),
        # A second copy of the module beside the package: one of them would go unaudited.
        ("knot.py", "holds the module knot more than once"),
    ],
)
def test_a_wheel_holding_code_the_project_does_not_name_is_refused(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path, member: str, fragment: str
) -> None:
    """A .pth or another top-level module added to the wheel (rehashed) stops the release."""
    result = _assemble_forged(knot_build, tmp_path, {member: b"import os\n"})
    assert result.returncode != 0
    assert fragment in result.stderr
    assert WHEEL in result.stderr


def test_a_module_that_is_not_an_elf_object_is_refused(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A .so that is a script, not ELF, is a broken promise of a Linux wheel (never skipped)."""
    result = _assemble_forged(knot_build, tmp_path, {"knot/knot.abi3.so": b"#!/bin/sh\necho\n"})
    assert result.returncode != 0
    assert "knot/knot.abi3.so is not an object file, not the elf a linux wheel holds" in (
        result.stderr.replace("\n", " ")
    )


def test_a_manifest_claiming_another_image_is_refused(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A build record whose image is neither cibuildwheel's nor castoff's local one is refused."""
    folder = _forged_copy(knot_build, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["image"] = "docker.io/attacker/image:latest"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = _assemble_with(knot_build, tmp_path, folder)
    assert result.returncode != 0
    assert "attacker" in result.stderr
    assert "castoff build --target x86_64-unknown-linux-gnu" in result.stderr


@pytest.mark.parametrize(
    ("triple", "claimed"),
    [(MUSL, "localhost/castoff-cibw"), (TRIPLE, "localhost/castoff-cibw-musl")],
)
def test_a_record_naming_the_other_libcs_local_image_is_refused(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path, triple: str, claimed: str
) -> None:
    """A musl wheel claimed from the glibc image (or the reverse) is refused, ID or not."""
    folder = _forged_copy(knot_build, tmp_path, triple)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["image"] = f"{claimed}@{manifest['image'].split('@', 1)[1]}"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = _assemble_with(knot_build, tmp_path, folder)
    assert result.returncode != 0
    assert f"castoff build --target {triple}" in result.stderr
    assert not (tmp_path / "dist").exists()


def test_a_musllinux_wheel_holding_a_glibc_module_is_refused(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The manylinux build's module in the musllinux wheel (rehashed): it needs glibc."""
    out, _ = knot_build
    with zipfile.ZipFile(out / TRIPLE / WHEEL) as wheel:
        glibc_module = wheel.read("knot/knot.abi3.so")
    result = _assemble_forged(knot_build, tmp_path, {"knot/knot.abi3.so": glibc_module}, MUSL)
    assert result.returncode != 0
    assert "musllinux_1_2_x86_64" in result.stderr
    assert "not only musl" in result.stderr
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize(
    ("image", "accepted"),
    [
        (f"quay.io/pypa/manylinux2014_x86_64@sha256:{'a' * 64}", True),
        # Another image than the plan's manylinux2014, or one not pinned by digest.
        (f"quay.io/pypa/manylinux_2_28_x86_64@sha256:{'a' * 64}", False),
        ("quay.io/pypa/manylinux2014_x86_64:latest", False),
        (None, False),
    ],
)
def test_a_docker_build_record_must_name_the_plans_image_by_digest(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path, image: str | None, accepted: bool
) -> None:
    """A build on GitHub records cibuildwheel's pinned image: only the plan's, by digest, passes."""
    folder = _forged_copy(knot_build, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["image"] = image
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = _assemble_with(knot_build, tmp_path, folder)
    assert (result.returncode == 0) is accepted, result.stderr


def test_the_rehearsal_installs_the_wheel_and_the_sdist_back_and_imports_them(
    knot_build: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Uploaded to a local index: pip and uv install the wheel, pip builds the sdist; all import."""
    out, _ = knot_build
    result = castoff("rehearse", "--config", CONFIG, "--work", str(tmp_path / "work"),
                     "--build-dir", str(out), "--json")  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {r["target"]: r for r in json.loads(result.stdout)["targets"]}
    assert rows[TRIPLE]["wheel"] == WHEEL
    assert rows[TRIPLE]["pip"].startswith("ok (import knot, CPython 3.")
    assert rows[TRIPLE]["uv"].startswith("ok (import knot, CPython 3.")
    # The musllinux wheel: imported by the musl CPython of castoff's musl image.
    assert rows[MUSL]["wheel"] == MUSL_WHEEL
    assert rows[MUSL]["pip"] == "ok (import knot, CPython 3.11 (musl))"
    assert rows[MUSL]["uv"] == "ok (import knot, CPython 3.11 (musl))"
    assert rows["sdist"]["pip"].startswith("ok (import knot")
