"""`[tool.castoff]` resolved into a frozen Config; bad input is a ConfigError naming its key."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from packaging.version import InvalidVersion, Version

from castoff import cibw
from castoff import targets as tg
from castoff.errors import ConfigError
from castoff.pypi import DEFAULT_MAX_FILE_SIZE
from castoff.sign import registry
from castoff.tables import SettingsTable, Table, did_you_mean, read_toml, show

if TYPE_CHECKING:
    from castoff.build.method import BuildMethod

DEFAULT_MUSLLINUX = (1, 2)
DEFAULT_RUNNERS = {"linux": "ubuntu-latest", "macos": "macos-latest", "windows": "windows-latest"}
# Where a target's own runner beats its OS's default, as uv picks them: Windows on Arm builds
# and runs aarch64 Windows (x64 Windows cross-builds it but cannot run it).
TARGET_RUNNERS = {"aarch64-pc-windows-msvc": "windows-11-arm"}
# warehouse's _project_name_re: what PyPI accepts as a project name.
_PROJECT_NAME_RE = re.compile(r"([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])", re.IGNORECASE | re.ASCII)
Kind = Literal["binary", "extension"]
KINDS: tuple[Kind, ...] = ("binary", "extension")
# cibuildwheel builds an extension's wheels: a target names where, and which tags, nothing else.
EXTENSION_METHOD = "cibuildwheel"
_EXTENSION_TARGET_KEYS = ("triple", "manylinux", "musllinux", "macosx", "pypi", "runner")
_DIGEST_PIN_RE = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")


@dataclass(frozen=True, kw_only=True)
class TargetConfig:
    """One `[[tool.castoff.targets]]` entry, validated against what castoff knows of its triple."""

    triple: str
    target: tg.Target
    method: str  # auto, or a build method's name (castoff.build.methods)
    manylinux: tuple[int, int] | None
    musllinux: tuple[int, int] | None
    macosx: tuple[int, int] | None
    extra_tags: tuple[str, ...]
    archive: tg.ArchiveKind
    pypi: bool | None  # None: publish to PyPI when PyPI accepts the wheel's tags
    image: str | None
    runner: str
    # The glibc the runner's cross gcc links against, for methods that link the machine's glibc
    # (cross-gcc); None for other methods and for runners castoff does not know.
    linked_glibc: tuple[int, int] | None = None
    simd_off: (
        tg.SimdOff | None
    )  # build without the arch's SIMD extensions (loongarch64 lsx = false)
    no_smoke_run: str | None = None  # why its binaries may ship without a smoke-run
    # Libraries beyond the OS's own its binaries may load (a DLL or dylib the project vouches
    # for: VCRUNTIME140.dll); the audit refuses any other.
    allowed_libraries: tuple[str, ...] = ()
    key_path: str  # where it was declared, for messages that come later (plan, build)


@dataclass(frozen=True, kw_only=True)
class Alias:
    """An archive name served by another target's build: `to` is made from `source`."""

    to: str
    source: str


@dataclass(frozen=True, kw_only=True)
class TagPolicy:
    """How wheels get more tags than maturin gives them."""

    static_musl_manylinux: bool


@dataclass(frozen=True, kw_only=True)
class PypiConfig:
    """Where and whether wheels are uploaded."""

    enabled: bool
    repository_url: str
    index_url: str
    max_file_size: int


@dataclass(frozen=True, kw_only=True)
class GithubConfig:
    """Whether a GitHub release is made, and what goes on it besides the archives."""

    enabled: bool
    repository: str | None  # None: GITHUB_REPOSITORY at publish time
    wheels: bool


@dataclass(frozen=True, kw_only=True)
class PublishConfig:
    """The destinations of a release."""

    pypi: PypiConfig
    github: GithubConfig


@dataclass(frozen=True, kw_only=True)
class SignConfig:
    """The signing backends every artifact is signed with, in order, and each one's settings."""

    backends: tuple[str, ...]
    # Each backend's parsed [tool.castoff.sign.<name>] table, as its own module defines it.
    settings: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ContractConfig:
    """The previous release's artifact names, which must not disappear unless retired."""

    previous_manifest: Path | None
    retired: tuple[tuple[str, str], ...]  # (artifact name, reason), sorted


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole resolved `[tool.castoff]` of one project."""

    pyproject: Path
    project_root: Path
    name: str
    version: str
    binaries: tuple[str, ...]
    archive_name: str
    manifest_path: Path
    sdist: bool  # `maturin sdist` ships the sources beside the wheels
    kind: Kind = "binary"  # a program (maturin bin wheels, archives) or a PyO3 extension module
    # An extension's interpreters: one abi3 entry, or CPython versions (cibuildwheel builds each).
    python: tuple[cibw.Interpreter, ...] = ()
    module: str | None = (
        None  # what `import` names an extension (cibuildwheel and rehearse test it)
    )
    targets: tuple[TargetConfig, ...]
    aliases: tuple[Alias, ...]
    tag_policy: TagPolicy
    publish: PublishConfig
    sign: SignConfig
    contract: ContractConfig

    def target(self, triple: str) -> TargetConfig | None:
        """Return the configured target for a triple, if it is built."""
        return next((t for t in self.targets if t.triple == triple), None)


def load(pyproject: Path) -> Config:
    """Read a pyproject.toml and resolve its `[tool.castoff]` table."""
    return resolve(read_toml(pyproject), pyproject=pyproject)


def resolve(document: Mapping[str, object], *, pyproject: Path) -> Config:
    """Resolve a parsed pyproject.toml into a Config; pure apart from reading Cargo.toml."""
    root = Table(document, "", pyproject)
    tool = root.data.get("tool")
    castoff = tool.get("castoff") if isinstance(tool, dict) else None
    if not isinstance(castoff, dict):
        raise ConfigError(
            f"{pyproject}: has no [tool.castoff] table.",
            hint="Add one (see docs/config.md and examples/hello/pyproject.toml), or point "
            "--config at the pyproject.toml of the project to release.",
        )
    table = Table(cast("dict[str, object]", castoff), "tool.castoff", pyproject)
    table.check_keys(
        [
            "name",
            "version",
            "binaries",
            "archive-name",
            "sdist",
            "kind",
            "python",
            "module",
            "targets",
            "aliases",
            "tag-policy",
            "publish",
            "sign",
            "contract",
        ]
    )
    project_data = document.get("project") or {}
    if not isinstance(project_data, dict):
        raise ConfigError(
            f"{pyproject}: project: expected a table, got {show(project_data)}.",
            hint="Write it as a [project] table (PEP 621).",
        )
    project = Table(cast("dict[str, object]", project_data), "project", pyproject)
    project_root = pyproject.parent
    manifest_path = _manifest_path(document, project_root)

    name = _name(table, project)
    cargo = _CargoToml(manifest_path)
    version = _version(table, project, cargo)
    kind = cast("Kind", table.choice("kind", KINDS, "binary"))
    python = _python(table, kind)
    if kind == "extension":
        for key in ("binaries", "archive-name", "aliases", "tag-policy"):
            if key in table.data:
                table.fail(
                    key, "applies to binary projects only, not kind = 'extension'.", "Remove it."
                )
    binaries = () if kind == "extension" else table.strings("binaries") or cargo.binaries(table)
    module = _module(table, document, cargo) if kind == "extension" else None
    if kind == "extension":
        _check_cibuildwheel_table(document, pyproject)
    if kind == "binary" and "module" in table.data:
        table.fail("module", "applies to kind = 'extension' only.", "Remove it.")
    for i, binary in enumerate(binaries):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", binary):
            table.fail(f"binaries[{i}]", f"'{binary}' is not a file name a binary can have.")
    # An extension makes no archives; its name is never used.
    archive_name = (
        name.replace("-", "_")
        if kind == "extension"
        else table.string("archive-name") or cargo.package_name(table)
    )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", archive_name):
        table.fail(
            "archive-name",
            f"'{archive_name}' cannot start an archive file name.",
            "Use letters, digits, '.', '_' and '-' only.",
        )

    target_configs = _targets(table, kind)
    for target_config in target_configs if kind == "extension" else ():
        floor = cibw.oldest_python(target_config.target)
        if python and python[0].version < floor:
            table.fail(
                "python",
                f"'{python[0].spelled}': cibuildwheel builds {target_config.triple} for CPython "
                f"{floor[0]}.{floor[1]} and later ({target_config.key_path}).",
                f"Start at cp{floor[0]}{floor[1]}, or drop that target.",
            )
    tag_policy = _tag_policy(table.table("tag-policy"))
    publish = _publish(table.table("publish"))
    return Config(
        pyproject=pyproject,
        project_root=project_root,
        name=name,
        version=version,
        binaries=binaries,
        archive_name=archive_name,
        manifest_path=manifest_path,
        sdist=table.boolean("sdist") is not False,
        kind=kind,
        python=python,
        module=module,
        targets=target_configs,
        aliases=_aliases(table.table("aliases"), target_configs),
        tag_policy=tag_policy,
        publish=publish,
        sign=_sign(table.table("sign"), project_root),
        contract=_contract(table.table("contract"), project_root),
    )


def _manifest_path(document: Mapping[str, object], project_root: Path) -> Path:
    tool = cast("dict[str, object]", document.get("tool") or {})
    maturin = tool.get("maturin")
    relative = maturin.get("manifest-path") if isinstance(maturin, dict) else None
    return project_root / (relative if isinstance(relative, str) else "Cargo.toml")


class _CargoToml:
    """The Cargo.toml beside the project, read only when a default needs it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, object] | None = None

    def _package(self, table: Table, key: str) -> dict[str, object]:
        if self._data is None:
            if not self.path.is_file():
                table.fail(
                    key,
                    f"is not set, and its default comes from {self.path}, which does not exist.",
                    f"Set {table.key(key)}, or [tool.maturin] manifest-path.",
                )
            self._data = read_toml(self.path, what="a Cargo.toml")
        package = self._data.get("package")
        if not isinstance(package, dict):
            table.fail(key, f"is not set, and {self.path} has no [package] table.")
        return cast("dict[str, object]", package)

    def package_name(self, table: Table, key: str = "archive-name") -> str:
        name = self._package(table, key).get("name")
        if not isinstance(name, str):
            table.fail(key, f"is not set, and {self.path} has no [package] name.")
        return name

    def version(self, table: Table) -> str:
        version = self._package(table, "version").get("version")
        if not isinstance(version, str):
            table.fail(
                "version",
                f"is not set, and {self.path}'s [package] version is {show(version)}, which "
                "castoff does not resolve (workspace inheritance).",
                "Set [project] version or tool.castoff.version.",
            )
        return version

    def binaries(self, table: Table) -> tuple[str, ...]:
        name = self.package_name(table, "binaries")
        assert self._data is not None  # noqa: S101 - package_name loaded it
        bins = self._data.get("bin")
        names = (
            [b.get("name") for b in bins if isinstance(b, dict)] if isinstance(bins, list) else []
        )
        if names and all(isinstance(n, str) for n in names):
            return tuple(cast("list[str]", names))
        # Without [[bin]] tables cargo builds one binary named after the package.
        return (name,)

    def lib_name(self, table: Table) -> str:
        """Return the library's name: [lib] name, else the package's with '-' as '_'."""
        name = self.package_name(table, "module")
        assert self._data is not None  # noqa: S101 - package_name loaded it
        lib = self._data.get("lib")
        lib_name = lib.get("name") if isinstance(lib, dict) else None
        return lib_name if isinstance(lib_name, str) else name.replace("-", "_")


def _name(table: Table, project: Table) -> str:
    name = table.string("name") or project.string("name")
    if name is None:
        table.fail("name", "is not set, and [project] has no name.", "Set [project] name.")
    if not _PROJECT_NAME_RE.fullmatch(name):
        table.fail(
            "name",
            f"'{name}' is not a name PyPI accepts.",
            "Use letters, digits, '.', '_' and '-', starting and ending with a letter or digit.",
        )
    return name


def _version(table: Table, project: Table, cargo: _CargoToml) -> str:
    text = table.string("version")
    key = "tool.castoff.version"
    if text is None and (text := project.string("version")) is not None:
        key = "project.version"
    if text is None:
        text = cargo.version(table)
        key = f"{cargo.path} [package] version"
    try:
        version = Version(text)
    except InvalidVersion:
        raise ConfigError(
            f"{table.file}: {key}: '{text}' is not a PEP 440 version.",
            hint="Use a version such as 1.2.3, 1.2.3rc1 or 1.2.3.post1.",
        ) from None
    if version.local is not None:
        raise ConfigError(
            f"{table.file}: {key}: '{text}' has a local part ('+{version.local}'), "
            "which PyPI refuses.",
            hint="Drop the '+...' part.",
        )
    return str(version)


def _compat(table: Table, key: str) -> tuple[int, int] | None:
    text = table.string(key)
    if text is None:
        return None
    version = tg.parse_version(text)
    example = "11.0" if key == "macosx" else "2_17" if key == "manylinux" else "1_2"
    if version is None:
        table.fail(key, f"'{text}' is not a version like '{example}'.")
    problem = tg.version_problem(key, version)
    if problem is not None:
        table.fail(
            key,
            f"'{text}': {problem}, so the tag would promise a system no one has.",
            f"Use a version like '{example}'.",
        )
    return version


MODULE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII)
# Modules CPython imports by itself at start-up: a wheel installing one runs code everywhere.
_STARTUP_MODULES = frozenset({"sitecustomize", "usercustomize"})


def module_problem(module: str) -> str | None:
    """Return why a string cannot be an extension's module name, or None when it can."""
    if len(module) > 200 or not MODULE_RE.fullmatch(module):
        return "is not a Python module path"
    if module.split(".", 1)[0] in _STARTUP_MODULES:
        return "is a module CPython imports at every start-up"
    return None


# cibuildwheel options that would undo what castoff promises of a build: its import test runs on
# the repaired wheel, from outside the sources, and no host variable enters the container.
_CIBUILDWHEEL_OWNED = ("test-skip", "test-sources", "environment-pass", "test-command")


def _check_cibuildwheel_table(document: Mapping[str, object], pyproject: Path) -> None:
    """Refuse [tool.cibuildwheel] settings (anywhere in it) that castoff's builds own."""
    tool = document.get("tool")
    table = tool.get("cibuildwheel") if isinstance(tool, dict) else None
    if not isinstance(table, dict):
        return
    scopes: list[tuple[str, object]] = [("tool.cibuildwheel", table)]
    scopes += [(f"tool.cibuildwheel.{p}", table.get(p)) for p in ("linux", "macos", "windows")]
    overrides = table.get("overrides")
    if isinstance(overrides, list):
        scopes += [(f"tool.cibuildwheel.overrides[{i}]", o) for i, o in enumerate(overrides)]
    for where, scope in scopes:
        for key in _CIBUILDWHEEL_OWNED:
            if isinstance(scope, dict) and key in scope:
                raise ConfigError(
                    f"{pyproject}: {where}.{key}: castoff sets this cibuildwheel option itself "
                    "(its test imports the module from the repaired wheel, and no variable of "
                    "the build machine enters the container).",
                    hint=f"Remove {key}; other [tool.cibuildwheel] settings apply as usual.",
                )


def _module(table: Table, document: Mapping[str, object], cargo: _CargoToml) -> str:
    """Return the module an extension's wheel makes importable, as maturin names it."""
    module = table.string("module")
    key = "tool.castoff.module"
    if module is None:
        tool = document.get("tool")
        maturin = tool.get("maturin") if isinstance(tool, dict) else None
        named = maturin.get("module-name") if isinstance(maturin, dict) else None
        module, key = (
            (named, "tool.maturin.module-name")
            if isinstance(named, str)
            else (cargo.lib_name(table), f"[lib] name of {cargo.path}")
        )
    problem = module_problem(module)
    if problem is not None:
        raise ConfigError(
            f"{table.file}: {key}: '{module[:60]}' {problem}.",
            hint="Name the module `import` loads (letters, digits and '_', parts joined by '.'); "
            "set tool.castoff.module if maturin's module-name is not it.",
        )
    return module


def _python(table: Table, kind: Kind) -> tuple[cibw.Interpreter, ...]:
    """Return an extension's interpreters, checked: one abi3 entry, or distinct versions."""
    entries = table.strings("python")
    if kind == "binary":
        if entries is not None:
            table.fail("python", "applies to kind = 'extension' only.", "Remove it.")
        return ()
    if not entries:
        table.fail(
            "python",
            "is required with kind = 'extension'.",
            "Name the interpreters the wheels are for: python = ['cp38-abi3'] for one abi3 "
            "wheel per target (pyo3's abi3-py38 feature), or CPython versions: ['cp311', 'cp312'].",
        )
    oldest, newest = (
        tg.format_version(v).replace("_", ".") for v in (cibw.OLDEST_PYTHON, cibw.NEWEST_PYTHON)
    )
    interpreters: list[cibw.Interpreter] = []
    for i, entry in enumerate(entries):
        interpreter = cibw.parse_interpreter(entry)
        if interpreter is None:
            table.fail(
                f"python[{i}]",
                f"'{entry[:40]}' is not a CPython cibuildwheel builds for.",
                "Write cpXY for CPython X.Y's own ABI (cp312), or cpXY-abi3 for the stable ABI "
                "from X.Y on (cp38-abi3).",
            )
        if not cibw.OLDEST_PYTHON <= interpreter.version <= cibw.NEWEST_PYTHON:
            table.fail(
                f"python[{i}]",
                f"'{entry}': cibuildwheel builds CPython {oldest} to {newest}.",
            )
        if interpreter in interpreters:
            table.fail(f"python[{i}]", f"'{entry}' is listed twice.", "List it once.")
        interpreters.append(interpreter)
    if any(i.abi3 for i in interpreters) and len(interpreters) > 1:
        table.fail(
            "python",
            "an abi3 entry already serves every later CPython: it must be the only entry.",
            "Keep the abi3 entry alone, or list CPython versions without it.",
        )
    return tuple(sorted(interpreters, key=lambda i: i.version))


def _targets(table: Table, kind: Kind = "binary") -> tuple[TargetConfig, ...]:
    entries = table.tables("targets")
    if not entries:
        table.fail(
            "targets",
            "no targets are declared.",
            "Add at least one [[tool.castoff.targets]] with a triple, e.g. "
            "triple = 'x86_64-unknown-linux-gnu'.",
        )
    seen: dict[str, str] = {}
    result = []
    for entry in entries:
        target_config = _extension_target(entry) if kind == "extension" else _target(entry)
        if target_config.triple in seen:
            entry.fail(
                "triple",
                f"'{target_config.triple}' is already declared at {seen[target_config.triple]}.",
                "Declare each triple once.",
            )
        seen[target_config.triple] = entry.path
        result.append(target_config)
    return tuple(result)


_TARGET_KEYS = (
    "triple", "method", "manylinux", "musllinux", "macosx", "extra-tags", "archive", "pypi",
    "image", "runner", "lsx", "no-smoke-run", "allowed-libraries",
)  # fmt: skip


def _known_target(entry: Table) -> tg.Target:
    """Return the target of an entry's triple, refusing one castoff does not know."""
    triple = entry.string("triple")
    if triple is None:
        entry.fail("triple", "is missing.", "Every target needs a Rust target triple.")
    target = tg.lookup(triple)
    if target is None:
        close = tg.suggest(triple)
        entry.fail(
            "triple",
            f"'{triple}' is not a Rust target triple castoff knows;",
            f"did you mean '{close}'?"
            if close
            else f"known triples: {', '.join(sorted(tg.TARGETS))}.",
        )
    return target


def _target(entry: Table) -> TargetConfig:
    entry.check_keys(_TARGET_KEYS)
    target = _known_target(entry)
    triple = target.triple
    from castoff.build import methods  # noqa: PLC0415 - they import the plan, which imports this

    method = entry.choice("method", methods.names(), methods.AUTO)
    image = entry.string("image")
    if method == "docker":
        if image is None:
            entry.fail(
                "image",
                "is required with method = 'docker'.",
                "Name the builder image pinned by digest.",
            )
        if not _DIGEST_PIN_RE.fullmatch(image):
            entry.fail(
                "image",
                f"'{image}' is not pinned by digest, so the build's provenance is unknown.",
                "Write it as name@sha256:<64 hex digits> (docker buildx imagetools inspect NAME "
                "prints the digest).",
            )
    elif image is not None:
        entry.fail("image", f"is only used with method = 'docker', not '{method}'.", "Remove it.")

    manylinux = _compat(entry, "manylinux")
    musllinux = _compat(entry, "musllinux")
    macosx = _compat(entry, "macosx")
    _check_compat_fits(entry, target, manylinux=manylinux, musllinux=musllinux, macosx=macosx)
    builder = methods.resolved(method, target, entry.string("runner"))
    runner, links_at_least, linked_glibc = _runner(entry, target, builder, manylinux)
    no_smoke_run = _no_smoke_run(entry)
    if (
        target.os == "macos"
        and builder is not None
        and builder.name != "native"
        and not no_smoke_run
    ):
        # Said now, not after a build whose binaries nothing here can run.
        entry.fail(
            "no-smoke-run",
            f"is needed: {triple} is cross-built on Linux ({builder.name}), where nothing runs "
            "macOS binaries, and castoff ships no binary nobody ran.",
            "Set no-smoke-run = '<why>' (the audit still checks its CPU, minimum macOS, "
            "libraries and code signature), or runner = 'macos-14' to build and run it on a Mac "
            "(needed anyway for crates that link Apple frameworks: zig has no macOS SDK).",
        )
    # Defaults: the lowest version the target honestly supports (maturin's default for musl);
    # linked against a runner's glibc, that glibc (or 2.34, the least, where it is unknown).
    if links_at_least and target.glibc_floor:
        manylinux = manylinux or max(target.glibc_floor, links_at_least)
    elif target.tag_family == "manylinux":
        manylinux = manylinux or target.glibc_floor
    elif target.tag_family == "musllinux":
        musllinux = musllinux or DEFAULT_MUSLLINUX
    elif target.tag_family == "macosx":
        macosx = macosx or target.macos_floor
    extra_tags = entry.strings("extra-tags") or ()
    for i, tag in enumerate(extra_tags):
        _check_extra_tag(entry, f"extra-tags[{i}]", tag, target, manylinux)
    archive = cast(
        "tg.ArchiveKind", entry.choice("archive", ("tar.gz", "zip"), target.archive_kind)
    )
    lsx = entry.boolean("lsx")
    if lsx is not None and target.wheel_arch != "loongarch64":
        entry.fail("lsx", f"applies to loongarch64 targets only, not {triple}.", "Remove it.")
    return TargetConfig(
        triple=triple,
        target=target,
        method=method,
        manylinux=manylinux,
        musllinux=musllinux,
        macosx=macosx,
        extra_tags=tuple(sorted(set(extra_tags))),
        archive=archive,
        pypi=entry.boolean("pypi"),
        image=image,
        runner=runner,
        linked_glibc=linked_glibc,
        simd_off=tg.LOONGARCH_WITHOUT_LSX if lsx is False else None,
        no_smoke_run=no_smoke_run,
        allowed_libraries=_allowed_libraries(entry),
        key_path=entry.path,
    )


def _extension_target(entry: Table) -> TargetConfig:
    """Return a target of an extension project: where cibuildwheel builds it, and its tags."""
    for key in entry.data:
        if key not in _EXTENSION_TARGET_KEYS and key in _TARGET_KEYS:
            entry.fail(
                key,
                "applies to binary projects only: cibuildwheel builds an extension's wheels.",
                f"Remove it (an extension target takes {', '.join(_EXTENSION_TARGET_KEYS)}).",
            )
    entry.check_keys(_EXTENSION_TARGET_KEYS)
    target = _known_target(entry)
    plat = cibw.platform(target)
    if plat is None:
        entry.fail(
            "triple",
            f"cibuildwheel does not build extension wheels for {target.triple}.",
            "Choose a Linux (glibc or musl), macOS or Windows MSVC triple of an architecture "
            "cibuildwheel builds.",
        )
    manylinux = _compat(entry, "manylinux")
    musllinux = _compat(entry, "musllinux")
    macosx = _compat(entry, "macosx")
    _check_compat_fits(entry, target, manylinux=manylinux, musllinux=musllinux, macosx=macosx)
    if target.tag_family == "manylinux":
        choices = cibw.manylinux_choices(target.wheel_arch)
        manylinux = manylinux or choices[0]
        if manylinux not in choices:
            spelled = ", ".join(f"'{tg.format_version(c)}'" for c in choices)
            entry.fail(
                "manylinux",
                f"'{tg.format_version(manylinux)}': cibuildwheel has no {target.wheel_arch} "
                "image that builds against that glibc.",
                f"Choose one of {spelled}.",
            )
    elif target.tag_family == "musllinux":
        musllinux = musllinux or cibw.MUSLLINUX
        if musllinux != cibw.MUSLLINUX:
            entry.fail(
                "musllinux",
                f"'{tg.format_version(musllinux)}': cibuildwheel builds musllinux_1_2 only.",
                "Remove it, or write '1_2'.",
            )
    elif target.tag_family == "macosx":
        macosx = macosx or target.macos_floor
    runner = entry.string("runner") or cibw.RUNNERS.get(target.triple, DEFAULT_RUNNERS[target.os])
    return TargetConfig(
        triple=target.triple,
        target=target,
        method=EXTENSION_METHOD,
        manylinux=manylinux,
        musllinux=musllinux,
        macosx=macosx,
        extra_tags=(),
        archive=target.archive_kind,
        pypi=entry.boolean("pypi"),
        image=None,
        runner=runner,
        simd_off=None,
        key_path=entry.path,
    )


def _runner(
    entry: Table, target: tg.Target, builder: BuildMethod | None, manylinux: tuple[int, int] | None
) -> tuple[str, tuple[int, int] | None, tuple[int, int] | None]:
    """Return the runner, the least glibc a glibc-linking build links, and the exact one if known.

    The least is 2.34 where the runner's glibc is unknown; both are None for other builds.
    """
    links_glibc = (
        builder is not None and builder.links_machine_glibc and target.tag_family == "manylinux"
    )
    # A cross gcc links against its machine's glibc: such a build runs where that glibc is oldest.
    # A macOS or Windows target cross-built from Linux (zig) runs on Linux like any other.
    native = builder is None or builder.name == "native" or target.os == "linux"
    runner = entry.string("runner") or (
        tg.CROSS_GCC_RUNNER
        if links_glibc
        else TARGET_RUNNERS.get(target.triple, DEFAULT_RUNNERS[target.os])
        if native
        else DEFAULT_RUNNERS["linux"]
    )
    if not links_glibc:
        return runner, None, None
    linked = tg.RUNNER_CROSS_GLIBC.get(runner)
    known = linked or tg.MOVING_RUNNER_CROSS_GLIBC.get(runner)
    if manylinux and known:
        found = tg.linked_glibc_problem(manylinux, known, f"runner '{runner}'")
        if found is not None:
            entry.fail(found.key, found.problem, found.fix)
    return runner, known or tg.LIBC_START_MAIN_MOVED, linked


def _allowed_libraries(entry: Table) -> tuple[str, ...]:
    names = entry.strings("allowed-libraries") or ()
    for i, name in enumerate(names):
        if len(name) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in name):
            entry.fail(
                f"allowed-libraries[{i}]",
                "is over 200 characters or holds a control character.",
                "Name a library as the binary loads it: VCRUNTIME140.dll, @rpath/libfoo.dylib.",
            )
    return tuple(dict.fromkeys(names))


def _no_smoke_run(entry: Table) -> str | None:
    reason = entry.string("no-smoke-run")
    if reason is not None and len(reason) > 200:
        entry.fail("no-smoke-run", "is over 200 characters.", "Say why in one sentence.")
    return reason


def _check_compat_fits(
    entry: Table,
    target: tg.Target,
    *,
    manylinux: tuple[int, int] | None,
    musllinux: tuple[int, int] | None,
    macosx: tuple[int, int] | None,
) -> None:
    found = tg.compat_problem(target, manylinux=manylinux, musllinux=musllinux, macosx=macosx)
    if found is not None:
        entry.fail(found.key, found.problem, found.fix)


def _check_extra_tag(
    entry: Table, key: str, tag: str, target: tg.Target, manylinux: tuple[int, int] | None
) -> None:
    found = tg.extra_tag_problem(tag, target, manylinux)
    if found is not None:
        entry.fail(key, found.problem, found.fix)


def _tag_policy(table: Table) -> TagPolicy:
    table.check_keys(["static-musl-manylinux"])
    return TagPolicy(static_musl_manylinux=bool(table.boolean("static-musl-manylinux")))


def _publish(table: Table) -> PublishConfig:
    table.check_keys(["pypi", "github"])
    pypi = table.table("pypi")
    pypi.check_keys(["enabled", "repository-url", "index-url", "max-file-size"])
    max_size = pypi.integer("max-file-size")
    if max_size is not None and max_size <= 0:
        pypi.fail("max-file-size", f"{max_size} is not a positive number of bytes.")
    github = table.table("github")
    github.check_keys(["enabled", "repository", "wheels"])
    repository = github.string("repository")
    if repository is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        github.fail(
            "repository", f"'{repository}' is not OWNER/NAME.", "Write it as e.g. 'astral-sh/uv'."
        )
    urls = {}
    for key in ("repository-url", "index-url"):
        url = pypi.string(key)
        problem = url_problem(url) if url is not None else None
        if problem is not None:
            pypi.fail(key, f"{problem}.", URL_HINT)
        urls[key] = url
    return PublishConfig(
        pypi=PypiConfig(
            enabled=pypi.boolean("enabled") is not False,
            repository_url=urls["repository-url"] or "https://upload.pypi.org/legacy/",
            index_url=urls["index-url"] or "https://pypi.org/simple/",
            max_file_size=max_size or DEFAULT_MAX_FILE_SIZE,
        ),
        github=GithubConfig(
            enabled=github.boolean("enabled") is not False,
            repository=repository,
            wheels=github.boolean("wheels") is not False,
        ),
    )


def _aliases(table: Table, target_configs: Sequence[TargetConfig]) -> tuple[Alias, ...]:
    built = {t.triple for t in target_configs}
    result = []
    for to, source in sorted(table.data.items()):
        if not isinstance(source, str):
            table.fail(to, f"expected the triple of a built target, got {show(source)}.")
        to_target = tg.lookup(to)
        if to_target is None:
            close = tg.suggest(to)
            table.fail(
                to,
                f"'{to}' is not a Rust target triple castoff knows;",
                f"did you mean '{close}'?" if close else None,
            )
        if to in built:
            table.fail(
                to,
                f"'{to}' is built by a target of its own, so its archive cannot also be an alias.",
                "Remove the alias or the target.",
            )
        if source not in built:
            table.fail(
                to,
                f"'{source}' is not among tool.castoff.targets, so there is nothing to alias.",
                did_you_mean(source, sorted(built)) or "Alias to a triple that is built.",
            )
        source_target = tg.TARGETS[source]
        if not source_target.is_static_by_default:
            table.fail(
                to,
                f"'{source}' builds dynamically linked binaries, which do not run on {to} systems.",
                "Alias from a static musl target instead.",
            )
        if (source_target.os, source_target.wheel_arch) != (to_target.os, to_target.wheel_arch):
            table.fail(
                to,
                f"'{source}' is {source_target.wheel_arch} and '{to}' is {to_target.wheel_arch}.",
                "An alias must serve the same architecture.",
            )
        result.append(Alias(to=to, source=source))
    return tuple(result)


_SECRET_KEYS = ("passphrase", "password", "secret", "private-key", "token")


def _backend_table(table: Table, name: str) -> Table:
    """Return a backend's table, refusing secrets written into pyproject.toml."""
    backend = table.table(name)
    for key in backend.data:
        if key in _SECRET_KEYS:
            backend.fail(
                key,
                "holds a secret in pyproject.toml, where everyone who can read the repository "
                "sees it.",
                "Remove it (and rotate the secret); name an environment variable with "
                f"'{key}-env' or a file instead.",
            )
    return backend


def _sign(table: Table, root: Path) -> SignConfig:
    known = registry.names()
    backends = table.strings("backends") or ()
    for i, backend in enumerate(backends):
        if backend not in known:
            table.fail(
                f"backends[{i}]",
                f"'{backend}' is not one of {', '.join(known)}.",
                did_you_mean(backend, known)
                or "Use one of those; a backend castoff does not ship must be registered first "
                "(docs/architecture.md).",
            )
    table.check_keys(["backends", *known])
    if len(set(backends)) != len(backends):
        table.fail("backends", "names a backend twice.")
    for backend in known:
        if backend in table.data and backend not in backends:
            table.fail(
                backend,
                f"is configured, but '{backend}' is not in backends.",
                f"Add it to {table.key('backends')} or remove the table.",
            )
    # Each backend reads its own table (its schema lives with it).
    settings = {
        name: registry.get(name).parse(SettingsTable(_backend_table(table, name), root))
        for name in backends
    }
    return SignConfig(backends=backends, settings=settings)


def _contract(table: Table, root: Path) -> ContractConfig:
    table.check_keys(["previous-manifest", "retired"])
    retired = table.table("retired")
    for name, reason in retired.data.items():
        if not isinstance(reason, str) or not reason.strip():
            retired.fail(
                name,
                f"expected the reason this artifact is retired, got {show(reason)}.",
                "Downstream tools download archives by name; say what replaces it.",
            )
    return ContractConfig(
        previous_manifest=SettingsTable(table, root).file_path("previous-manifest"),
        retired=tuple(sorted(cast("dict[str, str]", retired.data).items())),
    )


URL_HINT = (
    "Write it as http(s)://host/path, with no user or password in it: twine takes credentials "
    "from TWINE_USERNAME and TWINE_PASSWORD (or trusted publishing in GitHub Actions)."
)


def url_problem(url: str) -> str | None:
    """Return why a string is not an http(s) index URL castoff will use, or None."""
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        return "has spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL with a host"
    if parts.username is not None or parts.password is not None:
        # Anything castoff prints or writes (commands, --json, the journal) would carry it.
        return "holds credentials (user:password@), which castoff would print and journal"
    return None
