"""Merge per-target build folders into one verified release folder with one manifest."""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from castoff.assemble.audit import audit_paths, read_elf
from castoff.assemble.retag import copy_wheel
from castoff.build.archive import sha256_file, write_archive, write_sidecar
from castoff.config import Config
from castoff.errors import AssembleError, AuditError, ContractError
from castoff.manifest import MANIFEST_SCHEMA_VERSION, PARTIAL_MANIFEST, PartialManifest
from castoff.plan import CHECKSUMS_FILE, Artifact, ReleasePlan, archive_folder

RELEASE_MANIFEST = "manifest.json"
CONTRACT_KINDS = ("archive", "checksum")


@dataclass(frozen=True, kw_only=True)
class Input:
    """One build folder and the partial manifest it holds."""

    folder: Path
    manifest: PartialManifest


def collect(in_dirs: Sequence[Path]) -> list[Input]:
    """Find partial manifests in the given folders or one level below (as CI downloads them)."""
    inputs = []
    for directory in in_dirs:
        if not directory.is_dir():
            raise AssembleError(
                f"{directory}: no such folder.", hint="Name the build output folders."
            )
        folders = (
            [directory]
            if (directory / PARTIAL_MANIFEST).is_file()
            else sorted(p for p in directory.iterdir() if (p / PARTIAL_MANIFEST).is_file())
        )
        if not folders:
            raise AssembleError(
                f"{directory}: holds no {PARTIAL_MANIFEST}, itself or in a subfolder.",
                hint="Pass the folders `castoff build` wrote (build/ or build/<triple>/).",
            )
        inputs += [
            Input(folder=f, manifest=PartialManifest.read(f / PARTIAL_MANIFEST)) for f in folders
        ]
    return inputs


def check_inputs(inputs: Sequence[Input], plan: ReleasePlan) -> dict[str, Input]:
    """Refuse duplicates, mixed names or versions, missing or unplanned targets, altered files."""
    by_target: dict[str, Input] = {}
    planned = {job.target for job in plan.jobs}
    for item in inputs:
        m = item.manifest
        if (m.name, m.version) != (plan.name, plan.version):
            raise AssembleError(
                f"{item.folder}: built {m.name} {m.version}, but this release is "
                f"{plan.name} {plan.version}.",
                hint="Assemble folders from one build of one version.",
            )
        if m.target in by_target:
            raise AssembleError(
                f"{m.target} was built twice: in {by_target[m.target].folder} and in "
                f"{item.folder}.",
                hint="Pass each target's folder once.",
            )
        if m.target not in planned:
            raise AssembleError(f"{item.folder}: {m.target} is not a target of this release plan.")
        for artifact in m.artifacts:
            path = item.folder / artifact.name
            if not path.is_file():
                raise AssembleError(
                    f"{item.folder}: {artifact.name} is listed in its manifest but missing."
                )
            if sha256_file(path) != artifact.sha256:
                raise AssembleError(
                    f"{item.folder}: {artifact.name} does not match the sha256 in its manifest.",
                    hint="The file changed after it was built; rebuild that target.",
                )
        by_target[m.target] = item
    missing = sorted(planned - set(by_target))
    if missing:
        raise AssembleError(
            f"planned targets with no build: {', '.join(missing)}.",
            hint="Their build jobs failed or their folders were not passed: a release is all "
            "or nothing.",
        )
    return by_target


def _archive_binaries(path: Path) -> list[tuple[str, bytes]]:
    binaries = []
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    binaries.append((info.filename.split("/", 1)[1], archive.read(info)))
        return binaries
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            if member.isfile() and (f := archive.extractfile(member)) is not None:
                binaries.append((member.name.split("/", 1)[1], f.read()))
    return binaries


def make_alias(
    source: Path, alias: Artifact, *, archive_name: str, out_dir: Path, mtime: int
) -> Path:
    """Write an alias archive: the source's static binaries, in a folder named for the alias."""
    assert alias.target is not None  # noqa: S101 - aliases are per target
    binaries = _archive_binaries(source)
    for name, data in binaries:
        facts = read_elf(data)
        if facts is not None and not facts.is_static:
            needs = facts.interpreter or ", ".join(facts.needed)
            raise AssembleError(
                f"{source.name}: {name} is dynamically linked ({needs}), so it cannot serve "
                f"{alias.name}.",
                hint="Only a static build can stand in for another libc's archive name.",
            )
    path = out_dir / alias.name
    write_archive(
        path, folder=archive_folder(archive_name, alias.target), binaries=binaries, mtime=mtime
    )
    return path


def write_checksums(out_dir: Path, digests: Mapping[str, str]) -> Path:
    """Write SHA256SUMS for files by name and digest, sorted, in `sha256sum -c` format."""
    path = out_dir / CHECKSUMS_FILE
    path.write_text("".join(f"{digests[n]}  {n}\n" for n in sorted(digests)), encoding="utf-8")
    return path


def check_contract(config: Config, names: set[str], previous: Path | None) -> None:
    """Refuse a release that drops an archive name the previous release had, unless retired."""
    if previous is None:
        return
    try:
        data = json.loads(previous.read_text(encoding="utf-8"))
        # Archives and checksum files are named without the version and downloaded by name;
        # wheels and the provenance carry the version, so each release has new ones.
        before = {a["name"] for a in data["artifacts"] if a["kind"] in CONTRACT_KINDS}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ContractError(f"{previous}: not a castoff release manifest ({exc}).") from None
    retired = dict(config.contract.retired)
    gone = sorted(before - names - set(retired))
    if gone:
        raise ContractError(
            f"the previous release ({previous}) had {', '.join(gone)}, which this release lacks; "
            "downstream tools download archives by name.",
            hint="Build them again (or alias them), or retire each with a reason in "
            "tool.castoff.contract.retired.",
        )


def check_out_dir(out_dir: Path) -> None:
    """Refuse an --out folder that holds anything but a previous castoff release."""
    if out_dir.exists() and any(out_dir.iterdir()):
        manifest = out_dir / RELEASE_MANIFEST
        if not manifest.is_file() or '"kind": "release"' not in manifest.read_text(
            encoding="utf-8"
        ):
            raise AssembleError(
                f"{out_dir}: is not empty and holds no castoff release.",
                hint="Choose an empty folder for --out.",
            )


def assemble(
    plan: ReleasePlan,
    config: Config,
    inputs: Sequence[Input],
    *,
    out_dir: Path,
    previous: Path | None,
    mtime: int,
) -> dict[str, Any]:
    """Assemble the release folder and return its manifest (also written as manifest.json)."""
    by_target = check_inputs(inputs, plan)
    check_contract(
        config, {a.name for a in plan.artifacts}, previous or config.contract.previous_manifest
    )
    check_out_dir(out_dir)
    # Built aside and moved into place whole: a failure never leaves a half-assembled release.
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        manifest = _assemble_into(staging, plan, config, by_target, mtime=mtime)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return manifest


def _assemble_into(
    out_dir: Path, plan: ReleasePlan, config: Config, by_target: dict[str, Input], *, mtime: int
) -> dict[str, Any]:
    produced: dict[str, Path] = {}
    # Each file is hashed once: a plain copy keeps the digest its build verified, and the
    # sidecars, SHA256SUMS and the manifest all reuse it.
    digests: dict[str, str] = {}
    for artifact in plan.artifacts:
        if artifact.kind == "wheel":
            item = by_target[artifact.target or ""]
            built = next(a for a in item.manifest.artifacts if a.kind == "wheel")
            wheel = copy_wheel(item.folder / built.name, out_dir, artifact.platform_tags)
            produced[artifact.name] = wheel
            digests[wheel.name] = (
                built.sha256
                if set(built.platform_tags) == set(artifact.platform_tags)
                else sha256_file(wheel)
            )
        elif artifact.kind == "archive" and artifact.alias_of is None:
            item = by_target[artifact.target or ""]
            built = next(a for a in item.manifest.artifacts if a.name == artifact.name)
            shutil.copyfile(item.folder / artifact.name, out_dir / artifact.name)
            produced[artifact.name] = out_dir / artifact.name
            digests[artifact.name] = built.sha256
        elif artifact.kind == "archive":
            source = produced[artifact.alias_of or ""]
            produced[artifact.name] = make_alias(
                source, artifact, archive_name=config.archive_name, out_dir=out_dir, mtime=mtime
            )
            digests[artifact.name] = sha256_file(produced[artifact.name])
        if artifact.kind == "archive":
            sidecar = write_sidecar(produced[artifact.name], digests[artifact.name])
            produced[sidecar.name] = sidecar
    produced[CHECKSUMS_FILE] = write_checksums(out_dir, dict(digests))
    mismatched = sorted(n for n, p in produced.items() if p.name != n)
    if mismatched:
        raise AssembleError(
            f"files came out under other names than planned: {', '.join(mismatched)}."
        )

    _, findings = audit_paths([out_dir])
    if findings:
        raise AuditError(
            "; ".join(f.line() for f in findings) + ".",
            hint="castoff never ships a tag a binary cannot keep.",
        )

    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "kind": "release",
        "name": plan.name,
        "version": plan.version,
        "artifacts": [
            {
                "name": a.name,
                "kind": a.kind,
                "target": a.target,
                "sha256": digests.get(a.name) or sha256_file(produced[a.name]),
                "size": produced[a.name].stat().st_size,
                "destinations": list(a.destinations),
                "excluded": [asdict(e) for e in a.excluded],
                "alias_of": a.alias_of,
                "platform_tags": list(a.platform_tags),
                # Filled in by `castoff sign`, which also adds the provenance statement.
                "signatures": [],
            }
            for a in plan.artifacts
            if a.kind != "provenance"
        ],
        "builds": [
            {
                "target": i.manifest.target,
                "method": i.manifest.method,
                "std": i.manifest.std,
                "source_commit": i.manifest.source_commit,
                "source_tree_sha256": i.manifest.source_tree_sha256,
                "image": i.manifest.image,
                "toolchain": i.manifest.toolchain,
                "commands": [asdict(c) for c in i.manifest.commands],
                "smoke": [asdict(s) for s in i.manifest.smoke],
                "cache_key": i.manifest.cache_key,
            }
            for i in (by_target[job.target] for job in plan.jobs)
        ],
    }
    (out_dir / RELEASE_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
