"""GitHub's ubuntu-latest, simulated (tests/runner_shape.py): what a runner lacks is really gone.

The simulation hides Debian's Rust, qemu-user and the cross compilers behind an overlay, gives a
home with rustup's stable and the host's std only, and stands in for Ubuntu's archive (apt-get)
and static.rust-lang.org (a file:// rustup dist server) with this machine's own files. Every
workflow test that runs jobs on ubuntu-latest runs them there (test_job_graph.py); this file
checks the simulation itself, then builds every target of both examples in it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from castoff.config import load
from castoff.targets import TARGETS
from tests.conftest import REPO
from tests.integration.conftest import castoff
from tests.job_graph import JobGraph, tracked_copy
from tests.runner_shape import RunnerShape, ubuntu_latest

HOST = "x86_64-unknown-linux-gnu"


def inside(shape: RunnerShape, job: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run a bash script in one job's simulated runner."""
    return subprocess.run(
        shape.argv(job, script),
        env=shape.environment(job, os.environ),
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip


def test_the_simulated_ubuntu_runner_has_rustup_and_lacks_debian_rust_qemu_and_cross_gcc(
    tmp_path: Path,
) -> None:
    """Rustup and stable with the host std only; qemu and cross gcc only once apt-get installs."""
    shape = ubuntu_latest(tmp_path / "state")
    job = shape.job(tmp_path / "job")
    home = job / "home"
    found = inside(
        shape,
        job,
        "command -v rustc cargo rustup; rustc --print sysroot; rustup target list --installed",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == [
        str(home / ".cargo" / "bin" / "rustc"),
        str(home / ".cargo" / "bin" / "cargo"),
        str(home / ".cargo" / "bin" / "rustup"),
        str(home / ".rustup" / "toolchains" / f"stable-{HOST}"),
        HOST,
    ]
    lacking = (
        "qemu-aarch64-static",
        "/usr/lib/wine/wine64",
        "powerpc64le-linux-gnu-gcc",
        "powerpc64-linux-gnu-gcc",
        "/usr/bin/rustc",
        "/usr/lib/rustlib",
        "/usr/aarch64-linux-gnu",
    )
    for what in lacking:
        assert inside(shape, job, f"test -e {what} || command -v {what}").returncode != 0, what
    # The stand-in for Ubuntu's archive: the package's files come back, in this job only.
    installed = inside(shape, job, "apt-get update && apt-get install -y qemu-user-static")
    assert installed.returncode == 0, installed.stderr
    assert "qemu-aarch64 version" in inside(shape, job, "qemu-aarch64-static --version").stdout
    unknown = inside(shape, job, "apt-get install -y no-such-package-anywhere")
    assert unknown.returncode == 100
    assert "Unable to locate package no-such-package-anywhere" in unknown.stderr
    fresh = shape.job(tmp_path / "another-job")
    assert inside(shape, fresh, "command -v qemu-aarch64-static").returncode != 0
    # The stand-in for static.rust-lang.org: rustup adds the target's std.
    added = inside(shape, job, "rustup target add aarch64-unknown-linux-musl")
    assert added.returncode == 0, added.stderr
    listed = inside(shape, job, "rustup target list --installed").stdout.split()
    assert sorted(listed) == ["aarch64-unknown-linux-musl", HOST]


def example_targets(example: str) -> list[str]:
    """Return every target of an embedded example."""
    return [t.triple for t in load(REPO / "examples" / example / "pyproject.toml").targets]


@pytest.mark.parametrize("example", ["hello", "greet"])
def test_every_target_builds_and_runs_on_simulated_ubuntu_runners(
    tmp_path: Path, example: str
) -> None:
    """The generated ci.yml's plan and build jobs, one simulated runner per target.

    Each build job gets its tools only from the workflow's own `nox -s setup` (castoff setup:
    apt-get and rustup, served by the stand-ins); the build smoke-runs every binary, so a
    target whose binary did not run fails here.
    """
    targets = example_targets(example)
    repo = tracked_copy(REPO, tmp_path / "repository")
    config = f"examples/{example}/pyproject.toml"
    made = castoff(
        "ci", "generate", "--config", str(repo / config), "--workflows",
        str(repo / ".github" / "workflows"), "--config-path", config, "--nox", "./ci/nox",
        "--setup", "",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    graph = JobGraph.load(
        repo / ".github" / "workflows" / "ci.yml",
        repository=repo,
        root=tmp_path / "runner",
        env={**os.environ, "CASTOFF_PROJECT": f"examples/{example}"},
        secrets={},
        event="pull_request",
        ubuntu=ubuntu_latest(tmp_path / "state"),
        # MSVC's jobs run on Windows runners, which nothing here simulates: test_setup.py checks
        # the commands they run there.
        skip_runners=frozenset({"windows-latest", "windows-11-arm"}),
        # Each job's virtualenvs hold zig and maturin, and its home rustup's std and cargo's
        # cache: 2.5 GB a job, too much to keep for a whole matrix.
        keep_workspaces=False,
    )
    del graph.workflow["jobs"]["rehearse"]  # test_job_graph.py runs it
    graph.run()
    msvc = [t for t in targets if t.endswith("-windows-msvc")]
    assert sorted(m["target"] for _, m in graph.unsimulated) == sorted(msvc)
    targets = [t for t in targets if t not in msvc]
    artifacts = tmp_path / "runner" / "artifacts"
    assert sorted(p.name for p in artifacts.iterdir()) == sorted(
        f"castoff-build-{t}" for t in [*targets, "sdist"]
    )
    # The sdist's job: maturin sdist with the runner's rustup cargo.
    sdist = json.loads((artifacts / "castoff-build-sdist" / "manifest.json").read_text())
    assert [a["kind"] for a in sdist["artifacts"]] == ["sdist"]
    assert (sdist["toolchain"]["cargo"] or "").startswith("cargo "), sdist["toolchain"]
    for target in targets:
        manifest = json.loads((artifacts / f"castoff-build-{target}" / "manifest.json").read_text())
        assert manifest["toolchain"]["rustc"].startswith("rustc 1.96.0"), target
        # macOS binaries run nowhere on Linux: the config says so, and the record keeps why.
        # Windows x64 runs under Wine, which the job's own setup installed.
        if TARGETS[target].os == "macos":
            assert {s["status"] for s in manifest["smoke"]} == {"not-run"}, target
            assert "allowed by the config" in manifest["smoke"][0]["reason"], target
        else:
            assert {s["status"] for s in manifest["smoke"]} == {"passed"}, (
                target,
                manifest["smoke"],
            )
        if TARGETS[target].os == "windows":
            assert {s["runner"] for s in manifest["smoke"]} == {"wine64"}, target
        # Where the std came from on the runner: rustup's (added by setup) or castoff's sysroot.
        assert manifest["std"] in ("toolchain", "sysroot"), target
    assert [p.name for p in (tmp_path / "runner" / "jobs").iterdir()] == []
