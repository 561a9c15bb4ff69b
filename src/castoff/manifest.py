"""What a build made: partial manifests, one per target, merged later by assemble."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from castoff.errors import PlanError

MANIFEST_SCHEMA_VERSION = 1
PARTIAL_MANIFEST = "manifest.json"


@dataclass(frozen=True, kw_only=True)
class BuiltArtifact:
    """A file a build wrote, with its hash."""

    name: str
    kind: str  # wheel, archive, checksum
    sha256: str
    size: int
    platform_tags: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CommandRecord:
    """A command the build ran, exactly, with how long it took."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str | None
    seconds: float


@dataclass(frozen=True, kw_only=True)
class SmokeRecord:
    """One binary's smoke-run."""

    binary: str
    status: str
    runner: str | None
    output: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class PartialManifest:
    """Everything one target's build made and how: written into its output folder."""

    schema_version: int
    name: str
    version: str
    target: str
    method: str
    std: str
    cache_key: str
    source_commit: str | None
    source_tree_sha256: str
    image: str | None
    toolchain: dict[str, str | None]
    commands: tuple[CommandRecord, ...]
    seconds: float
    artifacts: tuple[BuiltArtifact, ...]
    smoke: tuple[SmokeRecord, ...]

    def to_json(self) -> str:
        """Return the manifest as JSON text."""
        return json.dumps(asdict(self), indent=2) + "\n"

    def write(self, folder: Path) -> Path:
        """Write manifest.json into a target's folder."""
        path = folder / PARTIAL_MANIFEST
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> PartialManifest:
        """Read a partial manifest, refusing other schema versions."""
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if data.get("schema_version") != MANIFEST_SCHEMA_VERSION:
                found = data.get("schema_version")
                raise PlanError(
                    f"{path}: manifest schema_version {found!r}; this castoff reads "
                    f"{MANIFEST_SCHEMA_VERSION}."
                )
            return cls(
                **{
                    **data,
                    "commands": tuple(
                        CommandRecord(**{**c, "argv": tuple(c["argv"])}) for c in data["commands"]
                    ),
                    "artifacts": tuple(
                        BuiltArtifact(**{**a, "platform_tags": tuple(a["platform_tags"])})
                        for a in data["artifacts"]
                    ),
                    "smoke": tuple(SmokeRecord(**s) for s in data["smoke"]),
                }
            )
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise PlanError(f"{path}: not a castoff partial manifest ({exc}).") from None
