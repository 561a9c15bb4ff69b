"""Verify a release folder that nobody vouches for: a download, an artifact from another CI job.

Trust starts at what is signed, checked with public material only: SHA256SUMS (every wheel and
archive with its sha256) and the provenance statement (every file of the release, SHA256SUMS and
the sidecars included, with its sha256 and destinations). Every file in the folder must be one
of those, a signature of one of them, or a known metadata file; manifest.json is a convenience
that must agree with what is signed, and vouches for nothing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from castoff.build.archive import sha256_file
from castoff.config import Config
from castoff.errors import CastoffError, VerifyError
from castoff.folders import MARKER
from castoff.manifest import (
    CHECKSUMS_FILE,
    JOURNAL_FILE,
    MAX_DOCUMENT_BYTES,
    PUBLISH_LOCK,
    RELEASE_MANIFEST,
    ReleaseManifest,
    parse_checksums,
)
from castoff.plan import Signature, signatures_of
from castoff.pypi import is_sdist_filename
from castoff.results import Report, VerifyResult
from castoff.runner import Runner, usable_cores
from castoff.sign import Checker
from castoff.sign.keys import private_folder
from castoff.sign.provenance import Statement, Subject, read_statement
from castoff.sign.signing import Problem, checkers, choose_backends
from castoff.sign.sigstore import ATTESTATION_SUFFIX

PROVENANCE_SUFFIX = ".intoto.json"
# Files castoff keeps in a release folder that are not part of the release itself.
METADATA = (RELEASE_MANIFEST, JOURNAL_FILE, PUBLISH_LOCK, MARKER)


@dataclass(frozen=True, kw_only=True)
class Verified:
    """What verification established: each file's trusted sha256, and what went wrong."""

    digests: dict[str, str]  # every file the signed checksums or provenance vouch for, found here
    absent: dict[str, str]  # vouched-for files that are not here, with why that is fine
    problems: list[Problem]
    doc: dict[str, Any]


def _kind(name: str) -> str:
    if name == CHECKSUMS_FILE:
        return "checksum"
    if name.endswith(PROVENANCE_SUFFIX):
        return "provenance"
    if name.endswith(".whl"):
        return "wheel"
    if name.endswith(".sha256"):
        return "checksum"
    if is_sdist_filename(name):
        return "sdist"
    return "archive"


def _scan(dist: Path) -> tuple[dict[str, str], list[Problem]]:
    """Hash every regular file in the folder; links, folders and devices are problems."""
    found: dict[str, str] = {}
    problems: list[Problem] = []
    try:
        entries = sorted(os.scandir(dist), key=lambda e: e.name)
    except OSError as exc:
        raise VerifyError(f"{dist}: cannot be read ({exc.strerror or exc}).") from None
    for entry in entries:
        mode = entry.stat(follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):
            what = (
                "a symbolic link"
                if stat.S_ISLNK(mode)
                else ("a folder" if stat.S_ISDIR(mode) else "not a regular file")
            )
            problems.append(
                Problem(
                    artifact=entry.name,
                    backend=None,
                    file=entry.name,
                    problem=f"is {what}; a release folder holds only plain files",
                )
            )
            continue
        found[entry.name] = sha256_file(dist / entry.name)
    return found, problems


def _read_sums(dist: Path, present: Mapping[str, str], problems: list[Problem]) -> dict[str, str]:
    if CHECKSUMS_FILE not in present:
        problems.append(
            Problem(
                artifact=CHECKSUMS_FILE,
                backend=None,
                file=CHECKSUMS_FILE,
                problem="missing: without the signed checksums nothing here can be trusted",
            )
        )
        return {}
    try:
        with (dist / CHECKSUMS_FILE).open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
        return parse_checksums(raw, str(dist / CHECKSUMS_FILE), VerifyError)
    except (CastoffError, OSError) as exc:
        problem = exc.message if isinstance(exc, CastoffError) else str(exc)
        problems.append(
            Problem(artifact=CHECKSUMS_FILE, backend=None, file=CHECKSUMS_FILE, problem=problem)
        )
        return {}


def _read_provenance(
    dist: Path, present: Mapping[str, str], problems: list[Problem]
) -> tuple[str | None, Statement | None]:
    candidates = sorted(n for n in present if n.endswith(PROVENANCE_SUFFIX))
    if not candidates:
        problems.append(
            Problem(
                artifact="provenance",
                backend=None,
                file=f"<name>-<version>{PROVENANCE_SUFFIX}",
                problem="missing: the release was not signed (castoff sign writes it)",
            )
        )
        return None, None
    for extra in candidates[1:]:
        problems.append(
            Problem(
                artifact=extra,
                backend=None,
                file=extra,
                problem=f"a second provenance statement (beside {candidates[0]})",
            )
        )
    name = candidates[0]
    try:
        return name, read_statement(dist / name)
    except CastoffError as exc:
        problems.append(Problem(artifact=name, backend=None, file=name, problem=exc.message))
        return name, None


def check_trust(  # noqa: PLR0912, PLR0915 - one pass over the folder, every rule in order
    dist: Path,
    backends: Sequence[str],
    found: Mapping[str, Checker],
    report: Report,
    configured: Sequence[str] = (),
    release: tuple[str, str] | None = None,
    *,
    every_signature: bool = True,
    beside: Callable[[], object] | None = None,
) -> Verified:
    """Check a folder against its signed checksums and provenance; list every problem.

    `backends` are checked; signatures of the other `configured` backends are accounted for
    without being checked; any other signature-like file is not part of the release. With
    `release` (name, version), the signed statement must be of that release. Without
    `every_signature`, only the signatures of SHA256SUMS and the provenance (they vouch for
    every file's bytes) and the PEP 740 attestations (the index gets them) are verified: the
    other signature files go to the GitHub release only. `beside` is the caller's own work,
    done while the verifier processes run.
    """
    report(f"hashing every file in {dist}")
    present, problems = _scan(dist)
    sums = _read_sums(dist, present, problems)
    provenance, statement = _read_provenance(dist, present, problems)
    subjects = statement.subjects if statement is not None else {}
    if statement is not None and provenance and release is not None:
        name, version = release
        if (canonicalize_name(statement.name), statement.version) != (
            canonicalize_name(name),
            version,
        ):
            problems.append(
                Problem(
                    artifact=provenance,
                    backend=None,
                    file=provenance,
                    problem=f"is of {statement.name} {statement.version}, not {name} {version} "
                    "(pass --release-version to verify another version)",
                )
            )
    vouched: dict[str, str] = {}
    absent: dict[str, str] = {}
    claims: dict[str, list[tuple[str, str]]] = {}
    for name, digest in sums.items():
        claims.setdefault(name, []).append((CHECKSUMS_FILE, digest))
    for name, subject in subjects.items():
        claims.setdefault(name, []).append((provenance or "the provenance", subject.sha256))
    if provenance and subjects:
        for name, digest in sums.items():
            if name not in subjects or subjects[name].sha256 != digest:
                problems.append(
                    Problem(
                        artifact=provenance,
                        backend=None,
                        file=provenance,
                        problem=f"does not name {name} with the sha256 {CHECKSUMS_FILE} gives it",
                    )
                )
        if CHECKSUMS_FILE in present and CHECKSUMS_FILE not in subjects:
            problems.append(
                Problem(
                    artifact=provenance,
                    backend=None,
                    file=provenance,
                    problem=f"does not name {CHECKSUMS_FILE}",
                )
            )
    for name, said in sorted(claims.items()):
        if name in present:
            for source, digest in said:
                if present[name] != digest:
                    problems.append(
                        Problem(
                            artifact=name,
                            backend=None,
                            file=name,
                            problem=f"sha256 is {present[name]}, but {source} says {digest}",
                        )
                    )
            # What the signed files say the bytes are (a mismatch is reported just above).
            vouched[name] = said[0][1]
            continue
        listed = subjects.get(name)
        if (
            listed is not None
            and listed.destinations is not None
            and ("github" not in listed.destinations)
        ):
            absent[name] = (
                f"not here: it goes to {', '.join(listed.destinations)} only"
                if listed.destinations
                else "not here: it is not published anywhere"
            )
        else:
            problems.append(
                Problem(
                    artifact=name,
                    backend=None,
                    file=name,
                    problem=f"missing ({' and '.join(s for s, _ in said)} vouch for it)",
                )
            )
    if CHECKSUMS_FILE in present:
        # Its own signatures vouch for it, with or without a provenance that names it.
        vouched.setdefault(CHECKSUMS_FILE, present[CHECKSUMS_FILE])
    # Signatures: every signed file that is here, each backend's signatures of it.
    signed = [n for n in vouched if _kind(n) != "checksum" or n == CHECKSUMS_FILE]
    if provenance and provenance in present:
        signed.append(provenance)
        vouched.setdefault(provenance, present[provenance])
    report(f"verifying signatures: {', '.join(backends)}")
    checked_signatures: dict[str, list[str]] = {}
    to_check: list[tuple[str, Signature]] = []
    for name in sorted(set(signed)):
        expected = [
            s
            for s in signatures_of(name, _kind(name), backends)
            # Without every_signature: what vouches for every file, and what the index gets.
            if every_signature
            or name in (CHECKSUMS_FILE, provenance)
            or s.name.endswith(ATTESTATION_SUFFIX)
        ]
        checked_signatures[name] = [s.name for s in expected]
        for signature in expected:
            if signature.name not in present:
                problems.append(
                    Problem(
                        artifact=name,
                        backend=signature.backend,
                        file=signature.name,
                        problem="missing",
                    )
                )
            else:
                to_check.append((name, signature))

    # A check that is a verifier process (ssh-keygen, minisign, gpg) runs beside the others, as
    # many as there are cores; an in-process verifier (sigstore's) runs alone. The problems are
    # listed in the same order whatever finishes first.
    def verdict(check: tuple[str, Signature]) -> str | None:
        return found[check[1].backend].verify(dist / check[0], dist / check[1].name)

    with ThreadPoolExecutor(max_workers=usable_cores()) as pool:
        running = {
            i: pool.submit(verdict, c)
            for i, c in enumerate(to_check)
            if found[c[1].backend].concurrent
        }
        if beside is not None:
            beside()
        alone = {i: verdict(c) for i, c in enumerate(to_check) if i not in running}
        verdicts = [running[i].result() if i in running else alone[i] for i in range(len(to_check))]
    for (name, signature), problem in zip(to_check, verdicts, strict=True):
        if problem is not None:
            problems.append(
                Problem(
                    artifact=name,
                    backend=signature.backend,
                    file=signature.name,
                    problem=problem,
                )
            )
    accounted = tuple(dict.fromkeys([*backends, *configured]))
    known_signatures = {s.name for n in set(signed) for s in signatures_of(n, _kind(n), accounted)}
    unsigned = []
    for name in present:
        if name in vouched or name in known_signatures:
            continue
        if name in METADATA:
            unsigned.append(name)
            continue
        problems.append(
            Problem(
                artifact=name,
                backend=None,
                file=name,
                problem=f"is not part of the signed release (neither {CHECKSUMS_FILE} nor the "
                "provenance names it)",
            )
        )
    if RELEASE_MANIFEST in present:
        problems += _manifest_problems(dist, vouched, subjects, present, accounted)
    doc = {
        "dist": str(dist),
        "name": statement.name if statement else None,
        "version": statement.version if statement else None,
        "backends": list(backends),
        "artifacts": [
            {"artifact": n, "signatures": checked_signatures.get(n, [])} for n in sorted(vouched)
        ],
        "absent": [{"file": n, "why": w} for n, w in sorted(absent.items())],
        "unsigned_metadata": sorted(unsigned),
        "problems": [asdict(p) for p in problems],
    }
    return Verified(digests=vouched, absent=absent, problems=problems, doc=doc)


def _manifest_problems(
    dist: Path,
    vouched: Mapping[str, str],
    subjects: Mapping[str, Subject],
    present: Mapping[str, str],
    backends: Sequence[str],
) -> list[Problem]:
    """Return where manifest.json disagrees with what is signed (it is read, never believed)."""
    try:
        manifest = ReleaseManifest.read(dist)
    except CastoffError as exc:
        return [
            Problem(
                artifact=RELEASE_MANIFEST, backend=None, file=RELEASE_MANIFEST, problem=exc.message
            )
        ]
    problems = []

    def wrong(problem: str) -> None:
        problems.append(
            Problem(artifact=RELEASE_MANIFEST, backend=None, file=RELEASE_MANIFEST, problem=problem)
        )

    for artifact in manifest.artifacts:
        trusted = vouched.get(artifact.name)
        if trusted is None:
            if artifact.name not in subjects:
                wrong(f"lists {artifact.name}, which nothing signed vouches for")
        elif trusted != artifact.sha256:
            wrong(
                f"gives {artifact.name} sha256 {artifact.sha256}, but the signed files say "
                f"{trusted}"
            )
        subject = subjects.get(artifact.name)
        if (
            subject is not None
            and subject.destinations is not None
            and tuple(sorted(subject.destinations)) != tuple(sorted(artifact.destinations))
        ):
            wrong(
                f"sends {artifact.name} to {', '.join(artifact.destinations) or 'nowhere'}, but "
                f"the signed provenance says {', '.join(subject.destinations) or 'nowhere'}"
            )
        made = {s.name for s in signatures_of(artifact.name, artifact.kind, backends)}
        for signature in artifact.signatures:
            if signature.name not in made:
                # Only what the configured backends make is published beside a file.
                wrong(f"lists {signature.name}, which no configured backend makes")
            elif signature.name in present and present[signature.name] != signature.sha256:
                wrong(f"gives {signature.name} another sha256 than the file has")
    listed = {a.name for a in manifest.artifacts}
    for name in sorted(set(vouched) - listed):
        wrong(f"does not list {name}, which the signed files vouch for")
    return problems


def verify_release(  # noqa: PLR0913 - what is verified, with what, and the work beside it
    dist: Path,
    config: Config,
    *,
    backends: Sequence[str],
    keys_dir: Path | None,
    runner: Runner,
    report: Report,
    version: str | None = None,
    every_signature: bool = True,
    beside: Callable[[], object] | None = None,
) -> VerifyResult:
    """Verify a release folder with public material only; raise VerifyError listing everything.

    Without `every_signature`: only the signed checksums' and provenance's signatures. `beside`
    is the caller's own work, done while the verifier processes run.
    """
    chosen = choose_backends(config, backends)
    if not dist.is_dir() or dist.is_symlink():
        raise VerifyError(
            f"{dist}: not a folder.", hint="Pass the release folder (the files of one release)."
        )
    with private_folder() as scratch:
        found = checkers(config, chosen, keys_dir, runner, scratch)
        verified = check_trust(
            dist,
            chosen,
            found,
            report,
            configured=config.sign.backends,
            release=(config.name, version or config.version),
            every_signature=every_signature,
            beside=beside,
        )
    if verified.problems:
        problems = verified.problems
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise VerifyError(
            f"{dist}: {count}: " + "; ".join(p.line() for p in problems) + ".",
            hint="Do not publish or install these files; download or build them again (and "
            "move out of the folder any file the release does not name).",
            details=verified.doc,
        )
    digests = verified.doc["artifacts"]
    return VerifyResult(
        name=str(verified.doc["name"]),
        version=str(verified.doc["version"]),
        backends=tuple(chosen),
        files=len(digests),
        signatures=sum(len(a["signatures"]) for a in digests),
        absent=len(verified.absent),
        doc=verified.doc,
    )
