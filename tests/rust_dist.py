"""A local rustup dist server, standing in for static.rust-lang.org, built from Debian's Rust.

A real rustup (the one GitHub's runner images have) installs toolchain `stable` from it, adds
targets and rust-src, all with no network: RUSTUP_DIST_SERVER=file://<folder>.

The folder holds what static.rust-lang.org serves rustup:
- `dist/channel-rust-stable.toml`, rustup's v2 channel manifest: `[pkg.<name>]` with a
  version and `[pkg.<name>.target.<triple>]` tables (available, url, hash); the `rust` package's
  `components` (rustc, cargo, the host's rust-std) and `extensions` (every other rust-std,
  rust-src); `[profiles]` as the real manifest names them (rustup skips the components this
  server lacks: rust-docs, rustfmt, clippy, ...); `[renames]`, empty.
- `dist/channel-rust-stable.toml.sha256`, which rustup checks (it asks for no signature).
- `dist/<date>/<pkg>-<version>[-<target>].tar.gz`: one rust-installer tarball (format 3) per
  package, gzip (rustup takes gz, xz and zst; gz is the quickest to write). The manifest's URLs
  name https://static.rust-lang.org, as the real one's do: rustup rewrites that prefix to
  RUSTUP_DIST_SERVER, so the folder can be cached and moved.

What each package holds, all from this machine:
- rustc: Debian's rustc-web (`/usr/bin/rustc`, `/usr/bin/rustdoc` and librustc_driver). rustc
  computes its sysroot from where librustc_driver was loaded, so the driver sits where rustup's
  rustc has it, `<toolchain>/lib`, and `rustc --print sysroot` gives the toolchain. Debian's
  binaries have no RUNPATH (they find the driver in the system's lib folder), so
  `<toolchain>/bin/rustc` and `rustdoc` are two-line sh wrappers that put `<toolchain>/lib` first
  on LD_LIBRARY_PATH and exec Debian's binary, kept in `<toolchain>/libexec/rustc-web/`.
  rustup's proxies set that variable too, but `<toolchain>/bin/rustc` run directly would else
  load the system's driver (sysroot /usr) or none; patchelf would need a package the tests'
  environment does not have.
- cargo: Debian's cargo-web, `/usr/bin/cargo`.
- rust-std for the host: Debian's `/usr/lib/rustlib/<host>/lib`.
- rust-std for other targets: castoff's std sysroots (`<cache>/sysroots/<triple>-<hash>`), only
  those built by this very rustc (their castoff-sysroot.json says which); the caller passes them.
- rust-src: Debian's rust-web-src, `/usr/lib/rustlib/src/rust/library`, *with* its `vendor`
  folder of std's dependencies. The real rust-src has no vendor folder: `-Zbuild-std` downloads
  std's dependencies from crates.io; here the vendor folder stands in for those downloads.

Caveats, where this differs from the real server:
- rust-std for musl targets lacks the `self-contained` folder (crt1.o, libc.a, libunwind.a, ...)
  the real one ships: library crates build, but linking a musl binary needs a musl toolchain.
- No rust-lld (`lib/rustlib/<host>/bin`), rust-docs, rustfmt, clippy, rust-analyzer, ...
- `rustc -vV` says Debian's "(built from a source tarball)" and LLVM version.
- Only the targets given are in the manifest: adding another fails as for an unknown target.

The built folder is cached per machine in ~/.cache/castoff-tests/rust-dist/<key>, the key being
a hash of the rustc and cargo versions, of Debian's files' sizes and times and of the sysroots'
records; it is built beside it in a `.partial` folder and renamed when complete, under a lock.
rustup's self-update checks (`rustup update`, `rustup check`) find nothing at RUSTUP_UPDATE_ROOT,
a folder of the server's that does not exist: they fail at once, offline.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sysconfig
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from castoff import settings
from castoff.build.maturin import BuildPaths
from castoff.build.stds import sysroot as castoff_sysroots
from castoff.build.toolchains import Choice, probe
from castoff.plan import BuildJob
from castoff.runner import Command, Runner
from castoff.targets import TARGETS

RECIPE = 1  # bump when what the server holds changes: it keys the cache
CACHE = Path.home() / ".cache" / "castoff-tests" / "rust-dist"
RUSTUP = Path.home() / ".cargo" / "bin" / "rustup"  # the runner image's rustup
OFFICIAL = "https://static.rust-lang.org"  # rustup replaces it with RUSTUP_DIST_SERVER
CHANNEL = "stable"
DEBIAN_RUSTC = Path("/usr/bin/rustc")
DEBIAN_RUSTDOC = Path("/usr/bin/rustdoc")
DEBIAN_CARGO = Path("/usr/bin/cargo")
DEBIAN_LIBDIR = Path("/usr/lib") / str(sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu")
DEBIAN_RUSTLIB = Path("/usr/lib/rustlib")
DEBIAN_RUST_SRC = DEBIAN_RUSTLIB / "src" / "rust" / "library"
SYSROOT_RECORD = castoff_sysroots.DONE  # castoff-sysroot.json
LIBEXEC = "libexec/rustc-web"
WRAPPER = """#!/bin/sh
# Debian's {tool} has no RUNPATH: load librustc_driver from this toolchain's lib folder.
lib=$(dirname "$(dirname "$(readlink -f "$0")")")/lib
LD_LIBRARY_PATH="$lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" exec "$lib/../{libexec}/{tool}" "$@"
"""
# As in the real manifest; rustup leaves out the components a server does not have.
MINIMAL = ("rustc", "cargo", "rust-std", "rust-mingw")
DEFAULT = (*MINIMAL, "rust-docs", "rustfmt-preview", "clippy-preview")
COMPLETE = (*DEFAULT, "rust-src", "rust-analyzer-preview", "llvm-tools-preview", "miri-preview")
PROFILES = {"minimal": MINIMAL, "default": DEFAULT, "complete": COMPLETE}
# What rustup's own environment variables would change in the installs of these tests.
FOREIGN_VARIABLES = ("RUSTUP_", "CARGO_", "RUSTC", "RUSTDOC")

# A file of a package: its path in the toolchain, and its source (a file, or the content).
Entry = tuple[str, Path | bytes]


@dataclass(frozen=True, kw_only=True)
class DistServer:
    """A built dist server: its folder, the release it serves, and the targets with a rust-std."""

    root: Path
    version: str  # the release, e.g. 1.96.0
    host: str
    targets: tuple[str, ...]  # the host first

    @property
    def url(self) -> str:
        """Return the file:// URL rustup takes as RUSTUP_DIST_SERVER."""
        return self.root.as_uri()

    def install_env(self, home: Path) -> dict[str, str]:
        """Return the variables of a runner-shaped home: rustup's folders, server, and PATH."""
        return {
            "RUSTUP_DIST_SERVER": self.url,
            # Self-update checks find nothing under the server's folder: no network, quickly.
            "RUSTUP_UPDATE_ROOT": f"{self.url}/rustup",
            "RUSTUP_HOME": str(home / ".rustup"),
            "CARGO_HOME": str(home / ".cargo"),
            "PATH": os.pathsep.join([str(home / ".cargo" / "bin"), os.environ.get("PATH", "")]),
        }

    def environment(self, home: Path) -> dict[str, str]:
        """Return this process's environment without rustup's and cargo's, plus install_env."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_VARIABLES)}
        return {**base, **self.install_env(home)}

    def install(self, home: Path, rustup: Path = RUSTUP) -> None:
        """Install rustup and toolchain stable (profile minimal) into home, as runner images do."""
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            init = Path(folder) / "rustup-init"
            shutil.copy(rustup, init)  # rustup acts as its installer when named rustup-init
            argv = [str(init), "-y", "--no-modify-path", "--profile", "minimal"]
            argv += ["--default-toolchain", CHANNEL]
            result = subprocess.run(
                argv,
                env=self.environment(home),
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
        if result.returncode != 0:
            raise RuntimeError(f"rustup-init failed ({result.returncode}):\n{result.stderr}")


@dataclass(frozen=True, kw_only=True)
class _Release:
    rustc: str  # `rustc -vV`
    cargo: str  # `cargo -V`

    def field(self, key: str) -> str:
        return next(
            line.split(": ", 1)[1]
            for line in self.rustc.splitlines()
            if line.startswith(f"{key}: ")
        )

    @property
    def version(self) -> str:
        return self.field("release")

    @property
    def date(self) -> str:
        return self.field("commit-date")

    @property
    def host(self) -> str:
        return self.field("host")

    @property
    def rustc_version(self) -> str:
        return _package_version(self.rustc.splitlines()[0])

    @property
    def cargo_version(self) -> str:
        return _package_version(self.cargo)


@dataclass(frozen=True, kw_only=True)
class _Package:
    name: str  # in the manifest: rustc, cargo, rust-std, rust-src
    target: str  # a triple, or * for every target
    component: str  # in the tarball: rustc, cargo, rust-std-<triple>, rust-src
    files: tuple[Entry, ...]
    bulk: str | None = None  # a folder the package installs whole (manifest.in's dir:)

    def stem(self, version: str) -> str:
        suffix = "" if self.target == "*" else f"-{self.target}"
        return f"{self.name}-{version}{suffix}"


def _package_version(line: str) -> str:
    """Return `1.96.0 (ac68faa20 2026-05-25)` from `rustc 1.96.0 (ac68faa20 2026-05-25) (...)`."""
    words = line.split()
    return " ".join(words[1:4])


def _run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def release_host() -> str:
    """Return the triple Debian's rustc runs on (the server's host)."""
    return _release().host


def _release() -> _Release:
    return _Release(rustc=_run(str(DEBIAN_RUSTC), "-vV"), cargo=_run(str(DEBIAN_CARGO), "-V"))


def _debian_files() -> list[tuple[str, int, int]]:
    """Return the size and time of Debian's files: a rebuilt package with one version differs."""
    paths = [DEBIAN_RUSTC, DEBIAN_RUSTDOC, DEBIAN_CARGO, DEBIAN_RUST_SRC / "Cargo.lock"]
    paths += sorted(DEBIAN_LIBDIR.glob("librustc_driver-*.so"))
    return [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths if p.exists()]


def _check_sysroot(triple: str, folder: Path, release: _Release) -> str:
    """Return the sysroot's record, after checking it is this rustc's std for the triple."""
    record_path = folder / SYSROOT_RECORD
    if not record_path.is_file():
        raise ValueError(f"{folder}: not a finished castoff sysroot (no {SYSROOT_RECORD}).")
    text = record_path.read_text(encoding="utf-8")
    record = json.loads(text)
    if record.get("target") != triple:
        raise ValueError(f"{folder}: a sysroot for {record.get('target')}, not {triple}.")
    if record.get("rustc") != release.rustc:
        raise ValueError(f"{folder}: built by another rustc than {DEBIAN_RUSTC}.")
    if triple == release.host:
        raise ValueError(f"{triple}: the host's rust-std comes from Debian's rustc.")
    if not any((folder / "lib" / "rustlib" / triple / "lib").glob("libstd-*.rlib")):
        raise ValueError(f"{folder}: no libstd for {triple}.")
    return text


def matching_sysroots(cache_dir: Path | None = None) -> dict[str, Path]:
    """Return castoff's cached sysroots built by Debian's rustc, one per triple (fewest flags)."""
    release = _release()
    root = cache_dir or settings.resolve(argparse.Namespace(), os.environ).cache_dir
    found: dict[str, tuple[int, Path]] = {}
    for record_path in sorted((root / "sysroots").glob(f"*/{SYSROOT_RECORD}")):
        record = json.loads(record_path.read_text(encoding="utf-8"))
        triple, flags = record.get("target"), record.get("flags") or []
        if record.get("rustc") != release.rustc or triple == release.host:
            continue
        if triple not in found or len(flags) < found[triple][0]:
            found[triple] = (len(flags), record_path.parent)
    return {triple: folder for triple, (_, folder) in sorted(found.items())}


def castoff_sysroot(triple: str, cache_dir: Path | None = None) -> Path:
    """Return castoff's std sysroot for a target, built by castoff's own code if not cached."""
    env = dict(os.environ)
    tools = probe(Runner(base_env=env, echo=lambda _: None), env, docker=False)
    debian = tools.build_std
    if debian is None:
        raise LookupError("castoff builds std with Debian's rustc-web and rust-web-src: missing.")
    job = BuildJob(
        target=TARGETS[triple],
        method="build-std",
        runner="ubuntu-latest",
        image=None,
        manylinux=None,
        musllinux=None,
        macosx=None,
        built_platform_tags=(),
        target_features=(),  # the sysroot of the default std flags
        zig_cpu=None,
        binaries=(),
        built_wheel="",
        archive_folder="",
        artifacts=(),
    )
    choice = Choice(
        method="build-std", std="sysroot", linker=None, missing=(), reason="", toolchain=debian
    )
    cache = cache_dir or settings.resolve(argparse.Namespace(), env).cache_dir
    paths = BuildPaths(project_dir=cache, wheel_dir=cache, cargo_target_dir=cache, cache_dir=cache)

    def run(command: Command) -> None:
        Runner(base_env=env, echo=lambda _: None).run(command, timeout=3600)

    prepared = castoff_sysroots.SOURCE.prepare(job, choice, tools, paths, run)
    assert prepared.sysroot is not None
    return prepared.sysroot


def _tree(source: Path, dest: str) -> tuple[Entry, ...]:
    """Return every file below a folder, as entries below dest (symbolic links followed)."""
    entries: list[Entry] = []
    for folder, _, names in os.walk(source, followlinks=True):
        relative = Path(folder).relative_to(source)
        entries += [(str(Path(dest) / relative / name), Path(folder) / name) for name in names]
    return tuple(sorted(entries))


def _packages(release: _Release, sysroots: Mapping[str, Path]) -> list[_Package]:
    host = release.host
    drivers = sorted(DEBIAN_LIBDIR.glob("librustc_driver-*.so"))
    if len(drivers) != 1:
        raise LookupError(f"{DEBIAN_LIBDIR}: {len(drivers)} librustc_driver, 1 expected.")
    # Debian ships std as a dylib in some releases; rustc then needs it beside the driver.
    dylibs = [*drivers, *sorted(DEBIAN_LIBDIR.glob("libstd-*.so"))]
    rustc: list[Entry] = [(f"lib/{p.name}", p) for p in dylibs]
    for tool, binary in (("rustc", DEBIAN_RUSTC), ("rustdoc", DEBIAN_RUSTDOC)):
        rustc.append((f"bin/{tool}", WRAPPER.format(tool=tool, libexec=LIBEXEC).encode()))
        rustc.append((f"{LIBEXEC}/{tool}", binary))
    if (DEBIAN_RUSTLIB / "etc").is_dir():
        rustc += _tree(DEBIAN_RUSTLIB / "etc", "lib/rustlib/etc")
    packages = [
        _Package(name="rustc", target=host, component="rustc", files=tuple(rustc)),
        _Package(
            name="cargo", target=host, component="cargo", files=(("bin/cargo", DEBIAN_CARGO),)
        ),
    ]
    stds = {host: DEBIAN_RUSTLIB / host} | {
        t: sysroots[t] / "lib" / "rustlib" / t for t in sorted(sysroots)
    }
    for triple, folder in stds.items():
        files = _tree(folder, f"lib/rustlib/{triple}")
        packages.append(
            _Package(name="rust-std", target=triple, component=f"rust-std-{triple}", files=files)
        )
    src = DEBIAN_RUST_SRC.resolve()
    packages.append(
        _Package(
            name="rust-src",
            target="*",
            component="rust-src",
            files=_tree(src, "lib/rustlib/src/rust/library"),
            bulk="lib/rustlib/src/rust",
        )
    )
    return packages


def _info(
    name: str, *, size: int = 0, executable: bool = False, folder: bool = False
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if folder else tarfile.REGTYPE
    info.mode = 0o755 if folder or executable else 0o644
    info.size = size
    info.uname = info.gname = "root"
    return info


def _write_tarball(path: Path, package: _Package, release: _Release) -> str:
    """Write a package's rust-installer tarball; return its SHA-256."""
    top = package.stem(release.version)
    if package.bulk:
        lines = [f"dir:{package.bulk}"]
    else:
        lines = [f"file:{dest}" for dest, _ in package.files]
    generated: list[Entry] = [
        ("rust-installer-version", b"3\n"),
        ("components", f"{package.component}\n".encode()),
        ("version", f"{release.rustc_version}\n".encode()),
        (f"{package.component}/manifest.in", ("\n".join(lines) + "\n").encode()),
    ]
    generated += [(f"{package.component}/{dest}", source) for dest, source in package.files]
    # rustup unpacks regular files and folders only, and wants each folder before its files.
    folders = {str(parent) for name, _ in generated for parent in Path(name).parents}
    folders.discard(".")
    order = sorted(
        [(Path(name).parts, name, None) for name in folders]
        + [(Path(name).parts, name, source) for name, source in generated]
    )
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as compressed,
        tarfile.TarFile(
            fileobj=compressed, mode="w", format=tarfile.GNU_FORMAT, copybufsize=1 << 20
        ) as tar,
    ):
        tar.addfile(_info(top, folder=True))
        for _, name, source in order:
            member = f"{top}/{name}"
            if source is None:
                tar.addfile(_info(member, folder=True))
            elif isinstance(source, bytes):
                tar.addfile(
                    _info(member, size=len(source), executable=source.startswith(b"#!")),
                    io.BytesIO(source),
                )
            else:
                stat = source.stat()
                info = _info(member, size=stat.st_size, executable=bool(stat.st_mode & 0o111))
                with source.open("rb") as handle:
                    tar.addfile(info, handle)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of printable ASCII is a TOML basic string


def _components(components: list[tuple[str, str]]) -> str:
    inner = ", ".join(
        f"{{ pkg = {_toml_string(pkg)}, target = {_toml_string(target)} }}"
        for pkg, target in components
    )
    return f"[{inner}]"


def _manifest(release: _Release, built: list[tuple[_Package, str, str]]) -> str:
    """Return the v2 channel manifest for the built packages (package, file name, hash)."""
    host = release.host
    lines = ['manifest-version = "2"', f"date = {_toml_string(release.date)}", ""]
    versions = {"cargo": release.cargo_version}
    names = sorted({package.name for package, _, _ in built} | {"rust"})
    for name in names:
        version = versions.get(name, release.rustc_version)
        lines += [f"[pkg.{name}]", f"version = {_toml_string(version)}", ""]
        if name == "rust":
            components = [("rustc", host), ("cargo", host), ("rust-std", host)]
            extensions = [
                (package.name, package.target)
                for package, _, _ in built
                if package.name in ("rust-std", "rust-src") and package.target != host
            ]
            lines += [
                f"[pkg.rust.target.{host}]",
                "available = false",  # no combined tarball: rustup installs the components
                f"components = {_components(components)}",
                f"extensions = {_components(extensions)}",
                "",
            ]
            continue
        for package, file_name, digest in built:
            if package.name != name:
                continue
            url = f"{OFFICIAL}/dist/{release.date}/{file_name}"
            lines += [
                f"[pkg.{name}.target.{_toml_string(package.target)}]",
                "available = true",
                f"url = {_toml_string(url)}",
                f"hash = {_toml_string(digest)}",
                "",
            ]
    lines.append("[profiles]")
    lines += [f"{profile} = {json.dumps(list(pkgs))}" for profile, pkgs in PROFILES.items()]
    lines += ["", "[renames]", ""]
    return "\n".join(lines)


def _build(root: Path, release: _Release, sysroots: Mapping[str, Path]) -> None:
    """Write the dist server into root, which must not exist."""
    packages = _packages(release, sysroots)
    folder = root / "dist" / release.date
    folder.mkdir(parents=True)

    def write(package: _Package) -> tuple[_Package, str, str]:
        name = f"{package.stem(release.version)}.tar.gz"
        return package, name, _write_tarball(folder / name, package, release)

    workers = min(2, os.cpu_count() or 1)
    # Largest first, so the two workers finish together.
    ordered = sorted(packages, key=lambda p: -sum(_size(source) for _, source in p.files))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        built = list(pool.map(write, ordered))
    text = _manifest(release, built)
    manifest = root / "dist" / f"channel-rust-{CHANNEL}.toml"
    manifest.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    (root / "dist" / f"{manifest.name}.sha256").write_text(
        f"{digest}  {manifest.name}\n", encoding="utf-8"
    )


def _size(source: Path | bytes) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a file: one builder per machine at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def dist_server(sysroots: Mapping[str, Path], cache: Path | None = None) -> DistServer:
    """Return the dist server with these targets' sysroots, built unless cached."""
    release = _release()
    records = {t: _check_sysroot(t, Path(f), release) for t, f in sorted(sysroots.items())}
    key_text = json.dumps([RECIPE, release.rustc, release.cargo, _debian_files(), records])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:20]
    root = (cache or CACHE) / key
    if not root.is_dir():
        with locked(root.with_name(f"{key}.lock")):
            if not root.is_dir():
                partial = root.with_name(f"{key}.partial")
                if partial.exists():
                    shutil.rmtree(partial)  # left by an interrupted build
                _build(partial, release, {t: Path(f) for t, f in sysroots.items()})
                partial.rename(root)
    return DistServer(
        root=root,
        version=release.version,
        host=release.host,
        targets=(release.host, *sorted(sysroots)),
    )
