"""Preflight: all an index or the release itself would refuse, listed, before any upload."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from castoff.assemble.contents import ContentsError, read_sdist
from castoff.config import Config
from castoff.contract import check_contract
from castoff.errors import CastoffError, ContractError, PreflightError, PublishError, VerifyError
from castoff.manifest import ReleaseArtifact, ReleaseManifest
from castoff.plan import sdist_filename, sdist_folder
from castoff.publish import index, twine
from castoff.publish.publisher import pypi_files
from castoff.pypi import (
    MAXIMUM_AGE_FOR_NEW_UPLOADS_DAYS,
    ONE_SDIST,
    SUPPORTED_METADATA_VERSIONS,
    canonical_wheel_name,
    wheel_refusal,
)
from castoff.results import PreflightResult, Report, kept_pairs
from castoff.runner import Runner
from castoff.sign.signing import check_files
from castoff.sign.verification import verify_release


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One reason the release cannot be published as it is: the file, the check and the problem."""

    file: str
    check: str
    problem: str

    def line(self) -> str:
        """Return the finding as one clause."""
        return f"{self.file}: {self.problem} [{self.check}]"


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        for legacy in (".tar.bz2", ".tgz"):
            # Sdists of old releases, which packaging does not parse: named the same way.
            if filename.endswith(legacy):
                filename = filename.removesuffix(legacy) + ".tar.gz"
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _plain_file(path: Path) -> bool:
    """Return whether a path is a regular file, not a link: only those are opened (a FIFO hangs)."""
    return not path.is_symlink() and path.is_file()


def _size_finding(artifact: ReleaseArtifact, config: Config) -> list[Finding]:
    limit = config.publish.pypi.max_file_size
    if artifact.size <= limit:
        return []
    return [
        Finding(
            file=artifact.name,
            check="size",
            problem=f"{artifact.size} bytes is over the index's limit of {limit} "
            "(raise tool.castoff.publish.pypi.max-file-size once PyPI raised yours)",
        )
    ]


def _sdist_findings(
    dist: Path, manifest: ReleaseManifest, artifact: ReleaseArtifact
) -> list[Finding]:
    """Check an sdist as warehouse does: PEP 625 name, version, PKG-INFO, metadata version."""
    name = artifact.name
    expected = sdist_filename(manifest.name, manifest.version)
    if name != expected:
        # warehouse takes other spellings that normalize alike; castoff writes only this one.
        return [
            Finding(
                file=name,
                check="filename",
                problem=f"an sdist of {manifest.name} {manifest.version} is named {expected} "
                "(PEP 625)",
            )
        ]
    if not _plain_file(dist / name):
        return [Finding(file=name, check="sdist", problem="is not a regular file")]
    try:
        sdist = read_sdist(
            dist / name,
            folder=sdist_folder(manifest.name, manifest.version),
            project=manifest.name,
            version=manifest.version,
        )
    except (ContentsError, OSError) as exc:
        problem = exc.problem if isinstance(exc, ContentsError) else str(exc.strerror or exc)
        return [Finding(file=name, check="sdist", problem=problem)]
    if sdist.metadata_version not in SUPPORTED_METADATA_VERSIONS:
        return [
            Finding(
                file=name,
                check="metadata",
                problem=f"PKG-INFO's Metadata-Version {sdist.metadata_version[:20]!r} is not one "
                f"PyPI accepts ({', '.join(sorted(SUPPORTED_METADATA_VERSIONS))})",
            )
        ]
    return []


def _names_and_tags(
    dist: Path, manifest: ReleaseManifest, config: Config, files: list[ReleaseArtifact]
) -> list[Finding]:
    findings = []
    expected = canonical_wheel_name(manifest.name)
    sdists = [a.name for a in files if a.kind == "sdist"]
    if len(sdists) > 1:
        findings += [
            Finding(file=n, check="sdist", problem=f"{ONE_SDIST}, and this one has {len(sdists)}")
            for n in sdists
        ]
    for artifact in files:
        name = artifact.name
        if artifact.kind == "sdist" and name.endswith(".tar.gz"):
            findings += _sdist_findings(dist, manifest, artifact) + _size_finding(artifact, config)
            continue
        if artifact.kind != "wheel" or not name.endswith(".whl"):
            problem = (
                "an sdist is a .tar.gz (PEP 625)"
                if artifact.kind == "sdist"
                else "only wheels and the sdist go to the index"
            )
            findings.append(Finding(file=name, check="filename", problem=problem))
            continue
        try:
            project, version, _, tags = parse_wheel_filename(name)
        except InvalidWheelFilename as exc:
            findings.append(Finding(file=name, check="filename", problem=str(exc)))
            continue
        stem = name.split("-", 2)
        if stem[0] != expected:
            findings.append(
                Finding(
                    file=name,
                    check="filename",
                    problem=f"the name part '{stem[0]}' is not the normalized '{expected}' "
                    f"of {canonical_wheel_name(str(project))}",
                )
            )
        if stem[1] != str(version) or str(version) != manifest.version:
            findings.append(
                Finding(
                    file=name,
                    check="version",
                    problem=f"version '{stem[1]}' is not the release's normalized version "
                    f"'{manifest.version}'",
                )
            )
        refusal = wheel_refusal({t.platform for t in tags})
        if refusal is not None:
            findings.append(Finding(file=name, check="pypi-tags", problem=refusal))
        findings += _size_finding(artifact, config)
    return findings


def index_findings(
    files: list[ReleaseArtifact],
    served: Mapping[str, index.IndexFile],
    now: datetime,
    version: str,
    digest_of: Callable[[index.IndexFile, int], str] | None = None,
) -> list[Finding]:
    """Return what the index refuses: a name taken by other bytes, new files for old releases."""
    findings = []
    for artifact in files:
        there = served.get(artifact.name)
        if there is None:
            continue
        digest = there.sha256
        if digest is None and digest_of is not None:
            # The index gives no hash: its bytes are downloaded and hashed.
            try:
                digest = digest_of(there, artifact.size)
            except PublishError as exc:
                findings.append(Finding(file=artifact.name, check="index", problem=exc.message))
                continue
        if digest not in (None, artifact.sha256):
            findings.append(
                Finding(
                    file=artifact.name,
                    check="index",
                    problem=f"the index already serves another file under this name (sha256 "
                    f"{digest}); an index never lets a file name be reused",
                )
            )
    missing = [a for a in files if a.name not in served]
    release = [f for f in served.values() if _version_of(f.filename) == Version(version)]
    ours = {a.name for a in files}
    other_sdists = [
        f.filename
        for f in release
        if f.filename.endswith((".tar.gz", ".zip", ".tar.bz2", ".tgz")) and f.filename not in ours
    ]
    findings += [
        Finding(
            file=a.name,
            check="index",
            problem=f"the index already serves the sdist {other_sdists[0]} for {version}: "
            f"{ONE_SDIST}",
        )
        for a in missing
        if a.kind == "sdist" and other_sdists
    ]
    times = [f.upload_time for f in release if f.upload_time is not None]
    if missing and times:
        first = min(times)
        if now - first > timedelta(days=MAXIMUM_AGE_FOR_NEW_UPLOADS_DAYS):
            findings += [
                Finding(
                    file=a.name,
                    check="release-age",
                    problem=f"release {version} was first uploaded on {first:%Y-%m-%d}, more "
                    f"than {MAXIMUM_AGE_FOR_NEW_UPLOADS_DAYS} days ago, and PyPI refuses new "
                    "files for it",
                )
                for a in missing
            ]
    return findings


def _served_sha256(there: index.IndexFile, size: int) -> str:
    return index.served_sha256(there, limit=size + 1)


def _checks(  # noqa: PLR0913, PLR0917 - every input of the checks, and the work beside them
    dist: Path,
    config: Config,
    manifest: ReleaseManifest,
    files: list[ReleaseArtifact],
    keys_dir: Path | None,
    runner: Runner,
    backends: tuple[str, ...] | None,
    every_signature: bool,
    beside: Callable[[], object],
) -> list[Finding]:
    """Check every file against what is signed (or the manifest), the release's name, the tags.

    `beside` is done while the signature verifiers run (when there are some).
    """
    if config.sign.backends and backends != ():
        # What is signed is the truth; the manifest must agree with it, file by file.
        findings = _verified(
            dist, config, backends or (), keys_dir, runner, manifest, every_signature, beside
        )
    else:
        _, problems = check_files(dist, manifest)
        findings = [Finding(file=p.file, check="sha256", problem=p.problem) for p in problems]
    if (canonicalize_name(manifest.name), manifest.version) != (
        canonicalize_name(config.name),
        config.version,
    ):
        findings.append(
            Finding(
                file=str(dist / "manifest.json"),
                check="release",
                problem=f"the folder holds {manifest.name} {manifest.version}, but "
                f"{config.pyproject} releases {config.name} {config.version}",
            )
        )
    return findings + _names_and_tags(dist, manifest, config, files)


def _twine_findings(verdicts: Mapping[str, str], report: Report) -> list[Finding]:
    """Return what twine check --strict refused as PyPI would; say which have no description."""
    failures = twine.check_failures(verdicts)
    if undescribed := twine.check_warnings(verdicts):
        report(
            f"twine check: {len(undescribed)} distributions have no long description; PyPI "
            'takes them and shows none (readme = "README.md" in [project] gives one)'
        )
    return [
        Finding(file=n, check="twine-check", problem=p or "FAILED") for n, p in failures.items()
    ]


def preflight(  # noqa: PLR0913 - every input of every check, spelled out
    dist: Path,
    config: Config,
    *,
    index_url: str | None,
    runner: Runner,
    keys_dir: Path | None,
    previous: Path | None,
    now: datetime,
    report: Report,
    backends: tuple[str, ...] | None = None,
    every_signature: bool = True,
) -> PreflightResult:
    """Run every check and return the verified manifest; raise PreflightError listing problems.

    backends: whose signatures are verified (None: every configured backend's; (): none, as in
    a rehearsal where each one configured is keyless). Without every_signature (a publish with
    no GitHub step), the signatures verified are SHA256SUMS's and the provenance's (they vouch
    for every file's sha256) and the PEP 740 attestations (the index gets them).
    """
    manifest = ReleaseManifest.read(dist)
    files = pypi_files(manifest)
    report(f"checking {len(manifest.artifacts)} files ({len(files)} for the index)")
    if config.sign.backends and backends != ():
        report("verifying every file against the signed checksums and provenance")
    # Files that are missing, links or not regular are findings of the checks below.
    wheels = [
        dist / a.name
        for a in manifest.artifacts
        if a.kind in ("wheel", "sdist") and _plain_file(dist / a.name)
    ]
    described: list[dict[str, str] | CastoffError] = []

    def describe() -> None:
        # twine check runs while the signature verifiers (processes) run, or after the checks
        # when none do. On a thread of its own, it slowed the file hashing it ran beside.
        if wheels and not described:
            try:
                described.append(twine.check(wheels))
            except CastoffError as exc:  # twine missing: said after the checks, as before
                described.append(exc)

    findings = _checks(
        dist, config, manifest, files, keys_dir, runner, backends, every_signature, describe
    )
    describe()
    if described:
        if isinstance(verdicts := described[0], CastoffError):
            raise verdicts
        report(f"twine check --strict: {len(wheels)} distributions")
        findings += _twine_findings(verdicts, report)
    try:
        check_contract(
            config,
            {a.name for a in manifest.artifacts},
            previous or config.contract.previous_manifest,
        )
    except ContractError as exc:
        findings.append(Finding(file=str(previous), check="contract", problem=exc.message))
    served: dict[str, index.IndexFile] | None = None
    if index_url is not None and files:
        report(f"reading the index: {index.project_url(index_url, manifest.name)}")
        try:
            served = index.project_files(index_url, manifest.name)
        except PublishError as exc:
            findings.append(Finding(file=index_url, check="index", problem=exc.message))
        else:
            findings += index_findings(files, served, now, manifest.version, _served_sha256)
    kept = [
        {"name": a.name, "reason": a.reason_off("pypi") or "not bound for the index"}
        for a in manifest.artifacts
        if a.kind in ("wheel", "sdist") and "pypi" not in a.destinations
    ]
    doc: dict[str, object] = {
        "dist": str(dist),
        "name": manifest.name,
        "version": manifest.version,
        "index": [a.name for a in files],
        "kept_from_index": kept,
        "findings": [asdict(f) for f in findings],
    }
    if findings:
        raise PreflightError(
            f"{dist}: {len(findings)} problems, nothing uploaded: "
            + "; ".join(f.line() for f in findings)
            + ".",
            hint="Fix each one and run preflight again; no upload starts until all pass.",
            details=doc,
        )
    return PreflightResult(
        manifest=manifest,
        index_files=tuple(a.name for a in files),
        kept_from_index=kept_pairs(kept),
        doc=doc,
        served=served,
    )


def _verified(
    dist: Path,
    config: Config,
    backends: tuple[str, ...],
    keys_dir: Path | None,
    runner: Runner,
    manifest: ReleaseManifest,
    every_signature: bool,
    beside: Callable[[], object],
) -> list[Finding]:
    findings: list[Finding] = []
    try:
        verify_release(
            dist,
            config,
            backends=backends,
            keys_dir=keys_dir,
            runner=runner,
            beside=beside,
            report=lambda _: None,
            version=manifest.version,
            every_signature=every_signature,
        )
    except VerifyError as exc:
        raw = exc.details.get("problems")
        listed = [
            Finding(
                file=p["file"],
                check=f"signature:{p['backend']}" if p["backend"] else "sha256",
                problem=p["problem"],
            )
            for p in (raw if isinstance(raw, list) else [])
        ]
        findings += listed or [Finding(file=str(dist), check="signature", problem=exc.paragraph())]
    except CastoffError as exc:  # keys or tools missing: verification could not even start
        findings.append(Finding(file=str(dist), check="signature", problem=exc.paragraph()))
    # Files the manifest lists that the signed files do not vouch for are reported by verify;
    # a file bound for the index must also be there to be uploaded.
    for artifact in pypi_files(manifest):
        if not (dist / artifact.name).is_file():
            findings.append(Finding(file=artifact.name, check="sha256", problem="missing"))
    return list(dict.fromkeys(findings))
