"""Key material: secrets from environment variables or files, public keys, throwaway key folders."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from castoff.config import SignConfig
from castoff.errors import SignError
from castoff.manifest import read_document

KEYS_FILE = "keys.json"


@dataclass(frozen=True, kw_only=True)
class Secret:
    """A secret value and where it came from; only `source` is ever shown."""

    value: str = field(repr=False)
    source: str


@dataclass(frozen=True, kw_only=True)
class GpgKeys:
    """A gpg key in a keyring folder (None: GNUPGHOME), and its exported public key."""

    home: Path | None
    key_id: str
    passphrase: Secret | None
    public_key: Path


@dataclass(frozen=True, kw_only=True)
class MinisignKeys:
    """A minisign secret key (absent when only verifying) and its public key."""

    secret_key: Secret | None
    password: Secret | None
    public_key: Path


@dataclass(frozen=True, kw_only=True)
class SshKeys:
    """An ssh private key (absent when only verifying) and the allowed_signers that trusts it."""

    key: Secret | None
    allowed_signers: Path
    identity: str
    namespace: str


BackendKeys = GpgKeys | MinisignKeys | SshKeys


def secrets_of(keys: Iterable[BackendKeys]) -> list[str]:
    """Return every secret string to redact: whole values and each long line of a key file."""
    found: list[str] = []
    for item in keys:
        for secret in (
            getattr(item, "passphrase", None),
            getattr(item, "password", None),
            getattr(item, "secret_key", None),
            getattr(item, "key", None),
        ):
            if isinstance(secret, Secret) and secret.value:
                found.append(secret.value)
                # A tool may echo one line of a key it cannot parse; no line of it may show.
                found += [line.strip() for line in secret.value.splitlines() if len(line) > 16]
    return found


def _from_env(env: Mapping[str, str], name: str, key_path: str, what: str) -> Secret:
    value = env.get(name)
    if not value:
        raise SignError(
            f"{key_path}: the environment variable {name}, which should hold {what}, is not set.",
            hint=f"Export {name} (in GitHub Actions, from a secret), or sign with throwaway "
            "keys for a rehearsal: `castoff keygen DIR` and `--keys DIR`.",
        )
    return Secret(value=value, source=f"environment variable {name}")


def _from_file(path: Path, key_path: str, what: str) -> Secret:
    try:
        return Secret(value=path.read_text(encoding="utf-8"), source=f"file {path}")
    except (OSError, UnicodeDecodeError) as exc:
        raise SignError(
            f"{key_path}: cannot read {what} from {path} ({type(exc).__name__}).",
            hint="Point the key at a readable file, or use the -env key instead.",
        ) from None


def _secret(
    env: Mapping[str, str], path: Path | None, env_name: str | None, key_path: str, what: str
) -> Secret:
    if env_name is not None:
        return _from_env(env, env_name, key_path, what)
    assert path is not None  # noqa: S101 - config requires exactly one of the two
    return _from_file(path, key_path, what)


def configured_keys(
    config: SignConfig, backend: str, env: Mapping[str, str], *, secret: bool
) -> BackendKeys:
    """Return a backend's keys as the config names them; secrets only when signing."""
    where = f"tool.castoff.sign.{backend}"
    if backend == "gpg" and config.gpg is not None:
        gpg = config.gpg
        passphrase = (
            _from_env(env, gpg.passphrase_env, where, "the gpg key's passphrase")
            if secret and gpg.passphrase_env
            else None
        )
        return GpgKeys(
            home=None, key_id=gpg.key_id, passphrase=passphrase, public_key=gpg.public_key
        )
    if backend == "minisign" and config.minisign is not None:
        ms = config.minisign
        return MinisignKeys(
            secret_key=_secret(
                env, ms.secret_key, ms.secret_key_env, where, "the minisign secret key"
            )
            if secret
            else None,
            password=_from_env(env, ms.password_env, where, "the minisign key's password")
            if secret and ms.password_env
            else None,
            public_key=ms.public_key,
        )
    if backend == "ssh" and config.ssh is not None:
        ssh = config.ssh
        return SshKeys(
            key=_secret(env, ssh.key, ssh.key_env, where, "the ssh signing key")
            if secret
            else None,
            allowed_signers=ssh.allowed_signers,
            identity=ssh.identity,
            namespace=ssh.namespace,
        )
    raise SignError(f"{where}: no keys are configured for '{backend}'.")


def folder_keys(folder: Path, backend: str, *, secret: bool) -> BackendKeys:
    """Return a backend's keys from a folder `castoff keygen` wrote."""
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
    entry = doc.key(backend)
    files = {
        "gpg": ("home", "passphrase_file", "public_key"),
        "minisign": ("secret_key", "password_file", "public_key"),
        "ssh": ("key", "allowed_signers"),
    }.get(backend, ())
    # Files of the key folder itself, by plain name: keys.json cannot point elsewhere. All are
    # checked, whether this step reads the secret ones or not.
    paths = {key: folder / entry.key(key).file_name() for key in files}

    def name(key: str) -> Path:
        return paths[key]

    def read(key: str, what: str) -> Secret | None:
        return _from_file(name(key), str(path), what) if secret else None

    if backend == "gpg":
        return GpgKeys(
            home=name("home"),
            key_id=entry.key("key_id").text(),
            passphrase=read("passphrase_file", "the gpg passphrase"),
            public_key=name("public_key"),
        )
    if backend == "minisign":
        return MinisignKeys(
            secret_key=read("secret_key", "the minisign secret key"),
            password=read("password_file", "the minisign password"),
            public_key=name("public_key"),
        )
    return SshKeys(
        key=read("key", "the ssh signing key"),
        allowed_signers=name("allowed_signers"),
        identity=entry.key("identity").text(),
        namespace=entry.key("namespace").text(),
    )


def write_private(path: Path, text: str) -> Path:
    """Write a file only its owner can read (a key, a passphrase)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
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
