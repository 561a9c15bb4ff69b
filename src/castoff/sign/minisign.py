"""minisign: one key derivation signs every file; verified with the public key file only."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from castoff.errors import SignError
from castoff.manifest import Field
from castoff.runner import Command, CommandFailedError, Runner
from castoff.sign import Checker, Signer, last_line
from castoff.sign.backend import SignContext, Tool
from castoff.sign.keys import (
    KeyFolder,
    Secret,
    from_either,
    from_env,
    secret_strings,
    write_private,
)
from castoff.tables import SettingsTable

SUFFIX = ".minisig"
_INSTALL = "apt-get install minisign"
_WHERE = "tool.castoff.sign.minisign"


@dataclass(frozen=True, kw_only=True)
class MinisignConfig:
    """A minisign key pair; the secret key from a file or an environment variable."""

    secret_key: Path | None
    secret_key_env: str | None
    password_env: str | None
    public_key: Path


@dataclass(frozen=True, kw_only=True)
class MinisignKeys:
    """A minisign secret key (absent when only verifying) and its public key."""

    secret_key: Secret | None
    password: Secret | None
    public_key: Path


class MinisignSigner:
    """Signs all files in one minisign run, so the slow password derivation happens once."""

    backend = "minisign"

    def __init__(self, keys: MinisignKeys, runner: Runner, scratch: Path) -> None:
        self.keys = keys
        self.runner = runner
        self.scratch = scratch

    def sign(self, files: Sequence[Path]) -> None:
        """Write <file>.minisig beside each file."""
        assert self.keys.secret_key is not None  # noqa: S101 - signers get secret material
        key = write_private(self.scratch / "minisign.key", self.keys.secret_key.value)
        password = self.keys.password
        command = Command(
            argv=("minisign", "-S", "-s", str(key), "-m", *map(str, files)),
            input_text=f"{password.value}\n" if password else None,
            install_hint=_INSTALL,
        )
        try:
            self.runner.run(command, log=lambda _: None)
        except CommandFailedError as exc:
            raise SignError(
                f"minisign could not sign with the key from {self.keys.secret_key.source}: "
                f"{last_line(exc.result.stderr)}",
                hint="Check the key and, for a key with a password, that password-env names a "
                "variable holding it.",
            ) from None
        finally:
            key.unlink(missing_ok=True)


class MinisignChecker:
    """Verifies with `minisign -V` and the public key file."""

    backend = "minisign"
    concurrent = True  # a verifier process per signature

    def __init__(self, public_key: Path, runner: Runner) -> None:
        self.public_key = public_key
        self.runner = runner

    def verify(self, file: Path, signature: Path) -> str | None:
        """Return why minisign refuses the signature, or None."""
        result = self.runner.capture(
            Command(
                argv=(
                    "minisign",
                    "-V",
                    "-p",
                    str(self.public_key),
                    "-m",
                    str(file),
                    "-x",
                    str(signature),
                ),
                install_hint=_INSTALL,
            )
        )
        return None if result.returncode == 0 else last_line(result.stderr + result.stdout)


def throwaway_key(folder: Path, runner: Runner) -> dict[str, str]:
    """Make a throwaway minisign key pair with a random password; return its keys.json entry."""
    password = secrets.token_urlsafe(24)
    write_private(folder / "minisign.password", password)
    runner.run(
        Command(
            argv=(
                "minisign",
                "-G",
                "-f",
                "-p",
                str(folder / "minisign.pub"),
                "-s",
                str(folder / "minisign.key"),
            ),
            input_text=f"{password}\n{password}\n",
            install_hint=_INSTALL,
        ),
        log=lambda _: None,
    )
    (folder / "minisign.key").chmod(0o600)
    return {
        "secret_key": "minisign.key",
        "password_file": "minisign.password",
        "public_key": "minisign.pub",
    }


class MinisignBackend:
    """minisign: a secret key and its password from the environment (or a file)."""

    name = "minisign"
    suffix = SUFFIX
    keyless = False
    tools: tuple[Tool, ...] = (Tool(command="minisign", install=_INSTALL),)

    def parse(self, table: SettingsTable) -> MinisignConfig:
        """Read [tool.castoff.sign.minisign]."""
        table.check_keys(["secret-key", "secret-key-env", "password-env", "public-key"])
        secret_key, secret_key_env = table.secret_source("secret-key", "secret-key-env")
        return MinisignConfig(
            secret_key=secret_key,
            secret_key_env=secret_key_env,
            password_env=table.env_name("password-env"),
            public_key=table.required_path("public-key"),
        )

    def signatures(self, name: str, kind: str) -> tuple[str, ...]:
        """Return `<file>.minisig`."""
        return (name + SUFFIX,)

    def keys(
        self, settings: MinisignConfig, env: Mapping[str, str], *, secret: bool
    ) -> MinisignKeys:
        """Return the configured keys; the secret key and password only when signing."""
        return MinisignKeys(
            secret_key=from_either(
                env, settings.secret_key, settings.secret_key_env, _WHERE, "the minisign secret key"
            )
            if secret
            else None,
            password=from_env(env, settings.password_env, _WHERE, "the minisign key's password")
            if secret and settings.password_env
            else None,
            public_key=settings.public_key,
        )

    def folder_keys(self, folder: Path, entry: Field, *, secret: bool) -> MinisignKeys:
        """Return the throwaway keys of a keygen folder."""
        keys = KeyFolder(folder=folder, entry=entry)
        keys.path("secret_key")  # checked whether it is read now or not
        keys.path("password_file")
        return MinisignKeys(
            secret_key=keys.secret("secret_key", "the minisign secret key") if secret else None,
            password=keys.secret("password_file", "the minisign password") if secret else None,
            public_key=keys.path("public_key"),
        )

    def public_files(self, keys: MinisignKeys) -> tuple[Path, ...]:
        """Return the public key files verification reads."""
        return (keys.public_key,)

    def secrets(self, keys: MinisignKeys) -> list[str]:
        """Return the secret key and the password."""
        return secret_strings([keys.secret_key, keys.password])

    def signer(self, keys: MinisignKeys, settings: MinisignConfig, context: SignContext) -> Signer:
        """Return a minisign signer."""
        return MinisignSigner(keys, context.runner, context.scratch)

    def checker(
        self, keys: MinisignKeys, settings: MinisignConfig, runner: Runner, scratch: Path
    ) -> Checker:
        """Return a checker with the public key alone."""
        return MinisignChecker(keys.public_key, runner)

    def throwaway(self, folder: Path, settings: MinisignConfig, runner: Runner) -> dict[str, str]:
        """Make a throwaway key pair with a random password."""
        return throwaway_key(folder, runner)

    def ci_secrets(self, settings: MinisignConfig) -> tuple[str, ...]:
        """Return the secret key's and the password's variables."""
        return tuple(n for n in (settings.secret_key_env, settings.password_env) if n)

    def ci_setup(self, settings: MinisignConfig) -> tuple[str, ...]:
        """Return the install of minisign, which GitHub's Ubuntu runners lack."""
        install = "sudo apt-get install -y --no-install-recommends minisign"
        return (f"command -v minisign >/dev/null || (sudo apt-get update && {install})",)


BACKEND = MinisignBackend()
