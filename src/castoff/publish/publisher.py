"""Upload index-bound files one at a time: check the index, journal, retry, read back."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from castoff.errors import PublishError
from castoff.plan import ATTESTATION_SUFFIX
from castoff.publish import github, index, twine
from castoff.publish.journal import DONE, Journal, open_journal
from castoff.publish.preflight import pypi_files
from castoff.runner import Command, Runner
from castoff.sign.signing import read_manifest

Report = Callable[[str], None]
# twine's own secrets: whatever twine prints is shown without them.
TWINE_SECRETS = ("TWINE_PASSWORD",)
# What twine reads from the environment; handed to it as given (shown redacted).
TWINE_VARIABLES = ("TWINE_USERNAME", "TWINE_PASSWORD", "TWINE_NON_INTERACTIVE")


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


def publish_to_index(
    dist: Path,
    *,
    options: PublishOptions,
    runner: Runner,
    env: Mapping[str, str],
    report: Report,
) -> dict[str, Any]:
    """Upload what the index lacks, in a fixed order, and check that it serves every file."""
    manifest = read_manifest(dist)
    files = pypi_files(manifest)
    runner = runner.with_secrets([env[k] for k in TWINE_SECRETS if env.get(k)])
    credentials = {k: env[k] for k in TWINE_VARIABLES if k in env}
    if options.dry_run:
        for artifact in files:
            runner.dry().run(_command(dist, artifact["name"], options, credentials))
        return {"dry_run": True, "files": [{"name": a["name"], "state": "dry-run"} for a in files]}
    journal = open_journal(
        dist,
        name=manifest["name"],
        version=manifest["version"],
        repository_url=options.repository_url,
        files=[(a["name"], a["sha256"]) for a in files],
        resume=options.resume,
    )
    for number, artifact in enumerate(files, 1):
        name = artifact["name"]
        if journal.entries[name].state in DONE:
            report(f"[{number}/{len(files)}] {name}: {journal.entries[name].state} before")
            continue
        state = _upload(
            dist,
            name,
            journal,
            options=options,
            runner=runner,
            credentials=credentials,
            report=report,
        )
        report(f"[{number}/{len(files)}] {name}: {state}")
    _read_back(manifest["name"], journal, options.index_url)
    return {
        "dry_run": False,
        "repository_url": options.repository_url,
        "files": [
            {"name": e.name, "sha256": e.sha256, "state": e.state, "attempts": e.attempts}
            for e in journal.entries.values()
        ],
    }


def _command(
    dist: Path, name: str, options: PublishOptions, credentials: Mapping[str, str]
) -> Command:
    attestation = dist / (name + ATTESTATION_SUFFIX)
    command = twine.upload_command(
        dist / name,
        repository_url=options.repository_url,
        attestations=[attestation] if attestation.is_file() else [],
    )
    return dataclasses.replace(command, env={**command.env, **credentials})


def _upload(
    dist: Path,
    name: str,
    journal: Journal,
    *,
    options: PublishOptions,
    runner: Runner,
    credentials: Mapping[str, str],
    report: Report,
) -> str:
    delay = options.backoff
    for attempt in range(1, options.attempts + 1):
        # Read before every try: an upload that failed on the way back may have landed.
        try:
            there = index.project_files(options.index_url, journal.name).get(name)
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
        if there is not None:
            if there.sha256 not in (None, entry.sha256):
                journal.set(name, note=f"the index serves sha256 {there.sha256}")
                raise PublishError(
                    f"{name}: the index already serves a different file under this name "
                    f"(sha256 {there.sha256}, this one is {entry.sha256}); nothing was uploaded "
                    "for it.",
                    hint="An index never takes a file name twice: release a new version.",
                )
            started = entry.state == "uploading" or entry.attempts > 0
            return journal.set(name, state="uploaded" if started else "present").state
        journal.set(name, state="uploading", attempts=entry.attempts + 1)
        result = runner.run(_command(dist, name, options, credentials), check=False)
        outcome = twine.outcome(result)
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


def _read_back(project: str, journal: Journal, index_url: str) -> None:
    served = index.project_files(index_url, project)
    wrong = []
    for entry in journal.entries.values():
        there = served.get(entry.name)
        if there is None or there.sha256 not in (None, entry.sha256):
            wrong.append(entry.name)
        else:
            journal.set(entry.name, state="verified")
    if wrong:
        raise PublishError(
            f"after uploading, the index does not serve {', '.join(wrong)} with the uploaded "
            "sha256.",
            hint="Look at the index; `castoff publish --resume` uploads what is missing.",
        )


def publish_release(
    dist: Path,
    *,
    options: PublishOptions,
    host: github.ReleaseHost | None,
    index_enabled: bool,
    runner: Runner,
    env: Mapping[str, str],
    report: Report,
) -> dict[str, Any]:
    """Stage the GitHub release as a draft, upload to the index, then publish the release."""
    manifest = read_manifest(dist)
    doc: dict[str, Any] = {"index": None, "release": None}
    if host is not None:
        title = f"{manifest['name']} {manifest['version']}"
        notes = (
            f"{title}: wheels on the package index, archives named by target triple, "
            "signatures and provenance. Check a download with `castoff verify`."
        )
        if options.dry_run:
            files = github.release_files(dist, manifest)
            host.show(files, title, notes, report, finish=False)
            doc["release"] = {"where": host.where, "files": [f.name for f in files]}
        else:
            doc["release"] = github.stage_release(
                host, dist, manifest, title=title, notes=notes, report=report
            )
    if index_enabled:
        doc["index"] = publish_to_index(
            dist, options=options, runner=runner, env=env, report=report
        )
    if host is not None and options.dry_run:
        host.show([], "", "", report, finish=True)
    elif host is not None:
        # Only now, with every file on the index, does the release become public.
        doc["release"]["published_before"] = github.finish_release(host, report)
        doc["release"]["published"] = True
    return doc
