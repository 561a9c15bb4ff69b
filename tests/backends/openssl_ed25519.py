"""A signing backend written as docs/architecture.md says: one file, registered, nothing else.

Ed25519 signatures made and checked by the openssl command line, written beside each file as
`<file>.ed25519`. castoff does not ship it; tests/integration/test_new_signing_backend.py
registers it and shows that plan, doctor, keygen, sign, verify and the workflows take it up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from castoff.errors import SignError
from castoff.manifest import Field
from castoff.runner import Command, CommandFailedError, Runner
from castoff.sign import Checker, Signer, last_line
from castoff.sign.backend import SignContext, Tool
from castoff.sign.keys import KeyFolder, Secret, from_either, secret_strings, write_private
from castoff.tables import SettingsTable

NAME = "openssl-ed25519"
SUFFIX = ".ed25519"
_INSTALL = "apt-get install openssl"
_WHERE = f"tool.castoff.sign.{NAME}"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The secret key (a PEM file or an environment variable) and the public key file."""

    secret_key: Path | None
    secret_key_env: str | None
    public_key: Path


@dataclass(frozen=True, kw_only=True)
class Keys:
    """The secret key (only when signing) and the public key file."""

    secret_key: Secret | None
    public_key: Path


class OpensslSigner:
    """Signs each file with `openssl pkeyutl -sign -rawin` (Ed25519 signs the bytes themselves)."""

    backend = NAME

    def __init__(self, keys: Keys, runner: Runner, scratch: Path) -> None:
        self.keys = keys
        self.runner = runner
        self.scratch = scratch

    def sign(self, files: Sequence[Path]) -> None:
        """Write <file>.ed25519 beside each file."""
        assert self.keys.secret_key is not None
        key = write_private(self.scratch / "ed25519.pem", self.keys.secret_key.value)
        try:
            for file in files:
                sign = ("openssl", "pkeyutl", "-sign", "-rawin", "-inkey", str(key), "-in")
                argv = (*sign, str(file), "-out", f"{file}{SUFFIX}")
                try:
                    self.runner.run(Command(argv=argv, install_hint=_INSTALL), log=lambda _: None)
                except CommandFailedError as exc:
                    raise SignError(
                        f"{file.name}: openssl could not sign with the key from "
                        f"{self.keys.secret_key.source}: {last_line(exc.result.stderr)}",
                        hint="Check that the key is an Ed25519 private key in PEM form.",
                    ) from None
        finally:
            key.unlink(missing_ok=True)


class OpensslChecker:
    """Checks with `openssl pkeyutl -verify` and the public key alone."""

    backend = NAME
    concurrent = True  # an openssl process per signature

    def __init__(self, public_key: Path, runner: Runner) -> None:
        self.public_key = public_key
        self.runner = runner

    def verify(self, file: Path, signature: Path) -> str | None:
        """Return why openssl refuses the signature, or None."""
        check = ("openssl", "pkeyutl", "-verify", "-pubin", "-rawin", "-inkey")
        argv = (*check, str(self.public_key), "-in", str(file), "-sigfile", str(signature))
        result = self.runner.capture(Command(argv=argv, install_hint=_INSTALL))
        return None if result.returncode == 0 else last_line(result.stderr + result.stdout)


class OpensslBackend:
    """openssl Ed25519: one key pair, the secret key from the environment in CI."""

    name = NAME
    suffix = SUFFIX
    keyless = False
    tools: tuple[Tool, ...] = (Tool(command="openssl", install=_INSTALL),)

    def parse(self, table: SettingsTable) -> Settings:
        """Read [tool.castoff.sign.openssl-ed25519]."""
        table.check_keys(["secret-key", "secret-key-env", "public-key"])
        secret_key, secret_key_env = table.secret_source("secret-key", "secret-key-env")
        return Settings(
            secret_key=secret_key,
            secret_key_env=secret_key_env,
            public_key=table.required_path("public-key"),
        )

    def signatures(self, name: str, kind: str) -> tuple[str, ...]:
        """Return `<file>.ed25519`."""
        return (name + SUFFIX,)

    def keys(self, settings: Settings, env: Mapping[str, str], *, secret: bool) -> Keys:
        """Return the configured keys; the secret key only when signing."""
        what = "the Ed25519 secret key"
        return Keys(
            secret_key=from_either(env, settings.secret_key, settings.secret_key_env, _WHERE, what)
            if secret
            else None,
            public_key=settings.public_key,
        )

    def folder_keys(self, folder: Path, entry: Field, *, secret: bool) -> Keys:
        """Return the throwaway keys of a keygen folder."""
        keys = KeyFolder(folder=folder, entry=entry)
        keys.path("secret_key")
        return Keys(
            secret_key=keys.secret("secret_key", "the Ed25519 secret key") if secret else None,
            public_key=keys.path("public_key"),
        )

    def public_files(self, keys: Keys) -> tuple[Path, ...]:
        """Return the public key file."""
        return (keys.public_key,)

    def secrets(self, keys: Keys) -> list[str]:
        """Return the secret key, to be redacted."""
        return secret_strings([keys.secret_key])

    def signer(self, keys: Keys, settings: Settings, context: SignContext) -> Signer:
        """Return an openssl signer."""
        return OpensslSigner(keys, context.runner, context.scratch)

    def checker(self, keys: Keys, settings: Settings, runner: Runner, scratch: Path) -> Checker:
        """Return a checker with the public key alone."""
        return OpensslChecker(keys.public_key, runner)

    def throwaway(self, folder: Path, settings: Settings, runner: Runner) -> dict[str, str]:
        """Make a throwaway Ed25519 key pair."""
        secret, public = folder / "ed25519.pem", folder / "ed25519.pub.pem"
        runner.run(
            Command(argv=("openssl", "genpkey", "-algorithm", "ed25519", "-out", str(secret))),
            log=lambda _: None,
        )
        secret.chmod(0o600)
        runner.run(
            Command(argv=("openssl", "pkey", "-in", str(secret), "-pubout", "-out", str(public))),
            log=lambda _: None,
        )
        return {"secret_key": secret.name, "public_key": public.name}

    def ci_secrets(self, settings: Settings) -> tuple[str, ...]:
        """Return the secret key's variable."""
        return (settings.secret_key_env,) if settings.secret_key_env else ()

    def ci_setup(self, settings: Settings) -> tuple[str, ...]:
        """Return nothing: GitHub's Ubuntu runners have openssl."""
        return ()


BACKEND = OpensslBackend()
