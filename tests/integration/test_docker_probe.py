"""`docker info` is asked only of a plan that builds in Docker.

No Docker engine runs here: a stand-in for Docker's CLI, first on PATH, records each call and
answers as a docker without its daemon does (exit 1).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

from tests.conftest import EXAMPLE, REPO
from tests.integration.conftest import castoff

_DOCKER_CLI_STAND_IN = """#!/bin/sh
# Stands in for Docker's CLI (castoff's tests): records the call, answers as without a daemon.
echo "$*" >> {calls}
echo "Cannot connect to the Docker daemon" >&2
exit 1
"""
_IMAGE = "ghcr.io/rust-cross/manylinux2014-cross@sha256:" + "a" * 64


def docker_cli_stand_in(folder: Path) -> tuple[dict[str, str], Path]:
    """Put the stand-in docker first on PATH; return the environment and its record of calls."""
    calls = folder / "calls"
    (folder / "bin").mkdir()
    docker = folder / "bin" / "docker"
    docker.write_text(_DOCKER_CLI_STAND_IN.format(calls=shlex.quote(str(calls))))
    docker.chmod(0o755)
    return {"PATH": os.pathsep.join([str(folder / "bin"), os.environ["PATH"]])}, calls


def test_docker_info_is_asked_only_when_a_target_builds_in_docker(tmp_path: Path) -> None:
    """The example builds nothing in Docker: not asked. One target in Docker: asked once."""
    env, calls = docker_cli_stand_in(tmp_path)
    target = ("--target", "x86_64-unknown-linux-gnu")

    as_is = castoff(
        "doctor", "--config", str(EXAMPLE / "pyproject.toml"), *target, "--json", env=env
    )
    assert as_is.returncode == 0, as_is.stderr
    assert json.loads(as_is.stdout)["targets"]
    assert not calls.exists(), "docker was asked, though no target builds in Docker"

    project = tmp_path / "project"
    project.mkdir()
    text = (EXAMPLE / "pyproject.toml").read_text()
    gnu = 'triple = "x86_64-unknown-linux-gnu"\nmanylinux = "2_17"\n'
    assert gnu in text
    text = text.replace(gnu, f'{gnu}method = "docker"\nimage = "{_IMAGE}"\n')
    (project / "pyproject.toml").write_text(text)
    shutil.copy(EXAMPLE / "Cargo.toml", project / "Cargo.toml")
    in_docker = castoff(
        "doctor", "--config", str(project / "pyproject.toml"), *target, "--json", env=env
    )
    assert in_docker.returncode == 0, in_docker.stderr
    assert calls.exists(), "docker was not asked, though a target builds in Docker"
    assert calls.read_text().split() == ["info"]
    [row] = json.loads(in_docker.stdout)["targets"]
    assert "a Docker engine" in json.dumps(row), row


def test_docker_info_is_asked_for_linux_extension_wheels(tmp_path: Path) -> None:
    """Linux extension wheels: cibuildwheel builds them in Docker where an engine answers."""
    env, calls = docker_cli_stand_in(tmp_path)
    config = REPO / "examples" / "knot" / "pyproject.toml"
    done = castoff("doctor", "--config", str(config), "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert calls.exists(), "docker was not asked for an extension's Linux wheels"
    assert calls.read_text().split() == ["info"]
