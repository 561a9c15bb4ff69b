"""Publishing against a release folder or an index that does not behave (real pypiserver, twine).

The bytes uploaded are the bytes verified; one publish per folder at a time; the index, not the
journal, says what is there; an index without hashes is checked by downloading.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import castoff
from tests.integration.test_publish_faults import (
    CONFIG,
    FILES,
    PASSWORD,
    FaultyIndex,
    _index_bound,
    publish,
    server,
)

__all__ = ["server"]  # the fixture, shared with the fault tests


def test_a_file_changed_after_preflight_is_never_uploaded(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """Someone appends a byte to the first wheel between preflight and its upload."""
    first = sorted(_index_bound(release))[0]
    # Read 1 is preflight's; read 2 is the one just before the first upload.
    server.start("--tamper", f"2:{release / first}")
    result = publish(release, signed[1], server)
    text = " ".join(result.stderr.split())
    assert result.returncode == 11, result.stderr
    assert f"{first}: changed after it was verified" in text
    assert "nothing of it was sent" in text
    assert "--resume" not in text  # PyPI never takes a name twice: no resume into other bytes
    assert server.answered() == []
    assert list(server.packages.iterdir()) == []


def test_resume_believes_the_index_not_the_journal(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """The journal says every file is verified, but the index lost one: resume uploads it."""
    keys = signed[1]
    server.start()
    assert publish(release, keys, server).returncode == 0
    lost = sorted(_index_bound(release))[3]
    (server.packages / lost).unlink()
    journal = json.loads((release / "publish-journal.json").read_text())
    assert {f["state"] for f in journal["files"]} == {"verified"}
    resumed = publish(release, keys, server, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{lost}: the journal says verified, but the index lacks it: uploading" in " ".join(
        resumed.stderr.split()
    )
    assert {p.name for p in server.packages.iterdir()} == _index_bound(release)
    assert server.answered().count("200") == FILES + 1


def test_an_index_without_hashes_is_checked_by_download(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """No sha256 on the pages: other bytes under our name are found by downloading them."""
    keys = signed[1]
    name = sorted(_index_bound(release))[2]
    (server.packages / name).write_bytes(b"somebody else's wheel")
    server.start("--no-hashes")
    refused = publish(release, keys, server, "--json")
    assert refused.returncode == 12, refused.stderr
    findings = json.loads(refused.stdout)["findings"]
    assert [(f["file"], f["check"]) for f in findings] == [(name, "index")]
    assert server.answered() == []
    (server.packages / name).unlink()
    # And an honest run against it reads every file back by download.
    done = publish(release, keys, server, "--resume", "--json")
    assert done.returncode == 0, done.stderr
    states = {f["state"] for f in json.loads(done.stdout)["index"]["files"]}
    assert states == {"verified"}


def test_a_second_publish_of_one_folder_is_refused_naming_the_holder(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """The OS lock is held (here, by this test): castoff says by whom, and uploads nothing."""
    server.start()
    lock = release / ".castoff-publish.lock"
    with lock.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.truncate(0)
        handle.write(json.dumps({"pid": os.getpid(), "host": "test", "since": "now"}))
        handle.flush()
        result = publish(release, signed[1], server, "--resume")
    assert result.returncode == 13, result.stderr
    assert f"another publish of this release folder is running (process {os.getpid()}" in " ".join(
        result.stderr.split()
    )
    assert server.answered() == []


def test_two_publishes_at_once_upload_each_file_once(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """Two real `castoff publish --resume` on one folder at once: one runs, one is refused."""
    keys = signed[1]
    server.start("--slow", "0.7")
    env = {**os.environ, "TWINE_USERNAME": "castoff", "TWINE_PASSWORD": PASSWORD}
    argv = [
        "castoff", "publish", "--config", CONFIG, str(release), "--keys", str(keys),
        "--repository-url", server.url, "--index-url", f"{server.url}simple/", "--resume",
        "--release-folder", str(server.packages.parent / "release"),
    ]  # fmt: skip
    first = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lock = release / ".castoff-publish.lock"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (lock.is_file() and lock.read_text().strip()):
        time.sleep(0.05)
    second = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert second.returncode == 13, second.stderr
    assert "another publish of this release folder is running" in " ".join(second.stderr.split())
    assert server.answered().count("200") == FILES
    assert {p.name for p in server.packages.iterdir()} == _index_bound(release)


def test_credentials_in_the_repository_url_are_refused_and_never_shown(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """user:password@ in the URL would be printed and journaled: refused, nothing started."""
    server.start()
    secret = "hunter2-in-a-url"  # noqa: S105 - a password that must never be shown
    url = server.url.replace("http://", f"http://castoff:{secret}@")
    before = sorted(p.name for p in release.iterdir())
    result = castoff(
        "publish", "--config", CONFIG, str(release), "--keys", str(signed[1]),
        "--repository-url", url, "--json", "--dry-run",
    )  # fmt: skip
    assert result.returncode == 2
    assert secret not in result.stdout + result.stderr
    assert "holds credentials" in result.stderr
    assert sorted(p.name for p in release.iterdir()) == before


def test_attempts_zero_is_refused_before_the_release_is_staged(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """--attempts 0 used to fail after the GitHub draft existed: now nothing starts."""
    server.start()
    result = publish(release, signed[1], server, "--attempts", "0")
    assert result.returncode == 2
    assert "--attempts" in result.stderr
    assert not (server.packages.parent / "release").exists()
    assert not (release / "publish-journal.json").exists()


@pytest.mark.parametrize("tag", ["../../outside", "v1/../../x", "-rf"])
def test_a_tag_that_leaves_the_release_folder_is_refused(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex, tag: str
) -> None:
    """The tag names a folder of the local release: it cannot climb out of it."""
    server.start()
    result = publish(release, signed[1], server, f"--tag={tag}")
    assert result.returncode == 2
    assert "--tag" in result.stderr
    assert not (server.packages.parent / "release").exists()


def test_a_second_publish_without_resume_stages_nothing(
    release: Path, signed: tuple[Path, Path], server: FaultyIndex
) -> None:
    """The journal is checked before the GitHub side is touched: no draft appears again."""
    server.start("--status", "1:400")
    first = publish(release, signed[1], server)
    assert first.returncode == 13, first.stderr
    draft = server.packages.parent / "release"
    assert draft.is_dir()
    shutil.rmtree(draft)
    second = publish(release, signed[1], server)
    assert second.returncode == 13
    assert "castoff publish --resume" in " ".join(second.stderr.split())
    assert not draft.exists()
    assert server.answered() == ["400"]
