from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from castoff.errors import PublishError, ToolMissingError, VerifyError
from castoff.manifest import ReleaseArtifact, ReleaseManifest, SignatureRecord
from castoff.publish import index, twine
from castoff.publish.github import FolderRelease, finish_release, stage_release
from castoff.publish.journal import JOURNAL_FILE, open_journal
from castoff.publish.preflight import index_findings
from castoff.rehearse import platform_tag, uv_platform
from tests.wheels import make_wheel, write_zip

WHEEL = "castoff_hello-0.1.0-py3-none-musllinux_1_2_x86_64.whl"
SHA = "ab" * 32


def artifact(
    name: str,
    *,
    sha256: str = SHA,
    size: int = 1,
    destinations: tuple[str, ...] = ("pypi",),
    signatures: tuple[SignatureRecord, ...] = (),
) -> ReleaseArtifact:
    """Return a release manifest entry with only what a test cares about."""
    kind = "wheel" if name.endswith(".whl") else "archive"
    return ReleaseArtifact(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        target=None,
        sha256=sha256,
        size=size,
        destinations=destinations,  # type: ignore[arg-type]
        excluded=(),
        alias_of=None,
        platform_tags=(),
        signatures=signatures,
    )


# What pypiserver 2.4 serves (PEP 503 HTML, sha256 in the fragment).
PYPISERVER_HTML = f"""<!DOCTYPE html>
<html lang="en"><head><title>Links for castoff-hello</title></head>
<body><h1>Links for castoff-hello</h1>
    <a href="../../packages/{WHEEL}#sha256={SHA}">{WHEEL}</a><br>
</body></html>"""


def test_the_html_page_gives_names_and_hashes() -> None:
    """Pypiserver's and PyPI's HTML pages: one link per file, sha256 from the fragment."""
    files = index.parse_html(PYPISERVER_HTML)
    assert files == [
        index.IndexFile(
            filename=WHEEL, sha256=SHA, upload_time=None, url=f"../../packages/{WHEEL}#sha256={SHA}"
        )
    ]
    pypi = (
        f'<a href="https://files.example/{WHEEL}#sha256={SHA}" data-requires-python="&gt;=3.8" '
        f'data-upload-time="2024-03-19T22:40:59.497944Z">{WHEEL}</a>'
    )
    [file] = index.parse_html(pypi)
    assert file.upload_time == datetime(2024, 3, 19, 22, 40, 59, 497944, tzinfo=UTC)


def test_the_json_page_gives_names_hashes_and_upload_times() -> None:
    """PEP 691 JSON with PEP 700 upload-time."""
    text = json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "castoff-hello",
            "files": [
                {
                    "filename": WHEEL,
                    "url": f"https://files.example/{WHEEL}",
                    "hashes": {"sha256": SHA},
                    "upload-time": "2026-11-01T10:00:00.000000Z",
                }
            ],
        }
    )
    [file] = index.parse_json(text)
    assert (file.filename, file.sha256) == (WHEEL, SHA)
    assert file.upload_time == datetime(2026, 11, 1, 10, tzinfo=UTC)


def test_project_pages_use_the_normalized_name() -> None:
    """PEP 503: the project page is under the normalized name, with a trailing slash."""
    assert index.project_url("http://127.0.0.1:8080/simple", "Castoff_Hello") == (
        "http://127.0.0.1:8080/simple/castoff-hello/"
    )


def test_a_release_older_than_14_days_takes_no_new_files() -> None:
    """PyPI's rule: a release first uploaded over 14 days ago cannot get more files."""
    files = [artifact(WHEEL)]
    other = "castoff_hello-0.1.0-py3-none-manylinux_2_17_x86_64.whl"
    served = {
        other: index.IndexFile(
            filename=other, sha256="cd" * 32, upload_time=datetime(2026, 11, 1, tzinfo=UTC)
        )
    }
    late = index_findings(files, served, datetime(2026, 11, 16, tzinfo=UTC), "0.1.0")
    assert [f.check for f in late] == ["release-age"]
    assert "2026-11-01" in late[0].problem
    in_time = index_findings(files, served, datetime(2026, 11, 14, tzinfo=UTC), "0.1.0")
    assert in_time == []
    # Another version's files do not make this release old.
    assert index_findings(files, served, datetime(2026, 12, 30, tzinfo=UTC), "0.2.0") == []


def test_a_taken_name_with_other_bytes_is_a_finding() -> None:
    """The same name with another sha256 on the index can never be uploaded."""
    served = {WHEEL: index.IndexFile(filename=WHEEL, sha256="00" * 32, upload_time=None)}
    [finding] = index_findings([artifact(WHEEL)], served, datetime.now(UTC), "0.1.0")
    assert finding.check == "index"
    assert "00" * 32 in finding.problem


def _described(folder: Path, name: str, description: str, content_type: str) -> Path:
    """Write a wheel whose METADATA has this long description."""
    metadata = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
        f"Description-Content-Type: {content_type}\n\n{description}"
    )
    return write_zip(
        folder / f"{name}-1.0-py3-none-any.whl",
        {
            f"{name}-1.0.dist-info/METADATA": metadata.encode(),
            f"{name}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py3-none-any\n",
        },
        record=f"{name}-1.0.dist-info/RECORD",
    )


def test_twine_check_in_process_tells_passed_warnings_and_failures_apart(tmp_path: Path) -> None:
    """Real twine check, in castoff's process: a good README, none, and one that cannot render."""
    good = _described(tmp_path, "good", "# Good\n\nA description.\n", "text/markdown")
    bare = make_wheel(tmp_path, ["any"], b"", name="bare")
    broken = _described(tmp_path, "broken", "A `link`_ to nowhere.\n", "text/x-rst")
    unreadable = tmp_path / "junk-1.0-py3-none-any.whl"
    unreadable.write_bytes(b"not a zip")
    # A folder name rich would read as markup, and one long enough for any console to wrap.
    odd = tmp_path / "[red]x[/red]" / ("deep-" * 30)
    odd.mkdir(parents=True)
    shutil.copy(good, odd / good.name)
    verdicts = twine.check([good, bare, broken, unreadable])
    assert twine.check([odd / good.name]) == {good.name: "PASSED"}
    assert verdicts[good.name] == "PASSED"
    assert twine.check_warnings(verdicts) == [bare.name]
    failures = twine.check_failures(verdicts)
    assert sorted(failures) == sorted([broken.name, unreadable.name])
    assert "Unknown target name" in failures[broken.name]
    assert "cannot read it" in failures[unreadable.name]


def test_twine_check_renders_each_description_and_says_so_per_file(tmp_path: Path) -> None:
    """Files sharing a description share its verdict; another description gets its own."""
    broken = "A `link`_ to nowhere.\n"
    good = "A *fine* description.\n"
    files = [
        _described(tmp_path, "one", broken, "text/x-rst"),
        _described(tmp_path, "two", good, "text/x-rst"),
        _described(tmp_path, "three", broken, "text/x-rst"),
        _described(tmp_path, "four", good, "text/x-rst; charset=UTF-8"),
    ]
    verdicts = twine.check(files)
    assert [verdicts[f.name].split(":")[0] for f in files] == ["FAILED", "PASSED"] * 2
    assert verdicts[files[0].name] == verdicts[files[2].name]


def test_twine_check_without_docutils_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """readme_renderer's reStructuredText renderer failing to load is a missing tool, no bug."""
    import readme_renderer  # noqa: PLC0415 - the package whose renderer goes missing

    monkeypatch.setitem(sys.modules, "readme_renderer.rst", None)
    monkeypatch.delattr(readme_renderer, "rst", raising=False)
    markdown = _described(tmp_path, "md", "# Fine\n", "text/markdown")
    assert twine.check([markdown]) == {markdown.name: "PASSED"}  # nothing to render
    rst = _described(tmp_path, "rst", "Fine.\n", "text/x-rst")
    with pytest.raises(ToolMissingError, match="twine cannot be loaded"):
        twine.check([rst])


def _open(dist: Path, files: list[tuple[str, str]], *, resume: bool) -> object:
    return open_journal(
        dist,
        name="castoff-hello",
        version="0.1.0",
        repository_url="http://127.0.0.1:1/",
        files=files,
        resume=resume,
    )


def test_a_started_publish_must_be_resumed_and_only_with_the_same_files(tmp_path: Path) -> None:
    """The journal is written at once; a second start needs --resume and the same release."""
    journal = open_journal(
        tmp_path,
        name="castoff-hello",
        version="0.1.0",
        repository_url="http://127.0.0.1:1/",
        files=[(WHEEL, SHA)],
        resume=False,
    )
    journal.set(WHEEL, state="uploaded", attempts=1)
    saved = json.loads((tmp_path / JOURNAL_FILE).read_text())
    assert saved["files"] == [
        {"name": WHEEL, "sha256": SHA, "state": "uploaded", "attempts": 1, "note": ""}
    ]
    with pytest.raises(PublishError) as caught:
        _open(tmp_path, [(WHEEL, SHA)], resume=False)
    assert "1 of 1 files done" in caught.value.message
    assert "--resume" in (caught.value.hint or "")
    with pytest.raises(PublishError, match="they differ in: files or their bytes"):
        _open(tmp_path, [(WHEEL, "ef" * 32)], resume=True)
    resumed = open_journal(
        tmp_path,
        name="castoff-hello",
        version="0.1.0",
        repository_url="http://127.0.0.1:1/",
        files=[(WHEEL, SHA)],
        resume=True,
    )
    assert resumed.entries[WHEEL].state == "uploaded"


def _release_folder(tmp_path: Path) -> tuple[Path, ReleaseManifest]:
    dist = tmp_path / "dist"
    dist.mkdir()
    for name in ("a.tar.gz", "a.tar.gz.minisig", "w.whl", "SHA256SUMS"):
        (dist / name).write_text(name)
    manifest = ReleaseManifest(
        name="a",
        version="1.0.0",
        artifacts=(
            artifact(
                "a.tar.gz",
                sha256=_sha("a.tar.gz"),
                size=8,
                destinations=("github",),
                signatures=(
                    SignatureRecord(
                        backend="minisign", name="a.tar.gz.minisig", sha256=_sha("a.tar.gz.minisig")
                    ),
                ),
            ),
            artifact("w.whl", sha256=_sha("w.whl"), size=5),
            artifact("SHA256SUMS", sha256=_sha("SHA256SUMS"), size=10, destinations=("github",)),
        ),
        builds=(),
    )
    return dist, manifest


def _sha(text: str) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(text.encode()).hexdigest()


def test_a_local_release_is_a_draft_until_finished_and_reruns_upload_only_changes(
    tmp_path: Path,
) -> None:
    """Stage: draft with every GitHub-bound file; rerun: nothing; finish: published at once."""
    dist, manifest = _release_folder(tmp_path)
    host = FolderRelease(tmp_path / "release", "v1.0.0")
    lines: list[str] = []
    staged = stage_release(host, dist, manifest, title="t", notes="n", report=lines.append)
    assert staged["uploaded"] == ["a.tar.gz", "a.tar.gz.minisig", "SHA256SUMS", "manifest.json"]
    assert (tmp_path / "release" / "v1.0.0.draft" / "a.tar.gz").is_file()
    assert not (tmp_path / "release" / "v1.0.0").exists()
    assert not host.is_published()
    # The folder signed again: new bytes with their new digest in the manifest.
    (dist / "SHA256SUMS").write_text("changed")
    sums = dataclasses.replace(manifest.artifacts[2], sha256=_sha("changed"), size=7)
    resigned = dataclasses.replace(manifest, artifacts=(*manifest.artifacts[:2], sums))
    again = stage_release(host, dist, resigned, title="t", notes="n", report=lines.append)
    assert again["uploaded"] == ["SHA256SUMS", "manifest.json"]
    assert finish_release(host, lines.append) is False
    assert (tmp_path / "release" / "v1.0.0" / "SHA256SUMS").read_text() == "changed"
    assert finish_release(host, lines.append) is True


def test_staging_uploads_only_the_verified_bytes(tmp_path: Path) -> None:
    """A file changed after verification stops the staging before anything is uploaded."""
    dist, manifest = _release_folder(tmp_path)
    (dist / "a.tar.gz").write_text("a.tar.gX")
    host = FolderRelease(tmp_path / "release", "v1.0.0")
    with pytest.raises(VerifyError, match=r"a\.tar\.gz: changed after it was verified"):
        stage_release(host, dist, manifest, title="t", notes="n", report=lambda _: None)
    assert host.assets() is None


def test_staging_refuses_a_release_with_missing_signatures(tmp_path: Path) -> None:
    """Every file the release needs is there before anything is created."""
    dist, manifest = _release_folder(tmp_path)
    (dist / "a.tar.gz.minisig").unlink()
    host = FolderRelease(tmp_path / "release", "v1.0.0")
    with pytest.raises(PublishError, match=r"a\.tar\.gz\.minisig"):
        stage_release(host, dist, manifest, title="t", notes="n", report=lambda _: None)
    assert host.assets() is None


def test_uv_platforms_exist_only_where_uv_has_a_name_for_them() -> None:
    """Uv 0.13's --python-platform names: glibc for five arches (and riscv64), musl for two."""
    assert uv_platform("manylinux_2_17_s390x") == "s390x-manylinux_2_17"
    assert uv_platform("manylinux_2_34_ppc64le") == "ppc64le-manylinux_2_34"
    assert uv_platform("manylinux_2_31_riscv64") == "riscv64-unknown-linux"
    assert uv_platform("musllinux_1_2_aarch64") == "aarch64-unknown-linux-musl"
    assert uv_platform("musllinux_1_2_s390x") is None
    assert uv_platform("manylinux_2_17_i686") is None
    assert platform_tag("gnu", ["manylinux2014_s390x", "manylinux_2_17_s390x"]) == (
        "manylinux_2_17_s390x"
    )
    assert platform_tag("musl", ["manylinux_2_17_s390x"]) is None
