"""castoff rehearse and castoff release --dry-run, end to end on the example."""

from __future__ import annotations

import json
import socket
import urllib.parse
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE
from tests.integration.conftest import castoff

CONFIG = str(EXAMPLE / "pyproject.toml")


def test_rehearse_publishes_locally_installs_back_and_runs_every_target(
    first_build: dict[str, Any], out_dir: Path, tmp_path: Path
) -> None:
    """Linux, Windows and macOS targets and an alias: uploaded, installed back, run; index stopped.

    Windows runs under Wine; macOS wheels install for their platform, and nothing here runs them;
    MSVC builds only on a Windows runner, and its row says so.
    """
    assert first_build["targets"]
    work = tmp_path / "rehearsal"
    result = castoff(
        "rehearse", "--config", CONFIG, "--target", "x86_64-unknown-linux-gnu",
        "--target", "s390x-unknown-linux-musl", "--target", "x86_64-pc-windows-gnu",
        "--target", "aarch64-apple-darwin", "--target", "i686-pc-windows-msvc",
        "--build-dir", str(out_dir),
        "--work", str(work), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)
    rows = {r["target"]: r for r in doc["targets"]}
    assert set(rows) == {
        "x86_64-unknown-linux-gnu",
        "s390x-unknown-linux-musl",
        "s390x-unknown-linux-gnu",  # the alias of the static musl build
        "x86_64-pc-windows-gnu",
        "aarch64-apple-darwin",
        "i686-pc-windows-msvc",
    }
    msvc = rows["i686-pc-windows-msvc"]
    assert msvc["index"] == "not built here: only a windows machine builds i686-pc-windows-msvc"
    assert msvc["pip"].startswith("not run: built natively on windows-latest"), msvc
    assert msvc["wheel"] == "castoff_hello-0.1.0-py3-none-win32.whl"
    windows = rows["x86_64-pc-windows-gnu"]
    assert (windows["pip"], windows["uv"], windows["archive_run"]) == ("ok (wine64)",) * 3
    assert windows["archive"] == "hello-x86_64-pc-windows-gnu.zip"
    mac = rows["aarch64-apple-darwin"]
    assert mac["index"] == "uploaded"
    assert mac["pip"].startswith("installed, not run: macos binaries cannot run"), mac
    assert mac["uv"].startswith("installed, not run: macos binaries cannot run"), mac
    assert mac["archive_run"].startswith("not run: macos binaries cannot run"), mac
    native = rows["x86_64-unknown-linux-gnu"]
    assert (native["pip"], native["uv"], native["archive_run"]) == ("ok (native)",) * 3
    alias = rows["s390x-unknown-linux-gnu"]
    assert alias["pip"] == alias["uv"] == "ok (qemu-s390x-static)"
    assert "manylinux_2_17_s390x" in alias["wheel"]
    musl = rows["s390x-unknown-linux-musl"]
    assert musl["pip"] == "ok (qemu-s390x-static)"
    assert musl["uv"].startswith("not run: uv has no --python-platform")
    assert doc["failed"] == []
    # The release folder is published, and the index it started is gone.
    assert (work / "release" / "v0.1.0" / "SHA256SUMS.minisig").is_file()
    assert not (work / "release" / "v0.1.0.draft").exists()
    port = urllib.parse.urlsplit(doc["index"]["repository_url"]).port
    assert port is not None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert "uploads need its throwaway password" in result.stderr


def test_release_dry_run_does_everything_but_upload_and_shows_no_secret(
    first_build: dict[str, Any], out_dir: Path, tmp_path: Path
) -> None:
    """--dry-run builds, assembles, signs and preflights for real, then only prints uploads."""
    assert first_build["targets"]
    keys = tmp_path / "keys"
    assert castoff("keygen", "--config", CONFIG, str(keys)).returncode == 0
    secret = "pypi-AgEIcHlwaS5vcmcCJDEyMzQ1Njc4"  # noqa: S105 - a made-up token to search for
    dist = tmp_path / "dist"
    result = castoff(
        "release", "--config", CONFIG, "--target", "aarch64-unknown-linux-musl",
        "--build-dir", str(out_dir), "--out", str(dist), "--keys", str(keys), "--dry-run",
        "--json",
        env={"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": secret},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert secret not in result.stdout + result.stderr
    commands = [line for line in result.stderr.splitlines() if line.startswith("+ ")]
    assert [c.split()[2:4] for c in commands if c.startswith("+ gh")] == [
        ["release", "create"],
        ["release", "upload"],
        ["release", "edit"],
    ]
    assert (dist / "SHA256SUMS.minisig").is_file()  # signed for real
    assert not (dist / "publish-journal.json").exists()  # nothing was uploaded
    doc = json.loads(result.stdout)
    assert doc["index"]["dry_run"] is True
    # Each upload is said with its user; twine runs in castoff's process, so no command (and no
    # password, even as ***) is printed for it.
    said = " ".join(result.stderr.split()).count("with twine, as __token__")
    assert said == len(doc["index"]["files"]) > 0
    assert "TWINE_PASSWORD" not in result.stderr
