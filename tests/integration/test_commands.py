"""The installed `castoff` command and the invoke tasks, run as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import EXAMPLE, GOLDEN_PLAN, REPO


def _run(argv: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)


def test_console_script_prints_the_golden_plan() -> None:
    """The `castoff` console script prints the same bytes as the golden plan."""
    castoff = shutil.which("castoff")
    assert castoff is not None
    result = _run([castoff, "plan", "--format", "json"], cwd=EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == GOLDEN_PLAN.read_text()


def test_console_script_exit_code_and_paragraph_for_a_bad_config(tmp_path: Path) -> None:
    """A bad config exits 3 with one paragraph on stderr naming the key and no traceback."""
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "x"\nversion = "1.0.0"\n')
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[[tool.castoff.targets]]\ntriple = "aarch64-linux-musl"\n'
    )
    castoff = shutil.which("castoff")
    assert castoff is not None
    result = _run([castoff, "plan"], cwd=tmp_path)
    assert result.returncode == 3
    assert result.stdout == ""
    assert " ".join(result.stderr.split()) == (
        "castoff: error: pyproject.toml: tool.castoff.targets[0].triple: 'aarch64-linux-musl' "
        "is not a Rust target triple castoff knows; did you mean 'aarch64-unknown-linux-musl'?"
    )


def test_invoke_plan_task_uses_the_example() -> None:
    """`inv plan --format json` runs the same plan through the repository's tasks.py."""
    inv = shutil.which("inv")
    assert inv is not None
    listing = _run([inv, "--list"])
    assert listing.returncode == 0, listing.stderr
    assert {"plan", "audit", "retag", "assemble"} <= set(listing.stdout.split())
    result = _run(
        [inv, "plan", "--format", "github-matrix", "--target", "s390x-unknown-linux-musl"]
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "include": [
            {"target": "s390x-unknown-linux-musl", "method": "auto", "runs-on": "ubuntu-latest"}
        ]
    }
