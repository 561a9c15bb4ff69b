"""Key material in general: secrets from environment variables or files, keys.json folders.

Each backend's own keys (what they are, where its config says they come from) live in the
backend's module; this module is what they share.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from castoff.errors import SignError
from castoff.manifest import Field, read_document

KEYS_FILE = "keys.json"


@dataclass(frozen=True, kw_only=True)
class Secret:
    """A secret value and where it came from; only `source` is ever shown."""

    value: str = field(repr=False)
    source: str


def secret_strings(secrets: Iterable[Secret | None]) -> list[str]:
    """Return every string to redact: whole values and each long line of a key file."""
    found: list[str] = []
    for secret in secrets:
        if secret is not None and secret.value:
            found.append(secret.value)
            # A tool may echo one line of a key it cannot parse; no line of it may show.
            found += [line.strip() for line in secret.value.splitlines() if len(line) > 16]
    return found


def from_env(env: Mapping[str, str], name: str, key_path: str, what: str) -> Secret:
    """Return a secret from an environment variable, or say which variable is missing."""
    value = env.get(name)
    if not value:
        raise SignError(
            f"{key_path}: the environment variable {name}, which should hold {what}, is not set.",
            hint=f"Export {name} (in GitHub Actions, from a secret), or sign with throwaway "
            "keys for a rehearsal: `castoff keygen DIR` and `--keys DIR`.",
        )
    return Secret(value=value, source=f"environment variable {name}")


def from_file(path: Path, key_path: str, what: str) -> Secret:
    """Return a secret from a file, or say why it cannot be read (never its content)."""
    try:
        return Secret(value=path.read_text(encoding="utf-8"), source=f"file {path}")
    except (OSError, UnicodeDecodeError) as exc:
        raise SignError(
            f"{key_path}: cannot read {what} from {path} ({type(exc).__name__}).",
            hint="Point the key at a readable file, or use the -env key instead.",
        ) from None


def from_either(
    env: Mapping[str, str], path: Path | None, env_name: str | None, key_path: str, what: str
) -> Secret:
    """Return a secret from the environment variable or the file the config names."""
    if env_name is not None:
        return from_env(env, env_name, key_path, what)
    assert path is not None  # noqa: S101 - config requires exactly one of the two
    return from_file(path, key_path, what)


@dataclass(frozen=True, kw_only=True)
class KeyFolder:
    """A backend's entry in a `castoff keygen` folder: files by plain name, read on request."""

    folder: Path
    entry: Field

    def path(self, key: str) -> Path:
        """Return a file of the folder that the entry names (never a path elsewhere)."""
        return self.folder / self.entry.key(key).file_name()

    def secret(self, key: str, what: str) -> Secret:
        """Return the secret in a file the entry names."""
        return from_file(self.path(key), str(self.folder / KEYS_FILE), what)

    def text(self, key: str) -> str:
        """Return a string of the entry."""
        return self.entry.key(key).text()


def key_folder_entry(folder: Path, backend: str) -> Field:
    """Return a backend's entry of a folder `castoff keygen` wrote."""
    path = folder / KEYS_FILE
    if not path.is_file():
        raise SignError(
            f"{path}: not a castoff key folder (there is no such file).",
            hint="Make one with `castoff keygen DIR`.",
        )
    doc = read_document(path, "castoff's throwaway key list", SignError)
    if backend not in doc.object():
        raise SignError(
            f"{path}: has no '{backend}' keys.",
            hint="Make the folder again with `castoff keygen DIR` for the current config.",
        )
    return doc.key(backend)


def write_private(path: Path, text: str) -> Path:
    """Write a file only its owner can read (a key, a passphrase)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return path


@contextmanager
def private_folder() -> Iterator[Path]:
    """Yield a folder only this user can read, removed afterwards with the secrets in it."""
    folder = Path(tempfile.mkdtemp(prefix="castoff-keys-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
