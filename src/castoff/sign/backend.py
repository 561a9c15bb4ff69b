"""What a signing backend is: one module, one object satisfying SigningBackend.

castoff knows its backends only through this Protocol and the registry in
`castoff.sign.registry`: config parses a backend's table with its `parse`, the plan names its
signatures with `signatures`, `castoff sign` and `verify` use its keys, signer and checker,
`castoff keygen` its `throwaway`, `castoff doctor` its `tools`, and the generated workflows
pass its `ci_secrets` and run its `ci_setup`. docs/architecture.md has the recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from castoff.manifest import Field
from castoff.runner import Runner
from castoff.sign import Checker, Signer
from castoff.tables import SettingsTable


@dataclass(frozen=True, kw_only=True)
class SignContext:
    """What a signer gets besides its keys."""

    runner: Runner  # already redacts every secret of this signing step
    scratch: Path  # a private folder for secret material, removed afterwards
    env: Mapping[str, str]
    predicate: Path  # the release's SLSA provenance predicate (keyless attestations carry it)
    # Stand-ins for online signing services, by backend name (tests replay recorded bundles).
    services: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Tool:
    """A program a backend runs, and how to install it."""

    command: str
    install: str
    module: str | None = None  # a Python package castoff imports, rather than a program it runs


Settings = TypeVar("Settings")  # what the backend's config table parses into
Keys = TypeVar("Keys")  # what its keys are, public and (when signing) secret


class SigningBackend(Protocol[Settings, Keys]):
    """One way of signing release files and checking those signatures with public material."""

    name: str  # as written in tool.castoff.sign.backends
    suffix: str  # the detached signature beside a file: <file><suffix>
    keyless: bool  # signs with an identity, not keys: keygen and --keys do not apply
    tools: tuple[Tool, ...]  # what must be installed to sign and verify

    def parse(self, table: SettingsTable) -> Settings:
        """Return the backend's settings from its [tool.castoff.sign.<name>] table."""

    def signatures(self, name: str, kind: str) -> tuple[str, ...]:
        """Return the files this backend writes beside a release file of this kind."""

    def keys(self, settings: Settings, env: Mapping[str, str], *, secret: bool) -> Keys:
        """Return the keys the settings name; secret material only when signing."""

    def folder_keys(self, folder: Path, entry: Field, *, secret: bool) -> Keys:
        """Return the keys a `castoff keygen` folder holds, from its keys.json entry."""

    def public_files(self, keys: Keys) -> tuple[Path, ...]:
        """Return the public key files verification needs (they must exist)."""

    def secrets(self, keys: Keys) -> list[str]:
        """Return every secret string of the keys, for redaction."""

    def signer(self, keys: Keys, settings: Settings, context: SignContext) -> Signer:
        """Return what signs files with these keys."""

    def checker(self, keys: Keys, settings: Settings, runner: Runner, scratch: Path) -> Checker:
        """Return what checks signatures with public material only."""

    def throwaway(self, folder: Path, settings: Settings, runner: Runner) -> dict[str, str] | None:
        """Make throwaway keys in folder; return their keys.json entry (None: keyless)."""

    def ci_secrets(self, settings: Settings) -> tuple[str, ...]:
        """Return the environment variables the release job must get from GitHub secrets."""

    def ci_setup(self, settings: Settings) -> tuple[str, ...]:
        """Return shell lines that install this backend's tools on an Ubuntu runner."""
