"""Preflight: all an index or the release itself would refuse, listed, before any upload."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from castoff.assemble.assembler import check_contract
from castoff.config import Config, canonical_wheel_name
from castoff.errors import CastoffError, ContractError, PreflightError, PublishError, VerifyError
from castoff.publish import index, twine
from castoff.pypi import MAXIMUM_AGE_FOR_NEW_UPLOADS_DAYS, wheel_refusal
from castoff.runner import Runner
from castoff.sign.signing import check_files, read_manifest, verify_release

Report = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One reason the release cannot be published as it is: the file, the check and the problem."""

    file: str
    check: str
    problem: str

    def line(self) -> str:
        """Return the finding as one clause."""
        return f"{self.file}: {self.problem} [{self.check}]"


def pypi_files(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the manifest's files bound for the index, in the fixed order they are uploaded."""
    return sorted(
        (a for a in manifest["artifacts"] if "pypi" in a["destinations"]), key=lambda a: a["name"]
    )


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _names_and_tags(
    manifest: Mapping[str, Any], config: Config, files: list[dict[str, Any]]
) -> list[Finding]:
    findings = []
    for name, count in Counter(a["name"] for a in manifest["artifacts"]).items():
        if count > 1:
            findings.append(Finding(file=name, check="names", problem=f"listed {count} times"))
    expected = canonical_wheel_name(manifest["name"])
    for artifact in files:
        name = artifact["name"]
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
        if stem[1] != str(version) or str(version) != manifest["version"]:
            findings.append(
                Finding(
                    file=name,
                    check="version",
                    problem=f"version '{stem[1]}' is not the release's normalized version "
                    f"'{manifest['version']}'",
                )
            )
        refusal = wheel_refusal({t.platform for t in tags})
        if refusal is not None:
            findings.append(Finding(file=name, check="pypi-tags", problem=refusal))
        limit = config.publish.pypi.max_file_size
        if artifact["size"] > limit:
            findings.append(
                Finding(
                    file=name,
                    check="size",
                    problem=f"{artifact['size']} bytes is over the index's limit of {limit} "
                    "(raise tool.castoff.publish.pypi.max-file-size once PyPI raised yours)",
                )
            )
    return findings


def index_findings(
    files: list[dict[str, Any]], served: Mapping[str, index.IndexFile], now: datetime, version: str
) -> list[Finding]:
    """Return what the index refuses: a name taken by other bytes, new files for old releases."""
    findings = []
    for artifact in files:
        there = served.get(artifact["name"])
        if there is not None and there.sha256 not in (None, artifact["sha256"]):
            findings.append(
                Finding(
                    file=artifact["name"],
                    check="index",
                    problem=f"the index already serves another file under this name (sha256 "
                    f"{there.sha256}); an index never lets a file name be reused",
                )
            )
    missing = [a for a in files if a["name"] not in served]
    release = [f for f in served.values() if _version_of(f.filename) == Version(version)]
    times = [f.upload_time for f in release if f.upload_time is not None]
    if missing and times:
        first = min(times)
        if now - first > timedelta(days=MAXIMUM_AGE_FOR_NEW_UPLOADS_DAYS):
            findings += [
                Finding(
                    file=a["name"],
                    check="release-age",
                    problem=f"release {version} was first uploaded on {first:%Y-%m-%d}, more "
                    f"than {MAXIMUM_AGE_FOR_NEW_UPLOADS_DAYS} days ago, and PyPI refuses new "
                    "files for it",
                )
                for a in missing
            ]
    return findings


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
    backends: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run every check and return what was checked; raise PreflightError listing every problem."""
    manifest = read_manifest(dist)
    files = pypi_files(manifest)
    report(f"checking {len(manifest['artifacts'])} files ({len(files)} for the index)")
    # Hashed once: the signature check below reuses these digests.
    checked = check_files(dist, manifest)
    findings = [Finding(file=p.file, check="sha256", problem=p.problem) for p in checked[1]]
    findings += _names_and_tags(manifest, config, files)
    wheels = [dist / a["name"] for a in manifest["artifacts"] if a["kind"] == "wheel"]
    if wheels:
        report(f"twine check --strict: {len(wheels)} wheels")
        result = runner.run(twine.check_command(wheels), check=False, log=lambda _: None)
        failures = twine.check_failures(result, wheels)
        findings += [
            Finding(file=n, check="twine-check", problem=p or "FAILED") for n, p in failures.items()
        ]
        if result.returncode != 0 and not failures:
            findings.append(
                Finding(file="twine", check="twine-check", problem=result.stderr.strip()[-300:])
            )
    if config.sign.backends:
        report("verifying every signature")
        try:
            verify_release(
                dist,
                config,
                backends=backends,
                keys_dir=keys_dir,
                runner=runner,
                report=lambda _: None,
                checked=checked,
            )
        except VerifyError as exc:
            raw = exc.details.get("problems")
            seen = {(f.file, f.problem) for f in findings}
            listed = [
                Finding(
                    file=p["file"],
                    check=f"signature:{p['backend']}" if p["backend"] else "provenance",
                    problem=p["problem"],
                )
                for p in (raw if isinstance(raw, list) else [])
                if (p["file"], p["problem"]) not in seen
            ]
            if not raw:
                listed = [Finding(file=str(dist), check="signature", problem=exc.paragraph())]
            findings += listed
        except CastoffError as exc:  # keys or tools missing: verification could not even start
            findings.append(Finding(file=str(dist), check="signature", problem=exc.paragraph()))
    try:
        check_contract(
            config,
            {a["name"] for a in manifest["artifacts"]},
            previous or config.contract.previous_manifest,
        )
    except ContractError as exc:
        findings.append(Finding(file=str(previous), check="contract", problem=exc.message))
    if index_url is not None and files:
        report(f"reading the index: {index.project_url(index_url, manifest['name'])}")
        try:
            served = index.project_files(index_url, manifest["name"])
        except PublishError as exc:
            findings.append(Finding(file=index_url, check="index", problem=exc.message))
        else:
            findings += index_findings(files, served, now, manifest["version"])
    doc = {
        "dist": str(dist),
        "name": manifest["name"],
        "version": manifest["version"],
        "index": [a["name"] for a in files],
        "kept_from_index": [
            {
                "name": a["name"],
                "reason": next(e["reason"] for e in a["excluded"] if e["destination"] == "pypi"),
            }
            for a in manifest["artifacts"]
            if a["kind"] == "wheel" and "pypi" not in a["destinations"]
        ],
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
    return doc
