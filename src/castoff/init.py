"""castoff init: the files that make a maturin project release with castoff, never overwritten."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from castoff.config import resolve
from castoff.errors import ConfigError, UsageError
from castoff.manifest import write_replacing
from castoff.tables import read_toml
from castoff.targets import NO_RUSTUP_STD
from castoff.workflows import HEADER, WorkflowOptions, render_all

NOXFILE = '''"""castoff's release sessions (nox -l): plan, build, sign, release, rehearse."""

import nox

from castoff.nox import release_sessions

nox.options.default_venv_backend = "uv|venv"
release_sessions(project=".")
'''

TASKS = '''"""Single release steps by hand, from castoff (inv -l): audit, assemble, sign, verify."""

from castoff.tasks import collection

namespace = collection(project=".")
'''

# The Linux targets uv ships that build on any machine castoff knows (zig, build-std);
# gnu names that no glibc build serves are aliases of the static musl builds.
_MUSL = (
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "i686-unknown-linux-musl",
    "armv7-unknown-linux-musleabihf",
    "powerpc64le-unknown-linux-musl",
    "s390x-unknown-linux-musl",
    "riscv64gc-unknown-linux-musl",
)
_GNU = ("x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu")
# Said in the config, so nobody drops a target thinking no runner can build it.
_TIER3 = (
    "# Rust tier 3: rustup has no std for it, so castoff builds std from the rust-src component\n"
    "# (`nox -s setup` adds it) into a sysroot it caches; works on ubuntu-latest and here.\n"
)
_ALIASES = {
    "i686-unknown-linux-gnu": "i686-unknown-linux-musl",
    "armv7-unknown-linux-gnueabihf": "armv7-unknown-linux-musleabihf",
    "s390x-unknown-linux-gnu": "s390x-unknown-linux-musl",
    "riscv64gc-unknown-linux-gnu": "riscv64gc-unknown-linux-musl",
}


_SIGN = """\
# Commit the public key; keep the secret key and its password in GitHub secrets of these names.
[tool.castoff.sign]
backends = ["minisign"]

[tool.castoff.sign.minisign]
secret-key-env = "CASTOFF_MINISIGN_KEY"
password-env = "CASTOFF_MINISIGN_PASSWORD"
public-key = "keys/minisign.pub"
"""


def starter_table() -> str:
    """Return the [tool.castoff] tables castoff init appends to a project's pyproject.toml."""
    targets = "".join(
        f'\n[[tool.castoff.targets]]\n{_TIER3 if t in NO_RUSTUP_STD else ""}triple = "{t}"\n'
        for t in (*_GNU, *_MUSL)
    )
    aliases = "".join(f'"{gnu}" = "{musl}"\n' for gnu, musl in _ALIASES.items())
    return f"""
# ---------------------------------------------------------------------------------------------
# castoff: what to build and where it goes (written by `castoff init`; see castoff's
# docs/config.md). Name, version and binaries come from [project] and Cargo.toml.
# ---------------------------------------------------------------------------------------------
[tool.castoff]
{targets}
[tool.castoff.aliases]
{aliases}
[tool.castoff.tag-policy]
# A static musl binary runs on glibc systems too: its wheel is tagged manylinux as well.
static-musl-manylinux = true

# Every wheel, archive, SHA256SUMS and the provenance is signed and verified before publishing.
{_SIGN}"""


# Where an extension's wheels are built by cibuildwheel, as maturin-action's projects ship them.
_EXTENSION_TARGETS = (
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
)
# Without abi3, one wheel per CPython cibuildwheel builds for today.
_PER_VERSION = ("cp39", "cp310", "cp311", "cp312", "cp313")


def extension_python(cargo: dict[str, object]) -> tuple[str, ...] | None:
    """Return the `python` of a PyO3 extension crate (its abi3-pyXY feature), or None if none.

    None: the crate is not a PyO3 cdylib, so it is a binary project.
    """
    lib = cargo.get("lib")
    kinds = lib.get("crate-type") if isinstance(lib, dict) else None
    dependencies = cargo.get("dependencies")
    pyo3 = dependencies.get("pyo3") if isinstance(dependencies, dict) else None
    if not (isinstance(kinds, list) and "cdylib" in kinds and pyo3 is not None):
        return None
    features = pyo3.get("features") if isinstance(pyo3, dict) else None
    abi3 = sorted(
        int(f.removeprefix("abi3-py3"))
        for f in (features if isinstance(features, list) else [])
        if isinstance(f, str) and re.fullmatch(r"abi3-py3[0-9]{1,2}", f, re.ASCII)
    )
    return (f"cp3{abi3[0]}-abi3",) if abi3 else _PER_VERSION


def extension_table(python: tuple[str, ...]) -> str:
    """Return the [tool.castoff] tables castoff init appends to a PyO3 extension project."""
    targets = "".join(f'\n[[tool.castoff.targets]]\ntriple = "{t}"\n' for t in _EXTENSION_TARGETS)
    listed = ", ".join(f'"{p}"' for p in python)
    return f"""
# ---------------------------------------------------------------------------------------------
# castoff: what to build and where it goes (written by `castoff init`; see castoff's
# docs/config.md). A PyO3 extension module: cibuildwheel builds its wheels (Linux in
# containers, macOS and Windows natively); castoff audits, signs and publishes them.
# ---------------------------------------------------------------------------------------------
[tool.castoff]
kind = "extension"
python = [{listed}]
{targets}
# Every wheel, the sdist, SHA256SUMS and the provenance is signed and verified before publishing.
{_SIGN}"""


def _read_pyproject(project: Path) -> tuple[str, dict[str, object]]:
    pyproject = project / "pyproject.toml"
    if not project.is_dir():
        raise UsageError(
            f"{project}: not a folder; castoff init sets up an existing maturin project.",
            hint="Run it in the project's folder, or pass that folder.",
        )
    if not pyproject.is_file():
        raise UsageError(
            f"{pyproject}: not found; castoff init sets up an existing maturin project.",
            hint="Make one with `maturin new --bindings bin NAME`, then run castoff init in it.",
        )
    document = read_toml(pyproject)
    # read_toml has checked the bytes are UTF-8 TOML.
    return pyproject.read_bytes().decode("utf-8"), document


def planned_files(project: Path) -> dict[Path, str]:
    """Return every file castoff init writes, with its content; reads the project only."""
    pyproject = project / "pyproject.toml"
    text, document = _read_pyproject(project)
    build_system = document.get("build-system")
    backend = build_system.get("build-backend") if isinstance(build_system, dict) else None
    if backend != "maturin":
        shown = repr(backend)[:60]
        raise UsageError(
            f"{pyproject}: build-system.build-backend is {shown}, not 'maturin'.",
            hint='castoff releases maturin projects: a program (bindings = "bin") or a PyO3 '
            "extension module.",
        )
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{pyproject}: tool: expected a table.", hint="Write it as [tool.*].")
    files: dict[Path, str] = {project / "noxfile.py": NOXFILE, project / "tasks.py": TASKS}
    if "castoff" not in tool:
        python = extension_python(_cargo(project, tool))
        table = starter_table() if python is None else extension_table(python)
        text = text.rstrip("\n") + "\n" + table
        files[pyproject] = text
    # The workflows are generated from the config as it will be.
    config = resolve(tomllib.loads(text), pyproject=pyproject)
    workflows = project / ".github" / "workflows"
    for name, content in render_all(config, WorkflowOptions.for_project()).items():
        files[workflows / name] = content
    return files


def _cargo(project: Path, tool: dict[str, object]) -> dict[str, object]:
    """Return the project's Cargo.toml ([tool.maturin] manifest-path), or {} if there is none."""
    maturin = tool.get("maturin")
    manifest = maturin.get("manifest-path") if isinstance(maturin, dict) else None
    path = project / (manifest if isinstance(manifest, str) else "Cargo.toml")
    return read_toml(path, what="a Cargo.toml") if path.is_file() else {}


def _check_writable(path: Path) -> None:
    """Refuse a path castoff cannot write a file at: a folder there, or a file on the way."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise UsageError(
            f"{path}: is not a plain file, so castoff will not write over it.",
            hint="Move it away, then run the command again.",
        )
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(
            f"{parent}: is a file where castoff needs a folder (for {path}).",
            hint="Move it away, then run the command again.",
        )
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{parent}: castoff may not write here (for {path}).")


def write_all(files: dict[Path, str]) -> list[Path]:
    """Write every file or none: each is checked first, and a failure restores what was there."""
    for path in files:
        _check_writable(path)
    before: dict[Path, bytes | None] = {p: p.read_bytes() if p.exists() else None for p in files}
    made_folders: list[Path] = []
    written: list[Path] = []
    try:
        for path, content in files.items():
            if before[path] == content.encode():
                continue
            missing = [p for p in reversed(path.parents) if not p.exists()]
            for folder in missing:
                folder.mkdir()
                made_folders.append(folder)
            write_replacing(path, content)
            written.append(path)
    except OSError as exc:
        for path in written:
            old = before[path]
            if old is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(old)
        for folder in reversed(made_folders):
            folder.rmdir()
        raise UsageError(
            f"{exc.filename or 'a file'}: cannot be written ({exc.strerror or exc}); nothing was "
            "changed.",
            hint="Fix the folder's permissions or space, then run the command again.",
        ) from None
    return written


def init(project: Path, *, force: bool) -> list[Path]:
    """Write the planned files; refuse, writing nothing, if one exists with other content."""
    files = planned_files(project)
    clashes = [
        path
        for path, content in files.items()
        if path.name != "pyproject.toml"
        and path.is_file()
        and path.read_bytes() != content.encode()
    ]
    if clashes and not force:
        raise UsageError(
            f"{', '.join(map(str, clashes))}: already there with other content; castoff init "
            "never overwrites a file without being asked.",
            hint="Look at them, then run `castoff init --force` to replace them.",
        )
    return write_all(files)


def write_workflows(folder: Path, generated: dict[str, str]) -> list[Path]:
    """Write generated workflows into folder; a file there that castoff did not write is kept."""
    files = {folder / name: text for name, text in generated.items()}
    for path in files:
        if path.is_file() and not path.read_bytes().startswith(HEADER.encode()):
            raise UsageError(
                f"{path}: is not a workflow castoff generated; castoff never replaces a file it "
                "did not write.",
                hint="Move it away (or give --workflows another folder), then generate again.",
            )
    return write_all(files)


def check_workflows(folder: Path, generated: dict[str, str]) -> list[str]:
    """Raise UsageError when a workflow in folder differs from what castoff generates."""
    drifted = [
        str(folder / name)
        for name, text in generated.items()
        if not (folder / name).is_file() or (folder / name).read_bytes() != text.encode()
    ]
    checked = [str(folder / n) for n in sorted(generated)]
    if drifted:
        raise UsageError(
            f"{', '.join(drifted)}: differs from what castoff generates (or is missing); the "
            "workflow must only call castoff's nox sessions.",
            hint="Regenerate with `castoff ci generate` (same options) and commit the result.",
            details={"checked": checked, "drifted": drifted},
        )
    return checked
