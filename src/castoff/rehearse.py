"""Rehearsals: a real local package index (pypiserver) on 127.0.0.1, started and stopped here."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

from castoff.assemble.contents import ContentsError, read_sdist
from castoff.build import image
from castoff.build.builder import BuildOptions, built_elsewhere
from castoff.build.smoke import run_smoke
from castoff.build.toolchains import HostTools, smoke_plan
from castoff.cibw import local_image_re
from castoff.config import Config
from castoff.errors import CastoffError, UsageError
from castoff.folders import check_claimable, mark
from castoff.manifest import ReleaseManifest
from castoff.plan import SDIST, ReleasePlan, build_plan, sdist_folder
from castoff.publish.github import FolderRelease
from castoff.publish.publisher import PublishOptions
from castoff.release import build_and_assemble, publish_checked
from castoff.results import RehearseResult, Report
from castoff.runner import Command, Runner
from castoff.sign import registry
from castoff.sign.signing import keygen, sign_release
from castoff.targets import TARGETS, parse_linux_tag

_INSTALL = "pip install 'pypiserver[passlib]'"
WORK_FOLDERS = ("dist", "release", "index", "keys", "installs")


@dataclass(frozen=True, kw_only=True)
class LocalIndex:
    """A running local index: where to upload, where to read, and its throwaway credentials."""

    port: int
    packages: Path
    username: str
    password: str = field(repr=False)

    @property
    def repository_url(self) -> str:
        """Return the upload URL (twine --repository-url)."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def index_url(self) -> str:
        """Return the simple API's URL (pip --index-url)."""
        return f"http://127.0.0.1:{self.port}/simple/"

    def twine_env(self) -> dict[str, str]:
        """Return the environment twine reads credentials from."""
        return {"TWINE_USERNAME": self.username, "TWINE_PASSWORD": self.password}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def htpasswd_line(username: str, password: str) -> str:
    """Return an Apache htpasswd line with a {SHA} hash, which pypiserver's passlib reads."""
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
    return f"{username}:{{SHA}}{digest}\n"


def server_command(folder: Path, port: int) -> Command:
    """Return the pypiserver command: uploads need the password, reads are open, no fallback."""
    return Command(
        argv=(
            # The pypiserver installed beside castoff, whatever PATH says.
            sys.executable,
            "-m",
            "pypiserver",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--passwords",
            str(folder / "htpasswd"),
            "--authenticate",
            "update",
            "--disable-fallback",
            "--hash-algo",
            "sha256",
            str(folder / "packages"),
        ),
        install_hint=_INSTALL,
    )


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the index answers (up to 30 s), or say why it did not start."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CastoffError(
                f"the local index exited with {process.returncode} before serving; its log: "
                f"{log}: {log.read_text(errors='replace')[-500:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own 127.0.0.1 URL
                return
        except urllib.error.HTTPError:
            return  # it answers: that is all we wait for
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    process.terminate()
    raise CastoffError(f"the local index did not answer at {url} within 30 s; its log: {log}")


@contextmanager
def local_index(folder: Path, runner: Runner) -> Iterator[LocalIndex]:
    """Run pypiserver on a free port with a throwaway upload password; stop it afterwards."""
    (folder / "packages").mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    (folder / "htpasswd").write_text(
        htpasswd_line("castoff", password), encoding="utf-8", newline="\n"
    )
    port = free_port()
    runner = runner.with_secrets([password])
    log = folder / "pypiserver.log"
    process = runner.start(server_command(folder, port), log_file=log)
    try:
        served = LocalIndex(
            port=port, packages=folder / "packages", username="castoff", password=password
        )
        wait_until_serving(served.index_url, process, log)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# uv's --python-platform names (uv 0.13) for the Linux targets it can install for; the others
# are installed back with pip only, and the summary says why.
_UV_GLIBC_ARCHES = ("x86_64", "aarch64", "s390x", "ppc64le", "loongarch64")
_UV_MUSL_ARCHES = ("x86_64", "aarch64")
PYTHON_VERSION = "3.11"  # the interpreter the install-back pretends foreign users have


@dataclass(frozen=True, kw_only=True)
class Row:
    """What the rehearsal found for one target triple (built or alias)."""

    target: str
    wheel: str
    archive: str
    index: str  # "uploaded", or why the wheel stays off the index
    archive_run: str
    pip: str
    uv: str

    def failed(self) -> bool:
        """Return whether anything of this target failed (a skip with its reason is no failure)."""
        return any(
            v.startswith("failed") for v in (self.archive_run, self.pip, self.uv, self.index)
        )


def platform_tag(triple_libc: str, wheel_tags: Sequence[str]) -> str | None:
    """Return the tag a user of this libc has that the wheel offers (manylinux_*, macosx_*, ...)."""
    family = {"gnu": "manylinux_", "musl": "musllinux_", "darwin": "macosx_"}.get(
        triple_libc, "win"
    )
    found = next((t for t in wheel_tags if t.startswith(family)), None)
    # armv6l has neither manylinux nor musllinux: its wheel's one tag is linux_armv6l.
    return found or next((t for t in wheel_tags if t.startswith("linux_")), None)


# uv's --python-platform for macOS and Windows wheel architectures.
_UV_MACOS = {"arm64": "aarch64-apple-darwin", "x86_64": "x86_64-apple-darwin"}
_UV_WINDOWS = {
    "win_amd64": "x86_64-pc-windows-msvc",
    "win32": "i686-pc-windows-msvc",
    "win_arm64": "aarch64-pc-windows-msvc",
}


def uv_platform(tag: str) -> str | None:
    """Return uv's --python-platform for a wheel platform tag, or None if uv has none."""
    if tag.startswith("macosx_") or tag in _UV_WINDOWS:
        return _UV_WINDOWS.get(tag) or _UV_MACOS.get(tag.split("_", 3)[-1])
    linux = parse_linux_tag(tag)
    if linux is None:
        return None
    if linux.family == "manylinux" and linux.arch in _UV_GLIBC_ARCHES and linux.version:
        return f"{linux.arch}-manylinux_{linux.version[0]}_{linux.version[1]}"
    if linux.family == "manylinux" and linux.arch == "riscv64" and linux.version == (2, 31):
        return "riscv64-unknown-linux"  # uv's name for riscv64 at glibc 2.31, its floor
    if linux.family == "musllinux" and linux.arch in _UV_MUSL_ARCHES:
        return f"{linux.arch}-unknown-linux-musl"
    return None


@dataclass(frozen=True, kw_only=True)
class InstallBack:
    """What the install-back needs: the index, the project, the tools to run foreign binaries."""

    index_url: str
    project: str
    version: str
    binary: str  # a binary project's first program ("" for an extension module)
    tools: HostTools
    runner: Runner
    work: Path
    report: Report
    cache_dir: Path  # castoff's cache: Wine's prefix and shim
    module: str | None = None  # an extension module's import name (None for a binary project)
    # Per target, the CPython beside this one its extension wheel is imported with (the musl
    # image's), or the row's verdict when there is none.
    interpreters: Mapping[str, Interpreter] = field(default_factory=dict)
    interpreter_verdicts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Interpreter:
    """A CPython that imports extension wheels: this machine's, or one of castoff's images."""

    executable: str
    label: str  # as the table says it: "CPython 3.11", "CPython 3.11 (musl)"
    tags: frozenset[str]


def _host_label() -> str:
    major, minor = sys.version_info[:2]
    return f"CPython {major}.{minor}"


def host_interpreter() -> Interpreter:
    """Return the CPython castoff runs on, with the wheel tags it installs."""
    return Interpreter(
        executable=sys.executable,
        label=_host_label(),
        tags=frozenset(str(t) for t in sys_tags()),
    )


# The interpreter's own pip says which tags it installs: its libc as the interpreter sees it.
_TAGS_PROBE = "from pip._vendor.packaging.tags import sys_tags; print(*sys_tags(), sep='\\n')"


def probe_interpreter(runner: Runner, executable: Path, label: str) -> Interpreter | None:
    """Return another CPython with the tags its pip installs, or None when it does not run."""
    try:
        shown = runner.capture(Command(argv=(str(executable), "-I", "-c", _TAGS_PROBE)))
    except (OSError, CastoffError):  # not there, or it hangs
        return None
    tags = frozenset(shown.stdout.split())
    if shown.returncode != 0 or not tags:
        return None
    return Interpreter(executable=str(executable), label=label, tags=tags)


def _run_binary(ctx: InstallBack, triple: str, binary: Path) -> str:
    target = TARGETS[triple]
    record = run_smoke(
        binary,
        name=binary.name,
        target=target,
        plan=smoke_plan(target, ctx.tools),
        runner=ctx.runner,
        version=ctx.version,
        log=lambda _: None,
        cache_dir=ctx.cache_dir,
    )
    if record.status == "passed":
        return f"ok ({record.runner})"
    if record.status == "not-run":
        return f"not run: {record.reason}"
    return f"failed: {record.reason}"


def _installed(ctx: InstallBack, triple: str, how: str, result_code: int, binary: Path) -> str:
    if result_code != 0:
        return f"failed: {how} could not install {ctx.project}=={ctx.version}"
    if not binary.is_file():
        return f"failed: {how} installed no {binary.name}"
    verdict = _run_binary(ctx, triple, binary)
    # Installed but not run (macOS here): the table says both.
    return verdict.replace("not run: ", "installed, not run: ", 1)


def _spec(ctx: InstallBack) -> str:
    return f"{ctx.project}=={ctx.version}"


# The installs below read nothing but the local index: pip --isolated and uv --no-config ignore
# config files (and pip its PIP_* variables) that could add another index or a find-links folder
# and so install the project from somewhere else.


def _pip_and_uv(
    ctx: InstallBack, folder: Path, *extra: str, python: str = sys.executable
) -> tuple[Path, int, Path, int]:
    """Install the project into a fresh pip venv and a fresh uv venv; return venvs and codes."""
    pip_venv, uv_venv = folder / "pip-venv", folder / "uv-venv"
    run = ctx.runner.run
    run(Command(argv=(python, "-m", "venv", str(pip_venv))), log=lambda _: None)
    pip = run(
        Command(
            argv=(
                str(pip_venv / "bin" / "python"), "-m", "pip", "--isolated", "install",
                "--no-cache-dir", "--disable-pip-version-check", *extra,
                "--index-url", ctx.index_url, _spec(ctx),
            )
        ),
        check=False,
        log=lambda _: None,
    )  # fmt: skip
    uv = [sys.executable, "-m", "uv"]
    run(Command(argv=(*uv, "venv", "--python", python, str(uv_venv))), log=lambda _: None)
    uv_result = run(
        Command(
            argv=(
                *uv, "pip", "install", "--no-config", "--no-cache", *extra,
                "--python", str(uv_venv / "bin" / "python"),
                "--index-url", ctx.index_url, _spec(ctx),
            ),
            # --no-config leaves UV_FIND_LINKS, UV_INDEX and the like in force.
            unset=("UV_",),
        ),
        check=False,
        log=lambda _: None,
    )  # fmt: skip
    return pip_venv, pip.returncode, uv_venv, uv_result.returncode


def install_native(ctx: InstallBack, triple: str) -> tuple[str, str]:
    """Install into fresh venvs with pip and with uv, as a user of this machine would; run it."""
    pip_venv, pip, uv_venv, uv = _pip_and_uv(ctx, ctx.work / "installs" / "native")
    return (
        _installed(ctx, triple, "pip", pip, pip_venv / "bin" / ctx.binary),
        _installed(ctx, triple, "uv", uv, uv_venv / "bin" / ctx.binary),
    )


def install_foreign(ctx: InstallBack, triple: str, tag: str, runs_as: str) -> tuple[str, str]:
    """Install for another platform (pip --platform, uv --python-platform) and run under qemu."""
    folder = ctx.work / "installs" / triple
    pip_dir, uv_dir = folder / "pip", folder / "uv"
    pip = ctx.runner.run(
        Command(
            argv=(
                sys.executable, "-m", "pip", "--isolated", "install", "--no-cache-dir", "--no-deps",
                "--disable-pip-version-check", "--only-binary=:all:", "--target", str(pip_dir),
                "--platform", tag, "--python-version", PYTHON_VERSION, "--implementation", "py",
                "--index-url", ctx.index_url, _spec(ctx),
            )
        ),
        check=False,
        log=lambda _: None,
    )  # fmt: skip
    program = _program(ctx, runs_as)
    pip_verdict = _installed(ctx, runs_as, "pip", pip.returncode, _script(pip_dir, program))
    platform = uv_platform(tag)
    if platform is None:
        return pip_verdict, f"not run: uv has no --python-platform for {tag}"
    uv = ctx.runner.run(
        Command(
            argv=(
                sys.executable, "-m", "uv", "pip", "install", "--no-config", "--no-cache",
                "--no-deps", "--target", str(uv_dir), "--python-platform", platform,
                "--python-version", PYTHON_VERSION, "--index-url", ctx.index_url, _spec(ctx),
            ),
            unset=("UV_",),
        ),
        check=False,
        log=lambda _: None,
    )  # fmt: skip
    return pip_verdict, _installed(ctx, runs_as, "uv", uv.returncode, _script(uv_dir, program))


def _program(ctx: InstallBack, triple: str) -> str:
    """Return the binary's file name for a target: hello.exe on Windows."""
    return ctx.binary + (".exe" if TARGETS[triple].os == "windows" else "")


def _script(folder: Path, program: str) -> Path:
    """Return where an install into a --target folder put the program (bin/, or Scripts/)."""
    return next(
        (p for p in (folder / "bin" / program, folder / "Scripts" / program) if p.is_file()),
        folder / "bin" / program,
    )


def run_archive(ctx: InstallBack, triple: str, archive: Path, runs_as: str) -> str:
    """Unpack an archive from the release folder and run its binary."""
    folder = ctx.work / "installs" / triple / "archive"
    folder.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as opened:
            # zipfile drops absolute paths and ".." from member names.
            opened.extractall(folder)  # noqa: S202
    else:
        with tarfile.open(archive) as opened:
            opened.extractall(folder, filter="data")
    program = _program(ctx, runs_as)
    found = sorted(p for p in folder.rglob(program) if p.is_file())
    if not found:
        return f"failed: {archive.name} holds no {program}"
    return _run_binary(ctx, runs_as, found[0])


def install_sdist(ctx: InstallBack, sdist: Path) -> str:
    """Build the sdist from the index with pip, as a user without a wheel would; run the binary."""
    try:
        # Checked at assemble already; read again, as this is the copy pip gets.
        read = read_sdist(
            sdist, folder=sdist_folder(ctx.project, ctx.version), project=ctx.project,
            version=ctx.version,
        )  # fmt: skip
    except ContentsError as exc:
        return f"failed: {sdist.name} {exc.problem}"
    except OSError as exc:
        return f"failed: {sdist.name} cannot be read ({exc.strerror or exc})"
    venv = ctx.work / "installs" / "sdist" / "pip-venv"
    run = ctx.runner.run
    run(Command(argv=(sys.executable, "-m", "venv", str(venv))), log=lambda _: None)
    python = str(venv / "bin" / "python")
    # The build backend (maturin) comes from the index this machine's pip is set up with, as it
    # does for any user; the project itself only from the local index, and never as a wheel.
    requires = read.build_requires
    backend = run(
        Command(argv=(python, "-m", "pip", "install", "--disable-pip-version-check", *requires)),
        check=False,
        log=lambda _: None,
    )
    if backend.returncode != 0:
        return f"failed: pip could not install the build requirements {', '.join(requires)}"
    # maturin's build backend runs the maturin on PATH: the venv's own, as for a user who
    # activated it. A new cargo target folder: one an earlier build filled would hide a file
    # missing from the sdist. --isolated: no pip config or PIP_* variable adds another index.
    path = ctx.runner.base_env.get("PATH", "")
    env = {
        "PATH": os.pathsep.join(filter(None, [str(venv / "bin"), path])),
        "CARGO_TARGET_DIR": str(venv.parent / "cargo-target"),
        "MATURIN_PEP517_ARGS": "",
    }
    result = run(
        Command(
            argv=(
                python, "-m", "pip", "--isolated", "install", "--disable-pip-version-check",
                "--no-cache-dir", "--no-binary", ":all:", "--no-build-isolation",
                "--index-url", ctx.index_url, _spec(ctx),
            ),
            env=env,
        ),
        check=False,
        log=lambda _: None,
    )  # fmt: skip
    if result.returncode != 0:
        return f"failed: pip could not build and install {_spec(ctx)} from its sdist"
    return _check_built(ctx, venv)


def _check_built(ctx: InstallBack, venv: Path) -> str:
    """Run the binary, or import the module, that pip built from the sdist."""
    if ctx.module is not None:
        return _import_built(ctx, venv, "the build from the sdist")
    host = ctx.tools.host_triple or ""
    if host not in TARGETS:
        return f"failed: castoff does not know this machine's triple {host!r}, to run what it built"
    return _installed(ctx, host, "pip (from the sdist)", 0, venv / "bin" / ctx.binary)


def _import_built(ctx: InstallBack, venv: Path, what: str, label: str | None = None) -> str:
    """Import the module installed into a venv, as the venv's Python finds it (-I, from venv)."""
    # Isolated, from the venv's folder: the module must come from what was installed, not from
    # the project's sources or PYTHONPATH.
    probe = (
        f"import {ctx.module}, sys; p = {ctx.module}.__file__ or ''; "
        "sys.exit(0 if p.startswith(sys.prefix) else 3)"
    )
    result = ctx.runner.run(
        Command(argv=(str(venv / "bin" / "python"), "-I", "-c", probe), cwd=venv),
        check=False,
        log=lambda _: None,
    )
    if result.returncode != 0:
        return f"failed: `import {ctx.module}` after {what} exited {result.returncode}"
    return f"ok (import {ctx.module}, {label or _host_label()})"


def _import(ctx: InstallBack, venv: Path, how: str, returncode: int, wheel: str, label: str) -> str:
    """Import the module in a venv pip or uv installed into, from the wheel the row names."""
    if returncode != 0:
        return f"failed: {how} could not install {_spec(ctx)}"
    installed = sorted(venv.glob("lib/python*/site-packages/*.dist-info/WHEEL"))
    expected = {str(t) for t in parse_wheel_filename(wheel)[3]}
    found = {
        line.split(":", 1)[1].strip()
        for path in installed
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.startswith("Tag:")
    }
    if not found & expected:
        return f"failed: {how} installed another wheel than {wheel} ({', '.join(sorted(found))})"
    return _import_built(ctx, venv, f"{how}'s install", label)


def install_extension(ctx: InstallBack, wheel: str, python: Interpreter) -> tuple[str, str]:
    """Install an extension's wheel with pip and uv into a CPython's venvs (no sdist); import it."""
    # One folder per wheel: two wheels this CPython loads get fresh venvs each.
    folder = ctx.work / "installs" / wheel.removesuffix(".whl")
    pip_venv, pip, uv_venv, uv = _pip_and_uv(
        ctx, folder, "--only-binary", ":all:", python=python.executable
    )
    return (
        _import(ctx, pip_venv, "pip", pip, wheel, python.label),
        _import(ctx, uv_venv, "uv", uv, wheel, python.label),
    )


def _extension_rows(ctx: InstallBack, manifest: ReleaseManifest) -> list[Row]:
    """Install back each extension wheel this machine's CPython can load; say why not elsewhere."""
    rows = []
    host = ctx.tools.host_triple or ""
    here = host_interpreter()
    for wheel in (a for a in manifest.artifacts if a.kind == "wheel"):
        excluded = wheel.reason_off("pypi")
        tags = {str(t) for t in parse_wheel_filename(wheel.name)[3]}
        target = wheel.target or ""
        pythons = (here, *([ctx.interpreters[target]] if target in ctx.interpreters else []))
        python = next((p for p in pythons if tags & p.tags), None)
        if excluded is not None:
            pip = uv = "not run: not on the index"
        elif python is None and target in ctx.interpreter_verdicts:
            pip = uv = ctx.interpreter_verdicts[target]
        elif python is None:
            have = ", ".join(p.label for p in pythons)
            pip = uv = f"not run: no CPython here loads it (this is {host}, {have})"
        else:
            ctx.report(f"{wheel.target}: installing {wheel.name} back and importing it")
            pip, uv = install_extension(ctx, wheel.name, python)
        rows.append(
            Row(
                target=wheel.target or "",
                wheel=wheel.name,
                archive="-",
                index="uploaded" if excluded is None else f"kept off: {excluded}",
                archive_run="-",
                pip=pip,
                uv=uv,
            )
        )
    return rows


def install_back(ctx: InstallBack, manifest: ReleaseManifest, release: Path) -> list[Row]:
    """Check every target as its users get it: from the index with pip and uv, and the archive."""
    wheels = {a.target: a for a in manifest.artifacts if a.kind == "wheel"}
    archives = [a for a in manifest.artifacts if a.kind == "archive"]
    host = ctx.tools.host_triple or ""
    rows = []
    for sdist in (a for a in manifest.artifacts if a.kind == "sdist"):
        excluded = sdist.reason_off("pypi")
        ctx.report("sdist: building it back from the index with pip")
        built = (
            "not run: not on the index" if excluded else install_sdist(ctx, release / sdist.name)
        )
        rows.append(
            Row(
                target="sdist",
                wheel=sdist.name,
                archive="-",
                index="uploaded" if excluded is None else f"kept off: {excluded}",
                archive_run="-",
                pip=built,
                uv="not run: the sdist is built once, by pip",
            )
        )
    if ctx.module is not None:
        return rows + _extension_rows(ctx, manifest)
    for archive in archives:
        triple = archive.target or ""
        source = archive.alias_of and next(a.target for a in archives if a.name == archive.alias_of)
        wheel = wheels[source or triple]
        # An alias holds the static build of its source: it runs as that target's binary does.
        runs_as = source or triple
        ctx.report(f"{triple}: installing back and running")
        archive_run = run_archive(ctx, triple, release / archive.name, runs_as)
        target = TARGETS[triple]
        tag = platform_tag(target.libc, wheel.platform_tags)
        excluded = wheel.reason_off("pypi")
        if excluded is not None:
            pip = uv = "not run: not on the index"
        elif tag is None:
            pip = uv = f"failed: the wheel has no {target.libc} tag for {triple}"
        elif triple == host:
            pip, uv = install_native(ctx, runs_as)
        else:
            pip, uv = install_foreign(ctx, triple, tag, runs_as)
        rows.append(
            Row(
                target=triple,
                wheel=wheel.name,
                archive=archive.name,
                index="uploaded" if excluded is None else f"kept off: {excluded}",
                archive_run=archive_run,
                pip=pip,
                uv=uv,
            )
        )
    return rows


def elsewhere_rows(plan: ReleasePlan, tools: HostTools) -> dict[str, Row]:
    """Return the rows of targets only a machine of their own OS builds, which this is not."""
    rows = {}
    for triple, runner in built_elsewhere(plan, tools).items():
        job = plan.job(triple)
        why = (
            f"not run: built natively on {runner} by the release workflow (castoff ci); "
            "the runner-shaped tests check its commands"
        )
        rows[triple] = Row(
            target=triple,
            wheel=job.artifacts[0],
            archive=job.archive,
            index=f"not built here: only a {job.target.os} machine builds {triple}",
            archive_run=why,
            pip=why,
            uv=why,
        )
    return rows


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def image_interpreters(
    manifest: ReleaseManifest, cache_dir: Path, runner: Runner
) -> tuple[dict[str, Interpreter], dict[str, str]]:
    """Per musl target: the CPython of the image that built it, or the row's verdict why not.

    A wheel castoff built in its own musl image is imported with that image's CPython, copied
    out by the image's ID; when that cannot run here, the row fails with how to fix it. A wheel
    built with Docker (in cibuildwheel's image) is not run: castoff has no musl CPython for it.
    """
    pythons: dict[str, Interpreter] = {}
    verdicts: dict[str, str] = {}
    label = f"CPython {image.PYTHON_VERSION[0]}.{image.PYTHON_VERSION[1]} (musl)"
    for build in manifest.builds:
        target = TARGETS.get(build.target)
        if target is None or target.libc != "musl":
            continue
        built_here = build.image is not None and local_image_re("musl").fullmatch(build.image)
        if not built_here:
            verdicts[target.triple] = (
                f"not run: built in {(build.image or 'no image')[:100]}; castoff's musl CPython "
                "comes from its own musl image (the podman builds)"
            )
            continue
        if not image.MUSL_LOADER.exists():
            verdicts[target.triple] = (
                f"failed: no {image.MUSL_LOADER} here to run the musl image's CPython "
                "(apt-get install musl, or castoff setup)"
            )
            continue
        assert build.image is not None  # noqa: S101 - matched above
        try:
            podman = image.podman_for(cache_dir)
            podman.configure()
            exported = image.exported_python(runner, podman, build.image.rsplit(":", 1)[1])
        except CastoffError as exc:
            verdicts[target.triple] = f"failed: {_one_line(exc.message)}"
            continue
        except OSError as exc:
            verdicts[target.triple] = f"failed: the musl CPython could not be copied out ({exc})"
            continue
        found = probe_interpreter(runner, exported / "bin" / "python", label)
        if found is None:
            verdicts[target.triple] = f"failed: the musl CPython copied to {exported} does not run"
        else:
            pythons[target.triple] = found
    return pythons, verdicts


def rehearse(
    config: Config,
    plan: ReleasePlan,
    *,
    build_options: BuildOptions,
    work: Path,
    tools: HostTools,
    runner: Runner,
    env: Mapping[str, str],
    report: Report,
) -> RehearseResult:
    """Build, assemble, sign (throwaway keys), publish to a local index and folder, install back."""
    # The work folder is castoff's own (its marker says so), or new, or empty: a folder of
    # someone else's is never emptied.
    check_claimable(work, "rehearsal", UsageError, "--work")
    # A target only its own OS builds (MSVC on Windows runners) is not rehearsed here: the
    # release workflow builds it, and the table says so. The rest is rehearsed as planned.
    elsewhere = elsewhere_rows(plan, tools)
    if elsewhere:
        kept = (
            *(j.triple for j in plan.jobs if j.triple not in elsewhere),
            *((SDIST,) if plan.sdist else ()),
        )
        if not kept:  # an empty selection would mean every target
            raise UsageError(
                f"nothing to rehearse here: {', '.join(elsewhere)} build only on their own "
                "runners (castoff ci generate plans them there).",
                hint="Rehearse the targets this machine builds (castoff doctor lists them).",
            )
        plan = build_plan(config, only=kept)
    work.mkdir(parents=True, exist_ok=True)
    for sub in WORK_FOLDERS:
        shutil.rmtree(work / sub, ignore_errors=True)
    mark(work, "rehearsal", WORK_FOLDERS)
    dist = work / "dist"
    manifest = build_and_assemble(
        config,
        plan,
        build_options=build_options,
        build_dir=build_options.out_dir,
        dist=dist,
        mtime=build_options.source_date_epoch,
        tools=tools,
        runner=runner,
        report=report,
    )
    # Keyless backends (sigstore) sign only in GitHub Actions; a rehearsal signs with keys.
    backends = tuple(b for b in plan.signing_backends if not registry.get(b).keyless)
    keys = work / "keys"
    if backends:
        made = keygen(keys, config, runner)
        report(f"throwaway keys for {', '.join(made.backends)} in {keys}")
        manifest = sign_release(
            dist,
            config,
            backends=backends,
            env=env,
            keys_dir=keys,
            runner=runner,
            report=report,
        )
    tag = f"v{plan.version}"
    with local_index(work / "index", runner) as served:
        report(f"local index: {served.index_url} (uploads need its throwaway password)")
        host = FolderRelease(work / "release", tag) if config.publish.github.enabled else None
        published = publish_checked(
            dist,
            config,
            options=PublishOptions(
                repository_url=served.repository_url, index_url=served.index_url
            ),
            host=host,
            keys_dir=keys if backends else None,
            backends=backends,
            runner=runner,
            env={**env, **served.twine_env()},
            report=report,
        )
        # Extension wheels are imported; a program's musl binaries run under no CPython.
        pythons, verdicts = (
            image_interpreters(manifest, build_options.cache_dir, runner)
            if plan.module is not None
            else ({}, {})
        )
        ctx = InstallBack(
            interpreters=pythons,
            interpreter_verdicts=verdicts,
            index_url=served.index_url,
            project=plan.name,
            version=plan.version,
            binary=plan.binaries[0] if plan.binaries else "",
            module=plan.module,
            tools=tools,
            runner=runner,
            work=work,
            report=report,
            cache_dir=build_options.cache_dir,
        )
        rows = install_back(ctx, manifest, work / "release" / tag if host else dist)
        rows += elsewhere.values()
    report("stopped the local index")
    return RehearseResult(
        name=plan.name, version=plan.version, work=work, published=published, targets=tuple(rows)
    )
