"""Targets only their own OS builds: listed as built elsewhere, and no release from here."""

from __future__ import annotations

import dataclasses

import pytest

from castoff.build.builder import built_elsewhere, check_buildable_here
from castoff.config import load
from castoff.errors import UsageError
from castoff.plan import build_plan
from tests.conftest import BUILT_HERE, EXAMPLE
from tests.unit.test_toolchains import EVERYTHING


def test_msvc_is_built_elsewhere_and_a_whole_release_from_linux_is_refused() -> None:
    """On Linux the example's MSVC targets are elsewhere; a release of all of them is refused."""
    config = load(EXAMPLE / "pyproject.toml")
    plan = build_plan(config)
    assert built_elsewhere(plan, EVERYTHING) == {
        "i686-pc-windows-msvc": "windows-latest",
        "aarch64-pc-windows-msvc": "windows-11-arm",
    }
    with pytest.raises(UsageError) as caught:
        check_buildable_here(plan, EVERYTHING)
    assert caught.value.exit_code == 2
    assert "i686-pc-windows-msvc on windows-latest, aarch64-pc-windows-msvc on windows-11-arm" in (
        caught.value.message
    )
    assert "--no-build" in (caught.value.hint or "")
    # The targets this machine builds release from here; so does all of it on Windows.
    check_buildable_here(build_plan(config, only=BUILT_HERE), EVERYTHING)
    windows = dataclasses.replace(EVERYTHING, host_triple="x86_64-pc-windows-msvc")
    assert "i686-pc-windows-msvc" not in built_elsewhere(plan, windows)


def test_on_its_own_os_or_an_unknown_host_a_target_is_never_elsewhere() -> None:
    """Windows on Arm lacking i686, or no rustc at all: the build fails with what is missing."""
    plan = build_plan(load(EXAMPLE / "pyproject.toml"))
    arm_windows = dataclasses.replace(EVERYTHING, host_triple="aarch64-pc-windows-msvc")
    assert built_elsewhere(plan, arm_windows) == {}
    no_rustc = dataclasses.replace(EVERYTHING, host_triple=None)
    assert built_elsewhere(plan, no_rustc) == {}
    # A Mac builds its own targets natively, and MSVC is elsewhere for it too.
    mac = dataclasses.replace(EVERYTHING, host_triple="aarch64-apple-darwin")
    assert built_elsewhere(plan, mac) == {
        "i686-pc-windows-msvc": "windows-latest",
        "aarch64-pc-windows-msvc": "windows-11-arm",
    }
