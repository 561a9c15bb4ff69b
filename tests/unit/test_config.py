from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from castoff.config import Config, load, resolve
from castoff.errors import ConfigError

CARGO_TOML = """\
[package]
name = "hello"
version = "1.2.0"

[[bin]]
name = "hello"
path = "src/main.rs"
"""

BASE: dict[str, Any] = {
    "project": {"name": "hello-py", "dynamic": ["version"]},
    "tool": {
        "castoff": {
            "targets": [
                {"triple": "x86_64-unknown-linux-gnu"},
                {"triple": "aarch64-unknown-linux-musl"},
                {"triple": "s390x-unknown-linux-musl"},
                {"triple": "loongarch64-unknown-linux-musl"},
            ],
            "aliases": {"s390x-unknown-linux-gnu": "s390x-unknown-linux-musl"},
            "tag-policy": {"static-musl-manylinux": True},
            "sign": {
                "backends": ["minisign"],
                "minisign": {"secret-key-env": "MINISIGN_KEY", "public-key": "keys/minisign.pub"},
            },
        }
    },
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Return a pyproject.toml path whose folder holds the Cargo.toml defaults come from."""
    (tmp_path / "Cargo.toml").write_text(CARGO_TOML)
    return tmp_path / "pyproject.toml"


def _castoff_table(document: dict[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = document["tool"]["castoff"]
    return table


def _resolve_with(project: Path, mutate: Callable[[dict[str, Any]], None]) -> Config:
    document = copy.deepcopy(BASE)
    mutate(document)
    return resolve(document, pyproject=project)


def _unchanged(document: dict[str, Any]) -> None:
    """Leave the base document as it is."""


def test_the_base_config_resolves_with_defaults_from_cargo(project: Path) -> None:
    """Name comes from [project]; version, binaries and archive name from Cargo.toml."""
    config = _resolve_with(project, _unchanged)
    assert config.name == "hello-py"
    assert config.version == "1.2.0"
    assert config.binaries == ("hello",)
    assert config.archive_name == "hello"
    assert [t.triple for t in config.targets][:2] == [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-musl",
    ]
    gnu, musl = config.targets[0], config.targets[1]
    assert (gnu.manylinux, gnu.musllinux, gnu.method, gnu.runner) == (
        (2, 17),
        None,
        "auto",
        "ubuntu-latest",
    )
    assert (musl.manylinux, musl.musllinux) == (None, (1, 2))
    assert config.aliases[0].to == "s390x-unknown-linux-gnu"
    assert config.publish.pypi.max_file_size == 100 * 1024 * 1024
    assert config.sign.settings["minisign"] is not None
    assert config.sign.settings["minisign"].public_key == project.parent / "keys/minisign.pub"


def test_config_is_frozen(project: Path) -> None:
    """Resolved config cannot be changed after resolution."""
    config = _resolve_with(project, _unchanged)
    with pytest.raises(AttributeError):
        config.name = "other"  # type: ignore[misc]


def test_project_version_wins_over_cargo_and_is_normalized(project: Path) -> None:
    """[project] version, when static, is used and normalized as PEP 440 spells it."""
    config = _resolve_with(project, lambda d: d["project"].update(version="1.0.0-RC1"))
    assert config.version == "1.0.0rc1"


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Return a mutation that sets a dotted path in [tool.castoff] (numbers index arrays)."""

    def mutate(document: dict[str, Any]) -> None:
        node: Any = _castoff_table(document)
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _sigstore(table: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    """Return a mutation that signs with sigstore only, configured by this table."""

    def mutate(document: dict[str, Any]) -> None:
        _castoff_table(document)["sign"] = {"backends": ["sigstore"], "sigstore": table}

    return mutate


def _drop_castoff(document: dict[str, Any]) -> None:
    del document["tool"]["castoff"]


def _two_of_a_triple(document: dict[str, Any]) -> None:
    _castoff_table(document)["targets"].append({"triple": "x86_64-unknown-linux-gnu"})


def _no_project_name(document: dict[str, Any]) -> None:
    del document["project"]["name"]


DIGEST = "sha256:" + "a" * 64

BAD_CONFIGS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (id, mutation, key path in the message, another fragment the message must have)
    ("no table", _drop_castoff, "has no [tool.castoff] table", "docs/config.md"),
    ("unknown key", _set("tagets", []), "tool.castoff.tagets", "Did you mean 'targets'?"),
    (
        "triple typo",
        _set("targets.1.triple", "aarch64-linux-musl"),
        "tool.castoff.targets[1].triple",
        (
            "'aarch64-linux-musl' is not a Rust target triple castoff knows; did you mean "
            "'aarch64-unknown-linux-musl'?"
        ),
    ),
    (
        "unknown triple",
        _set("targets.0.triple", "sparc-sun-solaris"),
        "tool.castoff.targets[0].triple",
        "known triples:",
    ),
    (
        "triple twice",
        _two_of_a_triple,
        "tool.castoff.targets[4].triple",
        "already declared at tool.castoff.targets[0]",
    ),
    ("no targets", _set("targets", []), "tool.castoff.targets", "no targets are declared"),
    (
        "targets not an array",
        _set("targets", "x86_64-unknown-linux-gnu"),
        "tool.castoff.targets",
        "expected an array of tables",
    ),
    (
        "bad method",
        _set("targets.0.method", "zigbuild"),
        "tool.castoff.targets[0].method",
        "Did you mean 'zig'?",
    ),
    (
        "docker without image",
        _set("targets.0.method", "docker"),
        "tool.castoff.targets[0].image",
        "is required with method = 'docker'",
    ),
    (
        "docker image by tag",
        lambda d: _castoff_table(d)["targets"][0].update(
            method="docker", image="ghcr.io/rust-cross/manylinux2014-cross:x86_64"
        ),
        "tool.castoff.targets[0].image",
        "not pinned by digest",
    ),
    (
        "image without docker",
        _set("targets.0.image", f"ghcr.io/x/y@{DIGEST}"),
        "tool.castoff.targets[0].image",
        "only used with method = 'docker'",
    ),
    (
        "manylinux below floor",
        lambda d: _castoff_table(d)["targets"].append(
            {"triple": "riscv64gc-unknown-linux-gnu", "manylinux": "2_17"}
        ),
        "tool.castoff.targets[4].manylinux",
        "below the glibc floor of riscv64 (2_31)",
    ),
    (
        "manylinux on musl",
        _set("targets.1.manylinux", "2_17"),
        "tool.castoff.targets[1].manylinux",
        "builds musllinux wheels",
    ),
    (
        "musllinux not a version",
        _set("targets.1.musllinux", "latest"),
        "tool.castoff.targets[1].musllinux",
        "not a version like '1_2'",
    ),
    (
        "extra tag for another arch",
        _set("targets.1.extra-tags", ["manylinux_2_17_x86_64"]),
        "tool.castoff.targets[1].extra-tags[0]",
        "names architecture 'x86_64', but aarch64-unknown-linux-musl wheels are 'aarch64'",
    ),
    (
        "extra tag below floor",
        _set("targets.3.extra-tags", ["manylinux_2_17_loongarch64"]),
        "tool.castoff.targets[3].extra-tags[0]",
        "below the loongarch64 floor of 2.36",
    ),
    (
        "archive kind",
        _set("targets.0.archive", "tar.xz"),
        "tool.castoff.targets[0].archive",
        "not one of tar.gz, zip",
    ),
    (
        "pypi not a bool",
        _set("targets.0.pypi", "yes"),
        "tool.castoff.targets[0].pypi",
        "expected true or false, got string 'yes'",
    ),
    (
        "alias to a built target",
        _set("aliases.x86_64-unknown-linux-gnu", "aarch64-unknown-linux-musl"),
        "tool.castoff.aliases.x86_64-unknown-linux-gnu",
        "is built by a target of its own",
    ),
    (
        "alias from an unbuilt target",
        _set("aliases.i686-unknown-linux-gnu", "i686-unknown-linux-musl"),
        "tool.castoff.aliases.i686-unknown-linux-gnu",
        "'i686-unknown-linux-musl' is not among tool.castoff.targets",
    ),
    (
        "alias from a dynamic build",
        _set("aliases.x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"),
        "tool.castoff.aliases.x86_64-unknown-linux-musl",
        "builds dynamically linked binaries",
    ),
    (
        "alias across arches",
        _set("aliases.aarch64-unknown-linux-gnu", "s390x-unknown-linux-musl"),
        "tool.castoff.aliases.aarch64-unknown-linux-gnu",
        "'s390x-unknown-linux-musl' is s390x and 'aarch64-unknown-linux-gnu' is aarch64",
    ),
    (
        "unknown sign backend",
        _set("sign.backends", ["cosign"]),
        "tool.castoff.sign.backends[0]",
        "'cosign' is not one of gpg, minisign, ssh, sigstore",
    ),
    (
        "secret inline",
        _set("sign.minisign.password", "hunter2"),
        "tool.castoff.sign.minisign.password",
        "'password-env'",
    ),
    (
        "backend table without backend",
        _set("sign.gpg", {"key-id": "ABC"}),
        "tool.castoff.sign.gpg",
        "is configured, but 'gpg' is not in backends",
    ),
    (
        "missing public key",
        _set("sign.minisign.public-key", None),
        "tool.castoff.sign.minisign.public-key",
        "is missing",
    ),
    (
        "sigstore without a signer",
        _sigstore({}),
        "tool.castoff.sign.sigstore",
        "needs exactly one of repository",
    ),
    (
        "sigstore with two signers",
        _sigstore({"repository": "o/r", "identity": "me@example.com"}),
        "tool.castoff.sign.sigstore",
        "needs exactly one of repository",
    ),
    (
        "sigstore repository",
        _sigstore({"repository": "https://github.com/o/r"}),
        "tool.castoff.sign.sigstore.repository",
        "is not a GitHub repository",
    ),
    (
        "max file size",
        _set("publish.pypi.max-file-size", 0),
        "tool.castoff.publish.pypi.max-file-size",
        "not a positive number",
    ),
    (
        "github repository",
        _set("publish.github.repository", "hello"),
        "tool.castoff.publish.github.repository",
        "is not OWNER/NAME",
    ),
    (
        "retired without reason",
        _set("contract.retired", {"hello-x.tar.gz": ""}),
        "tool.castoff.contract.retired.hello-x.tar.gz",
        "expected the reason",
    ),
    ("bad version", _set("version", "one"), "tool.castoff.version", "not a PEP 440 version"),
    ("local version", _set("version", "1.0+dirty"), "tool.castoff.version", "local part"),
    ("no name", _no_project_name, "tool.castoff.name", "[project] has no name"),
]


@pytest.mark.parametrize(
    ("mutate", "key_path", "fragment"),
    [c[1:] for c in BAD_CONFIGS],
    ids=[c[0] for c in BAD_CONFIGS],
)
def test_bad_config_is_refused_naming_the_key(
    project: Path, mutate: Callable[[dict[str, Any]], None], key_path: str, fragment: str
) -> None:
    """Each invalid input is a ConfigError whose message names the file, key path and fix."""
    with pytest.raises(ConfigError) as caught:
        _resolve_with(project, mutate)
    text = caught.value.paragraph()
    assert str(project) in text
    assert key_path in text
    assert fragment in text
    assert caught.value.exit_code == 3


def test_missing_cargo_toml_names_the_key_that_needed_it(tmp_path: Path) -> None:
    """A default that needs Cargo.toml says which key to set when Cargo.toml is absent."""
    with pytest.raises(
        ConfigError, match=r"tool\.castoff\.version: is not set, and its default comes from"
    ):
        resolve(copy.deepcopy(BASE), pyproject=tmp_path / "pyproject.toml")


def test_load_reports_a_missing_file(tmp_path: Path) -> None:
    """Loading a pyproject.toml that does not exist says how to point at the right one."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "pyproject.toml")
    assert "pyproject.toml: no such file. Pass --config PATH" in caught.value.paragraph()


def test_load_reports_invalid_toml(tmp_path: Path) -> None:
    """A pyproject.toml that is not TOML is refused naming the file."""
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.castoff\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path)


def test_the_example_config_loads(example_pyproject: Path) -> None:
    """The embedded example's config is valid."""
    config = load(example_pyproject)
    assert config.name == "castoff-hello"
    assert len(config.targets) == 18
    assert config.tag_policy.static_musl_manylinux


def _ppc64le_gnu(**keys: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        entry = {"triple": "powerpc64le-unknown-linux-gnu", **keys}
        _castoff_table(document)["targets"].append(entry)

    return mutate


def test_a_cross_gcc_build_runs_where_the_cross_glibc_is_oldest(project: Path) -> None:
    """ppc64le glibc (cross-gcc) builds on ubuntu-22.04, links glibc 2.35, and is tagged so."""
    config = _resolve_with(project, _ppc64le_gnu())
    target = config.target("powerpc64le-unknown-linux-gnu")
    assert target is not None
    assert (target.runner, target.linked_glibc, target.manylinux) == (
        "ubuntu-22.04",
        (2, 35),
        (2, 35),
    )
    zig_built = config.target("x86_64-unknown-linux-gnu")
    assert zig_built is not None
    assert (zig_built.runner, zig_built.linked_glibc) == ("ubuntu-latest", None)


def test_a_newer_runner_shows_the_glibc_it_links(project: Path) -> None:
    """On ubuntu-24.04 the plan records glibc 2.39, the most the binary may need."""
    config = _resolve_with(project, _ppc64le_gnu(runner="ubuntu-24.04", manylinux="2_39"))
    target = config.target("powerpc64le-unknown-linux-gnu")
    assert target is not None
    assert (target.linked_glibc, target.manylinux) == ((2, 39), (2, 39))


@pytest.mark.parametrize("runner", ["ubuntu-22.04", "ubuntu-latest"])
def test_a_tag_below_libc_start_main_on_a_hosted_runner_is_refused(
    project: Path, runner: str
) -> None:
    """A manylinux 2_17 tag cannot hold when the runner's cross glibc is 2.34 or later."""
    with pytest.raises(ConfigError) as caught:
        _resolve_with(project, _ppc64le_gnu(runner=runner, manylinux="2_17"))
    text = caught.value.paragraph()
    assert "targets[4].manylinux" in text
    assert f"runner '{runner}'" in text
    assert "__libc_start_main" in text
    assert "docker" in text


@pytest.mark.parametrize(
    ("runner", "linked", "default"),
    [
        ("ubuntu-24.04", (2, 39), (2, 39)),
        ("ubuntu-latest", None, (2, 39)),  # a moving label: at least 2.39, never known exactly
        ("self-hosted-power", None, (2, 34)),  # unknown: the least a glibc of today links
    ],
)
def test_the_default_tag_is_what_the_runners_glibc_keeps(
    project: Path, runner: str, linked: tuple[int, int] | None, default: tuple[int, int]
) -> None:
    """Unset, manylinux is the runner's cross glibc: linked against it, nothing needs more."""
    config = _resolve_with(project, _ppc64le_gnu(runner=runner))
    target = config.target("powerpc64le-unknown-linux-gnu")
    assert target is not None
    assert (target.linked_glibc, target.manylinux) == (linked, default)


def test_a_docker_build_brings_its_own_glibc(project: Path) -> None:
    """A docker build links in its image: the OS's runner, and the arch's floor."""
    image = "ghcr.io/rust-cross/manylinux2014-cross@sha256:" + "0" * 64
    config = _resolve_with(project, _ppc64le_gnu(method="docker", image=image))
    target = config.target("powerpc64le-unknown-linux-gnu")
    assert target is not None
    assert (target.runner, target.linked_glibc, target.manylinux) == (
        "ubuntu-latest",
        None,
        (2, 17),
    )


def test_an_extra_tag_below_the_built_manylinux_is_refused(project: Path) -> None:
    """A manylinux2014 tag beside a 2_34 build would promise glibc 2.17 the binary never kept."""
    mutate = _ppc64le_gnu(manylinux="2_34", **{"extra-tags": ["manylinux2014_ppc64le"]})
    with pytest.raises(ConfigError) as caught:
        _resolve_with(project, mutate)
    text = caught.value.paragraph()
    assert "targets[4].extra-tags[0]" in text
    assert "below the manylinux 2_34" in text
    config = _resolve_with(
        project, _ppc64le_gnu(manylinux="2_34", **{"extra-tags": ["manylinux_2_35_ppc64le"]})
    )
    target = config.target("powerpc64le-unknown-linux-gnu")
    assert target is not None
    assert target.extra_tags == ("manylinux_2_35_ppc64le",)


def test_an_unknown_runners_glibc_is_left_to_the_audit(project: Path) -> None:
    """A self-hosted runner's glibc is unknown: 2_17 is kept, and the audit judges the binary."""
    config = _resolve_with(project, _ppc64le_gnu(runner="self-hosted-power", manylinux="2_17"))
    target = config.target("powerpc64le-unknown-linux-gnu")
    assert target is not None
    assert (target.linked_glibc, target.manylinux) == (None, (2, 17))


def test_aarch64_windows_builds_on_windows_on_arm(project: Path) -> None:
    """Its binary runs only there (x64 Windows cross-builds it); i686 stays on x64 Windows."""

    def add(document: dict[str, Any]) -> None:
        _castoff_table(document)["targets"] += [
            {"triple": "aarch64-pc-windows-msvc"},
            {"triple": "i686-pc-windows-msvc"},
            {"triple": "x86_64-apple-darwin", "method": "native"},
        ]

    config = _resolve_with(project, add)
    runners = {t.triple: t.runner for t in config.targets}
    assert runners["aarch64-pc-windows-msvc"] == "windows-11-arm"
    assert runners["i686-pc-windows-msvc"] == "windows-latest"
    assert runners["x86_64-apple-darwin"] == "macos-latest"


@pytest.mark.parametrize(
    ("entry", "method", "runner"),
    [
        # No runner set: zig cross-builds macOS and mingw on Linux.
        ({"triple": "aarch64-apple-darwin", "no-smoke-run": "why"}, "zig", "ubuntu-latest"),
        ({"triple": "x86_64-pc-windows-gnu"}, "zig", "ubuntu-latest"),
        # A Mac runner (its label in any case): built there, natively.
        ({"triple": "aarch64-apple-darwin", "runner": "macos-14"}, "native", "macos-14"),
        ({"triple": "aarch64-apple-darwin", "runner": "macOS-latest"}, "native", "macOS-latest"),
        ({"triple": "x86_64-apple-darwin", "method": "native"}, "native", "macos-latest"),
        # mingw on a Windows runner still links with zig (MSVC hosts have no mingw std).
        ({"triple": "x86_64-pc-windows-gnu", "runner": "windows-2022"}, "zig", "windows-2022"),
        # MSVC's CRT and SDK are Microsoft's download: only a Windows runner builds it.
        ({"triple": "x86_64-pc-windows-msvc"}, "native", "windows-latest"),
        # A method that cannot build macOS (a cross gcc) falls back to the one auto picks.
        (
            {"triple": "x86_64-apple-darwin", "method": "cross-gcc", "no-smoke-run": "why"},
            "zig",
            "ubuntu-latest",
        ),
    ],
)
def test_macos_and_windows_cross_build_unless_a_runner_of_their_os_is_set(
    project: Path, entry: dict[str, str], method: str, runner: str
) -> None:
    """The plan says which: zig on a Linux runner, or native on the target's own."""
    from castoff.build import methods  # noqa: PLC0415

    def add(document: dict[str, Any]) -> None:
        _castoff_table(document)["targets"] += [entry]

    config = _resolve_with(project, add)
    target = config.target(entry["triple"])
    assert target is not None
    assert target.runner == runner
    resolved = methods.resolved(target.method, target.target, target.runner)
    assert resolved is not None
    assert resolved.name == method


def test_a_macos_11_or_later_tag_has_no_minor_version(project: Path) -> None:
    """Maturin tags macOS 12.3 as macosx_12_0 and PyPI takes no other: 12.3 is refused."""

    def mac(version: str) -> Callable[[dict[str, Any]], None]:
        def mutate(document: dict[str, Any]) -> None:
            entry = {"triple": "aarch64-apple-darwin", "macosx": version, "runner": "macos-14"}
            _castoff_table(document)["targets"].append(entry)

        return mutate

    with pytest.raises(ConfigError) as caught:
        _resolve_with(project, mac("12.3"))
    assert "targets[4].macosx" in caught.value.paragraph()
    assert "Use macosx = '12.0'" in caught.value.paragraph()
    config = _resolve_with(project, mac("12.0"))
    target = config.target("aarch64-apple-darwin")
    assert target is not None
    assert target.macosx == (12, 0)


def test_a_macos_target_cross_built_on_linux_must_say_why_it_ships_unrun(project: Path) -> None:
    """Nothing on Linux runs Mach-O: without no-smoke-run the config is refused, with both fixes."""

    def add(document: dict[str, Any]) -> None:
        _castoff_table(document)["targets"].append({"triple": "aarch64-apple-darwin"})

    with pytest.raises(ConfigError) as caught:
        _resolve_with(project, add)
    message = caught.value.paragraph()
    assert (
        "targets[4].no-smoke-run: is needed: aarch64-apple-darwin is cross-built on Linux"
        in message
    )
    assert "runner = 'macos-14'" in message


def test_allowed_libraries_reach_the_plan_and_bad_names_are_refused(project: Path) -> None:
    """A target's allowed-libraries go into its build job; control characters are refused."""
    from castoff.plan import ReleasePlan, build_plan  # noqa: PLC0415

    def allow(names: list[object]) -> Callable[[dict[str, Any]], None]:
        def mutate(document: dict[str, Any]) -> None:
            entry = {"triple": "x86_64-pc-windows-msvc", "allowed-libraries": names}
            _castoff_table(document)["targets"].append(entry)

        return mutate

    config = _resolve_with(project, allow(["VCRUNTIME140.dll", "VCRUNTIME140.dll"]))
    target = config.target("x86_64-pc-windows-msvc")
    assert target is not None
    assert target.allowed_libraries == ("VCRUNTIME140.dll",)
    plan = build_plan(config)
    assert plan.job("x86_64-pc-windows-msvc").allowed_libraries == ("VCRUNTIME140.dll",)
    again = ReleasePlan.from_json(plan.to_json())
    assert again.job("x86_64-pc-windows-msvc").allowed_libraries == ("VCRUNTIME140.dll",)
    for bad in (["a\nb.dll"], [""], "VCRUNTIME140.dll"):
        with pytest.raises(ConfigError, match="allowed-libraries"):
            _resolve_with(project, allow(bad))  # type: ignore[arg-type]
