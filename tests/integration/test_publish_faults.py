"""Faults during publish, against a real pypiserver behind tests/faulty_index.py, through twine.

Each case ends the same way: a clear message, and a `--resume` that completes the release with
every file uploaded exactly once (counted by the index's own log of answered uploads).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from castoff.rehearse import free_port, htpasswd_line
from tests.conftest import EXAMPLE, REPO
from tests.integration.conftest import castoff

CONFIG = str(EXAMPLE / "pyproject.toml")
PASSWORD = "fault-test-upload-password"  # noqa: S105 - the throwaway index's own password
FILES = 16  # bound for the index: the example's wheels but loongarch64's, and the sdist


class FaultyIndex:
    """Starts and restarts tests/faulty_index.py on one port and one packages folder."""

    def __init__(self, folder: Path) -> None:
        self.packages = folder / "packages"
        self.packages.mkdir(parents=True)
        self.htpasswd = folder / "htpasswd"
        self.htpasswd.write_text(htpasswd_line("castoff", PASSWORD))
        self.log = folder / "uploads.log"
        self.log.touch()
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the upload URL."""
        return f"http://127.0.0.1:{self.port}/"

    def start(self, *faults: str) -> None:
        """Start the index with these faults and wait until it answers."""
        self.process = subprocess.Popen(
            [
                *(sys.executable, str(REPO / "tests" / "faulty_index.py"), str(self.packages)),
                *(str(self.htpasswd), str(self.port), "--log", str(self.log), *faults),
            ],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}simple/", timeout=1):  # noqa: S310
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise AssertionError("the faulty index did not start")

    def stop(self) -> None:
        """Stop the index if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def answered(self) -> list[str]:
        """Return the status of every upload the index answered, in order."""
        return [line.split()[1] for line in self.log.read_text().splitlines()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FaultyIndex]:
    """Return the faulty index's controller; it is stopped after the test."""
    made = FaultyIndex(tmp_path / "index")
    yield made
    made.stop()


def publish(
    release: Path, keys: Path, server: FaultyIndex, *extra: str
) -> subprocess.CompletedProcess[str]:
    """Run castoff publish against the faulty index with quick retries."""
    return castoff(
        "publish", "--config", CONFIG, str(release), "--keys", str(keys),
        "--repository-url", server.url, "--index-url", f"{server.url}simple/",
        "--attempts", "3", "--backoff", "0.05",
        "--release-folder", str(server.packages.parent / "release"), *extra,
        env={"TWINE_USERNAME": "castoff", "TWINE_PASSWORD": PASSWORD},
    )  # fmt: skip


def _index_bound(release: Path) -> set[str]:
    manifest = json.loads((release / "manifest.json").read_text())
    return {a["name"] for a in manifest["artifacts"] if "pypi" in a["destinations"]}


def _resume_completes(release: Path, keys: Path, server: FaultyIndex) -> None:
    server.stop()
    server.start()
    resumed = publish(release, keys, server, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert {p.name for p in server.packages.iterdir()} == _index_bound(release)
    assert server.answered().count("200") == FILES  # each file uploaded exactly once
    journal = json.loads((release / "publish-journal.json").read_text())
    assert {f["state"] for f in journal["files"]} == {"verified"}


@pytest.mark.parametrize("k", range(1, FILES + 1))
def test_index_killed_after_the_kth_upload_then_resume(
    k: int, release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """The index dies after answering upload k: castoff stops, says why; resume finishes."""
    keys = signed[1]
    server.start("--die-after", str(k))
    result = publish(release, keys, server)
    assert result.returncode == 13, result.stderr
    if k < FILES:
        assert "cannot be reached" in result.stderr
        assert "--resume" in " ".join(result.stderr.split())
    assert len(list(server.packages.iterdir())) == k
    _resume_completes(release, keys, server)


def test_index_killed_while_answering_an_upload_that_landed(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """Upload 4 is stored but never answered: resume finds it on the index, does not repeat it."""
    keys = signed[1]
    server.start("--die-during", "4")
    result = publish(release, keys, server)
    assert result.returncode == 13, result.stderr
    journal = json.loads((release / "publish-journal.json").read_text())
    fourth = journal["files"][3]
    assert fourth["attempts"] == 1
    assert fourth["state"] == "pending"
    _resume_completes(release, keys, server)
    journal = json.loads((release / "publish-journal.json").read_text())
    assert journal["files"][3]["attempts"] == 1  # found on the index, not uploaded again


def test_server_errors_are_retried_within_the_run(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """HTTP 500s on upload 2: twine's five quick tries fail, castoff waits, reads, tries again."""
    server.start(*(f"--status={k}:500" for k in range(2, 7)))
    result = publish(release, signed[1], server, "--json")
    assert result.returncode == 0, result.stderr
    # Long file names wrap the line: compare words, not line breaks.
    assert "trying again in 0.05 s" in " ".join(result.stderr.split())
    assert server.answered().count("500") == 5
    assert server.answered().count("200") == FILES
    files = json.loads(result.stdout)["index"]["files"]
    assert [f["attempts"] for f in files] == [1, 2, *([1] * (FILES - 2))]


def test_a_refusal_stops_with_the_index_message_and_resume_completes(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """A PyPI-style 400 on upload 3 is not retried: its reason is shown, then resume finishes."""
    keys = signed[1]
    server.start("--status", "3:400")
    result = publish(release, keys, server)
    assert result.returncode == 13, result.stderr
    text = " ".join(result.stderr.split())
    assert "HTTP 400" in text
    assert "The index refused the file" in text
    assert server.answered() == ["200", "200", "400"]
    _resume_completes(release, keys, server)


def test_another_file_under_the_same_name_is_refused_before_any_upload(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """Someone else's bytes under a name of ours: preflight stops everything; once gone, resume."""
    keys = signed[1]
    name = sorted(_index_bound(release))[5]
    (server.packages / name).write_bytes(b"somebody else's wheel")
    server.start()
    result = publish(release, keys, server)
    assert result.returncode == 12, result.stderr
    assert name in result.stderr
    assert server.answered() == []  # nothing uploaded
    (server.packages / name).unlink()
    _resume_completes(release, keys, server)
