from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from castoff.config import Config, load, resolve
from castoff.workflows import WorkflowOptions, render_all

PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


@pytest.fixture
def config(example_pyproject: Path) -> Config:
    """Return the example's config."""
    return load(example_pyproject)


def _parsed(config: Config) -> dict[str, dict[Any, Any]]:
    texts = render_all(config, WorkflowOptions.for_project())
    return {name: yaml.safe_load(text) for name, text in texts.items()}


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def test_the_release_graph_is_plan_build_sign_then_one_job_per_publish_step(
    config: Config,
) -> None:
    """Plan's output feeds the matrix; sign needs the builds; each publish step needs the last."""
    release = _parsed(config)["release.yml"]
    jobs = release["jobs"]
    assert list(jobs) == ["plan", "build", "sign", "github-draft", "pypi", "github-release"]
    assert jobs["plan"]["outputs"]["matrix"] == "${{ steps.plan.outputs.matrix }}"
    assert jobs["build"]["strategy"]["matrix"] == "${{ fromJson(needs.plan.outputs.matrix) }}"
    assert jobs["build"]["needs"] == "plan"
    assert jobs["sign"]["needs"] == ["plan", "build"]
    assert [jobs[j]["needs"] for j in ("github-draft", "pypi", "github-release")] == [
        "sign", "github-draft", "pypi",
    ]  # fmt: skip
    steps = {j: _steps(jobs[j])[-1]["run"] for j in ("github-draft", "pypi", "github-release")}
    assert [re.search(r"--step (\w+)", run)[1] for run in steps.values()] == [  # type: ignore[index]
        "stage", "index", "finish",
    ]  # fmt: skip
    assert "--no-publish" in _steps(jobs["sign"])[-2]["run"]
    assert _steps(jobs["sign"])[-1]["with"]["name"] == "castoff-dist"
    runs = [s["run"] for job in jobs.values() for s in _steps(job) if "run" in s]
    # Only nox sessions run (after installing nox and minisign): no release logic in YAML.
    for run in runs:
        installs = run.startswith(("python -m pip install", "command -v minisign"))
        assert installs or "nox -s " in run, run
    assert "--format github-matrix" in _steps(jobs["plan"])[-1]["run"]


# Each job's permissions: the publish steps hold only their own; nothing else writes.
LEAST = {
    ("release.yml", "github-draft"): {"contents": "write"},
    ("release.yml", "pypi"): {"contents": "read", "id-token": "write"},
    ("release.yml", "github-release"): {"contents": "write"},
}


def test_every_action_is_pinned_by_commit_and_permissions_are_least(config: Config) -> None:
    """Third-party actions by 40-hex SHA; nothing by default; each write only where it is used."""
    for name, workflow in _parsed(config).items():
        assert workflow["permissions"] == {}, name
        for job_name, job in workflow["jobs"].items():
            for step in _steps(job):
                if "uses" in step:
                    assert PINNED.match(step["uses"]), step["uses"]
            expected = LEAST.get((name, job_name), {"contents": "read"})
            assert job["permissions"] == expected, (name, job_name)
            assert 0 < job["timeout-minutes"] <= 90, (name, job_name)


def test_only_the_sign_job_gets_the_signing_secrets_the_config_names(config: Config) -> None:
    """Each secret variable of the config comes from GitHub secrets, in the sign job alone."""
    release = _parsed(config)["release.yml"]
    env = _steps(release["jobs"]["sign"])[-2]["env"]
    assert env["CASTOFF_MINISIGN_KEY"] == "${{ secrets.CASTOFF_MINISIGN_KEY }}"
    assert env["CASTOFF_SSH_SIGNING_KEY"] == "${{ secrets.CASTOFF_SSH_SIGNING_KEY }}"
    for job_name, job in release["jobs"].items():
        if job_name != "sign":
            assert "secrets." not in yaml.safe_dump(job), job_name
    assert release["jobs"]["pypi"]["environment"] == "release"
    assert release["jobs"]["sign"]["environment"] == "release"
    assert release["concurrency"] == {
        "group": "release-${{ github.ref }}",
        "cancel-in-progress": False,
    }
    assert "GH_TOKEN" not in yaml.safe_dump(release["jobs"]["pypi"])
    dispatch = release[True]["workflow_dispatch"]  # YAML 1.1: on is True
    assert dispatch["inputs"]["dry_run"]["default"] is True


def test_keyless_signing_gets_an_id_token_in_the_sign_job_only(
    config: Config, example_pyproject: Path
) -> None:
    """With sigstore configured the sign job may ask for the workflow's identity; no other."""
    document = tomllib.loads(example_pyproject.read_text())
    sign = document["tool"]["castoff"]["sign"]
    sign["backends"].append("sigstore")
    sign["sigstore"] = {"repository": "castoff-dev/hello"}
    jobs = _parsed(resolve(document, pyproject=example_pyproject))["release.yml"]["jobs"]
    assert jobs["sign"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert jobs["pypi"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert _parsed(config)["release.yml"]["jobs"]["sign"]["permissions"] == {"contents": "read"}


def test_matrix_values_reach_commands_through_the_environment(config: Config) -> None:
    """No ${{ }} inside run: lines (template injection); values go through env."""
    for text in render_all(config, WorkflowOptions.for_project()).values():
        for line in text.splitlines():
            if line.strip().startswith(("run:", "- run:")) and "${{" in line:
                assert "steps.plan" not in line
                pytest.fail(f"expression in a run line: {line}")


def test_a_projects_sessions_install_the_tool_versions_castoff_was_tested_with() -> None:
    """castoff.nox's pins are castoff's own [dependency-groups], the versions its tests ran."""
    import tomllib  # noqa: PLC0415

    from castoff.nox import TESTED  # noqa: PLC0415
    from tests.conftest import REPO  # noqa: PLC0415

    groups = tomllib.loads((REPO / "pyproject.toml").read_text())["dependency-groups"]

    def resolve(name: str) -> set[str]:
        found: set[str] = set()
        for item in groups[name]:
            found |= resolve(item["include-group"]) if isinstance(item, dict) else {item}
        return found

    assert {extra: set(pins) for extra, pins in TESTED.items()} == {
        extra: resolve(extra) for extra in TESTED
    }
