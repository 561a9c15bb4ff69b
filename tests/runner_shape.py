"""GitHub's x64 Ubuntu runners, simulated here: a mount namespace per workflow step.

What the simulation takes away: every file of the Debian packages an Ubuntu runner does not
have (Debian's Rust toolchain and std sources, qemu-user, cross compilers and their glibc
sysroots, Wine) is hidden by an overlay on /usr whose upper layer holds whiteouts. What it gives: a
home with rustup and a stable toolchain holding only the host's std, as the runner image has.

Where a real runner downloads, a local source stands in, and is named for what it replaces:
- static.rust-lang.org: a rustup dist server on file:// (tests/rust_dist.py) serving a toolchain
  and, for `rustup target add` and `rustup component add rust-src`, std for each target;
- Ubuntu's archive: an `apt-get` that "installs" a hidden Debian package by copying its files
  (and those of the hidden packages it depends on) back into the job's /usr overlay. Its cross
  glibc is Debian 12's 2.36, standing in for ubuntu-22.04's 2.35 (where castoff runs cross-gcc
  builds): glibc only ever raises a symbol's default version, so a binary that keeps its tag
  linked against 2.36 keeps it against 2.35. It is no stand-in for ubuntu-24.04's 2.39;
- crates.io: the project's own `.cargo/config.toml` (the greet example reads Debian's packaged
  crates), and PyPI itself, which this machine reaches.

Each job has its own upper layers (its /usr and its home), so what one step installs the next
sees, and no job sees another's: a fresh runner per job, as GitHub gives.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests import rust_dist
from tests.rust_dist import DistServer

# The Debian packages an ubuntu-latest runner lacks (by name): Rust, qemu-user, cross tools,
# Wine.
_RUST = ("rustc", "cargo", "rust-", "libstd-rust")
_FOREIGN_GNU = (
    "aarch64", "arm", "powerpc64le", "powerpc64", "s390x", "riscv64", "i686", "loongarch64",
)  # fmt: skip


def runner_lacks(package: str) -> bool:
    """Return whether an Ubuntu runner lacks this Debian package."""
    return (
        package.startswith(_RUST)
        or package
        in ("qemu-user-static", "qemu-user", "qemu-user-binfmt", "binfmt-support", "minisign")
        or package.endswith(("-cross", "-cross-base"))
        or package.startswith(("wine", "libwine"))
        or any(f"-{cpu}-linux-gnu" in package for cpu in _FOREIGN_GNU)
    )


def _dpkg(*args: str) -> str:
    return subprocess.run(["dpkg-query", *args], capture_output=True, text=True, check=True).stdout


def _real(path: str) -> str:
    """Return a packaged path with its folders resolved (/lib -> /usr/lib on merged /usr)."""
    packaged = Path(path)
    return str(packaged.parent.resolve() / packaged.name)


def hidden_packages() -> dict[str, dict[str, object]]:
    """Return each installed package a runner lacks: its files under /usr and its dependencies."""
    listing = _dpkg("-W", "-f", "${Package}\t${Status}\t${Depends}\n")
    installed: dict[str, str] = {}
    for line in listing.splitlines():
        name, status, depends = [*line.split("\t"), "", ""][:3]
        if status.endswith(" installed") and runner_lacks(name):
            installed[name] = depends
    packages: dict[str, dict[str, object]] = {}
    for name, depends in installed.items():
        files = [
            real
            for path in _dpkg("-L", name).splitlines()
            if path.startswith("/")
            and (real := _real(path)).startswith("/usr/")
            and (Path(real).is_symlink() or Path(real).is_file())
        ]
        needs = [
            alt.split()[0].split(":")[0]
            for part in depends.split(",")
            if (alt := part.split("|")[0].strip())
        ]
        packages[name] = {"files": sorted(files), "depends": [n for n in needs if n in installed]}
    return packages


def whiteouts(hidden: set[str]) -> list[str]:
    """Return the fewest paths to white out so every hidden file, and nothing else, is gone."""
    ancestors = {str(p) for f in hidden for p in Path(f).parents}

    def walk(folder: str) -> tuple[bool, list[str]]:
        if folder not in ancestors:
            return False, []
        every, paths = True, []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    gone, below = walk(entry.path)
                    paths += [entry.path] if gone else below
                else:
                    gone = entry.path in hidden
                    paths += [entry.path] if gone else []
                every = every and gone
        return every, paths

    return walk("/usr")[1]


# The stand-in for apt-get on Ubuntu's archive; {packages} and {host_usr} are filled in.
_APT_GET = """#!{python}
# apt-get standing in for Ubuntu's archive (castoff's runner-shaped simulation): "installs" a
# package this runner lacks by copying its files, and its dependencies', back into /usr.
import json, os, shutil, sys

PACKAGES = json.load(open({packages!r}))
HOST_USR = {host_usr!r}
# Options as apt-get takes them: flags, and -o NAME=VALUE (the value is the next word).
args, words = [], iter(sys.argv[1:])
for word in words:
    if word in ("-o", "-c", "-t"):
        next(words, None)
    elif not word.startswith("-"):
        args.append(word)
if not args or args[0] not in ("update", "install"):
    sys.exit("apt-get (simulated): only update and install are simulated")
if args[0] == "update":
    print("Reading package lists... Done (simulated: the archive is this machine's packages)")
    sys.exit(0)
todo, done = list(args[1:]), set()
while todo:
    name = todo.pop()
    if name in done:
        continue
    done.add(name)
    if name not in PACKAGES:
        if os.system("dpkg-query -W " + name + " >/dev/null 2>&1") == 0:
            print(name + " is already the newest version")
            continue
        print("E: Unable to locate package " + name, file=sys.stderr)
        sys.exit(100)
    print("Setting up " + name + " (simulated)")
    todo += PACKAGES[name]["depends"]
    for path in PACKAGES[name]["files"]:
        source = HOST_USR + path[len("/usr"):]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)
        if os.path.islink(source):
            os.symlink(os.readlink(source), path)
        else:
            shutil.copy2(source, path)
"""


# The runner's passwordless sudo: the simulation's steps already run as root.
_SUDO = """#!/bin/sh
# sudo standing in for a GitHub runner's passwordless sudo (the simulation runs as root).
while [ "${1#-}" != "$1" ]; do shift; done
exec "$@"
"""


@dataclass(frozen=True)
class RunnerShape:
    """ubuntu-latest, simulated: hides what the runner lacks, gives what its image has."""

    state: Path  # the packages and whiteouts, shared by every job of a test
    image_home: Path  # rustup and the stable toolchain with the host std, as the image has
    env: Mapping[str, str]  # RUSTUP_DIST_SERVER and the rest every step gets
    # Folders of commands the runner image has and this machine does not (a fake gh).
    preinstalled: tuple[str, ...] = ()

    @classmethod
    def create(
        cls,
        state: Path,
        image_home: Path,
        env: Mapping[str, str],
        preinstalled: tuple[str, ...] = (),
    ) -> RunnerShape:
        """Record the packages a runner lacks and the whiteouts that hide them."""
        state.mkdir(parents=True, exist_ok=True)
        packages = hidden_packages()
        hidden = {f for p in packages.values() for f in p["files"]}  # type: ignore[attr-defined]
        (state / "packages.json").write_text(json.dumps(packages))
        (state / "whiteouts.json").write_text(json.dumps(whiteouts(hidden)))
        return cls(state=state, image_home=image_home, env=dict(env), preinstalled=preinstalled)

    def job(self, folder: Path) -> Path:
        """Make a fresh runner for one job: its /usr layer (whiteouts, apt-get) and home layer."""
        for name in ("usr-upper", "usr-work", "home-upper", "home-work", "home", "host-usr"):
            (folder / name).mkdir(parents=True)
        upper = folder / "usr-upper"
        for path in json.loads((self.state / "whiteouts.json").read_text()):
            gone = upper / Path(path).relative_to("/usr")
            gone.parent.mkdir(parents=True, exist_ok=True)
            os.mknod(gone, 0o600 | 0o020000, os.makedev(0, 0))  # an overlayfs whiteout
        apt = upper / "bin" / "apt-get"
        apt.parent.mkdir(parents=True, exist_ok=True)
        apt.write_text(
            _APT_GET.format(
                python=sys.executable,
                packages=str(self.state / "packages.json"),
                host_usr=str(folder / "host-usr"),
            )
        )
        apt.chmod(0o755)
        sudo = upper / "bin" / "sudo"
        sudo.write_text(_SUDO)
        sudo.chmod(0o755)
        return folder

    def environment(
        self, folder: Path, base: Mapping[str, str], python: Path | None = None
    ) -> dict[str, str]:
        """Return a step's environment: the runner's home, PATH and the stand-in servers.

        python is the folder actions/setup-python puts first on PATH: this interpreter's unless
        given.
        """
        home = folder / "home"
        python = python or Path(sys.executable).parent
        return {
            **{k: v for k, v in base.items() if not k.startswith(("RUSTUP_", "CARGO_"))},
            **self.env,
            "HOME": str(home),
            "RUSTUP_HOME": str(home / ".rustup"),
            "CARGO_HOME": str(home / ".cargo"),
            "PATH": os.pathsep.join(
                [
                    str(home / ".cargo" / "bin"),
                    *self.preinstalled,
                    str(python),
                    "/usr/local/bin",
                    "/usr/bin",
                    "/bin",
                ]
            ),
        }

    def argv(self, folder: Path, script: str) -> list[str]:
        """Return the command that runs a step's bash script inside this job's runner."""
        mounts = [
            f"mount --bind /usr {shlex.quote(str(folder / 'host-usr'))}",
            "mount -t overlay overlay -o "
            + shlex.quote(
                f"lowerdir=/usr,upperdir={folder / 'usr-upper'},workdir={folder / 'usr-work'}"
            )
            + " /usr",
            "mount -t overlay overlay -o "
            + shlex.quote(
                f"lowerdir={self.image_home},upperdir={folder / 'home-upper'},"
                f"workdir={folder / 'home-work'}"
            )
            + f" {shlex.quote(str(folder / 'home'))}",
        ]
        enter = " && ".join(mounts) + ' && exec bash -e -c "$0"'
        return ["unshare", "-m", "--propagation", "private", "bash", "-e", "-c", enter, script]


def lacks(folder: Path, shape: RunnerShape, commands: Iterable[str]) -> dict[str, bool]:
    """Return, for each command, whether the job's runner cannot find it on its PATH."""
    env = shape.environment(folder, os.environ)
    found = {}
    for name in commands:
        probe = subprocess.run(
            shape.argv(folder, f"command -v {shlex.quote(name)}"),
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        found[name] = probe.returncode != 0
    return found


def runner_image(server: DistServer) -> Path:
    """Return a home as GitHub's runner image has it: rustup, stable, the host's std only.

    Installed once per dist server (per machine), from the server by the real rustup-init.
    """
    home = server.root.with_name(server.root.name + "-image")
    if not home.is_dir():
        with rust_dist.locked(home.with_name(home.name + ".lock")):
            if not home.is_dir():
                partial = home.with_name(home.name + ".partial")
                if partial.exists():
                    shutil.rmtree(partial)
                server.install(partial)
                partial.rename(home)
    return home


def served_targets() -> list[str]:
    """Return every target of the embedded examples: the stand-in rustup server has their std."""
    from castoff.config import load  # noqa: PLC0415

    examples = Path(__file__).parent.parent / "examples"
    found = {t.triple for p in examples.glob("*/pyproject.toml") for t in load(p).targets}
    return sorted(found)


def ubuntu_latest(state: Path, preinstalled: tuple[str, ...] = ()) -> RunnerShape:
    """Return ubuntu-latest, simulated; one stand-in rustup server and image per machine."""
    host = rust_dist.release_host()
    sysroots = {t: rust_dist.castoff_sysroot(t) for t in served_targets() if t != host}
    server = rust_dist.dist_server(sysroots)
    env = {
        k: v for k, v in server.install_env(Path("/nonexistent")).items() if k.startswith("RUSTUP_")
    }
    env.pop("RUSTUP_HOME")
    # GitHub's runners say so. (castoff's noxfile runs ci/install-system.sh on Debian 12 only,
    # which a runner is not; here /etc/os-release still says Debian 12, but dpkg's database
    # lists every hidden package as installed, so the script finds nothing to do.)
    env |= {"GITHUB_ACTIONS": "true", "CI": "true"}
    # Stand in for the network's speed only: pip's and uv's downloads from PyPI, cached by this
    # machine. (uv links each job's virtualenvs from its cache: unpacking zig and maturin into
    # every fresh cache took two thirds of a job's time.)
    env["PIP_CACHE_DIR"] = str(Path.home() / ".cache" / "pip")
    env["UV_CACHE_DIR"] = str(Path.home() / ".cache" / "uv")
    return RunnerShape.create(state, runner_image(server), env, preinstalled)
