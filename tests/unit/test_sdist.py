"""The sdist: planned, read as a hostile build job might have made it, checked as PyPI would."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from castoff.assemble.contents import ContentsError, read_sdist
from castoff.config import Config, load
from castoff.errors import PlanError, UsageError
from castoff.manifest import ReleaseArtifact, ReleaseManifest
from castoff.plan import SDIST, ReleasePlan, build_plan, sdist_filename, select_targets
from castoff.publish import index
from castoff.publish.preflight import _names_and_tags, index_findings
from castoff.publish.publisher import pypi_files
from castoff.pypi import is_sdist_filename
from castoff.sign.verification import _kind

FOLDER = "demo_tool-1.0"
SDIST_NAME = f"{FOLDER}.tar.gz"
PKG_INFO = b"Metadata-Version: 2.4\nName: demo-tool\nVersion: 1.0\nSummary: a demo\n"
PYPROJECT = b'[build-system]\nrequires = ["maturin>=1.8,<2"]\nbuild-backend = "maturin"\n'


@pytest.fixture
def config(example_pyproject: Path) -> Config:
    """Return the embedded example's resolved config."""
    return load(example_pyproject)


def _member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o644
    return info


def _sdist(
    tmp_path: Path,
    members: Sequence[tuple[tarfile.TarInfo, bytes | None]] | None = None,
    *,
    name: str = SDIST_NAME,
    mode: str = "w:gz",
) -> Path:
    if members is None:
        members = [
            (_member(f"{FOLDER}/PKG-INFO"), PKG_INFO),
            (_member(f"{FOLDER}/pyproject.toml"), PYPROJECT),
            (_member(f"{FOLDER}/src/main.rs"), b"fn main() {}\n"),
        ]
    path = tmp_path / name
    with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _read(path: Path) -> None:
    read_sdist(path, folder=FOLDER, project="demo-tool", version="1.0")


def test_an_honest_sdist_is_read_with_its_metadata(tmp_path: Path) -> None:
    """An sdist of one folder with PKG-INFO and pyproject.toml gives its name, version, files."""
    sdist = read_sdist(_sdist(tmp_path), folder=FOLDER, project="demo-tool", version="1.0")
    assert (sdist.name, sdist.version, sdist.metadata_version) == ("demo-tool", "1.0", "2.4")
    assert sdist.files == ("PKG-INFO", "pyproject.toml", "src/main.rs")


@pytest.mark.parametrize(
    ("member", "match"),
    [
        ("/etc/passwd", "absolute path"),
        (f"{FOLDER}/../escape", r"'\.\.' part"),
        ("other-1.0/PKG-INFO", f"not inside {FOLDER}/"),
        (f"{FOLDER}x/file", f"not inside {FOLDER}/"),
        (f"{FOLDER}\\evil", "backslash"),
    ],
)
def test_members_outside_the_folder_are_refused(tmp_path: Path, member: str, match: str) -> None:
    """Nothing of an sdist may unpack outside its one folder."""
    members = [
        (_member(f"{FOLDER}/PKG-INFO"), PKG_INFO),
        (_member(f"{FOLDER}/pyproject.toml"), PYPROJECT),
        (_member(member), b"x"),
    ]
    with pytest.raises(ContentsError, match=match):
        _read(_sdist(tmp_path, members))


@pytest.mark.parametrize(
    ("kind", "match"),
    [(tarfile.SYMTYPE, "a link"), (tarfile.LNKTYPE, "a link"), (tarfile.CHRTYPE, "not a regular")],
)
def test_links_and_devices_are_refused(tmp_path: Path, kind: bytes, match: str) -> None:
    """Pip would unpack a link pointing anywhere: an sdist castoff ships holds only files."""
    link = _member(f"{FOLDER}/src/lib.rs", kind)
    link.linkname = "/etc/shadow"
    members = [
        (_member(f"{FOLDER}/PKG-INFO"), PKG_INFO),
        (_member(f"{FOLDER}/pyproject.toml"), PYPROJECT),
        (link, None),
    ]
    with pytest.raises(ContentsError, match=match):
        _read(_sdist(tmp_path, members))


@pytest.mark.parametrize(
    ("pkg_info", "match"),
    [
        (PKG_INFO.replace(b"demo-tool", b"other-tool"), "names the project 'other-tool'"),
        (PKG_INFO.replace(b"Version: 1.0", b"Version: 1.1"), "version 1.1, not 1.0"),
        (PKG_INFO.replace(b"Version: 1.0", b"Version: 1.0.0"), "version 1.0.0, not 1.0"),
        (PKG_INFO.replace(b"Version: 1.0", b"Version: one"), "not a PEP 440 version"),
        (PKG_INFO + b"Name: second\n", "2 'Name' fields"),
        (b"Name: demo-tool\nVersion: 1.0\n", "0 'Metadata-Version' fields"),
    ],
)
def test_pkg_info_that_disagrees_with_the_plan_is_refused(
    tmp_path: Path, pkg_info: bytes, match: str
) -> None:
    """PKG-INFO must name the planned project and exactly its version."""
    members = [
        (_member(f"{FOLDER}/PKG-INFO"), pkg_info),
        (_member(f"{FOLDER}/pyproject.toml"), PYPROJECT),
    ]
    with pytest.raises(ContentsError, match=match):
        _read(_sdist(tmp_path, members))


@pytest.mark.parametrize("missing", ["PKG-INFO", "pyproject.toml"])
def test_an_sdist_without_pkg_info_or_pyproject_is_refused(tmp_path: Path, missing: str) -> None:
    """PyPI reads PKG-INFO and pip builds from pyproject.toml: both must be there."""
    members = [
        (_member(f"{FOLDER}/{n}"), d)
        for n, d in (("PKG-INFO", PKG_INFO), ("pyproject.toml", PYPROJECT))
        if n != missing
    ]
    with pytest.raises(ContentsError, match=f"has no {FOLDER}/{missing}"):
        _read(_sdist(tmp_path, members))


def test_a_member_twice_is_refused(tmp_path: Path) -> None:
    """Two members of one name (or of names that differ in case) unpack over each other."""
    members = [
        (_member(f"{FOLDER}/PKG-INFO"), PKG_INFO),
        (_member(f"{FOLDER}/pyproject.toml"), PYPROJECT),
        (_member(f"{FOLDER}/PyProject.toml"), b"evil"),
    ]
    with pytest.raises(ContentsError, match="twice"):
        _read(_sdist(tmp_path, members))


@pytest.mark.parametrize("mode", ["w:bz2", "w:xz", "w"])
def test_only_gzip_is_an_sdist(tmp_path: Path, mode: str) -> None:
    """PyPI takes only .tar.gz sdists: other compressions under that name are refused."""
    with pytest.raises(ContentsError, match="not a readable gzip-compressed tar"):
        _read(_sdist(tmp_path, mode=mode))


@pytest.mark.parametrize("cut", [10, 200, -30])
def test_a_truncated_sdist_is_refused(tmp_path: Path, cut: int) -> None:
    """A download cut short is not an sdist."""
    path = _sdist(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(ContentsError):
        _read(path)


def test_a_decompression_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    """A member that unpacks to far more than 50 times the file is refused (warehouse's rule)."""
    path = tmp_path / SDIST_NAME
    with gzip.open(path, "wb", compresslevel=9) as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in (
            (f"{FOLDER}/PKG-INFO", PKG_INFO),
            (f"{FOLDER}/pyproject.toml", PYPROJECT),
        ):
            tar.addfile(_member(name, size=len(data)), io.BytesIO(data))
        big = _member(f"{FOLDER}/zeros", size=80 << 20)
        tar.addfile(big, io.BytesIO(bytes(80 << 20)))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ContentsError, match="decompression bomb"):
        _read(path)


def test_data_after_the_last_member_is_refused(tmp_path: Path) -> None:
    """Bytes some tar programs would still unpack, hidden after the end, are refused."""
    path = _sdist(tmp_path)
    inner = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(inner + b"hidden" + bytes(1024)))
    with pytest.raises(ContentsError, match="after its last member"):
        _read(path)


def test_sdist_names_are_told_from_archive_names() -> None:
    """An archive is <name>-<triple>.tar.gz: never taken for an sdist, whatever its name."""
    assert is_sdist_filename("castoff_hello-0.1.0.tar.gz")
    for archive in (
        "hello-x86_64-unknown-linux-gnu.tar.gz",
        "hello-1.0-x86_64-unknown-linux-musl.tar.gz",
        "tool-aarch64-apple-darwin.tar.gz",
        "hello.tar.gz",
        "castoff_hello-0.1.0.zip",
    ):
        assert not is_sdist_filename(archive), archive
        assert _kind(archive) != "sdist"
    assert _kind("castoff_hello-0.1.0.tar.gz") == "sdist"


def test_the_plan_has_one_sdist_for_pypi_and_github(config: Config) -> None:
    """The sdist is named as PEP 625 says, goes to both places and is signed like the rest."""
    plan = build_plan(config)
    [sdist] = [a for a in plan.artifacts if a.kind == "sdist"]
    assert plan.sdist is not None
    assert sdist.name == plan.sdist.name == sdist_filename(config.name, config.version)
    assert sdist.name == "castoff_hello-0.1.0.tar.gz"
    assert sdist.destinations == ("github", "pypi")
    assert {s.backend for s in sdist.signatures} == set(config.sign.backends)


def test_sdist_false_plans_none(config: Config) -> None:
    """`sdist = false` leaves it out of the plan, and --target sdist is then refused."""
    import dataclasses  # noqa: PLC0415

    without = dataclasses.replace(config, sdist=False)
    plan = build_plan(without)
    assert plan.sdist is None
    assert not [a for a in plan.artifacts if a.kind == "sdist"]
    assert {
        "target": SDIST,
        "method": SDIST,
        "runs-on": "ubuntu-latest",
    } not in plan.github_matrix()["include"]
    with pytest.raises(UsageError, match="'sdist' is not a target"):
        select_targets(without, ["sdist"], source="--target")


def test_target_sdist_selects_only_the_sdist(config: Config) -> None:
    """`--target sdist` plans the sdist alone: what the matrix's sdist job builds."""
    plan = build_plan(config, only=select_targets(config, ["sdist"], source="--target"))
    assert plan.jobs == ()
    assert [a.kind for a in plan.artifacts] == ["sdist", "checksum", "provenance"]
    one = build_plan(config, only=("x86_64-unknown-linux-musl",))
    assert one.sdist is None


def test_a_plan_naming_another_sdist_is_refused(config: Config) -> None:
    """A plan's sdist name is the one its project and version give, or the plan is refused."""
    data = json.loads(build_plan(config).to_json())
    data["sdist"]["name"] = "../../etc.tar.gz"
    with pytest.raises(PlanError, match=r"sdist\.name"):
        ReleasePlan.from_json(json.dumps(data))
    data["sdist"]["name"] = "castoff_hello-9.9.9.tar.gz"
    with pytest.raises(PlanError, match=r"castoff_hello-0\.1\.0\.tar\.gz"):
        ReleasePlan.from_json(json.dumps(data))
    data["sdist"] = None
    data["artifacts"] = [a for a in data["artifacts"] if a["kind"] != "sdist"]
    assert ReleasePlan.from_json(json.dumps(data)).sdist is None


def _artifact(name: str, kind: str, size: int = 10) -> ReleaseArtifact:
    return ReleaseArtifact(
        name=name, kind=kind, target=None, sha256="0" * 64, size=size,  # type: ignore[arg-type]
        destinations=("github", "pypi"), excluded=(), alias_of=None, platform_tags=(),
        signatures=(),
    )  # fmt: skip


def _manifest(*artifacts: ReleaseArtifact) -> ReleaseManifest:
    return ReleaseManifest(name="demo-tool", version="1.0", artifacts=artifacts, builds=())


def test_wheels_are_uploaded_before_the_sdist() -> None:
    """A publish stopped halfway leaves no sdist for pip to build where a wheel is missing."""
    manifest = _manifest(
        _artifact(SDIST_NAME, "sdist"),
        _artifact("demo_tool-1.0-py3-none-musllinux_1_2_x86_64.whl", "wheel"),
        _artifact("demo_tool-1.0-py3-none-manylinux_2_17_x86_64.whl", "wheel"),
    )
    assert [a.name for a in pypi_files(manifest)][-1] == SDIST_NAME


def test_preflight_refuses_sdists_pypi_would(config: Config, tmp_path: Path) -> None:
    """A second sdist, an sdist named otherwise, or metadata PyPI does not read are findings."""
    import dataclasses  # noqa: PLC0415

    _sdist(tmp_path)
    demo = dataclasses.replace(config, name="demo-tool", version="1.0")
    honest = _manifest(_artifact(SDIST_NAME, "sdist"))
    assert _names_and_tags(tmp_path, honest, demo, list(honest.artifacts)) == []
    two = _manifest(_artifact(SDIST_NAME, "sdist"), _artifact("demo-tool-1.0.tar.gz", "sdist"))
    found = _names_and_tags(tmp_path, two, demo, list(two.artifacts))
    assert any("Only one sdist may be uploaded per release" in f.problem for f in found)
    assert any(f.file == "demo-tool-1.0.tar.gz" and f.check == "filename" for f in found)
    members = [
        (_member(f"{FOLDER}/PKG-INFO"), PKG_INFO.replace(b"2.4", b"3.0")),
        (_member(f"{FOLDER}/pyproject.toml"), PYPROJECT),
    ]
    _sdist(tmp_path, members)
    [finding] = _names_and_tags(tmp_path, honest, demo, list(honest.artifacts))
    assert finding.check == "metadata"
    big = _manifest(_artifact(SDIST_NAME, "sdist", size=demo.publish.pypi.max_file_size + 1))
    _sdist(tmp_path)
    [finding] = _names_and_tags(tmp_path, big, demo, list(big.artifacts))
    assert finding.check == "size"


def test_an_index_that_serves_another_sdist_of_the_version_refuses_ours() -> None:
    """PyPI keeps one sdist per release: one there under another name means ours is refused."""
    ours = _artifact(SDIST_NAME, "sdist")
    served = {
        "demo-tool-1.0.tar.gz": index.IndexFile(
            filename="demo-tool-1.0.tar.gz", sha256="1" * 64, upload_time=None
        )
    }
    now = datetime(2026, 11, 23, tzinfo=UTC)
    [finding] = index_findings([ours], served, now, "1.0")
    assert "Only one sdist may be uploaded per release" in finding.problem
    older = {
        "demo_tool-0.9.tar.gz": index.IndexFile(
            filename="demo_tool-0.9.tar.gz", sha256="1" * 64, upload_time=None
        )
    }
    assert index_findings([ours], older, now, "1.0") == []


def test_a_huge_pax_header_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    """Tarfile reads a pax header whole: a small file claiming a huge one is stopped unpacking."""
    path = tmp_path / SDIST_NAME
    info = _member(f"{FOLDER}/PKG-INFO", size=len(PKG_INFO))
    info.pax_headers = {"comment": "x" * (80 << 20)}
    with (
        gzip.open(path, "wb") as raw,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(info, io.BytesIO(PKG_INFO))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ContentsError, match="decompression bomb"):
        _read(path)


@pytest.mark.parametrize(
    ("pyproject", "match"),
    [
        (b'[build-system]\nrequires = "maturin"\n', "no \\[build-system\\] requires list"),
        (b"build-system = 1\n", "no \\[build-system\\] requires list"),
        (b"[build-system]\nrequires = []\n", "no \\[build-system\\] requires list"),
        (b"[build-system\n", "not UTF-8 TOML"),
        (b"\xff\xfe", "not UTF-8 TOML"),
        (b'[build-system]\nrequires = ["maturin @ https://evil.invalid/m.whl"]\n', "names a URL"),
        (b'[build-system]\nrequires = ["--index-url=https://evil.invalid"]\n', "not a requirement"),
    ],
)
def test_build_requirements_pip_could_not_use_safely_are_refused(
    tmp_path: Path, pyproject: bytes, match: str
) -> None:
    """The rehearsal installs the sdist's build requirements: only a list of plain ones passes."""
    members = [
        (_member(f"{FOLDER}/PKG-INFO"), PKG_INFO),
        (_member(f"{FOLDER}/pyproject.toml"), pyproject),
    ]
    with pytest.raises(ContentsError, match=match):
        _read(_sdist(tmp_path, members))


def test_a_file_named_as_the_folder_and_non_utf8_pkg_info_are_refused(tmp_path: Path) -> None:
    """Pip cannot unpack a file where the folder goes; PKG-INFO that is not text is named."""
    members = [(_member(FOLDER), b"x"), (_member(f"{FOLDER}/PKG-INFO"), PKG_INFO)]
    with pytest.raises(ContentsError, match="a file where the sdist's folder is"):
        _read(_sdist(tmp_path, members))
    members = [
        (_member(f"{FOLDER}/PKG-INFO"), b"Name: \xff\n"),
        (_member(f"{FOLDER}/pyproject.toml"), PYPROJECT),
    ]
    with pytest.raises(ContentsError, match="PKG-INFO is not UTF-8"):
        _read(_sdist(tmp_path, members))


def test_the_build_requirements_are_read(tmp_path: Path) -> None:
    """What pip needs to build it comes back checked and normalized."""
    sdist = read_sdist(_sdist(tmp_path), folder=FOLDER, project="demo-tool", version="1.0")
    assert sdist.build_requires == ("maturin<2,>=1.8",)


def test_a_plan_whose_sdist_and_artifacts_disagree_is_refused(config: Config) -> None:
    """The sdist job and the sdist artifact name one file, or the plan is refused."""
    honest = json.loads(build_plan(config).to_json())
    for change in ("no job", "no artifact", "renamed", "two"):
        data = json.loads(json.dumps(honest))
        artifact = next(a for a in data["artifacts"] if a["kind"] == "sdist")
        if change == "no job":
            data["sdist"] = None
        elif change == "no artifact":
            data["artifacts"].remove(artifact)
        elif change == "renamed":
            artifact["name"] = "other-9.tar.gz"
        else:
            data["artifacts"].append(dict(artifact))
        with pytest.raises(PlanError, match="lists the sdist files"):
            ReleasePlan.from_json(json.dumps(data))


def test_audit_leaves_the_sdist_alone(tmp_path: Path) -> None:
    """An sdist holds no binaries: a folder's audit skips it, and naming it says why."""
    from castoff.assemble.audit import audit_paths  # noqa: PLC0415

    _sdist(tmp_path)
    assert audit_paths([tmp_path]) == ([], [])
    with pytest.raises(UsageError, match="is an sdist"):
        audit_paths([tmp_path / SDIST_NAME])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_preflight_does_not_open_an_sdist_that_is_a_fifo_or_a_link(
    config: Config, tmp_path: Path
) -> None:
    """A downloaded release may hold a FIFO (reading it would hang) or a link: neither is read."""
    import dataclasses  # noqa: PLC0415

    demo = dataclasses.replace(config, name="demo-tool", version="1.0")
    manifest = _manifest(_artifact(SDIST_NAME, "sdist"))
    os.mkfifo(tmp_path / SDIST_NAME)
    [finding] = _names_and_tags(tmp_path, manifest, demo, list(manifest.artifacts))
    assert (finding.check, finding.problem) == ("sdist", "is not a regular file")
    (tmp_path / SDIST_NAME).unlink()
    (tmp_path / "x").mkdir()
    elsewhere = _sdist(tmp_path / "x")
    (tmp_path / SDIST_NAME).symlink_to(elsewhere)
    [finding] = _names_and_tags(tmp_path, manifest, demo, list(manifest.artifacts))
    assert finding.problem == "is not a regular file"
