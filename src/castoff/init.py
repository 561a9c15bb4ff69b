"""castoff init: the files that make a maturin project release with castoff, never overwritten."""

from __future__ import annotations

import tomllib
from pathlib import Path

from castoff.config import resolve
from castoff.errors import ConfigError, UsageError
from castoff.workflows import WorkflowOptions, render_all

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
_ALIASES = {
    "i686-unknown-linux-gnu": "i686-unknown-linux-musl",
    "armv7-unknown-linux-gnueabihf": "armv7-unknown-linux-musleabihf",
    "s390x-unknown-linux-gnu": "s390x-unknown-linux-musl",
    "riscv64gc-unknown-linux-gnu": "riscv64gc-unknown-linux-musl",
}


def starter_table() -> str:
    """Return the [tool.castoff] tables castoff init appends to a project's pyproject.toml."""
    targets = "".join(f'\n[[tool.castoff.targets]]\ntriple = "{t}"\n' for t in (*_GNU, *_MUSL))
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
# Commit the public key; keep the secret key and its password in GitHub secrets of these names.
[tool.castoff.sign]
backends = ["minisign"]

[tool.castoff.sign.minisign]
secret-key-env = "CASTOFF_MINISIGN_KEY"
password-env = "CASTOFF_MINISIGN_PASSWORD"
public-key = "keys/minisign.pub"
"""


def planned_files(project: Path) -> dict[Path, str]:
    """Return every file castoff init writes, with its content; reads the project only."""
    pyproject = project / "pyproject.toml"
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{pyproject}: not found; castoff init sets up an existing maturin project.",
            hint="Make one with `maturin new --bindings bin NAME`, then run castoff init in it.",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: not valid TOML ({exc}).") from None
    backend = document.get("build-system", {}).get("build-backend")
    if backend != "maturin":
        raise UsageError(
            f"{pyproject}: build-system.build-backend is {backend!r}, not 'maturin'.",
            hint='castoff releases maturin projects that ship a binary (bindings = "bin").',
        )
    files: dict[Path, str] = {project / "noxfile.py": NOXFILE, project / "tasks.py": TASKS}
    text = pyproject.read_text(encoding="utf-8")
    if "castoff" not in document.get("tool", {}):
        text = text.rstrip("\n") + "\n" + starter_table()
        files[pyproject] = text
    # The workflows are generated from the config as it will be.
    config = resolve(tomllib.loads(text), pyproject=pyproject)
    workflows = project / ".github" / "workflows"
    for name, content in render_all(config, WorkflowOptions.for_project()).items():
        files[workflows / name] = content
    return files


def init(project: Path, *, force: bool) -> list[Path]:
    """Write the planned files; refuse, writing nothing, if one exists with other content."""
    files = planned_files(project)
    clashes = [
        path
        for path, content in files.items()
        if path.name != "pyproject.toml"
        and path.exists()
        and path.read_text(encoding="utf-8") != content
    ]
    if clashes and not force:
        raise UsageError(
            f"{', '.join(map(str, clashes))}: already there with other content; castoff init "
            "never overwrites a file without being asked.",
            hint="Look at them, then run `castoff init --force` to replace them.",
        )
    written = []
    for path, content in files.items():
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
