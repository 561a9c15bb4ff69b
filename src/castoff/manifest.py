"""What a build made and what a release holds: partial manifests, the release manifest, SHA256SUMS.

Every reader here is strict: a file that is not exactly the shape castoff writes (a wrong type, a
missing key, a file name that leaves its folder, a hash that is not a sha256) is a PlanError that
names the file and the field. Build folders come from CI jobs and release folders from downloads,
so nothing read here is trusted until these readers and the checks after them pass.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, cast, get_args

from packaging.version import InvalidVersion, Version

from castoff.errors import CastoffError, PlanError

MANIFEST_SCHEMA_VERSION = 1
PARTIAL_MANIFEST = "manifest.json"
RELEASE_MANIFEST = "manifest.json"
CHECKSUMS_FILE = "SHA256SUMS"
# castoff's own files in a release folder beside the release: the upload journal and its lock.
JOURNAL_FILE = "publish-journal.json"
PUBLISH_LOCK = ".castoff-publish.lock"
# Manifests, journals and checksum files are small; a bigger one is not castoff's.
MAX_DOCUMENT_BYTES = 64 << 20
# What a name in a folder may be at most on the file systems castoff writes to.
MAX_NAME_BYTES = 255

BuiltKind = Literal["wheel", "archive", "checksum", "sdist"]
ReleaseKind = Literal["wheel", "archive", "checksum", "provenance", "sdist"]
Destination = Literal["github", "pypi"]
SmokeStatus = Literal["passed", "failed", "not-run"]
BUILT_KINDS: tuple[str, ...] = get_args(BuiltKind)
RELEASE_KINDS: tuple[str, ...] = get_args(ReleaseKind)
DESTINATIONS: tuple[str, ...] = get_args(Destination)
SMOKE_STATUSES: tuple[str, ...] = get_args(SmokeStatus)
_SHA256 = re.compile(r"[0-9a-f]{64}")
# warehouse's project name rule (ASCII only).
_PROJECT = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]{0,198}[A-Z0-9]", re.IGNORECASE | re.ASCII)


def name_problem(name: str) -> str | None:  # noqa: PLR0911 - one reason per rule
    """Return why a string cannot be a plain file name inside its folder, or None."""
    if not name:
        return "is empty"
    if name in (".", ".."):
        return f"'{name}' names a folder, not a file in it"
    if "/" in name or "\\" in name:
        return f"'{name}' has a path separator: a file name must stay inside its folder"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"{name!r} has a control character"
    if name.startswith("-"):
        # Every tool castoff runs would read it as an option.
        return f"'{name}' starts with '-'"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"is longer than the {MAX_NAME_BYTES} bytes a file name may have"
    return None


def is_sha256(value: object) -> bool:
    """Return whether a value is a sha256 written as castoff writes it (64 lowercase hex)."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


class Field:
    """A value of a JSON document with where it sits, so every complaint names file and field."""

    def __init__(
        self, value: object, where: str, source: str, error: type[CastoffError] = PlanError
    ) -> None:
        self.value = value
        self.where = where
        self.source = source
        self.error = error

    def fail(self, problem: str, hint: str | None = None) -> NoReturn:
        """Raise the reader's error naming the file and this field."""
        where = f" {self.where}" if self.where else ""
        raise self.error(
            f"{self.source}:{where} {problem}",
            hint=hint or "It is not a file castoff wrote, or it was changed after; make it again.",
        )

    def _kind(self) -> str:
        kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
        if isinstance(self.value, (int, float)) and not isinstance(self.value, bool):
            return "a number"
        return kinds.get(
            type(self.value), "null" if self.value is None else type(self.value).__name__
        )

    def key(self, key: str) -> Field:
        """Return a required key of an object."""
        data = self.object()
        if key not in data:
            self.fail(f"has no '{key}'.")
        return Field(
            data[key], f"{self.where}.{key}" if self.where else key, self.source, self.error
        )

    def optional(self, key: str) -> Field | None:
        """Return a key of an object, or None when it is absent."""
        return self.key(key) if key in self.object() else None

    def object(self) -> dict[str, object]:
        """Return the value as an object."""
        if not isinstance(self.value, dict):
            self.fail(f"should be an object, not {self._kind()}.")
        return cast("dict[str, object]", self.value)

    def items(self) -> Iterator[Field]:
        """Yield the elements of a list."""
        if not isinstance(self.value, list):
            self.fail(f"should be a list, not {self._kind()}.")
        for i, item in enumerate(cast("list[object]", self.value)):
            yield Field(item, f"{self.where}[{i}]", self.source, self.error)

    def string(self) -> str:
        """Return the value as a string."""
        if not isinstance(self.value, str):
            self.fail(f"should be a string, not {self._kind()}.")
        return self.value

    def text(self) -> str:
        """Return a non-empty string."""
        value = self.string()
        if not value.strip():
            self.fail("is empty.")
        return value

    def optional_string(self) -> str | None:
        """Return a string or None."""
        return None if self.value is None else self.string()

    def optional_compat(self) -> str | None:
        """Return a libc version as tags spell it (2_17), or None."""
        value = self.optional_string()
        if value is not None and not re.fullmatch(r"[0-9]{1,4}_[0-9]{1,4}", value):
            self.fail(f"should be a version such as 2_17, not {value[:40]!r}.")
        return value

    def strings(self) -> tuple[str, ...]:
        """Return a list of strings."""
        return tuple(item.string() for item in self.items())

    def integer(self, minimum: int = 0) -> int:
        """Return a whole number no smaller than minimum."""
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            self.fail(f"should be a whole number, not {self._kind()}.")
        if self.value < minimum:
            self.fail(f"is {self.value}, below {minimum}.")
        return self.value

    def seconds(self) -> float:
        """Return a finite, non-negative number."""
        if not isinstance(self.value, (int, float)) or isinstance(self.value, bool):
            self.fail(f"should be a number, not {self._kind()}.")
        if not math.isfinite(self.value) or self.value < 0:
            self.fail(f"is {self.value}, not a duration.")
        return float(self.value)

    def boolean(self) -> bool:
        """Return true or false."""
        if not isinstance(self.value, bool):
            self.fail(f"should be true or false, not {self._kind()}.")
        return self.value

    def choice(self, choices: Sequence[str]) -> str:
        """Return a string that is one of choices."""
        value = self.string()
        if value not in choices:
            self.fail(f"'{value}' is not one of {', '.join(choices)}.")
        return value

    def project(self) -> str:
        """Return a project name as PyPI accepts it (it becomes URLs and file names)."""
        value = self.string()
        if not _PROJECT.fullmatch(value):
            self.fail(f"{value[:80]!r} is not a project name PyPI accepts.")
        return value

    def version(self) -> str:
        """Return a normalized PEP 440 version, as castoff writes it."""
        value = self.string()
        try:
            normalized = str(Version(value))
        except InvalidVersion:
            normalized = None
        if normalized != value:
            self.fail(f"{value[:80]!r} is not a normalized PEP 440 version.")
        return value

    def sha256(self) -> str:
        """Return a sha256 as 64 lowercase hex digits."""
        value = self.string()
        if not is_sha256(value):
            self.fail(f"'{value[:80]}' is not a sha256 (64 lowercase hex digits).")
        return value

    def file_name(self) -> str:
        """Return a plain file name inside its folder (no separator, no '..', not absolute)."""
        value = self.string()
        problem = name_problem(value)
        if problem is not None:
            self.fail(f"{problem}.", "castoff only reads files by plain names in their folder.")
        return value

    def string_map(self) -> dict[str, str | None]:
        """Return an object whose values are strings or null."""
        return {
            k: Field(v, f"{self.where}.{k}", self.source, self.error).optional_string()
            for k, v in self.object().items()
        }

    def only(self, keys: Sequence[str]) -> None:
        """Refuse keys castoff does not write."""
        unknown = sorted(set(self.object()) - set(keys))
        if unknown:
            self.fail(f"has keys castoff does not write: {', '.join(unknown[:5])}.")


def read_document(
    path: Path, what: str, error: type[CastoffError] = PlanError, *, limit: int = MAX_DOCUMENT_BYTES
) -> Field:
    """Read a JSON file castoff wrote (at most limit bytes, UTF-8), as a Field to validate."""
    try:
        # Non-blocking, and a regular file only: a FIFO or a device never hangs or feeds castoff.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise error(f"{path}: is not a regular file, so not {what}.")
            raw = handle.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{path}: not found.", hint=f"It should hold {what}.") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if len(raw) > limit:
        raise error(f"{path}: over {limit >> 20} MB; not {what}.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text, so not {what}.") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise error(f"{path}: not JSON ({exc}), so not {what}.") from None
    return Field(data, "", str(path), error)


def write_document(path: Path, document: Mapping[str, Any]) -> Path:
    """Write JSON whole to a temporary name, then move it into place: never half-written."""
    write_replacing(path, json.dumps(document, indent=2) + "\n")
    return path


def write_replacing(path: Path, text: str | bytes, *, mode: int = 0o644) -> None:
    """Write text (or bytes) to a new private temporary file beside path, then rename it over.

    The temporary name is made by mkstemp (O_EXCL): a link planted under a guessable name
    cannot make castoff write through it. The file gets `mode` (0o755 for a script).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:60]}.", suffix=".tmp", dir=path.parent)
    try:
        if isinstance(text, bytes):
            with os.fdopen(fd, "wb") as raw:
                raw.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        os.chmod(tmp, mode)  # noqa: PTH101 - the name mkstemp returned
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _schema(doc: Field, kind: str | None) -> None:
    version = doc.key("schema_version").value
    if version != MANIFEST_SCHEMA_VERSION:
        doc.fail(
            f"manifest schema_version {version!r}; this castoff reads {MANIFEST_SCHEMA_VERSION}.",
            "Make it with the same castoff version that reads it.",
        )
    if kind is not None:
        found = doc.key("kind").value
        if found != kind:
            doc.fail(f"kind is {found!r}, not '{kind}': not a castoff {kind} manifest.")


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


def _command(f: Field) -> CommandRecord:
    f.only(("argv", "env", "cwd", "seconds"))
    env = f.key("env")
    return CommandRecord(
        argv=f.key("argv").strings(),
        env={k: Field(v, f"{env.where}.{k}", f.source).string() for k, v in env.object().items()},
        cwd=f.key("cwd").optional_string(),
        seconds=f.key("seconds").seconds(),
    )


def _smoke(f: Field) -> SmokeRecord:
    f.only(("binary", "status", "runner", "output", "reason"))
    return SmokeRecord(
        binary=f.key("binary").string(),
        status=f.key("status").choice(SMOKE_STATUSES),
        runner=f.key("runner").optional_string(),
        output=f.key("output").string(),
        reason=f.key("reason").string(),
    )


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
        path.write_text(self.to_json(), encoding="utf-8", newline="\n")
        return path

    @classmethod
    def read(cls, path: Path) -> PartialManifest:
        """Read a partial manifest, refusing anything castoff does not write."""
        doc = read_document(path, "a castoff partial manifest")
        doc.object()
        _schema(doc, None)
        doc.only(list(cls.__dataclass_fields__))
        artifacts = []
        seen: set[str] = set()
        for item in doc.key("artifacts").items():
            item.only(("name", "kind", "sha256", "size", "platform_tags"))
            name = item.key("name").file_name()
            if name in seen:
                item.fail(f"lists {name} a second time.")
            seen.add(name)
            artifacts.append(
                BuiltArtifact(
                    name=name,
                    kind=item.key("kind").choice(BUILT_KINDS),
                    sha256=item.key("sha256").sha256(),
                    size=item.key("size").integer(),
                    platform_tags=item.key("platform_tags").strings(),
                )
            )
        return cls(
            schema_version=MANIFEST_SCHEMA_VERSION,
            name=doc.key("name").project(),
            version=doc.key("version").version(),
            target=doc.key("target").text(),
            method=doc.key("method").text(),
            std=doc.key("std").text(),
            cache_key=doc.key("cache_key").string(),
            source_commit=doc.key("source_commit").optional_string(),
            source_tree_sha256=doc.key("source_tree_sha256").string(),
            image=doc.key("image").optional_string(),
            toolchain=doc.key("toolchain").string_map(),
            commands=tuple(_command(c) for c in doc.key("commands").items()),
            seconds=doc.key("seconds").seconds(),
            artifacts=tuple(artifacts),
            smoke=tuple(_smoke(s) for s in doc.key("smoke").items()),
        )


@dataclass(frozen=True, kw_only=True)
class Excluded:
    """A destination a release file does not go to, and why."""

    destination: Destination
    reason: str


@dataclass(frozen=True, kw_only=True)
class SignatureRecord:
    """A detached signature of a release file, as `castoff sign` wrote and listed it."""

    backend: str
    name: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class ReleaseArtifact:
    """One file of a release folder: its bytes, where it goes, and its signatures."""

    name: str
    kind: ReleaseKind
    target: str | None
    sha256: str
    size: int
    destinations: tuple[Destination, ...]
    excluded: tuple[Excluded, ...]
    alias_of: str | None
    platform_tags: tuple[str, ...]
    signatures: tuple[SignatureRecord, ...]

    def reason_off(self, destination: Destination) -> str | None:
        """Return why this file does not go to a destination, or None when it does."""
        return next((e.reason for e in self.excluded if e.destination == destination), None)

    def to_dict(self) -> dict[str, Any]:
        """Return the artifact as JSON data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "sha256": self.sha256,
            "size": self.size,
            "destinations": list(self.destinations),
            "excluded": [asdict(e) for e in self.excluded],
            "alias_of": self.alias_of,
            "platform_tags": list(self.platform_tags),
            "signatures": [asdict(s) for s in self.signatures],
        }


@dataclass(frozen=True, kw_only=True)
class BuildRecord:
    """How one target of a release was built, carried from its partial manifest."""

    target: str
    method: str
    std: str
    source_commit: str | None
    source_tree_sha256: str
    image: str | None
    toolchain: dict[str, str | None]
    commands: tuple[CommandRecord, ...]
    smoke: tuple[SmokeRecord, ...]
    cache_key: str

    @classmethod
    def of(cls, partial: PartialManifest) -> BuildRecord:
        """Return the build record of a partial manifest."""
        return cls(
            target=partial.target,
            method=partial.method,
            std=partial.std,
            source_commit=partial.source_commit,
            source_tree_sha256=partial.source_tree_sha256,
            image=partial.image,
            toolchain=partial.toolchain,
            commands=partial.commands,
            smoke=partial.smoke,
            cache_key=partial.cache_key,
        )


@dataclass(frozen=True, kw_only=True)
class ReleaseManifest:
    """A release folder's manifest.json: every file with its sha256, destinations, signatures.

    It is a convenience: the signed SHA256SUMS and provenance are what `castoff verify` trusts.
    """

    name: str
    version: str
    artifacts: tuple[ReleaseArtifact, ...]
    builds: tuple[BuildRecord, ...]
    provenance: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest as JSON data."""
        doc: dict[str, Any] = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "kind": "release",
            "name": self.name,
            "version": self.version,
            "artifacts": [a.to_dict() for a in self.artifacts],
            "builds": [asdict(b) for b in self.builds],
        }
        if self.provenance is not None:
            doc["provenance"] = self.provenance
        return doc

    def write(self, folder: Path) -> Path:
        """Write manifest.json into a release folder, whole or not at all."""
        return write_document(folder / RELEASE_MANIFEST, self.to_dict())

    def artifact(self, name: str) -> ReleaseArtifact | None:
        """Return the artifact of a name, if listed."""
        return next((a for a in self.artifacts if a.name == name), None)

    def files(self) -> dict[str, str]:
        """Return every file the manifest vouches for (artifacts and signatures) with its sha256."""
        found = {a.name: a.sha256 for a in self.artifacts}
        found.update({s.name: s.sha256 for a in self.artifacts for s in a.signatures})
        return found

    @classmethod
    def read(cls, folder: Path) -> ReleaseManifest:
        """Read a release folder's manifest.json, refusing anything castoff does not write."""
        path = folder / RELEASE_MANIFEST
        if not path.is_file():
            raise PlanError(
                f"{path}: not found; {folder} is not a castoff release folder.",
                hint="Make it with `castoff assemble`, or download the release with its "
                "manifest.json.",
            )
        return cls.read_file(path)

    @classmethod
    def read_file(cls, path: Path) -> ReleaseManifest:
        """Read a release manifest from any path (a previous release's, kept elsewhere)."""
        return cls.parse(read_document(path, "a castoff release manifest"))

    @classmethod
    def parse(cls, doc: Field) -> ReleaseManifest:
        """Validate a parsed release manifest."""
        doc.object()
        _schema(doc, "release")
        doc.only(("schema_version", "kind", "name", "version", "artifacts", "builds", "provenance"))
        artifacts = [_release_artifact(item) for item in doc.key("artifacts").items()]
        names = [a.name for a in artifacts] + [s.name for a in artifacts for s in a.signatures]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            doc.fail(f"names {', '.join(twice[:5])} more than once.")
        provenance_field = doc.optional("provenance")
        provenance = provenance_field.file_name() if provenance_field is not None else None
        if provenance is not None and not any(
            a.name == provenance and a.kind == "provenance" for a in artifacts
        ):
            doc.fail(f"provenance names {provenance}, which is not a provenance artifact.")
        return cls(
            name=doc.key("name").project(),
            version=doc.key("version").version(),
            artifacts=tuple(artifacts),
            builds=tuple(_build(b) for b in doc.key("builds").items()),
            provenance=provenance,
        )


def _release_artifact(item: Field) -> ReleaseArtifact:
    item.only(
        (
            "name", "kind", "target", "sha256", "size", "destinations", "excluded", "alias_of",
            "platform_tags", "signatures",
        )
    )  # fmt: skip
    destinations = tuple(
        cast("Destination", d.choice(DESTINATIONS)) for d in item.key("destinations").items()
    )
    excluded = []
    for e in item.key("excluded").items():
        e.only(("destination", "reason"))
        excluded.append(
            Excluded(
                destination=cast("Destination", e.key("destination").choice(DESTINATIONS)),
                reason=e.key("reason").string(),
            )
        )
    if len(set(destinations)) != len(destinations) or set(destinations) & {
        e.destination for e in excluded
    }:
        item.fail("names a destination twice, or both takes and leaves out one.")
    name = item.key("name").file_name()
    signatures = []
    for s in item.key("signatures").items():
        s.only(("backend", "name", "sha256"))
        backend = s.key("backend").text()
        if not re.fullmatch(r"[a-z][a-z0-9-]*", backend):
            s.key("backend").fail(f"'{backend[:40]}' is not a signing backend's name.")
        signature = s.key("name").file_name()
        # Which names each backend makes is the registry's to say (verify checks it); here
        # a signature must at least be named for its file.
        if not signature.startswith(name + ".") or signature == name:
            s.key("name").fail(f"'{signature}' is not a {backend} signature of {name}.")
        signatures.append(
            SignatureRecord(backend=backend, name=signature, sha256=s.key("sha256").sha256())
        )
    alias = item.key("alias_of")
    return ReleaseArtifact(
        name=name,
        kind=cast("ReleaseKind", item.key("kind").choice(RELEASE_KINDS)),
        target=item.key("target").optional_string(),
        sha256=item.key("sha256").sha256(),
        size=item.key("size").integer(),
        destinations=destinations,
        excluded=tuple(excluded),
        alias_of=None if alias.value is None else alias.file_name(),
        platform_tags=item.key("platform_tags").strings(),
        signatures=tuple(signatures),
    )


def _build(b: Field) -> BuildRecord:
    b.only(
        (
            "target", "method", "std", "source_commit", "source_tree_sha256", "image", "toolchain",
            "commands", "smoke", "cache_key",
        )
    )  # fmt: skip
    return BuildRecord(
        target=b.key("target").text(),
        method=b.key("method").string(),
        std=b.key("std").string(),
        source_commit=b.key("source_commit").optional_string(),
        source_tree_sha256=b.key("source_tree_sha256").string(),
        image=b.key("image").optional_string(),
        toolchain=b.key("toolchain").string_map(),
        commands=tuple(_command(c) for c in b.key("commands").items()),
        smoke=tuple(_smoke(s) for s in b.key("smoke").items()),
        cache_key=b.key("cache_key").string(),
    )


def format_checksums(digests: Mapping[str, str]) -> str:
    """Return SHA256SUMS text for files by name and digest, sorted, in `sha256sum -c` format."""
    return "".join(f"{digests[n]}  {n}\n" for n in sorted(digests))


def parse_checksums(
    raw: bytes, source: str, error: type[CastoffError] = PlanError
) -> dict[str, str]:
    """Read `sha256sum` output (SHA256SUMS, a .sha256 sidecar): plain names, one line each."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise error(f"{source}: over {MAX_DOCUMENT_BYTES >> 20} MB; not a checksum file.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{source}: not UTF-8 text, so not a checksum file castoff wrote.") from None
    digests: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if not line and number == text.count("\n") + 1:
            break  # the newline that ends the last line
        digest, sep, name = line[:64], line[64:66], line[66:]
        if not is_sha256(digest) or sep not in ("  ", " *"):
            raise error(
                f"{source}: line {number} is not '<sha256>  <file name>'.",
                hint="It is not a checksum file castoff wrote; get the release again.",
            )
        problem = name_problem(name)
        if problem is not None:
            raise error(f"{source}: line {number}: the file name {problem}.")
        if name in digests:
            raise error(f"{source}: line {number} lists {name} a second time.")
        digests[name] = digest
    return digests


def previous_artifacts(path: Path) -> list[tuple[str, str]]:
    """Read the names and kinds of a previous release's manifest (all the contract needs)."""
    doc = read_document(path, "a castoff release manifest")
    return [
        (item.key("name").file_name(), item.key("kind").string())
        for item in doc.key("artifacts").items()
    ]
