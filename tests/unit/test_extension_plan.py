"""Extension modules (kind = 'extension'): config, plan, cibuildwheel's engine, the image."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from castoff import cibw
from castoff.build import image
from castoff.build.cibuildwheel import (
    INSTALL_CIBUILDWHEEL,
    Engine,
    ExtensionTools,
    build_identifiers,
    cibuildwheel_env,
    engine_for,
)
from castoff.build.setup import Machine, plan_setup
from castoff.build.toolchains import Missing
from castoff.config import EXTENSION_METHOD, Config, load, resolve
from castoff.doctor import diagnose
from castoff.errors import BuildError, ConfigError, PlanError, ToolMissingError, UsageError
from castoff.plan import (
    SDIST,
    ExtensionJob,
    ReleasePlan,
    build_plan,
    plan_schema,
    select_targets,
    target_facts,
)
from castoff.targets import TARGETS
from tests.conftest import EXAMPLE, REPO
from tests.unit.test_toolchains import EVERYTHING

KNOT = REPO / "examples" / "knot" / "pyproject.toml"
KNOT_WHEEL = "castoff_knot-0.1.0-cp38-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
KNOT_MUSL_WHEEL = "castoff_knot-0.1.0-cp38-abi3-musllinux_1_2_x86_64.whl"
X86 = "x86_64-unknown-linux-gnu"
X86_MUSL = "x86_64-unknown-linux-musl"
ARM64 = "aarch64-unknown-linux-gnu"
ARM64_MUSL = "aarch64-unknown-linux-musl"
MAC_X86 = "x86_64-apple-darwin"
MAC_ARM = "aarch64-apple-darwin"
WIN = "x86_64-pc-windows-msvc"
WIN32 = "i686-pc-windows-msvc"
CARGO_TOML = """\
[package]
name = "py-knot"
version = "0.3.0"
"""
IMAGE_ID = "0123456789abcdef" * 4
MUSL_IMAGE_ID = "fedcba9876543210" * 4
# GitHub's ubuntu-latest: a passwordless sudoer with apt-get.
UBUNTU = Machine(system="linux", apt_get="apt-get", sudo="sudo", root=False)
FEDORA = Machine(system="linux", apt_get=None, sudo="sudo", root=False)
APT = ("sudo", "--preserve-env=DEBIAN_FRONTEND", "apt-get", "-o", "DPkg::Lock::Timeout=300")
# An x86_64 Linux machine without Docker but with everything castoff's local image needs.
LOCAL = ExtensionTools(
    system="linux",
    machine="x86_64",
    cibuildwheel="/venv/bin/cibuildwheel",
    cibuildwheel_version="3.1.4",
    docker=False,
    podman="/usr/bin/podman",
    mmdebstrap="/usr/bin/mmdebstrap",
    local_images={"gnu": IMAGE_ID, "musl": MUSL_IMAGE_ID},
    podman_root=Path("/cache/castoff/podman"),
    musl_loader=True,
)
DOCKER = dataclasses.replace(LOCAL, docker=True, podman=None, mmdebstrap=None, local_images={})


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pyproject(tmp_path: Path) -> Path:
    """Return a pyproject.toml path whose folder holds the Cargo.toml defaults come from."""
    (tmp_path / "Cargo.toml").write_text(CARGO_TOML)
    return tmp_path / "pyproject.toml"


@pytest.fixture
def knot() -> Config:
    """Return examples/knot's resolved config (read from the real file)."""
    return load(KNOT)


def document(*targets: dict[str, Any], **castoff: Any) -> dict[str, Any]:
    """Return a parsed pyproject.toml of an extension project with these targets and keys."""
    table: dict[str, Any] = {
        "kind": "extension",
        "python": ["cp38-abi3"],
        "targets": list(targets) or [{"triple": X86}],
    }
    table.update({key.replace("_", "-"): value for key, value in castoff.items()})
    return {"project": {"name": "py-knot", "dynamic": ["version"]}, "tool": {"castoff": table}}


def binary_document(**castoff: Any) -> dict[str, Any]:
    """Return a parsed pyproject.toml of a binary project (no kind) with these keys."""
    table: dict[str, Any] = {"targets": [{"triple": X86}]}
    table.update(castoff)
    return {"project": {"name": "py-knot", "dynamic": ["version"]}, "tool": {"castoff": table}}


def refusal(pyproject: Path, doc: dict[str, Any], key: str) -> str:
    """Return the message of the ConfigError doc raises, checking it names the file and key."""
    with pytest.raises(ConfigError) as info:
        resolve(doc, pyproject=pyproject)
    message = info.value.message
    assert message.startswith(f"{pyproject}: "), message
    assert key in message, message
    return message


def configured(pyproject: Path, *targets: dict[str, Any], **castoff: Any) -> Config:
    """Return the Config of an extension project with these targets and keys."""
    return resolve(document(*targets, **castoff), pyproject=pyproject)


def only_target(pyproject: Path, **entry: Any) -> Config:
    """Return the Config of an extension project with one target entry."""
    # cibuildwheel builds Windows on Arm from CPython 3.9 on.
    python = ["cp39-abi3"] if entry.get("triple") == "aarch64-pc-windows-msvc" else ["cp38-abi3"]
    return configured(
        pyproject, {key.replace("_", "-"): v for key, v in entry.items()}, python=python
    )


def test_windows_on_arm_refuses_an_interpreter_cibuildwheel_does_not_build(
    pyproject: Path,
) -> None:
    """cp38 for aarch64-pc-windows-msvc names a build cibuildwheel has not: refused up front."""
    with pytest.raises(ConfigError, match=r"tool\.castoff\.python: 'cp38-abi3'.*3\.9 and later"):
        configured(pyproject, {"triple": "aarch64-pc-windows-msvc"}, python=["cp38-abi3"])


@pytest.mark.parametrize("spelled", ["cp308", "cp308-abi3", "cp3"])
def test_leading_zeros_are_not_a_cpython_version(pyproject: Path, spelled: str) -> None:
    """cp308 is a misspelling, not CPython 3.8."""
    with pytest.raises(ConfigError, match="is not a CPython cibuildwheel builds for"):
        configured(pyproject, {"triple": X86}, python=[spelled])


ALL_PLATFORMS = [X86, ARM64_MUSL, MAC_X86, MAC_ARM, WIN, WIN32]


@pytest.fixture
def versions(pyproject: Path) -> Config:
    """Return an extension built per CPython version for Linux, macOS and Windows targets."""
    return configured(pyproject, *({"triple": t} for t in ALL_PLATFORMS), python=["cp312", "cp311"])


def job_of(plan: ReleasePlan, triple: str) -> ExtensionJob:
    """Return the extension job of a planned triple."""
    return next(e for e in plan.extensions if e.triple == triple)


def ext_job(pyproject: Path, triple: str, *, python: list[str] | None = None) -> ExtensionJob:
    """Return the one extension job of a project that builds one triple."""
    config = configured(pyproject, {"triple": triple}, python=python or ["cp38-abi3"])
    (job,) = build_plan(config).extensions
    return job


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


def test_kind_defaults_to_binary_with_no_interpreters_or_module(pyproject: Path) -> None:
    """Without `kind` a project is a binary one: no python entries, no module."""
    config = resolve(binary_document(), pyproject=pyproject)
    assert (config.kind, config.python, config.module) == ("binary", (), None)
    assert config.binaries == ("py-knot",)
    assert config.targets[0].method != EXTENSION_METHOD


def test_an_unknown_kind_is_refused(pyproject: Path) -> None:
    """The kind is binary or extension, nothing else."""
    message = refusal(pyproject, document(kind="library"), "tool.castoff.kind")
    assert "binary, extension" in message


@pytest.mark.parametrize("python", [None, []])
def test_an_extension_requires_python(pyproject: Path, python: list[str] | None) -> None:
    """An extension without interpreters is refused, naming tool.castoff.python."""
    doc = document()
    if python is None:
        del doc["tool"]["castoff"]["python"]
    else:
        doc["tool"]["castoff"]["python"] = python
    assert "is required with kind = 'extension'" in refusal(pyproject, doc, "tool.castoff.python")


@pytest.mark.parametrize(
    ("entries", "key", "problem"),
    [
        (["py311"], "python[0]", "is not a CPython cibuildwheel builds for"),
        (["cp3.11"], "python[0]", "is not a CPython cibuildwheel builds for"),
        (["CP311"], "python[0]", "is not a CPython cibuildwheel builds for"),
        (["cp311-abi4"], "python[0]", "is not a CPython cibuildwheel builds for"),
        (["cp27"], "python[0]", "is not a CPython cibuildwheel builds for"),
        (["cp311", "pp310"], "python[1]", "is not a CPython cibuildwheel builds for"),
        (["cp37"], "python[0]", "cibuildwheel builds CPython 3.8 to 3.14"),
        (["cp315"], "python[0]", "cibuildwheel builds CPython 3.8 to 3.14"),
        (["cp37-abi3"], "python[0]", "cibuildwheel builds CPython 3.8 to 3.14"),
        (["cp311", "cp312", "cp311"], "python[2]", "'cp311' is listed twice"),
        (["cp38-abi3", "cp311"], "python:", "must be the only entry"),
        (["cp311", "cp38-abi3"], "python:", "must be the only entry"),
        (["cp38-abi3", "cp310-abi3"], "python:", "must be the only entry"),
    ],
)
def test_bad_python_entries_are_refused(
    pyproject: Path, entries: list[str], key: str, problem: str
) -> None:
    """Misspelled, out-of-range, repeated and mixed-abi3 interpreters name the entry."""
    message = refusal(pyproject, document(python=entries), f"tool.castoff.{key}")
    assert problem in message


def test_a_python_that_is_not_a_list_of_strings_is_refused(pyproject: Path) -> None:
    """A python that is a string, not a list, is refused, naming the key."""
    refusal(pyproject, document(python="cp38-abi3"), "tool.castoff.python")


def test_python_entries_come_back_sorted_by_version(pyproject: Path) -> None:
    """The interpreters are sorted oldest first, and the range's ends are accepted."""
    config = configured(pyproject, python=["cp314", "cp38", "cp311", "cp310"])
    assert [i.spelled for i in config.python] == ["cp38", "cp310", "cp311", "cp314"]
    assert not any(i.abi3 for i in config.python)
    (abi3,) = configured(pyproject, python=["cp314-abi3"]).python
    assert (abi3.version, abi3.abi3, abi3.abi_tag, abi3.python_tag) == (
        (3, 14),
        True,
        "abi3",
        "cp314",
    )


@pytest.mark.parametrize(("key", "value"), [("python", ["cp38-abi3"]), ("module", "knot")])
def test_extension_keys_are_refused_for_binary_projects(
    pyproject: Path, key: str, value: object
) -> None:
    """The python and module keys apply to kind = 'extension' only."""
    doc = binary_document(**{key: value})
    message = refusal(pyproject, doc, f"tool.castoff.{key}")
    assert "applies to kind = 'extension' only" in message
    doc["tool"]["castoff"]["kind"] = "binary"
    refusal(pyproject, doc, f"tool.castoff.{key}")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("binaries", ["knot"]),
        ("aliases", {"s390x-unknown-linux-gnu": X86}),
        ("tag-policy", {"static-musl-manylinux": True}),
    ],
)
def test_binary_keys_are_refused_for_extensions(pyproject: Path, key: str, value: object) -> None:
    """binaries, aliases and tag-policy apply to binary projects only."""
    doc = document()
    doc["tool"]["castoff"][key] = value
    message = refusal(pyproject, doc, f"tool.castoff.{key}")
    assert "applies to binary projects only" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("method", "zig"),
        ("method", "auto"),
        ("archive", "zip"),
        ("image", "ghcr.io/x/y@sha256:" + "0" * 64),
        ("lsx", False),
        ("extra-tags", ["manylinux_2_17_x86_64"]),
        ("no-smoke-run", "no machine runs it"),
    ],
)
def test_binary_only_target_keys_are_refused_on_extension_targets(
    pyproject: Path, key: str, value: object
) -> None:
    """A binary target's own keys name themselves when put on an extension's target."""
    doc = document({"triple": X86, key: value})
    message = refusal(pyproject, doc, f"tool.castoff.targets[0].{key}:")
    assert "applies to binary projects only" in message
    with pytest.raises(ConfigError) as info:
        resolve(doc, pyproject=pyproject)
    assert info.value.hint is not None
    assert "triple, manylinux, musllinux, macosx, pypi, runner" in info.value.hint


def test_an_unknown_target_key_is_refused_with_a_suggestion(pyproject: Path) -> None:
    """A misspelled key of an extension target is refused like any unknown key."""
    doc = document({"triple": X86, "runer": "ubuntu-22.04"})
    message = refusal(pyproject, doc, "tool.castoff.targets[0]")
    assert "runer" in message


@pytest.mark.parametrize(
    "triple",
    [
        "x86_64-pc-windows-gnu",
        "loongarch64-unknown-linux-gnu",
        "loongarch64-unknown-linux-musl",
        "powerpc64-unknown-linux-gnu",
        "arm-unknown-linux-gnueabihf",
    ],
)
def test_triples_cibuildwheel_does_not_build_are_refused(pyproject: Path, triple: str) -> None:
    """A known triple with no cibuildwheel platform is refused, naming targets[i].triple."""
    doc = document({"triple": X86}, {"triple": triple})
    message = refusal(pyproject, doc, "tool.castoff.targets[1].triple")
    assert f"cibuildwheel does not build extension wheels for {triple}" in message


def test_an_unknown_triple_is_refused(pyproject: Path) -> None:
    """A triple castoff does not know is refused before cibuildwheel is asked."""
    message = refusal(pyproject, document({"triple": "x86_64-linux"}), "targets[0].triple")
    assert "is not a Rust target triple castoff knows" in message


def test_a_triple_declared_twice_is_refused(pyproject: Path) -> None:
    """Each extension triple is declared once."""
    message = refusal(pyproject, document({"triple": X86}, {"triple": X86}), "targets[1].triple")
    assert "is already declared at tool.castoff.targets[0]" in message


@pytest.mark.parametrize(
    "triple",
    [
        X86, X86_MUSL, ARM64, ARM64_MUSL, "i686-unknown-linux-gnu", "i686-unknown-linux-musl",
        "armv7-unknown-linux-gnueabihf", "armv7-unknown-linux-musleabihf",
        "powerpc64le-unknown-linux-gnu", "s390x-unknown-linux-gnu", "s390x-unknown-linux-musl",
        "riscv64gc-unknown-linux-gnu", "riscv64gc-unknown-linux-musl", MAC_X86, MAC_ARM, WIN,
        WIN32, "aarch64-pc-windows-msvc",
    ],
)  # fmt: skip
def test_every_triple_cibuildwheel_builds_is_accepted(pyproject: Path, triple: str) -> None:
    """Linux (glibc and musl), macOS and Windows MSVC triples resolve with cibuildwheel's method."""
    (target,) = only_target(pyproject, triple=triple).targets
    assert cibw.platform(target.target) is not None
    assert (target.method, target.image, target.extra_tags) == (EXTENSION_METHOD, None, ())
    assert target.archive == target.target.archive_kind


@pytest.mark.parametrize(
    ("triple", "glibc"),
    [
        (X86, (2, 17)),
        (ARM64, (2, 17)),
        ("i686-unknown-linux-gnu", (2, 17)),
        ("powerpc64le-unknown-linux-gnu", (2, 17)),
        ("s390x-unknown-linux-gnu", (2, 17)),
        ("armv7-unknown-linux-gnueabihf", (2, 31)),
        ("riscv64gc-unknown-linux-gnu", (2, 39)),
    ],
)
def test_manylinux_defaults_to_the_lowest_cibuildwheel_image(
    pyproject: Path, triple: str, glibc: tuple[int, int]
) -> None:
    """Without manylinux, the glibc of cibuildwheel's oldest image for the arch is used."""
    (target,) = only_target(pyproject, triple=triple).targets
    assert target.manylinux == glibc
    assert (target.musllinux, target.macosx) == (None, None)
    assert glibc == cibw.manylinux_choices(target.target.wheel_arch)[0]


@pytest.mark.parametrize(
    ("triple", "manylinux", "image_name"),
    [
        (X86, "2_28", "manylinux_2_28"),
        (X86, "2_34", "manylinux_2_34"),
        (ARM64, "2_28", "manylinux_2_28"),
        ("armv7-unknown-linux-gnueabihf", "2_31", "manylinux_2_31"),
        ("riscv64gc-unknown-linux-gnu", "2_39", "manylinux_2_39"),
    ],
)
def test_a_manylinux_cibuildwheel_has_an_image_for_is_kept(
    pyproject: Path, triple: str, manylinux: str, image_name: str
) -> None:
    """An explicit manylinux with a cibuildwheel image is kept, and the job names that image."""
    config = only_target(pyproject, triple=triple, manylinux=manylinux)
    assert config.targets[0].manylinux == tuple(int(p) for p in manylinux.split("_"))
    (job,) = build_plan(config).extensions
    assert (job.image, job.manylinux) == (image_name, manylinux)
    assert f"manylinux_{manylinux}_" in job.wheels[0]


@pytest.mark.parametrize(
    ("triple", "manylinux", "choices"),
    [
        (X86, "2_24", "'2_17', '2_28', '2_34'"),
        (X86, "2_39", "'2_17', '2_28', '2_34'"),
        ("i686-unknown-linux-gnu", "2_24", "'2_17', '2_28', '2_34'"),
        ("armv7-unknown-linux-gnueabihf", "2_17", "'2_31', '2_35'"),
        ("riscv64gc-unknown-linux-gnu", "2_31", "'2_39'"),
    ],
)
def test_a_manylinux_without_a_cibuildwheel_image_is_refused(
    pyproject: Path, triple: str, manylinux: str, choices: str
) -> None:
    """A glibc cibuildwheel has no image for is refused, listing the ones it has."""
    doc = document({"triple": triple, "manylinux": manylinux})
    message = refusal(pyproject, doc, "tool.castoff.targets[0].manylinux:")
    assert f"'{manylinux}': cibuildwheel has no" in message
    assert f"Choose one of {choices}." not in message  # the choices are the hint, not the message
    with pytest.raises(ConfigError) as info:
        resolve(doc, pyproject=pyproject)
    assert info.value.hint == f"Choose one of {choices}."


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"triple": X86, "manylinux": "3_1"}, "manylinux"),
        ({"triple": X86, "musllinux": "1_2"}, "musllinux"),
        ({"triple": X86, "macosx": "11.0"}, "macosx"),
        ({"triple": MAC_ARM, "manylinux": "2_17"}, "manylinux"),
        ({"triple": MAC_ARM, "macosx": "10.12"}, "macosx"),
        ({"triple": X86_MUSL, "musllinux": "1_1"}, "musllinux"),
        ({"triple": X86_MUSL, "musllinux": "1_3"}, "musllinux"),
        ({"triple": X86_MUSL, "musllinux": "2_0"}, "musllinux"),
    ],
)
def test_compatibility_versions_that_do_not_fit_are_refused(
    pyproject: Path, entry: dict[str, str], key: str
) -> None:
    """Versions of another family, impossible ones and musllinux other than 1_2 are refused."""
    refusal(pyproject, document(entry), f"tool.castoff.targets[0].{key}:")


def test_musllinux_is_1_2_whether_given_or_not(pyproject: Path) -> None:
    """A musl target builds in musllinux_1_2, the one image cibuildwheel offers."""
    implicit = only_target(pyproject, triple=X86_MUSL).targets[0]
    explicit = only_target(pyproject, triple=X86_MUSL, musllinux="1_2").targets[0]
    assert implicit.musllinux == explicit.musllinux == cibw.MUSLLINUX == (1, 2)
    assert implicit.manylinux is None
    message = refusal(pyproject, document({"triple": X86_MUSL, "musllinux": "1_1"}), "musllinux")
    assert "cibuildwheel builds musllinux_1_2 only" in message


def test_macosx_defaults_to_the_targets_floor_and_can_be_raised(pyproject: Path) -> None:
    """A macOS target defaults to its floor; a higher macosx is kept."""
    config = configured(pyproject, {"triple": MAC_X86}, {"triple": MAC_ARM, "macosx": "14.0"})
    assert [t.macosx for t in config.targets] == [(10, 12), (14, 0)]
    assert [t.manylinux for t in config.targets] == [None, None]


@pytest.mark.parametrize(
    ("triple", "runner"),
    [
        (X86, "ubuntu-latest"),
        (X86_MUSL, "ubuntu-latest"),
        (ARM64, "ubuntu-24.04-arm"),
        (ARM64_MUSL, "ubuntu-24.04-arm"),
        (MAC_X86, "macos-15-intel"),
        (MAC_ARM, "macos-14"),
        (WIN, "windows-latest"),
        ("aarch64-pc-windows-msvc", "windows-11-arm"),
    ],
)
def test_runners_default_to_where_the_target_builds_natively(
    pyproject: Path, triple: str, runner: str
) -> None:
    """Each target's runner comes from cibw.RUNNERS, else its OS's default."""
    assert only_target(pyproject, triple=triple).targets[0].runner == runner
    assert cibw.RUNNERS.get(triple, runner) == runner


def test_an_explicit_runner_and_pypi_are_kept(pyproject: Path) -> None:
    """The runner and pypi keys are an extension target's own."""
    (target,) = only_target(pyproject, triple=ARM64, runner="self-hosted-arm", pypi=False).targets
    assert (target.runner, target.pypi) == ("self-hosted-arm", False)


def test_module_comes_from_maturins_module_name(pyproject: Path) -> None:
    """[tool.maturin] module-name names the module (dotted paths included)."""
    doc = document()
    doc["tool"]["maturin"] = {"module-name": "knot_pkg._knot"}
    assert resolve(doc, pyproject=pyproject).module == "knot_pkg._knot"


def test_module_comes_from_cargos_lib_name(pyproject: Path) -> None:
    """Without module-name, the Cargo.toml [lib] name names the module."""
    (pyproject.parent / "Cargo.toml").write_text(CARGO_TOML + '\n[lib]\nname = "knot_core"\n')
    assert configured(pyproject).module == "knot_core"


def test_module_falls_back_to_the_package_name_with_underscores(pyproject: Path) -> None:
    """Without [lib] name, the package name with '-' as '_' names the module."""
    assert configured(pyproject).module == "py_knot"


def test_an_explicit_module_beats_maturin_and_cargo(pyproject: Path) -> None:
    """tool.castoff.module wins over [tool.maturin] module-name."""
    doc = document(module="chosen")
    doc["tool"]["maturin"] = {"module-name": "other"}
    assert resolve(doc, pyproject=pyproject).module == "chosen"


def test_module_is_read_from_the_cargo_toml_maturin_points_at(tmp_path: Path) -> None:
    """[tool.maturin] manifest-path moves the Cargo.toml whose [lib] name is the module."""
    (tmp_path / "rust").mkdir()
    (tmp_path / "rust" / "Cargo.toml").write_text(CARGO_TOML + '\n[lib]\nname = "inner"\n')
    doc = document()
    doc["tool"]["maturin"] = {"manifest-path": "rust/Cargo.toml"}
    config = resolve(doc, pyproject=tmp_path / "pyproject.toml")
    assert (config.module, config.version) == ("inner", "0.3.0")


@pytest.mark.parametrize(
    ("where", "value", "key"),
    [
        ("castoff", "1knot", "tool.castoff.module:"),
        ("castoff", "knot-py", "tool.castoff.module:"),
        ("castoff", "knot..core", "tool.castoff.module:"),
        ("castoff", "knot.", "tool.castoff.module:"),
        ("castoff", "k" * 201, "tool.castoff.module:"),
        ("castoff", "knöt", "tool.castoff.module:"),
        ("maturin", "knot-py", "tool.maturin.module-name:"),
        ("cargo", "bad-lib", "[lib] name of "),
    ],
)
def test_a_module_that_is_not_a_python_module_path_is_refused(
    pyproject: Path, where: str, value: str, key: str
) -> None:
    """An invalid module is refused, naming where it came from."""
    doc = document()
    if where == "castoff":
        doc["tool"]["castoff"]["module"] = value
    elif where == "maturin":
        doc["tool"]["maturin"] = {"module-name": value}
    else:
        (pyproject.parent / "Cargo.toml").write_text(CARGO_TOML + f'\n[lib]\nname = "{value}"\n')
    message = refusal(pyproject, doc, key)
    assert "is not a Python module path" in message
    if where == "cargo":
        assert str(pyproject.parent / "Cargo.toml") in message


def test_module_without_a_cargo_toml_names_the_module_key(tmp_path: Path) -> None:
    """With nothing to derive the module from, the error names tool.castoff.module."""
    doc = document()
    doc["project"]["version"] = "1.0.0"
    doc["project"]["dynamic"] = []
    message = refusal(tmp_path / "pyproject.toml", doc, "tool.castoff.module:")
    assert "Cargo.toml, which does not exist" in message


def test_an_extension_config_loads_from_toml_text(tmp_path: Path) -> None:
    """A pyproject.toml written as text resolves through castoff.config.load."""
    (tmp_path / "Cargo.toml").write_text(CARGO_TOML)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "py-knot"\ndynamic = ["version"]\n'
        '[tool.maturin]\nmodule-name = "knot"\n'
        '[tool.castoff]\nkind = "extension"\npython = ["cp312", "cp311"]\n'
        '[[tool.castoff.targets]]\ntriple = "x86_64-unknown-linux-gnu"\n'
    )
    config = load(tmp_path / "pyproject.toml")
    assert (config.kind, config.module, config.version, config.binaries) == (
        "extension",
        "knot",
        "0.3.0",
        (),
    )
    assert [i.spelled for i in config.python] == ["cp311", "cp312"]


def test_the_knot_example_is_an_abi3_extension(knot: Config) -> None:
    """examples/knot: one cp38-abi3 interpreter, module knot, x86_64 manylinux2014 and musl."""
    assert (knot.kind, knot.module, knot.name, knot.version) == (
        "extension",
        "knot",
        "castoff-knot",
        "0.1.0",
    )
    assert knot.python == (cibw.Interpreter(version=(3, 8), abi3=True),)
    assert [(t.triple, t.manylinux, t.musllinux, t.method) for t in knot.targets] == [
        (X86, (2, 17), None, EXTENSION_METHOD),
        (X86_MUSL, None, (1, 2), EXTENSION_METHOD),
    ]
    assert knot.binaries == ()


# ---------------------------------------------------------------------------------------------
# cibw: the pure facts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spelled", "abi"),
    [("cp38-abi3", "cp38-abi3", "abi3"), ("cp311", "cp311", "cp311"), ("cp314", "cp314", "cp314")],
)
def test_interpreters_spell_themselves_as_written(text: str, spelled: str, abi: str) -> None:
    """parse_interpreter and spelled agree; the ABI tag is abi3 or the version's own."""
    interpreter = cibw.parse_interpreter(text)
    assert interpreter is not None
    assert (interpreter.spelled, interpreter.abi_tag) == (spelled, abi)


@pytest.mark.parametrize("text", ["", "cp3", "cp3111", "cp311-abi3 ", " cp311", "cp311-ABI3"])
def test_parse_interpreter_refuses_other_text(text: str) -> None:
    """Anything but cp3XY or cp3XY-abi3 is not an interpreter."""
    assert cibw.parse_interpreter(text) is None


def test_identifier_refuses_a_target_cibuildwheel_does_not_build() -> None:
    """cibw.identifier raises for a triple with no cibuildwheel platform."""
    interpreter = cibw.Interpreter(version=(3, 11), abi3=False)
    assert cibw.identifier(interpreter, TARGETS[X86_MUSL]) == "cp311-musllinux_x86_64"
    with pytest.raises(ValueError, match="x86_64-pc-windows-gnu"):
        cibw.identifier(interpreter, TARGETS["x86_64-pc-windows-gnu"])


def test_image_for_names_cibuildwheels_linux_images_only() -> None:
    """Linux targets get a manylinux or musllinux image; macOS and Windows none."""
    assert cibw.image_for(TARGETS[X86], (2, 17)) == "manylinux2014"
    assert cibw.image_for(TARGETS[X86], (2, 24)) is None
    assert cibw.image_for(TARGETS["i686-unknown-linux-gnu"], (2, 28)) == "manylinux_2_28"
    assert cibw.image_for(TARGETS["riscv64gc-unknown-linux-gnu"], (2, 28)) is None
    assert cibw.image_for(TARGETS[ARM64_MUSL], None) == "musllinux_1_2"
    assert cibw.image_for(TARGETS[MAC_ARM], None) is None
    assert cibw.image_for(TARGETS[WIN], None) is None


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------


def test_the_knot_plan_has_two_extension_jobs_and_no_binary_jobs(knot: Config) -> None:
    """examples/knot plans cibuildwheel builds of cp38-abi3 for x86_64 manylinux2014 and musl."""
    plan = build_plan(knot)
    assert (plan.kind, plan.module, plan.jobs, plan.binaries) == ("extension", "knot", (), ())
    job, musl = plan.extensions
    assert musl == ExtensionJob(
        target=TARGETS[X86_MUSL],
        runner="ubuntu-latest",
        image="musllinux_1_2",
        manylinux=None,
        musllinux="1_2",
        macosx=None,
        platform_tags=("musllinux_1_2_x86_64",),
        identifiers=("cp38-musllinux_x86_64",),
        wheels=(KNOT_MUSL_WHEEL,),
    )
    assert job == ExtensionJob(
        target=TARGETS[X86],
        runner="ubuntu-latest",
        image="manylinux2014",
        manylinux="2_17",
        musllinux=None,
        macosx=None,
        platform_tags=("manylinux2014_x86_64", "manylinux_2_17_x86_64"),
        identifiers=("cp38-manylinux_x86_64",),
        wheels=(KNOT_WHEEL,),
    )
    assert plan.build_folders == (X86, X86_MUSL, SDIST)
    assert plan.sdist is not None
    assert plan.sdist.name == "castoff_knot-0.1.0.tar.gz"


def test_the_knot_plans_artifacts_are_the_wheel_sdist_sums_and_provenance(knot: Config) -> None:
    """Wheels first, then the sdist, then SHA256SUMS and the provenance: no archives."""
    plan = build_plan(knot)
    assert [(a.name, a.kind, a.target) for a in plan.artifacts] == [
        (KNOT_WHEEL, "wheel", X86),
        (KNOT_MUSL_WHEEL, "wheel", X86_MUSL),
        ("castoff_knot-0.1.0.tar.gz", "sdist", None),
        ("SHA256SUMS", "checksum", None),
        ("castoff_knot-0.1.0.intoto.json", "provenance", None),
    ]
    wheel = plan.artifacts[0]
    assert wheel.platform_tags == plan.extensions[0].platform_tags
    assert wheel.destinations == ("github", "pypi")
    assert not any(a.kind == "archive" for a in plan.artifacts)


def test_one_wheel_per_interpreter_with_their_own_abi(versions: Config) -> None:
    """Two CPython versions give two identifiers and two cpXY-cpXY wheels per target."""
    plan = build_plan(versions)
    job = job_of(plan, X86)
    assert job.identifiers == ("cp311-manylinux_x86_64", "cp312-manylinux_x86_64")
    assert job.wheels == (
        "py_knot-0.3.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "py_knot-0.3.0-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
    )
    for ext in plan.extensions:
        assert len(ext.identifiers) == len(ext.wheels) == 2
        for identifier, wheel in zip(ext.identifiers, ext.wheels, strict=True):
            tag = identifier.split("-")[0]
            assert f"-{tag}-{tag}-" in wheel


@pytest.mark.parametrize(
    ("triple", "identifier", "platform_tag", "runner", "image_name", "compat"),
    [
        (ARM64_MUSL, "cp311-musllinux_aarch64", "musllinux_1_2_aarch64", "ubuntu-24.04-arm",
         "musllinux_1_2", ("musllinux", "1_2")),
        (MAC_X86, "cp311-macosx_x86_64", "macosx_10_12_x86_64", "macos-15-intel", None,
         ("macosx", "10.12")),
        (MAC_ARM, "cp311-macosx_arm64", "macosx_11_0_arm64", "macos-14", None,
         ("macosx", "11.0")),
        (WIN, "cp311-win_amd64", "win_amd64", "windows-latest", None, (None, None)),
        (WIN32, "cp311-win32", "win32", "windows-latest", None, (None, None)),
    ],
)  # fmt: skip
def test_each_platform_has_its_identifier_tag_runner_and_image(
    versions: Config,
    triple: str,
    identifier: str,
    platform_tag: str,
    runner: str,
    image_name: str | None,
    compat: tuple[str | None, str | None],
) -> None:
    """musllinux, macOS and Windows jobs get cibuildwheel's names, tags and native runners."""
    job = job_of(build_plan(versions), triple)
    assert job.identifiers[0] == identifier
    assert job.platform_tags == (platform_tag,)
    assert job.wheels[0] == f"py_knot-0.3.0-cp311-cp311-{platform_tag}.whl"
    assert (job.runner, job.image) == (runner, image_name)
    family, value = compat
    spelled = {"manylinux": job.manylinux, "musllinux": job.musllinux, "macosx": job.macosx}
    assert {k for k, v in spelled.items() if v is not None} == ({family} if family else set())
    if family:
        assert spelled[family] == value


def test_the_artifacts_list_every_wheel_of_every_job(versions: Config) -> None:
    """Each job's wheels are artifacts of kind wheel, by its triple, with its tags, in order."""
    plan = build_plan(versions)
    wheels = [a for a in plan.artifacts if a.kind == "wheel"]
    assert [a.name for a in wheels] == [w for ext in plan.extensions for w in ext.wheels]
    for ext in plan.extensions:
        mine = [a for a in wheels if a.target == ext.triple]
        assert [a.name for a in mine] == list(ext.wheels)
        assert all(a.platform_tags == ext.platform_tags for a in mine)
    kinds = [a.kind for a in plan.artifacts]
    assert kinds == ["wheel"] * 12 + ["sdist", "checksum", "provenance"]
    assert [j.triple for j in plan.extensions] == ALL_PLATFORMS
    assert plan.build_folders == (*ALL_PLATFORMS, SDIST)


def test_a_target_with_pypi_false_keeps_its_wheels_off_pypi(pyproject: Path) -> None:
    """An extension target with pypi = false keeps its wheels off PyPI, naming the key."""
    plan = build_plan(configured(pyproject, {"triple": X86, "pypi": False}))
    wheel = plan.artifacts[0]
    assert wheel.destinations == ("github",)
    assert [e.reason for e in wheel.excluded] == ["tool.castoff.targets[0].pypi = false"]


def test_selecting_targets_keeps_the_full_plans_names(versions: Config) -> None:
    """A --target selection plans the chosen jobs exactly as the full plan does."""
    full = build_plan(versions)
    chosen = select_targets(versions, [MAC_ARM, WIN], source="--target")
    assert chosen == (MAC_ARM, WIN)
    part = build_plan(versions, only=chosen)
    assert part.extensions == (job_of(full, MAC_ARM), job_of(full, WIN))
    assert part.sdist is None
    full_wheels = {a.name: a for a in full.artifacts if a.kind == "wheel"}
    part_wheels = [a for a in part.artifacts if a.kind == "wheel"]
    assert [a.name for a in part_wheels] == [
        *job_of(full, MAC_ARM).wheels,
        *job_of(full, WIN).wheels,
    ]
    assert all(full_wheels[a.name] == a for a in part_wheels)
    assert [a.kind for a in part.artifacts][-2:] == ["checksum", "provenance"]
    assert part.build_folders == (MAC_ARM, WIN)


def test_selecting_the_sdist_alone_plans_no_extension_jobs(versions: Config) -> None:
    """--target sdist plans the sdist and no cibuildwheel builds."""
    plan = build_plan(versions, only=select_targets(versions, [SDIST], source="--target"))
    assert (plan.extensions, plan.jobs, plan.build_folders) == ((), (), (SDIST,))
    assert [a.kind for a in plan.artifacts] == ["sdist", "checksum", "provenance"]


def test_selecting_an_unplanned_triple_is_a_usage_error(knot: Config) -> None:
    """A triple the extension does not build is refused, listing the ones it does."""
    with pytest.raises(UsageError) as info:
        select_targets(knot, [ARM64], source="--target")
    assert info.value.message == f"--target: '{ARM64}' is not a target of {KNOT}."
    assert info.value.hint == f"Choose from: {X86}, {X86_MUSL}, {SDIST}."


def test_the_github_matrix_runs_cibuildwheel_per_target(versions: Config) -> None:
    """github_matrix has a cibuildwheel entry per target on its runner, then the sdist."""
    plan = build_plan(versions)
    assert plan.github_matrix() == {
        "include": [
            *(
                {"target": ext.triple, "method": "cibuildwheel", "runs-on": ext.runner}
                for ext in plan.extensions
            ),
            {"target": SDIST, "method": SDIST, "runs-on": "ubuntu-latest"},
        ]
    }
    assert [e["runs-on"] for e in plan.github_matrix()["include"]][:4] == [
        "ubuntu-latest",
        "ubuntu-24.04-arm",
        "macos-15-intel",
        "macos-14",
    ]


def test_the_knot_plan_round_trips_through_json(knot: Config) -> None:
    """to_json, from_json and to_json again give the same plan and the same bytes."""
    plan = build_plan(knot)
    text = plan.to_json()
    again = ReleasePlan.from_json(text)
    assert again == plan
    assert again.to_json() == text
    assert json.loads(text)["project"] == {
        "name": "castoff-knot",
        "version": "0.1.0",
        "kind": "extension",
        "binaries": [],
        "module": "knot",
    }


def test_a_many_target_plan_round_trips_through_json(versions: Config) -> None:
    """Every platform's job survives the JSON round trip unchanged."""
    plan = build_plan(versions)
    assert ReleasePlan.from_json(plan.to_json()) == plan


def test_extension_plans_validate_against_the_shipped_schema(
    knot: Config, versions: Config
) -> None:
    """The JSON of extension plans is valid under plan.schema.json."""
    for config in (knot, versions):
        jsonschema.validate(json.loads(build_plan(config).to_json()), plan_schema())


def test_the_schema_refuses_an_extension_without_identifiers(knot: Config) -> None:
    """The schema's extension entries require identifiers."""
    data = json.loads(build_plan(knot).to_json())
    del data["extensions"][0]["identifiers"]
    with pytest.raises(jsonschema.ValidationError, match="identifiers"):
        jsonschema.validate(data, plan_schema())


def _hello_job() -> dict[str, Any]:
    job: dict[str, Any] = build_plan(load(EXAMPLE / "pyproject.toml")).to_dict()["jobs"][0]
    return job


def _binary_kind(data: dict[str, Any]) -> None:
    data["project"]["kind"] = "binary"
    data["project"]["module"] = None


def _extension_with_jobs(data: dict[str, Any]) -> None:
    data["jobs"] = [_hello_job()]


def _extra_identifier(data: dict[str, Any]) -> None:
    data["extensions"][0]["identifiers"].append("cp312-manylinux_x86_64")


def _no_identifiers_or_wheels(data: dict[str, Any]) -> None:
    data["extensions"][0]["identifiers"] = []
    data["extensions"][0]["wheels"] = []


def _unlisted_wheel(data: dict[str, Any]) -> None:
    data["artifacts"] = [a for a in data["artifacts"] if a["kind"] != "wheel"]


def _renamed_wheel_artifact(data: dict[str, Any]) -> None:
    data["artifacts"][0]["name"] = KNOT_WHEEL.replace("cp38-abi3", "cp39-abi3")


def _wheel_of_another_target(data: dict[str, Any]) -> None:
    data["artifacts"][0]["target"] = ARM64


def _bad_module(data: dict[str, Any]) -> None:
    data["project"]["module"] = "knot-py"


def _no_module(data: dict[str, Any]) -> None:
    data["project"]["module"] = None


def _unknown_extension_key(data: dict[str, Any]) -> None:
    data["extensions"][0]["archive"] = "knot.tar.gz"


def _not_a_cibuildwheel_triple(data: dict[str, Any]) -> None:
    triple = "loongarch64-unknown-linux-gnu"
    data["extensions"][0]["target"] = triple
    data["extensions"][0]["facts"] = target_facts(TARGETS[triple])
    for artifact in data["artifacts"]:
        if artifact["kind"] == "wheel":
            artifact["target"] = triple


def _facts_of_another_triple(data: dict[str, Any]) -> None:
    data["extensions"][0]["target"] = ARM64


def _twice(data: dict[str, Any]) -> None:
    data["extensions"].append(copy.deepcopy(data["extensions"][0]))


def _unknown_kind(data: dict[str, Any]) -> None:
    data["project"]["kind"] = "library"


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (_binary_kind, "a binary project's plan has extensions"),
        (_extension_with_jobs, "extension project's plan has jobs"),
        (_extra_identifier, "should name one wheel per cibuildwheel identifier"),
        (_no_identifiers_or_wheels, "should name one wheel per cibuildwheel identifier"),
        (_unlisted_wheel, f"do not list the wheels of {X86} its job names"),
        (_renamed_wheel_artifact, f"do not list the wheels of {X86} its job names"),
        (_wheel_of_another_target, f"list wheels of {ARM64}, no job's"),
        (_bad_module, "is not a Python module path"),
        (_no_module, "module"),
        (_unknown_extension_key, "has keys castoff does not write: archive"),
        (_not_a_cibuildwheel_triple, "is not a target cibuildwheel builds"),
        (_facts_of_another_triple, "do not say of aarch64-unknown-linux-gnu"),
        (_twice, "name a target twice"),
        (_unknown_kind, "library"),
    ],
)
def test_tampered_extension_plans_are_refused(
    knot: Config, tamper: Callable[[dict[str, Any]], None], problem: str
) -> None:
    """from_json refuses extension plans whose parts disagree or that castoff did not write."""
    data = json.loads(build_plan(knot).to_json())
    tamper(data)
    with pytest.raises(PlanError) as info:
        ReleasePlan.from_json(json.dumps(data), source="plan.json")
    assert info.value.message.startswith("plan.json: malformed castoff plan (")
    assert problem in info.value.message


def test_a_module_on_a_binary_plan_is_refused() -> None:
    """A binary project's plan that names a module is refused."""
    data = build_plan(load(EXAMPLE / "pyproject.toml")).to_dict()
    data["project"]["module"] = "hello"
    with pytest.raises(PlanError, match="is for extension modules only"):
        ReleasePlan.from_json(json.dumps(data))


def test_a_binary_plan_round_trips_with_kind_binary_and_no_module() -> None:
    """The binary example's plan still says kind binary, no module, no extensions."""
    plan = build_plan(load(EXAMPLE / "pyproject.toml"))
    data = plan.to_dict()
    assert (data["project"]["kind"], data["project"]["module"], data["extensions"]) == (
        "binary",
        None,
        [],
    )
    assert ReleasePlan.from_json(plan.to_json()) == plan


# ---------------------------------------------------------------------------------------------
# cibuildwheel: where a job builds, and with what settings
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def knot_job(knot: Config) -> ExtensionJob:
    """Return examples/knot's x86_64 manylinux job."""
    job = build_plan(knot).extensions[0]
    assert job.triple == X86
    return job


def test_missing_cibuildwheel_is_named(knot_job: ExtensionJob) -> None:
    """Without cibuildwheel the engine lacks it, with castoff's install hint."""
    engine = engine_for(knot_job, dataclasses.replace(DOCKER, cibuildwheel=None))
    assert engine.missing == (Missing(what="cibuildwheel", install=INSTALL_CIBUILDWHEEL),)
    assert (engine.name, engine.image) == ("docker", "manylinux2014")


def test_with_docker_cibuildwheel_uses_its_own_image(knot_job: ExtensionJob) -> None:
    """Where Docker answers, cibuildwheel builds in the image its version pins; nothing lacks."""
    engine = engine_for(knot_job, DOCKER)
    assert engine == Engine(name="docker", image="manylinux2014", missing=())
    assert not engine.needs_image


def test_without_docker_podman_uses_the_local_image_by_id(knot_job: ExtensionJob) -> None:
    """No Docker on x86_64 Linux: podman with castoff's image, handed over by its sha256 ID."""
    engine = engine_for(knot_job, LOCAL)
    assert engine == Engine(name="podman", image=f"sha256:{IMAGE_ID}", missing=())
    assert not engine.needs_image


def test_a_musl_target_uses_the_musl_image_by_id(pyproject: Path) -> None:
    """x86_64 musl without Docker: podman with castoff's musl image, not the glibc one."""
    job = ext_job(pyproject, X86_MUSL)
    engine = engine_for(job, LOCAL)
    assert engine == Engine(name="podman", image=f"sha256:{MUSL_IMAGE_ID}", missing=())
    # Only the glibc image made: the musl one is still needed.
    only_gnu = dataclasses.replace(LOCAL, local_images={"gnu": IMAGE_ID})
    assert engine_for(job, only_gnu).needs_image
    assert not engine_for(ext_job(pyproject, X86), only_gnu).needs_image


def test_without_the_local_image_it_is_needed_but_not_missing(knot_job: ExtensionJob) -> None:
    """Before the image is made, the engine needs it, hands no image over, and misses nothing."""
    engine = engine_for(knot_job, dataclasses.replace(LOCAL, local_images={}))
    assert (engine.name, engine.image, engine.needs_image, engine.missing) == (
        "podman",
        None,
        True,
        (),
    )
    # A missing tool is reported on its own; the image is still needed once they are there.
    bare = engine_for(knot_job, dataclasses.replace(LOCAL, local_images={}, podman=None))
    assert bare.needs_image
    assert [m.packages for m in bare.missing] == [image.PACKAGES]


@pytest.mark.parametrize("absent", ["podman", "mmdebstrap"])
def test_without_podman_or_mmdebstrap_the_packages_are_missing(
    knot_job: ExtensionJob, absent: str
) -> None:
    """Without podman or mmdebstrap, a Missing whose packages are image.PACKAGES."""
    tools = (
        dataclasses.replace(LOCAL, podman=None)
        if absent == "podman"
        else dataclasses.replace(LOCAL, mmdebstrap=None)
    )
    engine = engine_for(knot_job, tools)
    (missing,) = engine.missing
    assert missing.packages == image.PACKAGES
    assert missing.install == "apt-get install podman runc uidmap slirp4netns mmdebstrap"
    assert (engine.name, engine.needs_image) == ("podman", False)


@pytest.mark.parametrize(
    ("triple", "machine"),
    [(ARM64, "x86_64"), (ARM64_MUSL, "x86_64"), (X86, "aarch64"), (X86_MUSL, "aarch64")],
)
def test_targets_the_local_image_cannot_build_need_docker(
    pyproject: Path, triple: str, machine: str
) -> None:
    """Other arches and other hosts without Docker: run where Docker runs."""
    job = ext_job(pyproject, triple)
    engine = engine_for(job, dataclasses.replace(LOCAL, machine=machine))
    assert (engine.name, engine.image, engine.needs_image) == ("podman", None, False)
    (missing,) = engine.missing
    assert "a Docker engine" in missing.what
    assert triple in missing.what
    assert missing.install == f"run this job where Docker runs ({job.runner})"
    assert engine_for(job, dataclasses.replace(DOCKER, machine=machine)).missing == ()


@pytest.mark.parametrize(("triple", "runner"), [(MAC_X86, "macos-15-intel"), (MAC_ARM, "macos-14")])
def test_a_macos_target_on_linux_needs_its_runner(
    pyproject: Path, triple: str, runner: str
) -> None:
    """On Linux, a macOS target (built natively) lacks a Mac and names its runner."""
    job = ext_job(pyproject, triple)
    engine = engine_for(job, LOCAL)
    assert (engine.name, engine.image) == ("native", None)
    (missing,) = engine.missing
    assert missing.what.startswith("a macos machine")
    assert missing.install == f"run this job on its GitHub runner ({runner})"
    native = engine_for(job, dataclasses.replace(LOCAL, system="macos", machine="arm64"))
    assert (native.name, native.missing) == ("native", ())


def test_a_windows_target_builds_natively_on_windows_only(pyproject: Path) -> None:
    """Windows wheels build natively on Windows; elsewhere the runner is named."""
    job = ext_job(pyproject, WIN)
    assert engine_for(job, dataclasses.replace(DOCKER, system="windows")).missing == ()
    (missing,) = engine_for(job, DOCKER).missing
    assert "windows-latest" in missing.install


def test_a_linux_target_on_macos_needs_a_linux_machine(knot_job: ExtensionJob) -> None:
    """Linux wheels cannot build on a macOS host, Docker or not."""
    engine = engine_for(knot_job, dataclasses.replace(DOCKER, system="macos"))
    assert engine.name == "docker"
    (missing,) = engine.missing
    assert missing == Missing(
        what="a Linux machine with Docker", install="run this job on ubuntu-latest"
    )


def test_per_version_builds_other_than_cp311_need_docker(pyproject: Path) -> None:
    """The local image has CPython 3.11 only: cp312 is missing there, and fine with Docker."""
    job = ext_job(pyproject, X86, python=["cp311", "cp312"])
    engine = engine_for(job, LOCAL)
    (missing,) = engine.missing
    assert "cp312-manylinux_x86_64" in missing.what
    assert "CPython 3.11 only" in missing.what
    assert missing.install == "run this job where Docker runs (ubuntu-latest)"
    assert engine_for(job, DOCKER).missing == ()
    assert engine_for(ext_job(pyproject, X86, python=["cp311"]), LOCAL).missing == ()


def test_build_identifiers_map_abi3_to_the_images_cpython(pyproject: Path) -> None:
    """The local image builds abi3 with cp311; Docker and per-version builds keep the plan's."""
    abi3 = ext_job(pyproject, X86)
    assert build_identifiers(abi3, engine_for(abi3, LOCAL)) == ("cp311-manylinux_x86_64",)
    assert build_identifiers(abi3, engine_for(abi3, DOCKER)) == ("cp38-manylinux_x86_64",)
    versions = ext_job(pyproject, X86, python=["cp311", "cp312"])
    assert build_identifiers(versions, engine_for(versions, LOCAL)) == versions.identifiers
    mac = ext_job(pyproject, MAC_ARM)
    assert build_identifiers(mac, engine_for(mac, LOCAL)) == ("cp38-macosx_arm64",)


def test_cibuildwheel_env_for_podman(knot_job: ExtensionJob) -> None:
    """podman: the local image by ID, uv as frontend, maturin with zig at manylinux2014."""
    engine = engine_for(knot_job, LOCAL)
    env = cibuildwheel_env(knot_job, engine, "knot", build_identifiers(knot_job, engine))
    assert env == {
        "CIBW_BUILD": "cp311-manylinux_x86_64",
        "CIBW_TEST_COMMAND": 'python -c "import knot"',
        "CIBW_TEST_SKIP": "",
        "CIBW_TEST_SOURCES": "",
        "CIBW_ENVIRONMENT_PASS_LINUX": "",
        "CIBW_BUILD_VERBOSITY": "1",
        "CIBW_ARCHS_LINUX": "x86_64",
        "CIBW_CONTAINER_ENGINE": "podman",
        "CIBW_MANYLINUX_X86_64_IMAGE": f"sha256:{IMAGE_ID}",
        "CIBW_BUILD_FRONTEND": "build[uv]",
        "CIBW_DEPENDENCY_VERSIONS": "latest",
        "CIBW_ENVIRONMENT_LINUX": 'MATURIN_PEP517_ARGS="--zig --compatibility manylinux2014"',
    }


def test_cibuildwheel_env_for_podman_at_a_newer_glibc(pyproject: Path) -> None:
    """A manylinux other than 2_17 is handed to maturin as manylinux_X_Y."""
    (job,) = build_plan(only_target(pyproject, triple=X86, manylinux="2_28")).extensions
    engine = engine_for(job, LOCAL)
    env = cibuildwheel_env(job, engine, "knot", build_identifiers(job, engine))
    assert env["CIBW_ENVIRONMENT_LINUX"] == (
        'MATURIN_PEP517_ARGS="--zig --compatibility manylinux_2_28"'
    )


def test_cibuildwheel_env_for_docker(knot_job: ExtensionJob) -> None:
    """Docker: cibuildwheel's image, rustup installed in the container, cargo on PATH."""
    engine = engine_for(knot_job, DOCKER)
    env = cibuildwheel_env(knot_job, engine, "knot_pkg._knot", knot_job.identifiers)
    assert env == {
        "CIBW_BUILD": "cp38-manylinux_x86_64",
        "CIBW_TEST_COMMAND": 'python -c "import knot_pkg._knot"',
        "CIBW_TEST_SKIP": "",
        "CIBW_TEST_SOURCES": "",
        "CIBW_ENVIRONMENT_PASS_LINUX": "",
        "CIBW_BUILD_VERBOSITY": "1",
        "CIBW_ARCHS_LINUX": "x86_64",
        "CIBW_CONTAINER_ENGINE": "docker",
        "CIBW_MANYLINUX_X86_64_IMAGE": "manylinux2014",
        "CIBW_BEFORE_ALL_LINUX": "curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal",
        "CIBW_ENVIRONMENT_LINUX": 'PATH="$HOME/.cargo/bin:$PATH"',
    }


def test_cibuildwheel_env_for_a_musl_target_with_docker(pyproject: Path) -> None:
    """A musl target names the musllinux image of its arch."""
    job = ext_job(pyproject, ARM64_MUSL, python=["cp311", "cp312"])
    env = cibuildwheel_env(job, engine_for(job, DOCKER), "knot", job.identifiers)
    assert env["CIBW_BUILD"] == "cp311-musllinux_aarch64 cp312-musllinux_aarch64"
    assert env["CIBW_ARCHS_LINUX"] == "aarch64"
    assert env["CIBW_MUSLLINUX_AARCH64_IMAGE"] == "musllinux_1_2"
    assert not any(k.startswith("CIBW_MANYLINUX") for k in env)


def test_cibuildwheel_env_for_native_builds(pyproject: Path) -> None:
    """Native builds have no container settings; macOS gets its deployment target."""
    mac = ext_job(pyproject, MAC_X86)
    mac_tools = dataclasses.replace(LOCAL, system="macos")
    env = cibuildwheel_env(mac, engine_for(mac, mac_tools), "knot", mac.identifiers)
    assert env == {
        "CIBW_BUILD": "cp38-macosx_x86_64",
        "CIBW_TEST_COMMAND": 'python -c "import knot"',
        "CIBW_TEST_SKIP": "",
        "CIBW_TEST_SOURCES": "",
        "CIBW_ENVIRONMENT_PASS_LINUX": "",
        "CIBW_BUILD_VERBOSITY": "1",
        "MACOSX_DEPLOYMENT_TARGET": "10.12",
    }
    win = ext_job(pyproject, WIN)
    win_tools = dataclasses.replace(LOCAL, system="windows")
    env = cibuildwheel_env(win, engine_for(win, win_tools), "knot", win.identifiers)
    assert env == {
        "CIBW_BUILD": "cp38-win_amd64",
        "CIBW_TEST_COMMAND": 'python -c "import knot"',
        "CIBW_TEST_SKIP": "",
        "CIBW_TEST_SOURCES": "",
        "CIBW_ENVIRONMENT_PASS_LINUX": "",
        "CIBW_BUILD_VERBOSITY": "1",
    }


# ---------------------------------------------------------------------------------------------
# castoff's local image
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("libc", image.LIBCS)
def test_the_recipe_key_is_stable(libc: str) -> None:
    """The same recipe hashes to the same 16 hex digits, and the tag carries them."""
    key = image.recipe_key(libc)
    assert key == image.recipe_key(libc)
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    name = {"gnu": "localhost/castoff-cibw", "musl": "localhost/castoff-cibw-musl"}[libc]
    assert image.image_tag(libc) == f"{name}:bookworm-{key}"
    assert image.recipe_key("gnu") != image.recipe_key("musl")


@pytest.mark.parametrize("libc", image.LIBCS)
@pytest.mark.parametrize(
    ("constant", "value"),
    [
        ("PIP_PINS", ("build==9.9.9", "maturin==9.9.9")),
        ("_PYTHON_DIR", "/opt/python/cp312-cp312"),
        ("DEBIAN_PACKAGES", ("bash",)),
        ("SOURCES", ("deb http://example.invalid/debian bookworm main",)),
    ],
)
def test_the_recipe_key_changes_with_the_recipe(
    monkeypatch: pytest.MonkeyPatch, libc: str, constant: str, value: object
) -> None:
    """Changing what the image is made from changes its key and its tag."""
    before = (image.recipe_key(libc), image.image_tag(libc))
    monkeypatch.setattr(image, constant, value)
    after = (image.recipe_key(libc), image.image_tag(libc))
    assert after[0] != before[0]
    assert after[1] != before[1]


def test_the_musl_recipe_changes_with_its_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another CPython tarball (by hash) or build script makes another musl image."""
    before, gnu = image.recipe_key("musl"), image.recipe_key("gnu")
    other = dataclasses.replace(image.DOWNLOADS[0], sha256="0" * 64)
    monkeypatch.setattr(image, "DOWNLOADS", (other, image.DOWNLOADS[1]))
    assert image.recipe_key("musl") != before
    monkeypatch.undo()
    monkeypatch.setattr(image, "BUILD_STD", image.BUILD_STD + "# changed\n")
    assert image.recipe_key("musl") != before
    # The glibc image does not build from them.
    assert image.recipe_key("gnu") == gnu


def test_the_containerfile_builds_on_the_base_and_pins_its_tools() -> None:
    """The Containerfile starts from the imported root filesystem and installs every pin."""
    text = image.containerfile()
    assert text.startswith(f"FROM {image.base_tag()}\n")
    assert re.fullmatch(r"localhost/castoff-cibw-base:bookworm-[0-9a-f]{16}", image.base_tag())
    assert "/opt/python/cp311-cp311/bin/pip install -q" in text
    assert all(pin in text for pin in image.PIP_PINS)
    assert f"COPY {image.CA_BUNDLE} " in text


def test_the_musl_containerfile_builds_cpython_and_std() -> None:
    """The musl layer builds CPython from the pinned tarballs and std for the musl target."""
    text = image.containerfile("musl")
    assert text.startswith(f"FROM {image.base_tag()}\n")
    assert all(d.name in text for d in image.DOWNLOADS)
    assert "/usr/local/bin/build-python.sh" in text
    assert "/usr/local/bin/build-std.sh" in text
    # The repair tools are pinned, apart from the CPython the wheel is built and tested by.
    assert all(
        pin in text for pin in image.PIP_PINS if not pin.startswith(("virtualenv", "maturin"))
    )
    assert "AUDITWHEEL_LD_LIBRARY_PATH=/usr/lib/x86_64-linux-musl" in text
    files = image.context_files("musl")
    assert image.MUSL_TRIPLE in files["build-std.sh"]
    assert "-Zbuild-std=std,panic_abort" in files["build-std.sh"]
    assert image.STD_VENDOR in files["std/config.toml"]
    assert "--prefix=/opt/python/cp311-cp311" in files["build-python.sh"]
    assert image.context_files("gnu") == {}


def test_fetch_checks_the_pinned_hash_and_size(tmp_path: Path) -> None:
    """A cached tarball serves only as pinned; a wrong one is refetched; a changed one fails."""
    data = b"tarball"
    pinned = image.Download(
        name="t.tar.gz",
        url=(tmp_path / "src").as_uri(),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    (tmp_path / "src").write_bytes(data)
    cache = tmp_path / "cache"
    assert image.fetch(pinned, cache) == data
    assert (cache / "t.tar.gz").read_bytes() == data
    (cache / "t.tar.gz").write_bytes(b"tampere")  # same size, another hash
    assert image.fetch(pinned, cache) == data
    # A link planted in the cache is replaced, never written through.
    outside = tmp_path / "outside"
    outside.write_bytes(b"keep")
    (cache / "t.tar.gz").unlink()
    (cache / "t.tar.gz").symlink_to(outside)
    assert image.fetch(pinned, cache) == data
    assert outside.read_bytes() == b"keep"
    assert not (cache / "t.tar.gz").is_symlink()
    (tmp_path / "src").write_bytes(b"changed upstream, and longer")
    (cache / "t.tar.gz").unlink()
    with pytest.raises(BuildError, match="castoff pins"):
        image.fetch(pinned, cache)
    assert not (cache / "t.tar.gz").exists()
    missing = dataclasses.replace(pinned, url=(tmp_path / "absent").as_uri())
    with pytest.raises(ToolMissingError, match="could not be fetched"):
        image.fetch(missing, cache)
    with pytest.raises(ToolMissingError, match="could not be fetched"):
        image.fetch(dataclasses.replace(pinned, url="not a url"), cache)


def test_podman_configure_writes_both_files_idempotently(tmp_path: Path) -> None:
    """Podman.configure writes containers.conf (runc) and storage.conf (inside the root) once."""
    podman = image.podman_for(tmp_path / "cache")
    assert podman.root == tmp_path / "cache" / "podman"
    podman.configure()
    containers = podman.root / "containers.conf"
    storage = podman.root / "storage.conf"
    assert containers.read_text() == image.CONTAINERS_CONF
    assert tomllib.loads(containers.read_text())["engine"]["runtime"] == "runc"
    settings = tomllib.loads(storage.read_text())["storage"]
    assert settings["graphroot"] == str(podman.root / "storage")
    assert settings["runroot"] == str(podman.root / "run")
    assert settings["driver"] == "overlay"
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (containers, storage)}
    podman.configure()
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (containers, storage)}
    assert after == before
    assert sorted(p.name for p in podman.root.iterdir()) == ["containers.conf", "storage.conf"]
    assert podman.env == {
        "CONTAINERS_CONF": str(containers),
        "CONTAINERS_STORAGE_CONF": str(storage),
    }


def test_podman_configure_repairs_a_changed_file(tmp_path: Path) -> None:
    """A configuration file edited since is written back."""
    podman = image.Podman(root=tmp_path / "podman")
    podman.configure()
    (podman.root / "containers.conf").write_text('[engine]\nruntime = "crun"\n')
    podman.configure()
    assert (podman.root / "containers.conf").read_text() == image.CONTAINERS_CONF


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (IMAGE_ID, IMAGE_ID),
        (f"{IMAGE_ID}\n", IMAGE_ID),
        (f"sha256:{IMAGE_ID}", IMAGE_ID),
        (f"  sha256:{IMAGE_ID}\n", IMAGE_ID),
        ("", None),
        ("Error: localhost/castoff-cibw: image not known", None),
        (IMAGE_ID[:-1], None),
        (IMAGE_ID + "0", None),
        (IMAGE_ID.upper(), None),
        (f"sha512:{IMAGE_ID}", None),
        (f"{IMAGE_ID}\n{IMAGE_ID}", None),
        (f"sha256:sha256:{IMAGE_ID}", None),
    ],
)
def test_parse_image_id(text: str, expected: str | None) -> None:
    """Only 64 lowercase hex digits, with or without sha256:, are an image ID."""
    assert image.parse_image_id(text) == expected


@pytest.mark.parametrize("libc", image.LIBCS)
def test_build_commands_make_the_image_in_order(tmp_path: Path, libc: str) -> None:
    """Mmdebstrap and podman import (only without the base), then podman build --tag."""
    podman = image.podman_for(tmp_path)
    work = tmp_path / "work"
    commands = image.build_commands(podman, work, libc, base=True)
    assert [c.argv[:2] for c in commands] == [
        ("mmdebstrap", "--variant=apt"),
        ("podman", "import"),
        ("podman", "build"),
    ]
    debootstrap, imported, built = commands
    rootfs = str(work / "rootfs.tar")
    assert debootstrap.argv == (
        "mmdebstrap",
        "--variant=apt",
        "--include=" + ",".join(image.DEBIAN_PACKAGES),
        "bookworm",
        rootfs,
        *image.SOURCES,
    )
    assert imported.argv == (
        "podman", "import", "--change", 'CMD ["/bin/bash"]', rootfs, image.base_tag(),
    )  # fmt: skip
    assert built.argv == (
        "podman",
        "build",
        "--quiet",
        "--tag",
        image.image_tag(libc),
        str(work / "context"),
    )
    for command in (imported, built):
        assert command.env == podman.env
        assert set(command.env) == {"CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF"}
    assert "CONTAINERS_CONF" not in debootstrap.env
    # The base is kept: the other image builds on it without a second mmdebstrap.
    assert image.build_commands(podman, work, libc, base=False) == (built,)


def test_inspect_and_setup_commands(tmp_path: Path) -> None:
    """inspect_id asks podman for the ID under castoff's config; setup runs this module."""
    podman = image.podman_for(tmp_path)
    shown = podman.inspect_id(image.image_tag())
    assert shown.argv == ("podman", "image", "inspect", "--format", "{{.Id}}", image.image_tag())
    assert shown.env == podman.env
    assert image.setup_command(tmp_path).argv == (
        sys.executable,
        "-m",
        "castoff.build.image",
        "--cache-dir",
        str(tmp_path),
        "--libc",
        "gnu",
    )
    assert image.setup_command(tmp_path, ("gnu", "musl")).argv[-4:] == (
        "--libc", "gnu", "--libc", "musl",
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# castoff setup and castoff doctor
# ---------------------------------------------------------------------------------------------


def test_setup_installs_podman_then_makes_the_image(knot: Config) -> None:
    """Lacking podman: apt-get installs image.PACKAGES, then the image step runs."""
    tools = dataclasses.replace(LOCAL, podman=None, local_images={})
    setup = plan_setup(build_plan(knot), EVERYTHING, UBUNTU, extension_tools=tools)
    assert [s.command.argv for s in setup.steps] == [
        (*APT, "update", "-q"),
        (*APT, "install", "-y", "-q", "--no-install-recommends", *sorted(image.PACKAGES)),
        (
            sys.executable, "-m", "castoff.build.image", "--cache-dir", "/cache/castoff",
            "--libc", "gnu", "--libc", "musl",
        ),
    ]  # fmt: skip
    assert setup.steps[-1].command.argv[4] == str(LOCAL.podman_root.parent)
    assert image.image_tag("gnu") in setup.steps[-1].what
    assert image.image_tag("musl") in setup.steps[-1].what
    assert setup.manual == ()


def test_setup_with_podman_but_no_image_only_makes_the_image(knot: Config) -> None:
    """With podman and mmdebstrap but no image yet, the image step alone."""
    tools = dataclasses.replace(LOCAL, local_images={})
    setup = plan_setup(build_plan(knot), EVERYTHING, UBUNTU, extension_tools=tools)
    assert [s.command.argv[1:3] for s in setup.steps] == [("-m", "castoff.build.image")]


@pytest.mark.parametrize("tools", [LOCAL, DOCKER, None])
def test_setup_with_everything_present_has_no_steps(
    knot: Config, tools: ExtensionTools | None
) -> None:
    """The local image built, or Docker, or no extension tools given: nothing to do."""
    setup = plan_setup(build_plan(knot), EVERYTHING, UBUNTU, extension_tools=tools)
    assert (setup.steps, setup.manual) == ((), ())


def test_setup_makes_the_image_once_for_several_targets(pyproject: Path) -> None:
    """Targets needing the images: one apt-get install and one image step for both libcs."""
    plan = build_plan(
        configured(pyproject, {"triple": X86}, {"triple": ARM64}, {"triple": X86_MUSL})
    )
    tools = dataclasses.replace(LOCAL, docker=False, mmdebstrap=None, local_images={})
    setup = plan_setup(plan, EVERYTHING, UBUNTU, extension_tools=tools)
    argvs = [s.command.argv for s in setup.steps]
    assert len(argvs) == 3
    assert argvs[1][-len(image.PACKAGES) :] == tuple(sorted(image.PACKAGES))
    assert argvs[2][1:3] == ("-m", "castoff.build.image")
    assert argvs[2][-4:] == ("--libc", "gnu", "--libc", "musl")
    # aarch64 cannot build in the local images: it needs a machine with Docker.
    expected = (
        "a Docker engine (castoff's local images build x86_64 manylinux and musllinux wheels on "
        f"a machine of that CPU only, not {ARM64} on this x86_64 one)"
    )
    assert {m.what for m in setup.manual} == {expected}


def test_setup_installs_musl_for_the_rehearsal_of_a_musl_target(knot: Config) -> None:
    """Without musl's loader, setup installs musl: the rehearsal imports with musl's CPython."""
    tools = dataclasses.replace(LOCAL, musl_loader=False)
    setup = plan_setup(build_plan(knot), EVERYTHING, UBUNTU, extension_tools=tools)
    assert [s.command.argv for s in setup.steps][1] == (
        *APT, "install", "-y", "-q", "--no-install-recommends", "musl",
    )  # fmt: skip
    # With Docker the musl wheel comes from cibuildwheel's image: no musl CPython to run.
    docker = dataclasses.replace(DOCKER, musl_loader=False)
    assert plan_setup(build_plan(knot), EVERYTHING, UBUNTU, extension_tools=docker).steps == ()


def test_setup_without_apt_get_leaves_podman_to_the_user(knot: Config) -> None:
    """Where apt-get is absent, podman and mmdebstrap are manual; cibuildwheel is too."""
    tools = dataclasses.replace(LOCAL, podman=None, cibuildwheel=None)
    setup = plan_setup(build_plan(knot), EVERYTHING, FEDORA, extension_tools=tools)
    assert [m.what for m in setup.manual] == [
        "cibuildwheel",
        "podman and mmdebstrap (castoff's local build image)",
    ]
    assert setup.steps == ()


def test_doctor_shows_the_local_image_build(knot: Config) -> None:
    """A buildable podman row names the identifiers it builds and the local image."""
    plan = build_plan(knot)
    result = diagnose(plan, EVERYTHING, {"PATH": ""}, UBUNTU, extension_tools=LOCAL)
    assert [t.target for t in result.targets] == [X86, X86_MUSL, SDIST]
    row, musl = result.targets[:2]
    assert (musl.buildable, musl.method) == (True, "cibuildwheel cp311-musllinux_x86_64")
    assert image.image_tag("musl") in musl.why
    assert (row.buildable, row.method, row.std, row.missing) == (
        True,
        "cibuildwheel cp311-manylinux_x86_64",
        "podman",
        (),
    )
    assert KNOT_WHEEL in row.why
    assert image.image_tag() in row.why
    assert "not made yet" not in row.why
    assert row.smoke == "cibuildwheel's test-command"
    assert result.setup == ()


def test_doctor_without_the_image_says_it_is_not_made_and_plans_it(knot: Config) -> None:
    """Without the image the row is buildable (the first build makes it) and setup makes it."""
    tools = dataclasses.replace(LOCAL, local_images={})
    result = diagnose(build_plan(knot), EVERYTHING, {"PATH": ""}, UBUNTU, extension_tools=tools)
    row = result.targets[0]
    assert (row.buildable, row.missing, row.std) == (True, (), "podman")
    assert "not made yet" in row.why
    assert len(result.setup) == 1
    assert "castoff.build.image --cache-dir /cache/castoff" in result.setup[0]


def test_doctor_with_docker_names_cibuildwheels_image(knot: Config) -> None:
    """A Docker row builds the plan's identifiers in cibuildwheel's image."""
    result = diagnose(build_plan(knot), EVERYTHING, {"PATH": ""}, UBUNTU, extension_tools=DOCKER)
    row = result.targets[0]
    assert (row.buildable, row.method, row.std) == (
        True,
        "cibuildwheel cp38-manylinux_x86_64",
        "docker",
    )
    assert "manylinux2014" in row.why


def test_doctor_rows_for_targets_built_elsewhere(versions: Config) -> None:
    """On Linux, macOS and Windows rows are native and lack their runners."""
    result = diagnose(
        build_plan(versions), EVERYTHING, {"PATH": ""}, UBUNTU, extension_tools=DOCKER
    )
    rows = {t.target: t for t in result.targets}
    assert set(rows) == {*ALL_PLATFORMS, SDIST}
    assert rows[X86].buildable
    assert rows[ARM64_MUSL].buildable
    for triple in (MAC_X86, MAC_ARM, WIN, WIN32):
        assert not rows[triple].buildable
        assert rows[triple].std == "native"
        (missing,) = rows[triple].missing
        assert job_of(build_plan(versions), triple).runner in missing.install


def test_doctor_without_extension_tools_lists_the_sdist_only(knot: Config) -> None:
    """Without extension tools the extension's targets get no rows."""
    result = diagnose(build_plan(knot), EVERYTHING, {"PATH": ""}, UBUNTU)
    assert [t.target for t in result.targets] == [SDIST]


def test_doctor_without_podman_is_not_buildable_and_installs_it(knot: Config) -> None:
    """Without podman the row is not buildable, and setup installs the packages then the image."""
    tools = dataclasses.replace(LOCAL, podman=None, local_images={})
    result = diagnose(build_plan(knot), EVERYTHING, {"PATH": ""}, UBUNTU, extension_tools=tools)
    row = result.targets[0]
    assert not row.buildable
    assert [m.packages for m in row.missing] == [image.PACKAGES]
    assert result.status == "missing"
    assert len(result.setup) == 3
    assert "install -y -q --no-install-recommends mmdebstrap podman runc" in result.setup[1]
    assert result.setup[2].endswith(
        "-m castoff.build.image --cache-dir /cache/castoff --libc gnu --libc musl"
    )


def test_the_installed_cibuildwheel_pins_each_image_by_digest() -> None:
    """Docker builds record the reference cibuildwheel's version pins, read from its resources."""
    from castoff.build.cibuildwheel import pinned_image  # noqa: PLC0415

    for name, arch in (("manylinux2014", "x86_64"), ("musllinux_1_2", "aarch64")):
        assert cibw.pinned_image_re(name, arch).fullmatch(pinned_image(name, arch))


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ({"test-skip": "*"}, "tool.cibuildwheel.test-skip"),
        ({"linux": {"test-sources": ["tests"]}}, "tool.cibuildwheel.linux.test-sources"),
        ({"overrides": [{"select": "*", "environment-pass": ["TOKEN"]}]},
         "tool.cibuildwheel.overrides[0].environment-pass"),
        ({"test-command": "true"}, "tool.cibuildwheel.test-command"),
    ],
)  # fmt: skip
def test_cibuildwheel_settings_castoff_owns_are_refused(
    pyproject: Path, table: dict[str, Any], where: str
) -> None:
    """A project's [tool.cibuildwheel] cannot skip castoff's import test or pass variables in."""
    doc = document({"triple": X86})
    doc["tool"]["cibuildwheel"] = table
    with pytest.raises(ConfigError, match=re.escape(where)):
        resolve(doc, pyproject=pyproject)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("image", "ghcr.io/evil/img:latest", "should be manylinux2014"),
        ("image", None, "should be manylinux2014"),
        ("identifiers", ["*"], "is not the wheel of *"),
        ("identifiers", ["cp38-musllinux_x86_64"], "is not the wheel of cp38-musllinux_x86_64"),
        ("macosx", "$(id)", "should be a macOS version"),
        ("platform_tags", ["any"], "the target's tags"),
        ("wheels", ["castoff_knot-0.1.0-py3-none-any.whl"], "is not the wheel of cp38"),
        ("manylinux", "2_28", "the target's tags"),
    ],
)
def test_an_extension_job_must_be_what_castoff_derives(
    knot: Config, field: str, value: object, problem: str
) -> None:
    """Every field of an extension job is checked against what its target and tags make."""
    data = json.loads(build_plan(knot).to_json())
    data["extensions"][0][field] = value
    with pytest.raises(PlanError) as info:
        ReleasePlan.from_json(json.dumps(data), source="plan.json")
    assert problem in info.value.message


@pytest.mark.parametrize("module", ["sitecustomize", "usercustomize.x", "k" * 201])
def test_a_plan_module_cpython_runs_at_start_up_or_too_long_is_refused(
    knot: Config, module: str
) -> None:
    """The plan reader refuses what the config refuses: start-up modules, overlong names."""
    data = json.loads(build_plan(knot).to_json())
    data["project"]["module"] = module
    with pytest.raises(PlanError, match=r"start-up|not a Python module path"):
        ReleasePlan.from_json(json.dumps(data), source="plan.json")


def test_the_extension_builder_is_reached_through_its_registry(knot_job: ExtensionJob) -> None:
    """The config's method names cibuildwheel's builder; it answers as engine_for does."""
    from castoff.build import extension  # noqa: PLC0415

    builder = extension.get(EXTENSION_METHOD)
    assert builder.name == "cibuildwheel"
    assert list(extension.BUILDERS) == [EXTENSION_METHOD]
    assert builder.engine(knot_job, LOCAL) == engine_for(knot_job, LOCAL)
    assert builder.identifiers(knot_job, builder.engine(knot_job, LOCAL)) == (
        "cp311-manylinux_x86_64",
    )
