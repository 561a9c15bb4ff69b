"""The embedded example really builds with cargo and maturin, and its binary says who it is."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from castoff.config import load
from castoff.pypi import canonical_wheel_name
from tests.conftest import EXAMPLE


def _host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("host: "))


@pytest.fixture(scope="module")
def target_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a cargo target folder outside the source tree, shared by this module's builds."""
    return tmp_path_factory.mktemp("cargo-target")


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_cargo_builds_hello_and_it_prints_name_version_and_triple(target_dir: Path) -> None:
    """`hello --version` prints the package name, version and the triple it was built for."""
    env = {**os.environ, "CARGO_TARGET_DIR": str(target_dir)}
    build = _run(["cargo", "build", "--release", "--locked", "--offline"], cwd=EXAMPLE, env=env)
    assert build.returncode == 0, build.stderr
    binary = target_dir / "release" / "hello"
    version = _run([str(binary), "--version"])
    assert version.returncode == 0
    assert version.stdout == f"hello 0.1.0 ({_host_triple()})\n"
    usage = _run([str(binary), "--help"])
    assert usage.returncode == 0
    assert "Usage: hello [OPTIONS] [NAME]" in usage.stdout
    assert "--version" in usage.stdout
    wrong = _run([str(binary), "--frobnicate"])
    assert wrong.returncode == 2
    assert "see 'hello --help'" in wrong.stderr


def test_maturin_builds_a_bin_wheel_named_as_the_plan_names_it(
    target_dir: Path, tmp_path: Path
) -> None:
    """Maturin packs the binary into a py3-none wheel whose name starts as castoff's plan says."""
    maturin = shutil.which("maturin")
    assert maturin is not None, "maturin is pinned in the test dependency group"
    env = {**os.environ, "CARGO_TARGET_DIR": str(target_dir)}
    build = _run(
        [maturin, "build", "--release", "--locked", "--out", str(tmp_path)], cwd=EXAMPLE, env=env
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("*.whl")
    config = load(EXAMPLE / "pyproject.toml")
    assert wheel.name.startswith(f"{canonical_wheel_name(config.name)}-{config.version}-py3-none-")
    with zipfile.ZipFile(wheel) as archive:
        script = f"{canonical_wheel_name(config.name)}-{config.version}.data/scripts/hello"
        assert script in archive.namelist()
        extracted = Path(archive.extract(script, tmp_path / "unpacked"))
    extracted.chmod(0o755)
    assert _run([str(extracted), "--version"]).stdout == f"hello 0.1.0 ({_host_triple()})\n"
