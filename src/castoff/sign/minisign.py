"""minisign: one key derivation signs every file; verified with the public key file only."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from castoff.errors import SignError
from castoff.runner import Command, CommandFailedError, Runner
from castoff.sign import last_line
from castoff.sign.keys import MinisignKeys, write_private

SUFFIX = ".minisig"
_INSTALL = "apt-get install minisign"


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


def throwaway(folder: Path, runner: Runner) -> dict[str, str]:
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
