"""ubuntu-24.04's cross glibc, simulated: a cross-gcc build on a machine whose glibc is newer.

A cross gcc links against its machine's glibc, so the glibc a binary needs depends on the
machine. ubuntu-24.04's libc6-dev-ppc64el-cross is glibc 2.39; it cannot be installed here, so
Debian 13's (2.41, downloaded from Debian's archive once per machine) stands in for it, bound
over /usr/powerpc64le-linux-gnu in a mount namespace. glibc only ever raises a symbol's default
version, so what a binary needs linked against 2.41 is at least what it needs against 2.39; the
symbols the greet example trips on (pidfd_spawnp, pidfd_getpid) are new in 2.39, so the stand-in
shows what the real runner would do.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from castoff import settings
from tests.conftest import REPO
from tests.integration.conftest import BUILD_TIMEOUT

GREET = REPO / "examples" / "greet"
TRIPLE = "powerpc64le-unknown-linux-gnu"
GNU = "/usr/powerpc64le-linux-gnu"
PACKAGES = ("libc6-dev-ppc64el-cross", "libc6-ppc64el-cross", "linux-libc-dev-ppc64el-cross")
# Bump when the stand-in changes: it keys the cached folder.
STAND_IN = Path.home() / ".cache" / "castoff-tests" / "debian-13-ppc64el-cross-1"


def _apt(state: Path, *args: str, cwd: Path | None = None) -> None:
    """Run apt-get against Debian 13's archive only, with lists and caches of its own."""
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    sources = state / "sources.list"
    sources.write_text(
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        "http://deb.debian.org/debian trixie main\n"
    )
    options = {
        "Dir::Etc::SourceList": sources,
        "Dir::Etc::SourceParts": "/dev/null",
        "Dir::State::Lists": state / "lists",
        "Dir::State::status": state / "status",
        "Dir::Cache": state / "cache",
        "APT::Sandbox::User": "root",
    }
    argv = ["apt-get", "-q"] + [f"-o{k}={v}" for k, v in options.items()] + list(args)
    subprocess.run(argv, check=True, cwd=cwd, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def newer_glibc() -> Path:
    """Return Debian 13's ppc64le cross glibc as a /usr/powerpc64le-linux-gnu tree (cached)."""
    tree = STAND_IN / "root" / GNU.lstrip("/")
    if not (tree / "lib" / "libc.so.6").is_file():
        work = STAND_IN.with_name(STAND_IN.name + ".partial")
        shutil.rmtree(work, ignore_errors=True)
        debs = work / "debs"
        debs.mkdir(parents=True)
        _apt(work / "apt", "update")
        _apt(work / "apt", "download", *PACKAGES, cwd=debs)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)
        # The gcc's own runtime (libgcc_s) is not glibc's: it stays the machine's.
        for runtime in Path(GNU, "lib").glob("libgcc_s*"):
            shutil.copy2(runtime, work / "root" / GNU.lstrip("/") / "lib")
        shutil.rmtree(STAND_IN, ignore_errors=True)
        work.rename(STAND_IN)
    return tree


def _build_there(
    tree: Path, project: Path, out: Path, cache: Path
) -> subprocess.CompletedProcess[str]:
    """Build the target in a mount namespace whose cross glibc is the stand-in's."""
    castoff = shutil.which("castoff")
    assert castoff is not None
    script = f"mount --bind {shlex.quote(str(tree))} {GNU} && " + shlex.join(
        [castoff, "build", "--target", TRIPLE, "--out", str(out), "--json"]
    )
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "bash", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=project,
        env={**os.environ, "CASTOFF_CACHE_DIR": str(cache)},
        timeout=BUILD_TIMEOUT,
    )


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """Return a castoff cache with the machine's std sysroots but a cargo target dir of its own.

    cargo does not relink when only the glibc changed, so the binary must be built afresh.
    """
    machine = settings.resolve(argparse.Namespace(), os.environ).cache_dir
    folder = tmp_path / "cache"
    folder.mkdir()
    for shared in ("sysroots", "tools", "cargo-home-build-std"):
        if (machine / shared).exists():
            (folder / shared).symlink_to(machine / shared)
    return folder


def _greet(tmp_path: Path, manylinux: str) -> Path:
    project = tmp_path / "greet"
    shutil.copytree(GREET, project, ignore=shutil.ignore_patterns("target", "build", "dist"))
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert 'manylinux = "2_34"' in text
    pyproject.write_text(text.replace('manylinux = "2_34"', f'manylinux = "{manylinux}"', 1))
    return project


def test_ubuntu_24_04_stand_in_refuses_the_tag_its_glibc_breaks(
    newer_glibc: Path, cache: Path, tmp_path: Path
) -> None:
    """Linked against glibc 2.39+, greet needs GLIBC_2.39: 2_34 is refused, nothing written."""
    out = tmp_path / "out"
    result = _build_there(newer_glibc, _greet(tmp_path, "2_34"), out, cache)
    assert result.returncode == 6, result.stdout[-2000:] + result.stderr[-2000:]
    assert "GLIBC_2.39" in result.stderr
    assert "this machine's glibc 2.41" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(out.glob("*/*.whl"))
    assert not list(out.glob("*/manifest.json"))


def test_ubuntu_24_04_stand_in_keeps_an_honest_tag_and_records_its_glibc(
    newer_glibc: Path, cache: Path, tmp_path: Path
) -> None:
    """With manylinux 2_39 the build passes its audit, runs under qemu, and records glibc 2.41."""
    out = tmp_path / "out"
    result = _build_there(newer_glibc, _greet(tmp_path, "2_39"), out, cache)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    manifest = json.loads((out / TRIPLE / "manifest.json").read_text())
    assert manifest["toolchain"]["glibc"] == "2.41"
    (smoke,) = manifest["smoke"]
    assert smoke["status"] == "passed", smoke
    (wheel,) = (out / TRIPLE).glob("*.whl")
    assert wheel.name.endswith("-manylinux_2_39_ppc64le.whl")
