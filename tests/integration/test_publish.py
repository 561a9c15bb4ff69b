"""castoff preflight and publish against a real pypiserver on 127.0.0.1, through real twine."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from castoff.publish import index
from castoff.rehearse import LocalIndex, local_index
from castoff.runner import Runner
from tests.conftest import EXAMPLE
from tests.integration.conftest import castoff

CONFIG = str(EXAMPLE / "pyproject.toml")


@pytest.fixture
def keys(signed: tuple[Path, Path]) -> Path:
    """Return the throwaway keys the release was signed with."""
    return signed[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalIndex]:
    """Run a real pypiserver with upload authentication on a free port."""
    with local_index(tmp_path / "index", Runner(base_env=os.environ, echo=lambda _: None)) as run:
        yield run


def _publish(
    release: Path, keys: Path, server: LocalIndex, *extra: str, password: str | None = None
) -> Any:
    env = server.twine_env()
    if password is not None:
        env["TWINE_PASSWORD"] = password
    return castoff(
        "publish",
        "--config",
        CONFIG,
        str(release),
        "--keys",
        str(keys),
        "--repository-url",
        server.repository_url,
        "--index-url",
        server.index_url,
        # The GitHub side goes to a folder beside the index's (tests with gh: test_github_release).
        "--release-folder",
        str(server.packages.parent / "release"),
        *extra,
        env=env,
    )


def _served(server: LocalIndex) -> dict[str, str | None]:
    return {n: f.sha256 for n, f in index.project_files(server.index_url, "castoff-hello").items()}


def _index_bound(release: Path) -> dict[str, str]:
    manifest = json.loads((release / "manifest.json").read_text())
    return {a["name"]: a["sha256"] for a in manifest["artifacts"] if "pypi" in a["destinations"]}


def test_preflight_passes_and_says_what_stays_off_the_index(
    release: Path, keys: Path, server: LocalIndex
) -> None:
    """The signed example passes; the loongarch64 wheel is kept for GitHub with PyPI's reason."""
    result = castoff(
        "preflight", "--config", CONFIG, str(release), "--keys", str(keys),
        "--index-url", server.index_url, "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["findings"] == []
    assert len(doc["index"]) == 16  # fifteen wheels and the sdist
    kept = doc["kept_from_index"]
    assert [k["name"].split("-py3-none-")[1] for k in kept] == [
        "manylinux_2_36_loongarch64.musllinux_1_2_loongarch64.whl"
    ]
    assert "loongarch64" in kept[0]["reason"]


def test_preflight_lists_every_problem_at_once_and_uploads_nothing(
    release: Path, keys: Path, server: LocalIndex, tmp_path: Path
) -> None:
    """A changed wheel, a lost signature, an oversize limit and a taken name: all in one error."""
    wheels = sorted(_index_bound(release))
    changed = release / wheels[0]
    changed.write_bytes(changed.read_bytes() + b"\0")
    (release / f"{wheels[1]}.minisig").unlink()
    # Someone uploaded other bytes under a name this release wants.
    impostor = tmp_path / wheels[2]
    impostor.write_bytes(b"not the same wheel")
    shutil.copy(impostor, server.packages / wheels[2])
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target"))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("max-file-size = 104857600", "max-file-size = 1000")
    )
    result = castoff(
        "publish", "--config", str(pyproject), str(release), "--keys", str(keys),
        "--repository-url", server.repository_url, "--index-url", server.index_url, "--json",
        "--release-folder", str(tmp_path / "release"),
        env=server.twine_env(),
    )  # fmt: skip
    assert result.returncode == 12, result.stderr
    findings = json.loads(result.stdout)["findings"]
    checks = {(f["file"], f["check"]) for f in findings}
    assert (wheels[0], "sha256") in checks
    assert (f"{wheels[1]}.minisig", "signature:minisign") in checks
    assert (wheels[2], "index") in checks
    # Every file bound for the index (15 wheels and the sdist) is over the 1000-byte limit.
    assert sum(f["check"] == "size" for f in findings) == len(_index_bound(release)) == 16
    assert "nothing uploaded" in result.stderr
    assert sorted(p.name for p in server.packages.iterdir()) == [wheels[2]]
    assert not (release / "publish-journal.json").exists()


def test_publish_uploads_each_file_once_reads_it_back_and_resumes_without_repeats(
    release: Path, keys: Path, server: LocalIndex
) -> None:
    """The wheels and the sdist arrive with their sha256; a rerun is refused, a resume a no-op."""
    result = _publish(release, keys, server, "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {f["name"]: f["state"] for f in doc["index"]["files"]} == dict.fromkeys(
        _index_bound(release), "verified"
    )
    assert _served(server) == _index_bound(release)
    journal = json.loads((release / "publish-journal.json").read_text())
    assert all(f["attempts"] == 1 for f in journal["files"])
    # The loongarch64 wheel stays for the GitHub release.
    assert not any("loongarch64" in name for name in _served(server))

    again = _publish(release, keys, server)
    assert again.returncode == 13
    assert "--resume" in again.stderr
    resumed = _publish(release, keys, server, "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    # The index, asked about every file, has them all: nothing is uploaded again.
    assert resumed.stderr.count("on the index already") == len(_index_bound(release)) == 16
    assert " to http://" not in resumed.stderr  # no "uploading X to <index>" line
    assert _served(server) == _index_bound(release)


def test_wrong_credentials_stop_with_a_hint_and_resume_finishes(
    release: Path, keys: Path, server: LocalIndex
) -> None:
    """A refused password stops at the first file, says so, and never shows the password."""
    wrong = "not-the-upload-password-4711"
    result = _publish(release, keys, server, password=wrong)
    assert result.returncode == 13, result.stderr
    assert "HTTP 403" in result.stderr or "HTTP 401" in result.stderr
    assert "TWINE_PASSWORD" in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert _served(server) == {}
    resumed = _publish(release, keys, server, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert _served(server) == _index_bound(release)


def test_dry_run_prints_every_upload_and_uploads_nothing(
    release: Path, keys: Path, server: LocalIndex
) -> None:
    """--dry-run runs preflight, says what each upload would be, and leaves the index empty."""
    result = _publish(release, keys, server, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert " ".join(result.stderr.split()).count(" with twine, as castoff") == 16
    assert server.password not in result.stdout + result.stderr
    assert _served(server) == {}
    assert not (release / "publish-journal.json").exists()


def test_the_index_step_trusts_the_signed_checksums_and_staging_checks_each_signature(
    release: Path, keys: Path, server: LocalIndex
) -> None:
    """A bad signature of one wheel stops a publish with a GitHub step, not the index step alone.

    The index gets no minisign or ssh signature: SHA256SUMS's signatures vouch for every byte
    it gets. manifest.json (not signed) is changed to agree with the bad signature, as whoever
    changed the signature could. A bad signature of SHA256SUMS stops the index step too.
    """
    wheel = sorted(_index_bound(release))[0]

    def swap(name: str, before: bytes, after: bytes) -> None:
        (release / name).write_bytes(after)
        manifest = release / "manifest.json"
        old, new = hashlib.sha256(before).hexdigest(), hashlib.sha256(after).hexdigest()
        manifest.write_text(manifest.read_text().replace(old, new))

    def spoil(name: str) -> bytes:
        intact = (release / name).read_bytes()
        swap(name, intact, intact.replace(b"trusted comment:", b"trusted  comment:"))
        return intact

    spoil(f"{wheel}.minisig")
    staged = _publish(release, keys, server)
    assert staged.returncode == 12, staged.stderr
    assert f"{wheel}.minisig" in staged.stderr
    # The finish step makes the staged signatures public: it checks each one too.
    finished = _publish(release, keys, server, "--step", "finish")
    assert finished.returncode == 12, finished.stderr
    assert f"{wheel}.minisig" in finished.stderr
    assert _served(server) == {}
    intact = spoil("SHA256SUMS.minisig")
    refused = _publish(release, keys, server, "--step", "index")
    assert refused.returncode == 12, refused.stderr
    assert "SHA256SUMS.minisig" in refused.stderr
    assert _served(server) == {}
    swap("SHA256SUMS.minisig", (release / "SHA256SUMS.minisig").read_bytes(), intact)
    index_only = _publish(release, keys, server, "--step", "index")
    assert index_only.returncode == 0, index_only.stderr
    assert _served(server) == _index_bound(release)


class _CountingReads(http.server.BaseHTTPRequestHandler):
    """A stand-in between castoff and the index's reads: forwards each GET, and counts it."""

    index = ""  # where reads go: the real pypiserver
    reads: list[str] = []  # noqa: RUF012 - one test's record, reset by it

    def do_GET(self) -> None:
        self.reads.append(self.path)
        request = urllib.request.Request(  # noqa: S310 - the local pypiserver
            self.index + self.path, headers={"Accept": self.headers.get("Accept", "*/*")}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                status, body, kind = answer.status, answer.read(), answer.headers["Content-Type"]
        except urllib.error.HTTPError as exc:
            status, body, kind = exc.code, b"", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind or "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def test_the_index_is_read_once_before_the_uploads_and_once_after(
    release: Path, keys: Path, server: LocalIndex
) -> None:
    """Preflight's read of the index serves the uploads too; the read-back is the second read."""
    _CountingReads.index = f"http://127.0.0.1:{server.port}"
    _CountingReads.reads = []
    proxy = http.server.HTTPServer(("127.0.0.1", 0), _CountingReads)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        result = castoff(
            "publish", "--config", CONFIG, str(release), "--keys", str(keys),
            "--step", "index", "--repository-url", server.repository_url,
            "--index-url", f"http://127.0.0.1:{proxy.server_address[1]}/simple/",
            env=server.twine_env(),
        )  # fmt: skip
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert result.returncode == 0, result.stderr
    assert _served(server) == _index_bound(release)
    assert _CountingReads.reads == ["/simple/castoff-hello/"] * 2
