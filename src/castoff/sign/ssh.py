"""ssh: `ssh-keygen -Y sign` signatures; verified against an allowed_signers file."""

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

SUFFIX = ".sig"
_INSTALL = "apt-get install openssh-client"


@dataclass(frozen=True, kw_only=True)
class SshConfig:
    """An ssh signing key checked against an allowed_signers file."""

    key: Path | None
    key_env: str | None
    allowed_signers: Path
    identity: str
    namespace: str


@dataclass(frozen=True, kw_only=True)
class SshKeys:
    """An ssh private key (absent when only verifying) and the allowed_signers that trusts it."""

    key: Secret | None
    allowed_signers: Path
    identity: str
    namespace: str


class SshSigner:
    """Signs every file in one ssh-keygen run with an unencrypted key held as a secret."""

    backend = "ssh"

    def __init__(self, keys: SshKeys, runner: Runner, scratch: Path) -> None:
        self.keys = keys
        self.runner = runner
        self.scratch = scratch

    def sign(self, files: Sequence[Path]) -> None:
        """Write <file>.sig beside each file."""
        assert self.keys.key is not None  # noqa: S101 - signers get secret material
        text = self.keys.key.value
        # Secrets pasted into CI variables often lose the final newline ssh-keygen needs.
        key = write_private(self.scratch / "ssh_key", text if text.endswith("\n") else text + "\n")
        command = Command(
            argv=(
                "ssh-keygen",
                "-q",
                "-Y",
                "sign",
                "-f",
                str(key),
                "-n",
                self.keys.namespace,
                *map(str, files),
            ),
            install_hint=_INSTALL,
            no_terminal=True,
        )
        try:
            self.runner.run(command, log=lambda _: None)
        except CommandFailedError as exc:
            raise SignError(
                f"ssh-keygen could not sign with the key from {self.keys.key.source}: "
                f"{last_line(exc.result.stderr)}",
                hint="castoff needs an unencrypted private key (OpenSSH format) in that secret; "
                "a passphrase would need a prompt.",
            ) from None
        finally:
            key.unlink(missing_ok=True)


class SshChecker:
    """Verifies with `ssh-keygen -Y verify`, the allowed_signers file and the identity."""

    backend = "ssh"
    concurrent = True  # a verifier process per signature

    def __init__(self, keys: SshKeys, runner: Runner) -> None:
        self.keys = keys
        self.runner = runner

    def verify(self, file: Path, signature: Path) -> str | None:
        """Return why ssh-keygen refuses the signature, or None."""
        result = self.runner.capture(
            Command(
                argv=(
                    "ssh-keygen",
                    "-Y",
                    "verify",
                    "-f",
                    str(self.keys.allowed_signers),
                    "-I",
                    self.keys.identity,
                    "-n",
                    self.keys.namespace,
                    "-s",
                    str(signature),
                ),
                stdin_path=file,
                install_hint=_INSTALL,
            )
        )
        return None if result.returncode == 0 else last_line(result.stderr + result.stdout)


def throwaway_key(folder: Path, identity: str, namespace: str, runner: Runner) -> dict[str, str]:
    """Make a throwaway ed25519 key and an allowed_signers file; return its keys.json entry."""
    key = folder / "ssh_key"
    runner.run(
        Command(
            argv=("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", identity, "-f", str(key)),
            install_hint=_INSTALL,
        ),
        log=lambda _: None,
    )
    public = (folder / "ssh_key.pub").read_text(encoding="utf-8").split()
    (folder / "allowed_signers").write_text(
        f'{identity} namespaces="{namespace}" {public[0]} {public[1]}\n',
        encoding="utf-8",
        newline="\n",
    )
    return {
        "key": "ssh_key",
        "allowed_signers": "allowed_signers",
        "identity": identity,
        "namespace": namespace,
    }


class SshBackend:
    """ssh: an unencrypted OpenSSH key from the environment; allowed_signers verifies."""

    name = "ssh"
    suffix = SUFFIX
    keyless = False
    tools: tuple[Tool, ...] = (Tool(command="ssh-keygen", install=_INSTALL),)

    def parse(self, table: SettingsTable) -> SshConfig:
        """Read [tool.castoff.sign.ssh]."""
        table.check_keys(["key", "key-env", "allowed-signers", "identity", "namespace"])
        key, key_env = table.secret_source("key", "key-env")
        return SshConfig(
            key=key,
            key_env=key_env,
            allowed_signers=table.required_path("allowed-signers"),
            identity=table.required_string(
                "identity", "Give the principal named in allowed-signers."
            ),
            namespace=table.string("namespace") or "file",
        )

    def signatures(self, name: str, kind: str) -> tuple[str, ...]:
        """Return `<file>.sig`."""
        return (name + SUFFIX,)

    def keys(self, settings: SshConfig, env: Mapping[str, str], *, secret: bool) -> SshKeys:
        """Return the configured key (only when signing) and allowed_signers."""
        return SshKeys(
            key=from_either(
                env, settings.key, settings.key_env, "tool.castoff.sign.ssh", "the ssh signing key"
            )
            if secret
            else None,
            allowed_signers=settings.allowed_signers,
            identity=settings.identity,
            namespace=settings.namespace,
        )

    def folder_keys(self, folder: Path, entry: Field, *, secret: bool) -> SshKeys:
        """Return the throwaway key of a keygen folder."""
        keys = KeyFolder(folder=folder, entry=entry)
        keys.path("key")  # checked whether it is read now or not
        return SshKeys(
            key=keys.secret("key", "the ssh signing key") if secret else None,
            allowed_signers=keys.path("allowed_signers"),
            identity=keys.text("identity"),
            namespace=keys.text("namespace"),
        )

    def public_files(self, keys: SshKeys) -> tuple[Path, ...]:
        """Return the public key files verification reads."""
        return (keys.allowed_signers,)

    def secrets(self, keys: SshKeys) -> list[str]:
        """Return the private key."""
        return secret_strings([keys.key])

    def signer(self, keys: SshKeys, settings: SshConfig, context: SignContext) -> Signer:
        """Return an ssh-keygen signer."""
        return SshSigner(keys, context.runner, context.scratch)

    def checker(self, keys: SshKeys, settings: SshConfig, runner: Runner, scratch: Path) -> Checker:
        """Return an ssh-keygen checker with allowed_signers alone."""
        return SshChecker(keys, runner)

    def throwaway(self, folder: Path, settings: SshConfig, runner: Runner) -> dict[str, str]:
        """Make a throwaway ed25519 key for the configured identity and namespace."""
        return throwaway_key(folder, settings.identity, settings.namespace, runner)

    def ci_secrets(self, settings: SshConfig) -> tuple[str, ...]:
        """Return the key's variable."""
        return (settings.key_env,) if settings.key_env else ()

    def ci_setup(self, settings: SshConfig) -> tuple[str, ...]:
        """Return nothing: GitHub's Ubuntu runners have ssh-keygen."""
        return ()


BACKEND = SshBackend()
