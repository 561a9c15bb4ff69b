"""What this machine can build and run: a probe of its tools, and pure choices made from it."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from castoff import targets as tg
from castoff.build.answers import Answers, Program, identify
from castoff.errors import CastoffError, ConfigError
from castoff.runner import Command, Runner

if TYPE_CHECKING:
    from castoff.plan import BuildJob

DEBIAN_RUSTC = Path("/usr/bin/rustc")
DEBIAN_CARGO = Path("/usr/bin/cargo")
# Where a toolchain keeps std's sources (rustup's rust-src component, Debian's rust-web-src).
RUST_SRC = Path("lib/rustlib/src/rust/library")

APT = "apt-get install -y --no-install-recommends"
INSTALL_DEBIAN_RUST = f"{APT} rustc-web cargo-web rust-web-src"
# castoff runs qemu-user itself (no binfmt registration needed): the static build is enough.
QEMU_PACKAGE = "qemu-user-static"
WINE_RUNNER = "wine64"  # as smoke records name it
WINE_PACKAGE = "wine64"  # Debian's: the 64-bit loader only, at /usr/lib/wine/wine64
WINE_LOADERS = ("/usr/lib/wine/wine64", "/usr/bin/wine64")
INSTALL_QEMU = f"{APT} {QEMU_PACKAGE}"
INSTALL_BUILD_PYTHON = "pip install 'castoff[build]' (maturin and ziglang)"
INSTALL_RUSTUP = "rustup from https://rustup.rs (GitHub's runners have it)"
# Debian's architecture names, for libc6-<arch>-cross sysroots and <triple>-gcc packages.
DEBIAN_ARCH = {
    "aarch64-linux-gnu": "arm64",
    "arm-linux-gnueabihf": "armhf",
    "i686-linux-gnu": "i386",
    "powerpc64le-linux-gnu": "ppc64el",
    "powerpc64-linux-gnu": "ppc64",
    "s390x-linux-gnu": "s390x",
    "riscv64-linux-gnu": "riscv64",
    "loongarch64-linux-gnu": "loong64",
}


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    """A Rust toolchain: its compiler, cargo, version text and the targets it has std for."""

    rustc: str
    cargo: str
    version: str  # `rustc -vV`
    cargo_version: str  # `cargo -V`
    std_targets: frozenset[str]
    sysroot: str = ""  # `rustc --print sysroot`
    rust_src: str | None = None  # std's sources (its `library` folder), when installed
    vendored: bool = False  # rust_src holds std's dependencies too: std builds offline
    rustup: str | None = None  # the rustup toolchain's name, when rustup manages it
    # It ships rust-objcopy, which rustc strips Mach-O binaries with (Debian's rustc does not).
    objcopy: bool = False

    @property
    def host(self) -> str | None:
        """Return the triple this toolchain runs on."""
        return _version_field(self.version, "host")


@dataclass(frozen=True, kw_only=True)
class HostTools:
    """Everything the probe found on this machine; choices are pure functions of it."""

    host_triple: str | None
    default: Toolchain | None  # the rustc on PATH (rustup's, usually)
    # Debian's rustc-web with rust-web-src: std's sources and dependencies, so std builds offline.
    build_std: Toolchain | None
    rustup: str | None = None  # the rustup command, when there is one
    maturin: str | None
    maturin_version: str | None
    zig_version: str | None  # ziglang importable by this Python
    python: str
    qemu: Mapping[str, str]  # qemu-user binary name -> path
    cross_gcc: Mapping[str, str]  # Debian triple -> gcc path
    sysroots: Mapping[str, str]  # Debian triple -> /usr/<triple> holding its dynamic loader
    docker: bool  # a Docker engine answers (False too when not asked: no job uses one)
    # Debian triple -> the version of the glibc its cross gcc links against ("2.36").
    cross_glibc: Mapping[str, str] = field(default_factory=dict)
    wine: str | None = None  # Wine's 64-bit loader, which runs x86_64 Windows programs


@dataclass(frozen=True, kw_only=True)
class Missing:
    """Something a target needs that this machine lacks, and the command that installs it."""

    what: str
    install: str
    # Debian/Ubuntu packages that provide it: what `castoff setup` installs with apt-get.
    packages: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Choice:
    """How a target builds on this machine: method, where std comes from, what is missing."""

    method: str  # native, zig, build-std, cross-gcc, docker
    std: str  # a std source of castoff.build.stds (toolchain, rustup, sysroot), or "image"
    linker: str | None  # a cross gcc, for cross-gcc
    missing: tuple[Missing, ...]
    reason: str
    toolchain: Toolchain | None = None  # the toolchain that builds it (None: an image's)

    @property
    def buildable(self) -> bool:
        """Return whether nothing is missing."""
        return not self.missing


@dataclass(frozen=True, kw_only=True)
class SmokePlan:
    """How a target's binaries are run here (natively or under qemu-user), or why they cannot be."""

    runner: str | None  # "native", a qemu-user binary name or wine64; None: cannot run here
    ld_prefix: str | None  # QEMU_LD_PREFIX for dynamically linked glibc builds
    missing: tuple[Missing, ...]
    reason: str
    program: str | None = None  # the runner's executable, where PATH does not find it (Wine)


def version_folder(version: str) -> str:
    """Return a tool's version as a folder name: letters, digits, '.' and '-' only."""
    return "".join(c if c.isalnum() or c in ".-" else "-" for c in version)


def _version_field(text: str, key: str) -> str | None:
    return next(
        (line.split(": ", 1)[1] for line in text.splitlines() if line.startswith(f"{key}: ")), None
    )


SYSROOT_QUESTION = ("--print", "sysroot")
VERSION_QUESTION = ("-vV",)
CARGO_QUESTION = ("-V",)
_EXE = ".exe" if sys.platform == "win32" else ""


def _same(path: str, other: str | None) -> bool:
    try:
        return other is not None and Path(path).samefile(other)
    except OSError:
        return False


def _ask(runner: Runner, argv: tuple[str, ...]) -> str | None:
    answer = runner.capture(Command(argv=argv))
    return answer.stdout.strip() if answer.returncode == 0 else None


def _ask_all(runner: Runner, questions: Sequence[tuple[str, ...] | None]) -> list[str | None]:
    """Ask the questions at once; None for a question that is None or not answered."""
    asked = [q for q in questions if q is not None]
    if not asked:
        return [None] * len(questions)
    with ThreadPoolExecutor(max_workers=len(asked)) as pool:
        answers = iter(list(pool.map(lambda argv: _ask(runner, argv), asked)))
    return [next(answers) if q is not None else None for q in questions]


# What a kept answer starts with (and holds), as rustc -vV and cargo -V write theirs.
_SHAPES: dict[tuple[str, ...], tuple[str, ...]] = {
    VERSION_QUESTION: ("rustc ", "\nhost: ", "\nrelease: "),
    CARGO_QUESTION: ("cargo ",),
}


def _reads_as(answer: str, question: tuple[str, ...]) -> bool:
    """Return whether an answer reads as rustc's -vV or cargo's -V does."""
    start, *within = _SHAPES[question]
    return answer.startswith(start) and all(part in answer for part in within)


def _keep_if_read(answers: Answers, program: Program, question: tuple[str, ...], said: str) -> None:
    """Keep an answer that reads as one: another would be asked again on every probe."""
    if _reads_as(said, question):
        answers.put(program, question, said)


def _kept(answers: Answers, program: Program | None, question: tuple[str, ...]) -> str | None:
    """Return what program answered to question, if it is kept and reads as its answer does."""
    answer = answers.get(program, question) if program else None
    return answer if answer and _reads_as(answer, question) else None


def _holds(sysroot: str, program: Program) -> bool:
    """Return whether program is sysroot's bin/rustc itself, with no link in sysroot's path."""
    # program.path has every link resolved: equal to the sysroot's, the sysroot has none. Only
    # then is the sysroot's file looked at (a kept path may be a chain of links).
    folder = Path(sysroot)
    return (
        folder.is_absolute()
        and Path(program.path) == folder / "bin" / f"rustc{_EXE}"
        and _in_sysroot(sysroot, "rustc") == program
    )


def _in_sysroot(sysroot: str, name: str) -> Program | None:
    """Return the compiled program a sysroot holds in bin/ (None for a relative sysroot)."""
    folder = Path(sysroot)
    return identify(folder / "bin" / f"{name}{_EXE}") if folder.is_absolute() else None


def _toolchain(
    runner: Runner,
    rustc: str,
    cargo: str,
    rustup: str | None = None,
    answers: Answers | None = None,
) -> Toolchain | None:
    """Ask a toolchain what it is; what depends only on its compiled programs may be kept."""
    answers = answers or Answers(None)
    itself = identify(rustc)
    # rustup's proxies (links to rustup itself) run the toolchain they choose, which only the
    # sysroot question tells: that one is always asked of them.
    proxied = _same(rustc, rustup)
    kept_sysroot = answers.get(itself, SYSROOT_QUESTION) if itself and not proxied else None
    if itself is None:
        # A script (a wrapper) may answer by its environment: asked, all three at once.
        asked = _ask_all(runner, [(rustc, *SYSROOT_QUESTION), (rustc, *VERSION_QUESTION),
                                  (cargo, *CARGO_QUESTION)])  # fmt: skip
        sysroot, version, cargo_version = asked
    else:
        # A kept sysroot is used only where this very program sits in it (bin/rustc, no link
        # on the way): a kept answer never points the build at other files.
        sysroot = (
            kept_sysroot
            if kept_sysroot and _holds(kept_sysroot, itself)
            else _ask(runner, (rustc, *SYSROOT_QUESTION))
        )
        if sysroot is None:
            return None
        compiler, tool = _in_sysroot(sysroot, "rustc"), _in_sysroot(sysroot, "cargo")
        if sysroot != kept_sysroot and _holds(sysroot, itself):
            answers.put(itself, SYSROOT_QUESTION, sysroot)
        # The sysroot's programs answer for themselves when they are rustc itself or what
        # rustup's proxies would run.
        by_compiler = compiler if compiler and (compiler == itself or proxied) else None
        by_tool = (
            tool
            if tool and (identify(cargo) == tool or (proxied and _same(cargo, rustup)))
            else None
        )
        version = _kept(answers, by_compiler, VERSION_QUESTION)
        cargo_version = _kept(answers, by_tool, CARGO_QUESTION)
        # They are asked themselves, not through rustup's proxies: rustup's choice could change
        # between two of its runs, and each answer is kept as its program's.
        direct = [
            by_compiler.path if by_compiler and version is None else None,
            by_tool.path if by_tool and cargo_version is None else None,
        ]
        asked_version, asked_cargo = _ask_all(
            runner,
            [
                (direct[0], *VERSION_QUESTION) if direct[0] else None,
                (direct[1], *CARGO_QUESTION) if direct[1] else None,
            ],
        )
        if version is None and (version := asked_version) and by_compiler:
            _keep_if_read(answers, by_compiler, VERSION_QUESTION, version)
        if cargo_version is None and (cargo_version := asked_cargo) and by_tool:
            _keep_if_read(answers, by_tool, CARGO_QUESTION, cargo_version)
        # What is left (a program outside the sysroot, or a linked toolchain whose rustc finds
        # its libraries only in rustup's environment) the commands on PATH answer, not kept.
        fallback_version, fallback_cargo = _ask_all(
            runner,
            [
                (rustc, *VERSION_QUESTION) if version is None and direct[0] != rustc else None,
                (cargo, *CARGO_QUESTION) if cargo_version is None and direct[1] != cargo else None,
            ],
        )
        version = version or fallback_version
        cargo_version = cargo_version or fallback_cargo
    if sysroot is None or version is None or cargo_version is None:
        return None
    root = Path(sysroot)
    rustlib = root / "lib" / "rustlib"
    src = root / RUST_SRC
    std = (
        frozenset(
            p.name
            for p in rustlib.iterdir()
            if (p / "lib").is_dir() and any((p / "lib").glob("libstd-*"))
        )
        if rustlib.is_dir()
        else frozenset()
    )
    return Toolchain(
        rustc=rustc,
        cargo=cargo,
        version=version,
        cargo_version=cargo_version,
        std_targets=std,
        sysroot=str(root),
        rust_src=str(src) if (src / "std").is_dir() else None,
        vendored=(src / "vendor").is_dir(),
        # rustup keeps each toolchain in <RUSTUP_HOME>/toolchains/<name>.
        rustup=root.name if rustup and root.parent.name == "toolchains" else None,
        objcopy=any((root / "lib" / "rustlib").glob("*/bin/rust-objcopy")),
    )


# glibc's libc.so.6 says what it is: "GNU C Library (Debian GLIBC 2.36-9) stable release
# version 2.36." (a cross glibc cannot be run to ask it).
_GLIBC_BANNER = re.compile(rb"GNU C Library [^\n]{0,120}? version ([0-9]{1,3})\.([0-9]{1,3})[.\n]")


def glibc_version(libc: Path) -> str | None:
    """Return the version of the glibc whose libc.so.6 this is ("2.36"), or None."""
    try:
        found = _GLIBC_BANNER.search(libc.read_bytes())
    except OSError:
        return None
    return f"{int(found[1])}.{int(found[2])}" if found else None


def _linked_glibc(runner: Runner, gcc: str) -> str | None:
    """Return the version of the glibc a gcc links against: the libc.so.6 it finds."""
    found = runner.capture(Command(argv=(gcc, "-print-file-name=libc.so.6")))
    # Where it has none, gcc prints the bare name back.
    path = found.stdout.strip()
    return glibc_version(Path(path)) if found.returncode == 0 and Path(path).is_absolute() else None


def ziglang_zig() -> Path | None:
    """Return the zig of this Python's ziglang package, if it has one that can run."""
    try:
        spec = importlib.util.find_spec("ziglang")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    zig = Path(spec.origin).parent / ("zig.exe" if os.name == "nt" else "zig")
    return zig if zig.is_file() and os.access(zig, os.X_OK) else None


def _zig_version(runner: Runner) -> str | None:
    """Return the version of the zig in this Python's ziglang package, as that zig says it."""
    # Asked of the zig binary itself: `python -m ziglang version` would start a Python too.
    zig = ziglang_zig()
    if zig is None:
        return None  # zig counts as missing: only the targets that link with it say so
    try:
        answer = runner.capture(Command(argv=(str(zig), "version")))
    except (CastoffError, OSError):
        return None
    version = answer.stdout.strip()
    return version if answer.returncode == 0 and version else None


class Probe:
    """A look at this machine's tools under way: a dozen quick processes, asked in the background.

    Started once the config is read and planned, so the processes run beside what the command
    does next in Python (its last imports, the progress display); `tools` waits for them. Docker
    is asked in `tools`, only when the plan needs it.
    """

    def __init__(
        self, runner: Runner, env: Mapping[str, str], cache_dir: Path | None = None
    ) -> None:
        path = env.get("PATH", "")
        self._runner = runner
        # What rustc and cargo answered, by program (None: nothing kept, everything asked). A
        # rustc told to say another version (RUSTC_OVERRIDE_VERSION_STRING) is always asked.
        overridden = "RUSTC_OVERRIDE_VERSION_STRING" in env  # even empty, rustc takes it
        self._answers = Answers(None if overridden else cache_dir)
        self._path = path
        self._rustup = self._which("rustup")
        rustc, cargo = self._which("rustc"), self._which("cargo")
        # maturin and zig come with castoff's Python ('castoff[build]'), so look beside it first.
        self._maturin = shutil.which(
            "maturin", path=os.pathsep.join([str(Path(sys.executable).parent), path])
        )
        self._gnu_triples = {t.gnu_triple for t in tg.TARGETS.values() if t.gnu_triple}
        self._cross_gcc = {g: f for g in self._gnu_triples if (f := self._which(f"{g}-gcc"))}
        self._pool = ThreadPoolExecutor(max_workers=8)
        self._read = False
        pool = self._pool
        self._default = (
            pool.submit(_toolchain, runner, rustc, cargo, self._rustup, self._answers)
            if rustc and cargo
            else None
        )
        self._debian = (
            pool.submit(
                _toolchain, runner, str(DEBIAN_RUSTC), str(DEBIAN_CARGO), None, self._answers
            )
            if DEBIAN_RUSTC.exists() and DEBIAN_CARGO.exists()
            else None
        )
        self._maturin_version = (
            pool.submit(runner.capture, Command(argv=(self._maturin, "--version")))
            if self._maturin
            else None
        )
        self._zig = pool.submit(_zig_version, runner)
        self._glibc = {g: pool.submit(_linked_glibc, runner, c) for g, c in self._cross_gcc.items()}

    def _which(self, name: str) -> str | None:
        return shutil.which(name, path=self._path)

    def tools(self, *, docker: bool) -> HostTools:
        """Wait for the answers; without docker, no Docker engine is asked for (docker False)."""
        if self._read:  # its pool is shut down once read
            raise RuntimeError("a Probe's tools are read once; start another Probe")
        self._read = True
        with self._pool as pool:
            docker_f = (
                pool.submit(self._runner.capture, Command(argv=("docker", "info")))
                if docker and self._which("docker") is not None
                else None
            )
            default = self._default.result() if self._default else None
            debian = self._debian.result() if self._debian else None
            maturin_version = (
                self._maturin_version.result().stdout.strip() if self._maturin_version else None
            )
            zig_version = self._zig.result()
            cross_glibc = {g: v for g, f in self._glibc.items() if (v := f.result())}
            answers = docker_f.result().returncode == 0 if docker_f else False
        self._answers.save()
        build_std = debian if debian and debian.rust_src and debian.vendored else None
        either = default or build_std
        host = _version_field(either.version, "host") if either else None
        return HostTools(
            host_triple=host,
            default=default,
            build_std=build_std,
            rustup=self._rustup,
            maturin=self._maturin,
            maturin_version=maturin_version or None,
            zig_version=zig_version,
            python=sys.executable,
            qemu={t.qemu: f for t in tg.TARGETS.values() if t.qemu and (f := self._which(t.qemu))},
            cross_gcc=self._cross_gcc,
            cross_glibc=cross_glibc,
            # A sysroot is usable for QEMU_LD_PREFIX when it holds the dynamic loader.
            sysroots={
                g: f"/usr/{g}"
                for g in self._gnu_triples
                if any(Path(f"/usr/{g}/lib").glob("ld*.so*"))
            },
            docker=answers,
            wine=next((p for p in WINE_LOADERS if Path(p).is_file()), None),
        )


def probe(
    runner: Runner, env: Mapping[str, str], *, docker: bool = True, cache_dir: Path | None = None
) -> HostTools:
    """Look at this machine's tools: a few quick `--version` calls and file checks.

    Without docker, no Docker engine is asked for (HostTools.docker is False). With a cache
    folder, what rustc and cargo answered is kept there for the next probe.
    """
    return Probe(runner, env, cache_dir).tools(docker=docker)


def host_system() -> str:
    """Return this machine's OS as targets spell it (linux, macos, windows)."""
    return {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)


def choose(job: BuildJob, tools: HostTools) -> Choice:
    """Choose how a job builds on this machine; pure, so doctor and build always agree."""
    from castoff.build import methods  # noqa: PLC0415 - the methods build on this module

    missing: list[Missing] = []
    if tools.maturin is None:
        missing.append(Missing(what="maturin", install=INSTALL_BUILD_PYTHON))
    target = job.target
    method = methods.resolved(job.method, target, job.runner)
    if method is None:
        raise ConfigError(
            f"{job.triple}: no registered build method builds this target.",
            hint="Set the target's method, or register a method for it (docs/architecture.md).",
        )
    name = method.name
    reason = "configured" if name == job.method else (method.auto_reason(target) or "auto")
    missing += method.missing(job, tools)
    if name == "docker":
        # The image brings its own toolchain and std.
        return Choice(method=name, std="image", linker=None, missing=tuple(missing), reason=reason)
    from castoff.build import stds  # noqa: PLC0415 - the std sources build on this module

    # A prebuilt std has the target's default features: a job that turns some off (lsx =
    # false) gets a std built with them off too, or the std itself would break the promise.
    offered = stds.choose(
        target, tools, sysroot_only=method.builds_std or bool(job.target_features)
    )
    if offered is None:
        missing.append(Missing(what="a Rust toolchain", install=INSTALL_RUSTUP))
        return Choice(method=name, std="none", linker=None, missing=tuple(missing), reason=reason)
    source, offer = offered
    return Choice(
        method=name,
        std=source,
        linker=method.linker(job, tools),
        missing=tuple(missing) + offer.missing,
        reason=f"{reason}; std: {offer.reason}",
        toolchain=offer.toolchain,
    )


def smoke_plan(target: tg.Target, tools: HostTools) -> SmokePlan:
    """Decide how this machine runs a target's binaries; pure."""
    host = tools.host_triple or ""
    if host == target.triple or target.triple in tg.NATIVE_RUNS.get(host, ()):
        return SmokePlan(runner="native", ld_prefix=None, missing=(), reason="runs natively")
    if target.os == "windows" and "-linux-" in host and target.wheel_arch == "amd64":
        return _wine_plan(host, tools)
    if target.os != "linux" or target.elf is None:
        return SmokePlan(
            runner=None,
            ld_prefix=None,
            missing=(),
            reason=f"{target.os} binaries cannot run on a {host or 'machine of another'} host",
        )
    if host.startswith("x86_64-") and target.wheel_arch == "x86_64":
        return SmokePlan(runner="native", ld_prefix=None, missing=(), reason="runs natively")
    assert target.qemu is not None and target.gnu_triple is not None  # noqa: PT018, S101 - Linux
    missing = []
    if target.qemu not in tools.qemu:
        missing.append(Missing(what=target.qemu, install=INSTALL_QEMU, packages=(QEMU_PACKAGE,)))
    ld_prefix = None
    if target.libc == "gnu":
        ld_prefix = tools.sysroots.get(target.gnu_triple)
        if ld_prefix is None:
            arch = DEBIAN_ARCH.get(target.gnu_triple, target.gnu_triple)
            missing.append(
                Missing(
                    what=f"the {target.gnu_triple} glibc sysroot",
                    install=f"{APT} libc6-{arch}-cross",
                    packages=(f"libc6-{arch}-cross",),
                )
            )
    if missing:
        return SmokePlan(
            runner=None, ld_prefix=None, missing=tuple(missing), reason="missing tools"
        )
    return SmokePlan(
        runner=target.qemu, ld_prefix=ld_prefix, missing=(), reason=f"runs under {target.qemu}"
    )


def _wine_plan(host: str, tools: HostTools) -> SmokePlan:
    """Run x86_64 Windows programs under Wine, where an x86_64 Linux has it."""
    missing = []
    if not host.startswith("x86_64-"):
        return SmokePlan(
            runner=None,
            ld_prefix=None,
            missing=(),
            reason=f"Wine runs x64 Windows on x86_64, not {host}",
        )
    if tools.wine is None:
        missing.append(
            Missing(
                what="Wine (wine64, standing in for Windows x64)",
                install=f"{APT} {WINE_PACKAGE}",
                packages=(WINE_PACKAGE,),
            )
        )
    if tools.zig_version is None:
        # zig builds the DLL shim Wine 8.0 lacks (castoff.build.wine).
        missing.append(Missing(what="zig (the ziglang package)", install=INSTALL_BUILD_PYTHON))
    if missing:
        return SmokePlan(
            runner=None, ld_prefix=None, missing=tuple(missing), reason="missing tools"
        )
    return SmokePlan(
        runner=WINE_RUNNER,
        ld_prefix=None,
        missing=(),
        reason="runs under Wine, standing in for Windows x64",
        program=tools.wine,
    )
