"""castoff init recognises a PyO3 extension crate and writes an extension config for it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from castoff.config import load
from castoff.init import extension_python, planned_files
from castoff.plan import build_plan
from tests.conftest import REPO

KNOT = REPO / "examples" / "knot"


def _knot_without_castoff(folder: Path) -> Path:
    """Copy examples/knot with its [tool.castoff] tables cut off, as a user's project is."""
    folder.mkdir()
    for name in ("Cargo.toml", "README.md"):
        shutil.copy(KNOT / name, folder / name)
    text = (KNOT / "pyproject.toml").read_text()
    (folder / "pyproject.toml").write_text(text[: text.index("# ----")])
    return folder


def test_init_writes_an_extension_config_for_a_pyo3_crate(tmp_path: Path) -> None:
    """The abi3-py38 feature becomes python = ['cp38-abi3']; the plan builds the usual targets."""
    project = _knot_without_castoff(tmp_path / "knot")
    files = planned_files(project)
    (project / "pyproject.toml").write_text(files[project / "pyproject.toml"])
    config = load(project / "pyproject.toml")
    assert config.kind == "extension"
    assert [i.spelled for i in config.python] == ["cp38-abi3"]
    assert config.module == "knot"
    plan = build_plan(config)
    assert [e.triple for e in plan.extensions] == [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ]
    assert plan.jobs == ()


@pytest.mark.parametrize(
    ("cargo", "python"),
    [
        ({"lib": {"crate-type": ["cdylib"]}, "dependencies": {"pyo3": "0.22"}},
         ("cp39", "cp310", "cp311", "cp312", "cp313")),
        ({"lib": {"crate-type": ["cdylib", "rlib"]},
          "dependencies": {"pyo3": {"version": "0.22", "features": ["abi3-py310", "abi3-py39"]}}},
         ("cp39-abi3",)),
        ({"lib": {"crate-type": ["rlib"]}, "dependencies": {"pyo3": "0.22"}}, None),
        ({"lib": {"crate-type": ["cdylib"]}, "dependencies": {"serde": "1"}}, None),
        ({"bin": [{"name": "hello"}]}, None),
        ({"lib": "cdylib", "dependencies": ["pyo3"]}, None),
    ],
)  # fmt: skip
def test_extension_python_reads_the_crate(
    cargo: dict[str, object], python: tuple[str, ...] | None
) -> None:
    """A cdylib with pyo3 is an extension (abi3 from its lowest abi3-pyXY feature); else None."""
    assert extension_python(cargo) == python


def test_a_binary_project_still_gets_the_binary_config(tmp_path: Path) -> None:
    """examples/hello without castoff's tables gets targets and aliases, no kind."""
    project = tmp_path / "hello"
    project.mkdir()
    hello = REPO / "examples" / "hello"
    shutil.copy(hello / "Cargo.toml", project / "Cargo.toml")
    text = (hello / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text[: text.index("[tool.castoff]")])
    written = planned_files(project)[project / "pyproject.toml"]
    assert 'kind = "extension"' not in written
    assert "[tool.castoff.aliases]" in written
