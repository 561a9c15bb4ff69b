"""The rehearsal asks another CPython for the wheel tags its own pip installs (real processes)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from castoff import rehearse
from castoff.runner import Runner


def _runner(path: str) -> Runner:
    return Runner(base_env={**os.environ, "PATH": path}, echo=lambda _: None)


def test_probe_reads_another_pythons_tags_from_its_own_pip(tmp_path: Path) -> None:
    """A CPython with pip answers with its tags; one that fails or is absent is None."""
    found = rehearse.probe_interpreter(_runner(os.environ["PATH"]), Path(sys.executable), "x")
    assert found is not None
    assert found.label == "x"
    assert found.tags == rehearse.host_interpreter().tags
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    assert rehearse.probe_interpreter(_runner(""), broken, "x") is None
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    assert rehearse.probe_interpreter(_runner(""), silent, "x") is None
    assert rehearse.probe_interpreter(_runner(""), tmp_path / "absent", "x") is None
