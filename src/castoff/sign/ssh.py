"""ssh: `ssh-keygen -Y sign` signatures; verified against an allowed_signers file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from castoff.errors import SignError
from castoff.runner import Command, CommandFailedError, Runner
from castoff.sign import last_line
from castoff.sign.keys import SshKeys, write_private

SUFFIX = ".sig"
_INSTALL = "apt-get install openssh-client"


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


def throwaway(folder: Path, identity: str, namespace: str, runner: Runner) -> dict[str, str]:
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
        f'{identity} namespaces="{namespace}" {public[0]} {public[1]}\n', encoding="utf-8"
    )
    return {
        "key": "ssh_key",
        "allowed_signers": "allowed_signers",
        "identity": identity,
        "namespace": namespace,
    }
