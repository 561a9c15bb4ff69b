"""The second example, with crates.io dependencies, builds for every Linux target and runs.

Its dependencies come from Debian's packaged crates through the project's own
.cargo/config.toml (a directory source, as a vendored build has); std for foreign targets comes
from castoff's sysroot, so the project's cargo configuration is never replaced or hidden.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from castoff.config import load
from tests.conftest import REPO
from tests.integration.conftest import castoff

GREET = REPO / "examples" / "greet"


@pytest.fixture(scope="module")
def greet_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build every target of the greet example once; return the build folder."""
    out = tmp_path_factory.mktemp("greet-build")
    result = castoff("build", "--config", str(GREET / "pyproject.toml"), "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    # MSVC builds only on Windows runners: listed as elsewhere, no folder.
    assert not (out / "i686-pc-windows-msvc").exists()
    return out


def _manifests(out: Path) -> dict[str, dict[str, Any]]:
    return {
        p.parent.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(out.glob("*/manifest.json"))
        if p.parent.name != "sdist"
    }


def test_every_target_of_the_example_with_dependencies_builds_and_runs(greet_build: Path) -> None:
    """Each target of the first example builds here, and each binary ran and said so.

    But loongarch64: Debian 12's libc crate (0.2.139) predates its musl support. Windows runs
    under Wine; macOS binaries run nowhere here; MSVC builds only on Windows runners.
    """
    triples = {t.triple for t in load(GREET / "pyproject.toml").targets}
    hello = {t.triple for t in load(REPO / "examples/hello/pyproject.toml").targets}
    assert triples == hello - {"loongarch64-unknown-linux-musl"}
    manifests = _manifests(greet_build)
    assert set(manifests) == {t for t in triples if not t.endswith("-windows-msvc")}
    for triple, manifest in manifests.items():
        (smoke,) = manifest["smoke"]
        if triple.endswith("-apple-darwin"):
            # Nothing here runs Mach-O: the config says so, and the record keeps the reason.
            assert smoke["status"] == "not-run", (triple, smoke)
            assert "allowed by the config" in smoke["reason"], (triple, smoke)
            continue
        assert smoke["status"] == "passed", (triple, smoke)
        assert smoke["output"] == f"greet 0.2.0 ({triple})", (triple, smoke)


def test_the_projects_own_cargo_config_is_never_replaced(greet_build: Path) -> None:
    """The build gets the project's CARGO_HOME, no bootstrap; only std's build has its own."""
    for triple, manifest in _manifests(greet_build).items():
        *before, build = manifest["commands"]
        assert "maturin" in Path(build["argv"][0]).name
        assert "CARGO_HOME" not in build["env"], triple
        assert "RUSTC_BOOTSTRAP" not in build["env"], triple
        if manifest["std"] == "sysroot":
            assert "--sysroot" in build["env"]["RUSTFLAGS"], triple
            # The std build, when this run made the sysroot, is std's alone.
            for command in before:
                assert command["env"]["CARGO_HOME"] != str(Path.home() / ".cargo"), triple
        else:
            assert manifest["std"] == "toolchain", (triple, manifest["std"])
