"""The GitHub release, with a recording FAKE gh on PATH (GitHub cannot be reached here).

The index side is real: pypiserver on 127.0.0.1 and twine.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tests.fake_gh
from castoff.rehearse import LocalIndex, local_index
from castoff.runner import Runner
from tests.conftest import EXAMPLE
from tests.integration.conftest import castoff

CONFIG = str(EXAMPLE / "pyproject.toml")
RELEASE = "castoff-dev/hello/v0.1.0"  # the example's repository and tag, in the fake's state


@pytest.fixture
def fake_gh(tmp_path: Path) -> Path:
    """Make the recording fake gh (publish() puts it first on PATH); return its state folder."""
    state, _ = tests.fake_gh.install(tmp_path)
    return state


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalIndex]:
    """Run a real pypiserver with upload authentication."""
    with local_index(tmp_path / "index", Runner(base_env=os.environ, echo=lambda _: None)) as run:
        yield run


def publish(
    release: Path,
    keys: Path,
    server: LocalIndex,
    state: Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> Any:
    """Run castoff publish with the fake gh first on PATH."""
    path = f"{state.parent / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return castoff(
        "publish", "--config", CONFIG, str(release), "--keys", str(keys),
        "--repository-url", server.repository_url, "--index-url", server.index_url, *extra,
        env={**server.twine_env(), "PATH": path, "FAKE_GH_DIR": str(state), **(env or {})},
    )  # fmt: skip


def calls(state: Path) -> list[list[str]]:
    """Return the gh calls the fake recorded, in order."""
    return [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]


def _meta(state: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state / RELEASE / "release.json").read_text())
    return data


def test_release_with_a_recording_fake_gh_is_a_draft_until_the_index_has_everything(
    release: Path, signed: tuple[Path, Path], server: LocalIndex, fake_gh: Path
) -> None:
    """Draft, assets, the index's uploads, then publish: in that order, with every asset."""
    result = publish(release, signed[1], server, fake_gh, "--json")
    assert result.returncode == 0, result.stderr
    actions = [c[1] for c in calls(fake_gh)]
    assert actions == ["view", "create", "upload", "view", "view", "edit"]
    assert calls(fake_gh)[1][2:5] == ["v0.1.0", "--draft", "--title"]
    assert "--draft=false" in calls(fake_gh)[-1]
    stderr = result.stderr
    assert stderr.index("creating a draft release") < stderr.index("[1/16]")
    assert stderr.index("[16/16]") < stderr.index("publishing the release")
    assets = {p.name for p in (fake_gh / RELEASE / "assets").iterdir()}
    manifest = json.loads((release / "manifest.json").read_text())
    expected = {"manifest.json"}
    for artifact in manifest["artifacts"]:
        if "github" in artifact["destinations"]:
            expected |= {artifact["name"], *(s["name"] for s in artifact["signatures"])}
    assert assets == expected
    assert "hello-loongarch64-unknown-linux-gnu.tar.gz" in assets
    assert _meta(fake_gh)["isDraft"] is False
    doc = json.loads(result.stdout)
    assert doc["release"]["published"] is True
    assert len(doc["index"]["files"]) == 16  # fifteen wheels and the sdist


def test_a_rerun_with_a_recording_fake_gh_replaces_only_assets_whose_bytes_differ(
    release: Path, signed: tuple[Path, Path], server: LocalIndex, fake_gh: Path
) -> None:
    """Rerun after a published release: one damaged asset is uploaded again, nothing else."""
    assert publish(release, signed[1], server, fake_gh).returncode == 0
    damaged = fake_gh / RELEASE / "assets" / "SHA256SUMS"
    damaged.write_text("damaged in transit\n")
    (fake_gh / "calls.jsonl").unlink()
    rerun = publish(release, signed[1], server, fake_gh, "--resume", "--json")
    assert rerun.returncode == 0, rerun.stderr
    uploads = [c for c in calls(fake_gh) if c[1] == "upload"]
    assert len(uploads) == 1
    # gh uploads a private copy with the verified bytes, never the release folder's file.
    uploaded = Path(uploads[0][-3])
    assert uploaded.name == "SHA256SUMS"
    assert uploaded.parent != release
    assert uploads[0][-2:] == ["--repo", "castoff-dev/hello"]
    assert "--clobber" in uploads[0]
    assert damaged.read_bytes() == (release / "SHA256SUMS").read_bytes()
    doc = json.loads(rerun.stdout)
    assert doc["release"]["published_before"] is True
    assert not any(c[1] == "create" for c in calls(fake_gh))


def test_without_digests_a_recording_fake_gh_release_is_compared_by_download(
    release: Path, signed: tuple[Path, Path], server: LocalIndex, fake_gh: Path
) -> None:
    """Releases from before GitHub's asset digests: castoff downloads them and compares bytes."""
    assert publish(release, signed[1], server, fake_gh).returncode == 0
    rerun = publish(release, signed[1], server, fake_gh, "--resume", env={"FAKE_GH_NO_DIGEST": "1"})
    assert rerun.returncode == 0, rerun.stderr
    after_first = calls(fake_gh)[6:]
    assert [c[1] for c in after_first].count("download") >= 1
    assert not any(c[1] == "upload" for c in after_first)
    assert "uploading 0 of" in rerun.stderr


def test_a_failed_index_upload_leaves_the_release_a_draft_with_a_recording_fake_gh(
    release: Path, signed: tuple[Path, Path], server: LocalIndex, fake_gh: Path
) -> None:
    """PyPI first, GitHub second: when the index refuses, the release stays an unseen draft."""
    result = publish(release, signed[1], server, fake_gh, env={"TWINE_PASSWORD": "wrong"})
    assert result.returncode == 13, result.stderr
    assert _meta(fake_gh)["isDraft"] is True
    assert not any(c[1] == "edit" for c in calls(fake_gh))
    resumed = publish(release, signed[1], server, fake_gh, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert _meta(fake_gh)["isDraft"] is False
    digest = hashlib.sha256((release / "manifest.json").read_bytes()).hexdigest()
    served = fake_gh / RELEASE / "assets" / "manifest.json"
    assert hashlib.sha256(served.read_bytes()).hexdigest() == digest


def test_a_draft_made_for_another_commit_is_refused_on_the_fake_github(tmp_path: Path) -> None:
    """A draft left by a run of commit A: a run of commit B must not fill it (FAKE gh)."""
    from castoff.errors import PublishError  # noqa: PLC0415
    from castoff.publish.github import GhRelease  # noqa: PLC0415
    from castoff.runner import Runner  # noqa: PLC0415

    state, bin_dir = tests.fake_gh.install(tmp_path)
    release = state / "castoff-dev" / "hello" / "v0.1.0"
    (release / "assets").mkdir(parents=True)
    (release / "release.json").write_text(json.dumps({"isDraft": True, "target": "a" * 40}))
    env = {**os.environ, "FAKE_GH_DIR": str(state),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    runner = Runner(base_env=env, echo=lambda _: None)
    with pytest.raises(PublishError, match="not for --commit bbbb"):
        GhRelease("castoff-dev/hello", "v0.1.0", runner, "b" * 40).assets()
    assert GhRelease("castoff-dev/hello", "v0.1.0", runner, "a" * 40).assets() == {}
