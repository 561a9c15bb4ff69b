"""Rehearsals: a real local package index (pypiserver) on 127.0.0.1, started and stopped here."""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from castoff.errors import CastoffError
from castoff.runner import Command, Runner

_INSTALL = "pip install 'pypiserver[passlib]'"


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
            "pypi-server",
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
    (folder / "htpasswd").write_text(htpasswd_line("castoff", password), encoding="utf-8")
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
