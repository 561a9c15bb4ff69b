"""Upload index-bound files one at a time: ask the index, journal, upload verified bytes, read back.

The manifest a publish works from is the one preflight verified. Immediately before each upload
the file is copied into a private folder while it is hashed, and only a copy with the verified
sha256 is handed to twine (in this process, one session for every file): bytes changed after
preflight never leave the machine. The index, not the journal, says what is there: it is read
before the first upload (a resume too) and again before any retry, every file is looked up in
it, and an index that serves no hashes has its bytes downloaded and compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from castoff.errors import PublishError
from castoff.manifest import ReleaseArtifact, ReleaseManifest
from castoff.publish import github, index, twine
from castoff.publish.journal import Journal, open_journal, publish_lock
from castoff.publish.verified import private_copies, verified_copy
from castoff.results import Report
from castoff.runner import Runner
from castoff.sign.sigstore import ATTESTATION_SUFFIX

# The publish steps, in the order they run: stage the GitHub release as a draft, upload to the
# index, then check both and publish the draft. CI runs each in a job of its own, holding only
# the permission that step needs (contents: write, id-token: write, contents: write).
STEPS = ("stage", "index", "finish")


@dataclass(frozen=True, kw_only=True)
class PublishOptions:
    """Where to upload and how hard to try."""

    repository_url: str
    index_url: str
    resume: bool = False
    dry_run: bool = False
    attempts: int = 4
    backoff: float = 2.0  # seconds before the second attempt; doubled for each further one
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def pypi_files(manifest: ReleaseManifest) -> list[ReleaseArtifact]:
    """Return the manifest's files bound for the index, in the fixed order they are uploaded.

    Wheels first, the sdist last: a publish stopped halfway leaves installers no sdist to build
    from source where the wheel they should get is not there yet.
    """
    files = (a for a in manifest.artifacts if "pypi" in a.destinations)
    return sorted(files, key=lambda a: (a.kind == "sdist", a.name))


def _attestation(artifact: ReleaseArtifact) -> tuple[str, str] | None:
    """Return the PEP 740 attestation the manifest lists for a wheel: its name and sha256."""
    for signature in artifact.signatures:
        if signature.name == artifact.name + ATTESTATION_SUFFIX:
            return signature.name, signature.sha256
    return None


def show_index_uploads(
    manifest: ReleaseManifest, *, options: PublishOptions, env: Mapping[str, str], report: Report
) -> dict[str, Any]:
    """Say what a publish would upload, where and as whom (a dry run); the password is not shown."""
    files = pypi_files(manifest)
    user = env.get("TWINE_USERNAME") or "(keyring or trusted publishing)"
    for artifact in files:
        attestation = _attestation(artifact)
        with_attestation = f" with {attestation[0]}" if attestation else ""
        report(
            f"would upload {artifact.name}{with_attestation} to {options.repository_url} "
            f"with twine, as {user}"
        )
    return {"dry_run": True, "files": [{"name": a.name, "state": "dry-run"} for a in files]}


def start_journal(dist: Path, manifest: ReleaseManifest, options: PublishOptions) -> Journal:
    """Open the journal of this publish (or refuse, naming the earlier one) before any upload."""
    return open_journal(
        dist,
        name=manifest.name,
        version=manifest.version,
        repository_url=options.repository_url,
        files=[(a.name, a.sha256) for a in pypi_files(manifest)],
        resume=options.resume,
    )


def publish_to_index(
    dist: Path,
    manifest: ReleaseManifest,
    journal: Journal,
    *,
    options: PublishOptions,
    runner: Runner,
    env: Mapping[str, str],
    report: Report,
    served: Mapping[str, index.IndexFile] | None = None,
) -> dict[str, Any]:
    """Upload what the index lacks, in a fixed order, and check that it serves every file.

    served: what the index served just before (preflight's read), else it is read here.
    """
    files = pypi_files(manifest)
    # The index is read once up front (and again only before a retry), not before every file.
    listing = _Listing(options, journal.name, served)
    with twine.Uploader(options.repository_url, env, secrets=runner.secrets) as uploader:
        for number, artifact in enumerate(files, 1):
            # Even a file the journal calls done is looked up: the index is the truth.
            state = _upload(
                dist,
                artifact,
                journal,
                options=options,
                listing=listing,
                uploader=uploader,
                report=report,
            )
            report(f"[{number}/{len(files)}] {artifact.name}: {state}")
    _read_back(manifest.name, journal, options.index_url, {a.name: a.size for a in files})
    return {
        "dry_run": False,
        "repository_url": options.repository_url,
        "files": [
            {"name": e.name, "sha256": e.sha256, "state": e.state, "attempts": e.attempts}
            for e in journal.entries.values()
        ],
    }


def _serves(there: index.IndexFile, size: int) -> str:
    # A little slack: a download longer than the file is other bytes, whatever they are.
    return index.served_sha256(there, limit=size + 1)


class _Listing:
    """What the index serves, read once for a publish and again only when asked to."""

    def __init__(
        self, options: PublishOptions, project: str, files: Mapping[str, index.IndexFile] | None
    ) -> None:
        self.options = options
        self.project = project
        self.files = files

    def get(self, name: str) -> index.IndexFile | None:
        """Return the index's entry for a file, reading the index if it has not been read."""
        if self.files is None:
            self.files = index.project_files(self.options.index_url, self.project)
        return self.files.get(name)

    def forget(self) -> None:
        """Read the index again at the next question (an upload may have landed after all)."""
        self.files = None


def _upload(
    dist: Path,
    artifact: ReleaseArtifact,
    journal: Journal,
    *,
    options: PublishOptions,
    listing: _Listing,
    uploader: twine.Uploader,
    report: Report,
) -> str:
    name = artifact.name
    delay = options.backoff
    for attempt in range(1, options.attempts + 1):
        if attempt > 1:
            # Read again before a retry: an upload that failed on the way back may have landed.
            listing.forget()
        try:
            there = listing.get(name)
            served = _serves(there, artifact.size) if there is not None else None
        except PublishError as exc:
            if attempt == options.attempts:
                raise PublishError(
                    f"{name}: {exc.message} (attempt {attempt} of {options.attempts})",
                    hint=_hint(None, transient=True),
                ) from None
            report(f"{name}: {exc.message}; trying again in {delay:g} s")
            options.sleep(delay)
            delay *= 2
            continue
        entry = journal.entries[name]
        if served is not None:
            if served != entry.sha256:
                journal.set(name, note=f"the index serves sha256 {served}")
                raise PublishError(
                    f"{name}: the index already serves a different file under this name "
                    f"(sha256 {served}, this one is {entry.sha256}); nothing was uploaded "
                    "for it.",
                    hint="An index never takes a file name twice: release a new version.",
                )
            started = entry.state in ("uploading", "uploaded", "verified") or entry.attempts > 0
            state = journal.set(name, state="uploaded" if started else "present").state
            return f"on the index already ({state})"
        if entry.state in ("uploaded", "present", "verified"):
            report(f"{name}: the journal says {entry.state}, but the index lacks it: uploading")
        attestation = _attestation(artifact)
        with private_copies() as folder:
            copy = verified_copy(dist, name, artifact.sha256, folder, size=artifact.size)
            # The attestation goes beside the wheel's copy, where twine looks for it.
            signed = (
                verified_copy(dist, attestation[0], attestation[1], folder)
                if attestation is not None
                else None
            )
            journal.set(name, state="uploading", attempts=entry.attempts + 1)
            report(f"uploading {name} to {options.repository_url}")
            outcome = uploader.upload(copy, signed)
        if outcome.ok:
            return journal.set(name, state="uploaded", note="").state
        journal.set(name, state="pending", note=outcome.message)
        if not outcome.transient or attempt == options.attempts:
            raise PublishError(
                f"{name}: the upload failed"
                + (f" with HTTP {outcome.status}" if outcome.status else "")
                + f" (attempt {attempt} of {options.attempts}): {outcome.message}",
                hint=_hint(outcome.status, transient=outcome.transient),
            )
        report(f"{name}: {outcome.message or 'failed'}; trying again in {delay:g} s")
        options.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _hint(status: int | None, *, transient: bool) -> str:
    resume = "then `castoff publish --resume` uploads only what is missing."
    if status in (401, 403) or (status is None and not transient):
        return (
            "Check the credentials (TWINE_USERNAME and TWINE_PASSWORD, keyring, or trusted "
            f"publishing in GitHub Actions); {resume}"
        )
    if status is not None and 400 <= status < 500:
        return f"The index refused the file; fix what it says, {resume}"
    return f"Wait until the index is reachable; {resume}"


def not_served(project: str, index_url: str, files: Mapping[str, tuple[str, int]]) -> list[str]:
    """Return the files (by name: sha256 and size) the index does not serve with those bytes."""
    served = index.project_files(index_url, project)
    return [
        name
        for name, (sha256, size) in files.items()
        if (there := served.get(name)) is None or _serves(there, size) != sha256
    ]


def _read_back(project: str, journal: Journal, index_url: str, sizes: Mapping[str, int]) -> None:
    wrong = not_served(
        project, index_url, {e.name: (e.sha256, sizes[e.name]) for e in journal.entries.values()}
    )
    journal.set_all([name for name in journal.entries if name not in wrong], "verified")
    if wrong:
        raise PublishError(
            f"after uploading, {index_url} does not serve {', '.join(wrong)} with the uploaded "
            "sha256.",
            hint="An index can lag a few seconds behind its uploads: wait, then run "
            "`castoff publish --resume`, which uploads only what is missing.",
        )


def publish_release(  # noqa: PLR0913 - both destinations, and which steps run
    dist: Path,
    manifest: ReleaseManifest,
    *,
    options: PublishOptions,
    host: github.ReleaseHost | None,
    index_enabled: bool,
    runner: Runner,
    env: Mapping[str, str],
    report: Report,
    steps: tuple[str, ...] = STEPS,
    served: Mapping[str, index.IndexFile] | None = None,
) -> dict[str, Any]:
    """Stage the GitHub release as a draft, upload to the index, then publish the release.

    served: what the index served at preflight, just before; the uploads start from it unless
    the GitHub release is staged first (minutes, in which the index may change).
    """
    if options.dry_run:
        return _show(
            dist,
            manifest,
            options=options,
            host=host,
            index_enabled=index_enabled,
            env=env,
            report=report,
            steps=steps,
        )
    with publish_lock(dist):
        # The journal is checked (an earlier publish without --resume, another release's)
        # before anything is staged anywhere.
        journal = (
            start_journal(dist, manifest, options) if index_enabled and "index" in steps else None
        )
        doc: dict[str, Any] = {"index": None, "release": None}
        title = f"{manifest.name} {manifest.version}"
        if host is not None and "stage" in steps:
            doc["release"] = github.stage_release(
                host, dist, manifest, title=title, notes=_notes(title), report=report
            )
            served = None
        if journal is not None:
            doc["index"] = publish_to_index(
                dist, manifest, journal, options=options, runner=runner, env=env, report=report,
                served=served,
            )  # fmt: skip
        if host is not None and "finish" in steps:
            if "stage" not in steps:
                # Staged by another job: the draft must hold every file, byte for byte.
                doc["release"] = github.check_staged(host, manifest)
            if index_enabled and "index" not in steps:
                _index_has_all(manifest, options.index_url, report)
            # Only now, with every file on the index, does the release become public.
            doc["release"]["published_before"] = github.finish_release(host, report)
            doc["release"]["published"] = True
    return doc


def _index_has_all(manifest: ReleaseManifest, index_url: str, report: Report) -> None:
    """Raise unless the index serves every index-bound file with its sha256 (a read, no upload)."""
    files = {a.name: (a.sha256, a.size) for a in pypi_files(manifest)}
    report(f"checking that {index_url} serves all {len(files)} files")
    missing = not_served(manifest.name, index_url, files)
    if missing:
        raise PublishError(
            f"{index_url} does not serve {', '.join(missing)} with the release's sha256; the "
            "GitHub release stays a draft.",
            hint="Run the index step (`castoff publish DIST --step index`) first, then finish.",
        )


def _notes(title: str) -> str:
    return (
        f"{title}: wheels on the package index, archives named by target triple, "
        "signatures and provenance. Check a download with `castoff verify`."
    )


def _show(
    dist: Path,
    manifest: ReleaseManifest,
    *,
    options: PublishOptions,
    host: github.ReleaseHost | None,
    index_enabled: bool,
    env: Mapping[str, str],
    report: Report,
    steps: tuple[str, ...],
) -> dict[str, Any]:
    doc: dict[str, Any] = {"index": None, "release": None}
    title = f"{manifest.name} {manifest.version}"
    if host is not None and "stage" in steps:
        files = [dist / n for n in github.release_files(manifest)]
        host.show(files, title, _notes(title), report, finish=False)
        doc["release"] = {"where": host.where, "files": [f.name for f in files]}
    if index_enabled and "index" in steps:
        doc["index"] = show_index_uploads(manifest, options=options, env=env, report=report)
    if host is not None and "finish" in steps:
        host.show([], "", "", report, finish=True)
        doc["release"] = doc["release"] or {"where": host.where, "files": []}
    return doc
