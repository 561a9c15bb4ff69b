"""What each command returns: frozen, typed results that render.py draws and `to_json` feeds --json.

Failures are errors (castoff.errors), raised with their details; a result is what a command
that did not fail hands back. Its `status` says which way it succeeded (a dry run, say).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from castoff.build.builder import Outcome
    from castoff.build.toolchains import Missing
    from castoff.manifest import ReleaseManifest
    from castoff.publish.index import IndexFile
    from castoff.rehearse import Row

# The one progress callback every stage takes: one line per event, for people.
Report = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class TargetReadiness:
    """How one target builds and smoke-runs here."""

    target: str
    buildable: bool
    method: str
    std: str
    why: str
    smoke: str | None
    smoke_why: str
    missing: tuple[Missing, ...]


@dataclass(frozen=True, kw_only=True)
class SigningTool:
    """A program a configured signing backend runs, and whether it is here."""

    backend: str
    command: str
    found: str | None
    install: str


@dataclass(frozen=True, kw_only=True)
class DoctorResult:
    """What this machine can build, smoke-run and sign."""

    host: str | None  # None: rustc is not installed
    maturin: str | None
    zig: str | None
    targets: tuple[TargetReadiness, ...]
    signing: tuple[SigningTool, ...]
    setup: tuple[str, ...] = ()  # the commands `castoff setup` would run here

    @property
    def status(self) -> Literal["ready", "missing"]:
        """Return whether everything the plan and the signers need is here."""
        ready = all(t.buildable for t in self.targets) and all(s.found for s in self.signing)
        return "ready" if ready else "missing"

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""
        return {
            "host": self.host,
            "maturin": self.maturin,
            "zig": self.zig,
            "status": self.status,
            "targets": [asdict(t) for t in self.targets],
            "signing": [asdict(s) for s in self.signing],
            "setup": list(self.setup),
        }


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    """Every planned target's outcome, in plan order."""

    out: Path
    outcomes: tuple[Outcome, ...]

    @property
    def status(self) -> Literal["built", "failed"]:
        """Return "failed" when any target failed."""
        return "failed" if self.failed else "built"

    @property
    def failed(self) -> tuple[Outcome, ...]:
        """Return the outcomes of the targets that failed."""
        return tuple(o for o in self.outcomes if o.status == "failed")

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""
        return {"out": str(self.out), "targets": [_outcome(o) for o in self.outcomes]}


def _outcome(outcome: Outcome) -> dict[str, Any]:
    manifest = outcome.manifest
    return {
        "target": outcome.target,
        "status": outcome.status,
        "seconds": round(outcome.seconds, 2),
        "folder": str(outcome.folder),
        "method": manifest.method if manifest else None,
        "artifacts": [a.name for a in manifest.artifacts] if manifest else [],
        "smoke": [
            {"binary": s.binary, "status": s.status, "runner": s.runner, "reason": s.reason}
            for s in (manifest.smoke if manifest else ())
        ],
        "error": outcome.error,
        "reason": outcome.reason,
    }


@dataclass(frozen=True, kw_only=True)
class KeygenResult:
    """Throwaway keys made for the configured backends."""

    folder: Path
    backends: tuple[str, ...]  # those that got keys
    keyless: tuple[str, ...]  # configured, but sign with an identity
    status: Literal["made"] = "made"

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""
        return {
            "folder": str(self.folder),
            "backends": list(self.backends),
            "keyless": list(self.keyless),
        }


@dataclass(frozen=True, kw_only=True)
class SignResult:
    """A release folder signed and its signatures verified."""

    dist: Path
    manifest: ReleaseManifest
    status: Literal["signed"] = "signed"

    @property
    def signature_count(self) -> int:
        """Return how many signatures the release now has."""
        return sum(len(a.signatures) for a in self.manifest.artifacts)

    @property
    def files_signed(self) -> int:
        """Return how many files have signatures."""
        return sum(bool(a.signatures) for a in self.manifest.artifacts)

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""
        return {
            "dist": str(self.dist),
            "provenance": self.manifest.provenance,
            "signatures": [asdict(s) for a in self.manifest.artifacts for s in a.signatures],
        }


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    """A release folder checked against its signed checksums and provenance."""

    name: str
    version: str
    backends: tuple[str, ...]
    files: int
    signatures: int
    absent: int  # vouched-for files not here (they were not bound for GitHub)
    doc: Mapping[str, Any]  # every file with its checked signatures
    status: Literal["verified"] = "verified"

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""
        return dict(self.doc)


@dataclass(frozen=True, kw_only=True)
class PreflightResult:
    """Every check before an upload passed: what goes to the index, what stays off it."""

    manifest: ReleaseManifest
    index_files: tuple[str, ...]
    kept_from_index: tuple[tuple[str, str], ...]  # (wheel, why)
    doc: Mapping[str, Any]
    status: Literal["ready"] = "ready"
    # What the index served when preflight read it (None: not read): the uploads start from it.
    served: Mapping[str, IndexFile] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""
        return dict(self.doc)


@dataclass(frozen=True, kw_only=True)
class PublishResult:
    """Where the release went (or, dry, would go)."""

    status: Literal["published", "dry-run", "checked"]  # checked: --no-publish stopped before
    index: Mapping[str, Any] | None  # the index uploads, file by file
    release: Mapping[str, Any] | None  # the GitHub release (or its local stand-in)
    kept_from_index: tuple[tuple[str, str], ...]

    @property
    def index_count(self) -> int:
        """Return how many files went (or would go) to the index."""
        return len(self.index["files"]) if self.index else 0

    @property
    def release_where(self) -> str | None:
        """Return where the release is, when there is one."""
        return str(self.release["where"]) if self.release else None

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""
        return {
            "index": self.index,
            "release": self.release,
            "kept_from_index": [{"name": n, "reason": r} for n, r in self.kept_from_index],
        }


@dataclass(frozen=True, kw_only=True)
class ReleaseResult:
    """The whole pipeline, from build to publish."""

    name: str
    version: str
    published: PublishResult

    @property
    def status(self) -> Literal["published", "dry-run", "checked"]:
        """Return the publish's status."""
        return self.published.status

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""
        return self.published.to_json()


@dataclass(frozen=True, kw_only=True)
class RehearseResult:
    """A rehearsal against a local index and release folder."""

    name: str
    version: str
    work: Path
    published: PublishResult
    targets: tuple[Row, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        """Return the targets that failed a step."""
        return tuple(t.target for t in self.targets if t.failed())

    @property
    def status(self) -> Literal["passed", "failed"]:
        """Return "failed" when any target failed."""
        return "failed" if self.failed else "passed"

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""
        return {
            "work": str(self.work),
            "index": self.published.index,
            "release": self.published.release,
            "targets": [asdict(t) for t in self.targets],
            "failed": list(self.failed),
        }


def kept_pairs(rows: Sequence[Mapping[str, str]]) -> tuple[tuple[str, str], ...]:
    """Return (name, reason) pairs from the JSON rows of files kept off the index."""
    return tuple((row["name"], row["reason"]) for row in rows)
