"""What a build records: its log and the commands it ran, its files, a cached folder's reuse."""

from __future__ import annotations

import time
from pathlib import Path

from castoff.build.archive import sha256_file
from castoff.errors import CastoffError
from castoff.manifest import PARTIAL_MANIFEST, BuiltArtifact, CommandRecord, PartialManifest
from castoff.runner import Command, Runner

BUILD_LOG = "build.log"


def built_artifact(path: Path, kind: str, tags: tuple[str, ...] = ()) -> BuiltArtifact:
    """Return a built file's manifest entry, hashed."""
    return BuiltArtifact(
        name=path.name,
        kind=kind,
        sha256=sha256_file(path),
        size=path.stat().st_size,
        platform_tags=tags,
    )


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
