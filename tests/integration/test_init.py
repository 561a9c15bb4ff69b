"""castoff init on a copy of examples/hello without castoff's files, then its own nox sessions."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import EXAMPLE, REPO
from tests.integration.conftest import BUILD_TIMEOUT, castoff


def _bare_example(folder: Path) -> Path:
    """Copy the example and take castoff out of it: a plain maturin bin project."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("target"))
    pyproject = folder / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text[: text.index("# ----")])
    return folder


def test_init_writes_a_project_whose_plan_and_rehearse_sessions_work(tmp_path: Path) -> None:
    """noxfile, tasks, workflows and a starter config; then `nox -s plan` and `nox -s rehearse`."""
    project = _bare_example(tmp_path / "hello")
    result = castoff("init", str(project), "--json")
    assert result.returncode == 0, result.stderr
    for name in (
        "noxfile.py",
        "tasks.py",
        ".github/workflows/release.yml",
        ".github/workflows/ci.yml",
    ):
        assert (project / name).is_file(), name
    assert "[tool.castoff]" in (project / "pyproject.toml").read_text()
    check = castoff(
        "ci", "check", "--config", str(project / "pyproject.toml"),
        "--config-path", "pyproject.toml", "--workflows", str(project / ".github" / "workflows"),
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    nox = shutil.which("nox")
    assert nox is not None
    # The generated noxfile installs castoff into its sessions: this checkout, not the index.
    env = {**os.environ, "CASTOFF_REQUIREMENT": REPO.as_uri()}
    plan = subprocess.run(
        [nox, "-s", "plan", "--", "--format", "json"],
        cwd=project, capture_output=True, text=True, check=False, env=env, timeout=BUILD_TIMEOUT,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert '"target": "riscv64gc-unknown-linux-musl"' in plan.stdout
    rehearse = subprocess.run(
        [nox, "-s", "rehearse", "--", "--target", "s390x-unknown-linux-musl", "--json"],
        cwd=project, capture_output=True, text=True, check=False, env=env, timeout=BUILD_TIMEOUT,
    )  # fmt: skip
    assert rehearse.returncode == 0, rehearse.stderr[-3000:]
    assert '"failed": []' in rehearse.stdout


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    """A noxfile of the user's own stops init, which writes nothing; --force replaces it."""
    project = _bare_example(tmp_path / "hello")
    (project / "noxfile.py").write_text("# mine\n")
    before = (project / "pyproject.toml").read_text()
    refused = castoff("init", str(project))
    assert refused.returncode == 2
    assert "noxfile.py" in refused.stderr
    assert "--force" in refused.stderr
    assert (project / "pyproject.toml").read_text() == before
    assert not (project / "tasks.py").exists()
    forced = castoff("init", str(project), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "release_sessions" in (project / "noxfile.py").read_text()


def test_init_refuses_a_project_that_is_not_maturin(tmp_path: Path) -> None:
    """Castoff releases maturin projects; anything else is named with the fix."""
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    result = castoff("init", str(tmp_path))
    assert result.returncode == 2
    assert "not 'maturin'" in result.stderr
