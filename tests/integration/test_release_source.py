"""What is released is what was tagged: tag, version and commit agree before anything is built."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import tests.fake_gh
from tests.conftest import REPO
from tests.integration.conftest import castoff
from tests.job_graph import head, tracked_copy

SOURCE_ERROR = 15


def release(
    repo: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a dry release of the example in a repository copy, without building."""
    config = str(repo / "examples" / "hello" / "pyproject.toml")
    empty = repo / "no-builds"
    empty.mkdir(exist_ok=True)
    return castoff(
        "release", "--config", config, "--no-build", "--dry-run", "--build-dir", str(empty),
        *args, env=env,
    )  # fmt: skip


def test_a_tag_that_names_another_version_is_refused(tmp_path: Path) -> None:
    """v9.9.9 on a 0.1.0 project: refused first, nothing built or uploaded."""
    repo = tracked_copy(REPO, tmp_path / "repo")
    refused = release(repo, "--tag", "v9.9.9")
    assert refused.returncode == SOURCE_ERROR, refused.stderr
    assert "the tag v9.9.9 does not name version 0.1.0" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_checkout_of_another_commit_is_refused(tmp_path: Path) -> None:
    """--commit must be the checkout's HEAD (GITHUB_SHA is what the workflow was started for)."""
    repo = tracked_copy(REPO, tmp_path / "repo", tag="v0.1.0")
    refused = release(repo, "--tag", "v0.1.0", "--commit", "0" * 40)
    assert refused.returncode == SOURCE_ERROR, refused.stderr
    assert f"examples/hello) is at {head(repo)}" in refused.stderr


def test_a_tag_on_another_commit_is_refused(tmp_path: Path) -> None:
    """The tag moved on (or was made elsewhere): the release of HEAD would not be the tag's."""
    repo = tracked_copy(REPO, tmp_path / "repo", tag="v0.1.0")
    tagged = head(repo)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q",
         "--allow-empty", "-m", "later"],
        cwd=repo, check=True,
    )  # fmt: skip
    refused = release(repo, "--tag", "v0.1.0", "--commit", head(repo))
    assert refused.returncode == SOURCE_ERROR, refused.stderr
    assert f"points at {tagged}" in refused.stderr


def test_a_commit_that_is_not_a_commit_id_is_a_usage_error(tmp_path: Path) -> None:
    """--commit takes a full id only: a branch name or a short id could mean anything."""
    repo = tracked_copy(REPO, tmp_path / "repo")
    for bad in ("main", "abc123", "g" * 40):
        refused = release(repo, "--commit", bad)
        assert refused.returncode == 2, (bad, refused.stderr)
        assert "is not a full git commit id" in refused.stderr


def test_a_tag_absent_from_the_checkout_is_looked_up_on_the_fake_github(tmp_path: Path) -> None:
    """A branch's shallow checkout has no tags: GitHub (a recording FAKE gh) says where it is."""
    repo = tracked_copy(REPO, tmp_path / "repo")  # no tag in the checkout
    state, bin_dir = tests.fake_gh.install(tmp_path / "gh")
    tags = state / "castoff-dev" / "hello" / ".tags"
    tags.mkdir(parents=True)
    (tags / "v0.1.0").write_text("1" * 40)  # made earlier, at another commit
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "FAKE_GH_DIR": str(state)}  # fmt: skip
    refused = release(repo, "--commit", head(repo), env=env)
    assert refused.returncode == SOURCE_ERROR, refused.stderr
    assert "the tag v0.1.0 on github.com/castoff-dev/hello release v0.1.0 points at 1111" in (
        refused.stderr
    )
    # --no-publish touches no host, so it does not ask; the tag at this commit passes.
    assert release(repo, "--commit", head(repo), "--no-publish", env=env).returncode != (
        SOURCE_ERROR
    )
    (tags / "v0.1.0").write_text(head(repo))
    passed = release(repo, "--commit", head(repo), env=env)  # then fails: nothing was built
    assert passed.returncode != SOURCE_ERROR, passed.stderr
