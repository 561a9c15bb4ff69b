"""gpg: armored detached signatures; verified by gpgv against the exported public key only."""

from __future__ import annotations

import base64
import binascii
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from castoff.errors import SignError
from castoff.manifest import Field
from castoff.runner import Command, CommandFailedError, Runner
from castoff.sign import Checker, Signer, last_line
from castoff.sign.backend import SignContext, Tool
from castoff.sign.keys import KeyFolder, Secret, from_env, secret_strings, write_private
from castoff.tables import SettingsTable

SUFFIX = ".asc"
_INSTALL = "apt-get install gnupg gpgv"


@dataclass(frozen=True, kw_only=True)
class GpgConfig:
    """A gpg signing key; the passphrase only ever comes from an environment variable."""

    key_id: str
    passphrase_env: str | None
    public_key: Path
    # The armored secret key in a variable (a CI secret): imported into a keyring of its own
    # for the signing, then removed; without it the key is in GNUPGHOME's keyring.
    private_key_env: str | None = None


@dataclass(frozen=True, kw_only=True)
class GpgKeys:
    """A gpg key in a keyring folder (None: GNUPGHOME), and its exported public key."""

    home: Path | None
    key_id: str
    passphrase: Secret | None
    public_key: Path
    private_key: Secret | None = None  # imported into a temporary keyring to sign


class GpgSigner:
    """Signs with a key in a gpg keyring; the passphrase goes in on standard input."""

    backend = "gpg"

    def __init__(self, keys: GpgKeys, runner: Runner) -> None:
        self.keys = keys
        self.runner = runner

    def sign(self, files: Sequence[Path]) -> None:
        """Write <file>.asc beside each file."""
        if self.keys.private_key is None:
            self._sign(files, self.keys.home)
            return
        # A keyring of this signing's own: the secret key never lands in ~/.gnupg.
        with tempfile.TemporaryDirectory(prefix="castoff-gnupg-") as folder:
            home = Path(folder)
            home.chmod(0o700)
            result = self.runner.capture(
                Command(
                    argv=("gpg", "--batch", "--homedir", str(home), "--import"),
                    input_text=self.keys.private_key.value,
                    install_hint=_INSTALL,
                )
            )
            try:
                if result.returncode != 0:
                    raise SignError(
                        f"gpg could not import the key from {self.keys.private_key.source}: "
                        f"{last_line(result.stderr)}",
                        hint="Put the whole `gpg --armor --export-secret-keys KEYID` output in it.",
                    )
                self._sign(files, home)
            finally:
                # The agent holds the key and its passphrase: stopped whatever happened.
                self._stop_agent(home)

    def _sign(self, files: Sequence[Path], keyring: Path | None) -> None:
        home = ["--homedir", str(keyring)] if keyring else []
        passphrase = self.keys.passphrase
        loopback = ["--pinentry-mode", "loopback", "--passphrase-fd", "0"] if passphrase else []
        for file in files:
            command = Command(
                argv=(
                    "gpg",
                    "--batch",
                    "--yes",
                    "--no-tty",
                    *home,
                    *loopback,
                    "--local-user",
                    self.keys.key_id,
                    "--armor",
                    "--detach-sign",
                    "--output",
                    f"{file}{SUFFIX}",
                    str(file),
                ),
                input_text=f"{passphrase.value}\n" if passphrase else None,
                install_hint=_INSTALL,
            )
            try:
                self.runner.run(command, log=lambda _: None)
            except CommandFailedError as exc:
                raise SignError(
                    f"gpg could not sign {file.name} with key {self.keys.key_id}: "
                    f"{last_line(exc.result.stderr)}",
                    hint="Check that the key is in the keyring (GNUPGHOME) and that the "
                    "passphrase variable is set and right.",
                ) from None
        if keyring is not None:
            # A throwaway keyring's agent has no more work; do not leave it running.
            self._stop_agent(keyring)

    def _stop_agent(self, keyring: Path) -> None:
        self.runner.capture(
            Command(argv=("gpgconf", "--homedir", str(keyring), "--kill", "gpg-agent"))
        )


class GpgChecker:
    """Verifies with gpgv and a keyring holding only the configured public key."""

    backend = "gpg"
    concurrent = True  # a verifier process per signature

    def __init__(self, public_key: Path, runner: Runner, scratch: Path) -> None:
        self.runner = runner
        self.scratch = scratch
        self.keyring = scratch / "gpg-public.gpg"
        self.keyring.write_bytes(dearmor(public_key))

    def verify(self, file: Path, signature: Path) -> str | None:
        """Return why gpgv refuses the signature, or None."""
        result = self.runner.capture(
            Command(
                argv=(
                    "gpgv",
                    "--homedir",
                    str(self.scratch),
                    "--keyring",
                    str(self.keyring),
                    str(signature),
                    str(file),
                ),
                install_hint=_INSTALL,
            )
        )
        return None if result.returncode == 0 else last_line(result.stderr)


def dearmor(public_key: Path) -> bytes:
    """Return the binary key of an ASCII-armored public key file (what gpgv reads)."""
    try:
        text = public_key.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SignError(
            f"{public_key}: cannot read the gpg public key ({type(exc).__name__}).",
            hint="Export it with `gpg --armor --export KEYID > FILE`.",
        ) from None
    lines = text.strip().splitlines()
    try:
        start = lines.index("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        end = lines.index("-----END PGP PUBLIC KEY BLOCK-----")
        body = lines[start + 1 : end]
        # Armor headers ("Comment: ...") end at the first empty line.
        if "" in body:
            body = body[body.index("") + 1 :]
        data = "".join(line for line in body if not line.startswith("="))
        return base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise SignError(
            f"{public_key}: not an ASCII-armored gpg public key.",
            hint="Export it with `gpg --armor --export KEYID > FILE`.",
        ) from None


def throwaway_key(folder: Path, identity: str, runner: Runner) -> dict[str, str]:
    """Make a throwaway gpg key with a random passphrase; return its keys.json entry."""
    home = folder / "gnupg"
    home.mkdir(mode=0o700)
    # gpg-agent derives the key from the passphrase for every signature (0.5 s each here, so
    # 15 s per release); a throwaway key whose passphrase sits beside it needs no costly KDF.
    (home / "gpg-agent.conf").write_text("s2k-count 65536\n", encoding="ascii", newline="\n")
    passphrase = secrets.token_urlsafe(24)
    write_private(folder / "gpg.passphrase", passphrase)
    base = ("gpg", "--batch", "--homedir", str(home))
    runner.run(
        Command(
            argv=(
                *base,
                "--pinentry-mode",
                "loopback",
                "--passphrase-fd",
                "0",
                "--quick-gen-key",
                f"castoff throwaway <{identity}>",
                "ed25519",
                "sign",
                "never",
            ),
            input_text=f"{passphrase}\n",
            install_hint=_INSTALL,
        )
    )
    listing = runner.run(Command(argv=(*base, "--with-colons", "--list-keys")), log=lambda _: None)
    fingerprint = next(
        line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:")
    )
    exported = runner.run(
        Command(argv=(*base, "--armor", "--export", fingerprint)), log=lambda _: None
    )
    (folder / "gpg.asc").write_text(exported.stdout, encoding="ascii", newline="\n")
    runner.capture(Command(argv=("gpgconf", "--homedir", str(home), "--kill", "gpg-agent")))
    return {
        "home": "gnupg",
        "key_id": fingerprint,
        "passphrase_file": "gpg.passphrase",
        "public_key": "gpg.asc",
    }


class GpgBackend:
    """gpg: a key in a keyring, its passphrase from the environment; gpgv verifies."""

    name = "gpg"
    suffix = SUFFIX
    keyless = False
    tools: tuple[Tool, ...] = (
        Tool(command="gpg", install=_INSTALL),
        Tool(command="gpgv", install=_INSTALL),
    )

    def parse(self, table: SettingsTable) -> GpgConfig:
        """Read [tool.castoff.sign.gpg]."""
        table.check_keys(["key-id", "passphrase-env", "public-key", "private-key-env"])
        return GpgConfig(
            key_id=table.required_string("key-id", "Name the signing key's id or fingerprint."),
            passphrase_env=table.env_name("passphrase-env"),
            public_key=table.required_path("public-key"),
            private_key_env=table.env_name("private-key-env"),
        )

    def signatures(self, name: str, kind: str) -> tuple[str, ...]:
        """Return `<file>.asc`."""
        return (name + SUFFIX,)

    def keys(self, settings: GpgConfig, env: Mapping[str, str], *, secret: bool) -> GpgKeys:
        """Return the configured key (GNUPGHOME's keyring), its passphrase when signing."""
        passphrase = (
            from_env(
                env, settings.passphrase_env, "tool.castoff.sign.gpg", "the gpg key's passphrase"
            )
            if secret and settings.passphrase_env
            else None
        )
        private_key = (
            from_env(
                env, settings.private_key_env, "tool.castoff.sign.gpg", "the armored gpg secret key"
            )
            if secret and settings.private_key_env
            else None
        )
        return GpgKeys(
            home=None,
            key_id=settings.key_id,
            passphrase=passphrase,
            public_key=settings.public_key,
            private_key=private_key,
        )

    def folder_keys(self, folder: Path, entry: Field, *, secret: bool) -> GpgKeys:
        """Return the throwaway key of a keygen folder."""
        keys = KeyFolder(folder=folder, entry=entry)
        keys.path("passphrase_file")  # checked whether it is read now or not
        return GpgKeys(
            home=keys.path("home"),
            key_id=keys.text("key_id"),
            passphrase=keys.secret("passphrase_file", "the gpg passphrase") if secret else None,
            public_key=keys.path("public_key"),
        )

    def public_files(self, keys: GpgKeys) -> tuple[Path, ...]:
        """Return the public key files verification reads."""
        return (keys.public_key,)

    def secrets(self, keys: GpgKeys) -> list[str]:
        """Return the passphrase and the secret key."""
        return secret_strings([keys.passphrase, keys.private_key])

    def signer(self, keys: GpgKeys, settings: GpgConfig, context: SignContext) -> Signer:
        """Return a gpg signer."""
        return GpgSigner(keys, context.runner)

    def checker(self, keys: GpgKeys, settings: GpgConfig, runner: Runner, scratch: Path) -> Checker:
        """Return a gpgv checker with a keyring of the public key alone."""
        return GpgChecker(keys.public_key, runner, scratch)

    def throwaway(self, folder: Path, settings: GpgConfig, runner: Runner) -> dict[str, str]:
        """Make a throwaway key with a random passphrase."""
        return throwaway_key(folder, "castoff-throwaway@castoff.invalid", runner)

    def ci_secrets(self, settings: GpgConfig) -> tuple[str, ...]:
        """Return the passphrase's and the secret key's variables."""
        return tuple(n for n in (settings.private_key_env, settings.passphrase_env) if n)

    def ci_setup(self, settings: GpgConfig) -> tuple[str, ...]:
        """Return nothing: GitHub's Ubuntu runners have gpg."""
        return ()


BACKEND = GpgBackend()
