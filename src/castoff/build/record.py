"""What a build records: its log and the commands it ran, its files, a cached folder's reuse."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from castoff.build.archive import sha256_file
from castoff.errors import BuildError, CastoffError
from castoff.folders import check_claimable, mark
from castoff.manifest import PARTIAL_MANIFEST, BuiltArtifact, CommandRecord, PartialManifest
from castoff.runner import Command, Runner

BUILD_LOG = "build.log"
# Top-level folders that never hold the sources of a build (outputs, caches).
_NOT_SOURCE = {"target", "build", "dist", "node_modules"}
_CARGO_CONFIG = ((".cargo", "config.toml"), (".cargo", "config"))


def _is_source(parts: tuple[str, ...]) -> bool:
    """Return whether a relative path is a source: not an output, cache or hidden folder.

    A package may well be named build or dist below the top; a vendored crate's
    .cargo-checksum.json is a hidden file cargo needs. .cargo/config.toml (and .cargo/config)
    count: they say where dependencies come from and how they are built.
    """
    if parts in _CARGO_CONFIG:
        return True
    if parts[0] in _NOT_SOURCE or "__pycache__" in parts or parts[0].startswith("."):
        return False
    return not any(part.startswith(".") for part in parts[:-1])


def source_files(project_dir: Path, exclude: Sequence[Path] = ()) -> Iterator[tuple[str, Path]]:
    """Yield a project's source files, sorted, as (POSIX relative name, path)."""
    excluded = {p.resolve() for p in exclude}
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not _is_source(relative.parts):
            continue
        if path.resolve() in excluded or any(
            parent in excluded for parent in path.resolve().parents
        ):
            continue
        if path.is_file():
            yield relative.as_posix(), path


def source_tree_sha256(project_dir: Path, exclude: Sequence[Path] = ()) -> str:
    """Hash a project's source files (names and bytes), as source_files finds them."""
    digest = hashlib.sha256()
    for name, path in source_files(project_dir, exclude):
        # POSIX names: one tree, one hash, whatever OS's separator.
        digest.update(name.encode() + b"\0" + sha256_file(path).encode() + b"\0")
    return digest.hexdigest()


def built_artifact(path: Path, kind: str, tags: tuple[str, ...] = ()) -> BuiltArtifact:
    """Return a built file's manifest entry, hashed."""
    return BuiltArtifact(
        name=path.name,
        kind=kind,
        sha256=sha256_file(path),
        size=path.stat().st_size,
        platform_tags=tags,
    )


def fresh_job_folder(folder: Path, names: Sequence[str], what: str) -> JobLog:
    """Empty (or make) a job's build folder, mark what castoff writes there; open its log.

    The folder must be castoff's own (its marker) or new: another's is never emptied.
    """
    check_claimable(folder, "build", BuildError, f"--out ({what})")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    mark(folder, "build", [BUILD_LOG, PARTIAL_MANIFEST, *names])
    return JobLog(folder / BUILD_LOG)


def reusable(folder: Path, key: str) -> PartialManifest | None:
    """Return the manifest of a folder an earlier build with this key made, if it is intact."""
    path = folder / PARTIAL_MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = PartialManifest.read(path)
    except CastoffError:
        return None
    if manifest.cache_key != key:
        return None
    for artifact in manifest.artifacts:
        file = folder / artifact.name
        if not file.is_file() or sha256_file(file) != artifact.sha256:
            return None
    return manifest


class JobLog:
    """A build's build.log, which also keeps the commands for the manifest."""

    def __init__(self, path: Path) -> None:
        """Open (replace) the log."""
        self.path = path
        self.file = path.open("w", encoding="utf-8", newline="\n")
        self.commands: list[CommandRecord] = []

    def write(self, text: str) -> None:
        """Append a line, flushed: a failed build's log is whole."""
        self.file.write(text + "\n")
        self.file.flush()

    def run(
        self, runner: Runner, command: Command, *, timeout: float | None = None, check: bool = True
    ) -> int:
        """Run a command into the log and record it (argv, env, cwd, seconds)."""
        started = time.monotonic()
        try:
            result = runner.run(command, log=self.write, timeout=timeout, check=check)
        finally:
            self.commands.append(
                CommandRecord(
                    argv=command.argv,
                    env=dict(command.env),
                    cwd=str(command.cwd) if command.cwd else None,
                    seconds=round(time.monotonic() - started, 3),
                )
            )
        return result.returncode

    def close(self) -> None:
        """Close the log."""
        self.file.close()
