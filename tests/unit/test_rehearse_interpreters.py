"""Which CPython the rehearsal imports an extension wheel with: this one, or the musl image's."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from castoff import rehearse
from castoff.build import image
from castoff.config import load
from castoff.plan import build_plan
from castoff.runner import Runner
from tests.conftest import REPO

KNOT = REPO / "examples" / "knot" / "pyproject.toml"


def _runner(path: str) -> Runner:
    return Runner(base_env={**os.environ, "PATH": path}, echo=lambda _: None)


def test_the_host_interpreter_carries_this_pythons_tags() -> None:
    """This CPython's label and tags, as packaging lists them."""
    host = rehearse.host_interpreter()
    assert host.executable == sys.executable
    assert host.label == f"CPython {sys.version_info[0]}.{sys.version_info[1]}"
    major, minor = sys.version_info[:2]
    assert f"cp{major}{minor}-abi3-manylinux_2_17_x86_64" in host.tags or sys.platform != "linux"


def test_a_plan_without_musl_targets_needs_no_other_interpreter(tmp_path: Path) -> None:
    """examples/hello (binaries) asks for nothing: no podman call, no note."""
    plan = build_plan(load(REPO / "examples" / "hello" / "pyproject.toml"))
    assert rehearse.image_interpreters(plan, tmp_path, _runner("")) == ((), ())
    assert not (tmp_path / "podman").exists()


def test_without_podman_the_musl_rows_say_why(tmp_path: Path) -> None:
    """Knot's musl wheel with no podman here (the wheels came from Docker): a note, no CPython."""
    plan = build_plan(load(KNOT))
    pythons, notes = rehearse.image_interpreters(plan, tmp_path, _runner(str(tmp_path)))
    assert pythons == ()
    assert notes == ("musl: castoff's musl image is not made here (the wheels came from Docker)",)


def test_without_musls_loader_the_musl_rows_say_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image's CPython copied out, but no /lib/ld-musl-x86_64.so.1: apt-get install musl."""
    exported = tmp_path / "exported"
    monkeypatch.setattr(image, "exported_python", lambda *_: exported)
    monkeypatch.setattr(rehearse, "MUSL_LOADER", tmp_path / "ld-musl-x86_64.so.1")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "podman").write_text("#!/bin/sh\nexit 1\n")  # found on PATH, never run here
    (bin_dir / "podman").chmod(0o755)
    plan = build_plan(load(KNOT))
    pythons, notes = rehearse.image_interpreters(plan, tmp_path / "cache", _runner(str(bin_dir)))
    assert pythons == ()
    assert notes == (
        f"musl: no {tmp_path / 'ld-musl-x86_64.so.1'} to run its CPython (apt-get install musl)",
    )
