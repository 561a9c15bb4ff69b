"""Which CPython the rehearsal imports an extension wheel with: this one, or the musl image's."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

from castoff import rehearse
from castoff.build import image
from castoff.errors import ToolMissingError
from castoff.manifest import BuildRecord, ReleaseManifest
from castoff.runner import Runner

GNU = "x86_64-unknown-linux-gnu"
MUSL = "x86_64-unknown-linux-musl"
IMAGE_ID = "0123456789abcdef" * 4


def _runner(path: str = "") -> Runner:
    return Runner(base_env={**os.environ, "PATH": path}, echo=lambda _: None)


def _record(target: str, image_ref: str | None) -> BuildRecord:
    return BuildRecord(
        target=target, method="cibuildwheel", std="image", source_commit=None,
        source_tree_sha256="0" * 64, image=image_ref, toolchain={}, commands=(), smoke=(),
        cache_key="0" * 64,
    )  # fmt: skip


def _manifest(*builds: BuildRecord) -> ReleaseManifest:
    return ReleaseManifest(name="castoff-knot", version="0.1.0", artifacts=(), builds=builds)


MUSL_LOCAL = f"localhost/castoff-cibw-musl@sha256:{IMAGE_ID}"


def test_the_host_interpreter_carries_this_pythons_tags() -> None:
    """This CPython's label and tags, as packaging lists them."""
    host = rehearse.host_interpreter()
    assert host.executable == sys.executable
    major, minor = sys.version_info[:2]
    assert host.label == f"CPython {major}.{minor}"
    assert f"cp{major}{minor}-abi3-manylinux_2_17_x86_64" in host.tags


def test_only_musl_targets_need_another_interpreter(tmp_path: Path) -> None:
    """Glibc builds and the sdist ask for nothing: no podman call, no verdict."""
    manifest = _manifest(
        _record(GNU, f"localhost/castoff-cibw@sha256:{IMAGE_ID}"), _record("sdist", None)
    )
    assert rehearse.image_interpreters(manifest, tmp_path, _runner()) == ({}, {})
    assert not (tmp_path / "podman").exists()


@pytest.mark.parametrize(
    "image_ref", [f"quay.io/pypa/musllinux_1_2_x86_64@sha256:{IMAGE_ID}", None]
)
def test_a_musl_wheel_built_with_docker_is_not_run(tmp_path: Path, image_ref: str | None) -> None:
    """Castoff's musl CPython comes from its own image: a Docker-built wheel's row says so."""
    pythons, verdicts = rehearse.image_interpreters(
        _manifest(_record(MUSL, image_ref)), tmp_path, _runner()
    )
    assert pythons == {}
    assert verdicts[MUSL].startswith("not run: built in ")
    assert not (tmp_path / "podman").exists()


def test_without_musls_loader_the_musl_row_fails_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built in castoff's musl image, but no loader here: failed, apt-get install musl."""
    monkeypatch.setattr(image, "MUSL_LOADER", tmp_path / "ld-musl-x86_64.so.1")
    pythons, verdicts = rehearse.image_interpreters(
        _manifest(_record(MUSL, MUSL_LOCAL)), tmp_path, _runner()
    )
    assert pythons == {}
    assert verdicts == {
        MUSL: f"failed: no {tmp_path / 'ld-musl-x86_64.so.1'} here to run the musl image's "
        "CPython (apt-get install musl, or castoff setup)"
    }


def test_an_image_that_cannot_be_copied_out_fails_the_row_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """exported_python's error (the image is gone) becomes the row's one-line verdict."""
    loader = tmp_path / "ld-musl-x86_64.so.1"
    loader.write_text("")
    monkeypatch.setattr(image, "MUSL_LOADER", loader)

    def gone(*_: object) -> Path:
        raise ToolMissingError("the image\nthat built it\nis gone.")

    monkeypatch.setattr(image, "exported_python", gone)
    _, verdicts = rehearse.image_interpreters(
        _manifest(_record(MUSL, MUSL_LOCAL)), tmp_path / "cache", _runner()
    )
    assert verdicts == {MUSL: "failed: the image that built it is gone."}


def test_macos_and_windows_wheels_install_for_their_platform() -> None:
    """A macOS or Windows wheel installs with pip by its own tag, with uv by its platform."""
    from castoff.rehearse import platform_tag, uv_platform  # noqa: PLC0415

    assert platform_tag("darwin", ["macosx_11_0_arm64"]) == "macosx_11_0_arm64"
    assert platform_tag("mingw", ["win_amd64"]) == "win_amd64"
    assert platform_tag("msvc", ["manylinux_2_17_x86_64"]) is None
    assert platform_tag("musl", ["linux_armv6l"]) == "linux_armv6l"
    assert uv_platform("linux_armv6l") is None
    assert uv_platform("macosx_11_0_arm64") == "aarch64-apple-darwin"
    assert uv_platform("macosx_10_12_x86_64") == "x86_64-apple-darwin"
    assert uv_platform("win_amd64") == "x86_64-pc-windows-msvc"
    assert uv_platform("win_arm64") == "aarch64-pc-windows-msvc"
    assert uv_platform("macosx_10_12_universal2") is None


def test_msvc_targets_are_not_rehearsed_here_and_the_row_says_where_they_build() -> None:
    """A target only Windows builds gets a row that says so; zig's targets are rehearsed."""
    from castoff.config import load  # noqa: PLC0415
    from castoff.plan import build_plan  # noqa: PLC0415
    from castoff.rehearse import elsewhere_rows  # noqa: PLC0415
    from tests.conftest import EXAMPLE  # noqa: PLC0415
    from tests.unit.test_toolchains import EVERYTHING  # noqa: PLC0415

    plan = build_plan(load(EXAMPLE / "pyproject.toml"))
    rows = elsewhere_rows(plan, EVERYTHING)
    assert list(rows) == ["i686-pc-windows-msvc", "aarch64-pc-windows-msvc"]
    row = rows["i686-pc-windows-msvc"]
    assert row.archive == "hello-i686-pc-windows-msvc.zip"
    assert row.pip.startswith("not run: built natively on windows-latest")
    assert rows["aarch64-pc-windows-msvc"].uv.startswith(
        "not run: built natively on windows-11-arm"
    )
    assert not row.failed()
    # On a Windows machine they build like any other target.
    windows = dataclasses.replace(EVERYTHING, host_triple="x86_64-pc-windows-msvc")
    assert elsewhere_rows(plan, windows) == {}
