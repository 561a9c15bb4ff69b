"""This repository's generated release.yml and ci.yml, run job by job (tests/job_graph.py).

Jobs on ubuntu-latest run in the simulated runner of tests/runner_shape.py: no Debian Rust, qemu
or cross gcc but what the workflow's own steps install.

The fan-out/fan-in contract with the very commands GitHub would run: plan's matrix output, one
workspace per build job, artifacts passed only as uploaded folders, and a release job that
assembles, signs, publishes to a real local pypiserver and makes the GitHub release through a
recording FAKE gh (GitHub cannot be reached here). The index credentials in the runner's
environment stand in for trusted publishing.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import tests.fake_gh
from castoff.publish import index
from castoff.rehearse import local_index
from castoff.runner import Runner
from tests.conftest import EXAMPLE, REPO
from tests.integration.conftest import castoff
from tests.job_graph import JobGraph, head, tracked_copy
from tests.runner_shape import ubuntu_latest

TARGETS = ("x86_64-unknown-linux-gnu", "s390x-unknown-linux-musl")
PR_TARGET = "powerpc64le-unknown-linux-gnu"  # a cross gcc, a glibc sysroot and qemu from setup


def test_the_release_workflow_fans_out_and_in_on_simulated_runners_with_a_fake_gh(
    tmp_path: Path,
) -> None:
    """Plan -> two build jobs -> release: wheels on the local index, the release published."""
    repo = tracked_copy(REPO, tmp_path / "repository", tag="v0.1.0")
    keys = tmp_path / "keys"
    made = castoff("keygen", "--config", str(EXAMPLE / "pyproject.toml"), str(keys))
    assert made.returncode == 0, made.stderr
    # The repository's committed public keys, as a real project has them.
    public = repo / "examples" / "hello" / "keys"
    public.mkdir()
    shutil.copy(keys / "minisign.pub", public / "minisign.pub")
    shutil.copy(keys / "allowed_signers", public / "allowed_signers")
    state, bin_dir = tests.fake_gh.install(tmp_path)
    with local_index(tmp_path / "index", Runner(base_env=os.environ, echo=lambda _: None)) as run:
        pyproject = repo / "examples" / "hello" / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text().replace(
                "[tool.castoff.publish.pypi]\n",
                "[tool.castoff.publish.pypi]\n"
                f'repository-url = "{run.repository_url}"\nindex-url = "{run.index_url}"\n',
            )
        )
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_GH_DIR": str(state),
            "CASTOFF_TARGETS": " ".join(TARGETS),
        }
        secrets = {
            "CASTOFF_MINISIGN_KEY": (keys / "minisign.key").read_text(),
            "CASTOFF_MINISIGN_PASSWORD": (keys / "minisign.password").read_text(),
            "CASTOFF_SSH_SIGNING_KEY": (keys / "ssh_key").read_text(),
        }
        graph = JobGraph.load(
            repo / ".github" / "workflows" / "release.yml",
            repository=repo,
            root=tmp_path / "runner",
            env=env,
            secrets=secrets,
            # The index's credentials stand in for trusted publishing: only a job holding
            # id-token: write gets them (the pypi job).
            oidc=run.twine_env(),
            ref="refs/tags/v0.1.0",
            # GitHub's runners have gh: here the recording fake stands in for it.
            ubuntu=ubuntu_latest(tmp_path / "state", preinstalled=(str(bin_dir),)),
        )
        graph.run()
        served = index.project_files(run.index_url, "castoff-hello")
    jobs = sorted(p.name for p in (tmp_path / "runner" / "jobs").iterdir() if p.is_dir())
    # Split by privilege: sign (the signing secrets), then one job per publish step, each
    # with only its permission; the fake gh refuses what a job's token may not do.
    assert [j for j in jobs if not j.endswith((".temp", ".machine"))] == [
        "build-0", "build-1", "github-draft-0", "github-release-0", "plan-0", "pypi-0", "sign-0",
    ]  # fmt: skip
    artifacts = sorted(p.name for p in (tmp_path / "runner" / "artifacts").iterdir())
    assert artifacts == [*(f"castoff-build-{t}" for t in sorted(TARGETS)), "castoff-dist"]
    gh_calls = [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]
    # The draft first, made public last (by another job), after the index had every file.
    actions = [c[1] for c in gh_calls if c[0] == "release"]
    assert actions[:3] == ["view", "create", "upload"]
    assert actions[-1] == "edit"
    assert json.loads(graph.outputs["plan"]["matrix"])["include"][1]["target"] == TARGETS[1]
    assert len(served) == 2  # the two wheels; both bound for the index
    release = state / "castoff-dev" / "hello" / "v0.1.0"
    made = json.loads((release / "release.json").read_text())
    assert made["isDraft"] is False
    assert made["target"] == head(repo)  # created at the tagged commit, not the branch's head
    assets = {p.name for p in (release / "assets").iterdir()}
    # The alias the static s390x musl build serves, with its signatures, on the release.
    assert "hello-s390x-unknown-linux-gnu.tar.gz" in assets
    assert "hello-s390x-unknown-linux-gnu.tar.gz.minisig" in assets
    assert "castoff_hello-0.1.0.intoto.json" in assets
    for secret in secrets.values():
        assert all(secret.strip() not in line for line in graph.log)


def test_the_ci_workflow_builds_and_rehearses_a_dry_release_on_simulated_runners(
    tmp_path: Path,
) -> None:
    """Pull requests: the same plan and build jobs, then a dry release with throwaway keys."""
    repo = tracked_copy(REPO, tmp_path / "repository")
    with local_index(tmp_path / "index", Runner(base_env=os.environ, echo=lambda _: None)) as run:
        pyproject = repo / "examples" / "hello" / "pyproject.toml"
        # The dry run's preflight reads this index instead of PyPI's.
        pyproject.write_text(
            pyproject.read_text().replace(
                "[tool.castoff.publish.pypi]\n",
                f'[tool.castoff.publish.pypi]\nindex-url = "{run.index_url}"\n',
            )
        )
        graph = JobGraph.load(
            repo / ".github" / "workflows" / "ci.yml",
            repository=repo,
            root=tmp_path / "runner",
            env={**os.environ, "CASTOFF_TARGETS": PR_TARGET},
            secrets={},
            event="pull_request",
            ubuntu=ubuntu_latest(tmp_path / "state"),
        )
        graph.run()
        assert index.project_files(run.index_url, "castoff-hello") == {}  # nothing uploaded
    assert any("-s release -- --no-build --dry-run" in line for line in graph.log)
    dist = tmp_path / "runner" / "jobs" / "rehearse-0" / "dist"
    assert (dist / "SHA256SUMS.minisig").is_file()  # signed with the throwaway keys
    assert not (dist / "publish-journal.json").exists()
