"""Merge per-target build folders into one verified release folder with one manifest.

Build folders come from CI jobs, so nothing in them is trusted: every partial manifest is read
strictly, every file is copied into a private staging folder while it is hashed, and every copy
is opened and checked (members, dist-info, RECORD, binaries, audit) before the release is put
together from those same copies. `--out` is replaced only when castoff made it.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from castoff.assemble.audit import (
    Finding,
    abi3_findings,
    archive_findings,
    audit_members,
    unchecked_cxx_findings,
)
from castoff.assemble.contents import (
    ContentsError,
    Expected,
    Member,
    read_archive,
    read_extension_wheel,
    read_sdist,
    read_sidecar,
    read_wheel,
)
from castoff.assemble.elf import read_elf
from castoff.assemble.retag import copy_wheel
from castoff.build.archive import (
    NotARegularFileError,
    copy_hashed,
    sha256_file,
    write_archive,
    write_sidecar,
)
from castoff.cibw import (
    CIBUILDWHEEL,
    LOCAL_IMAGE_NAMES,
    linux_arch,
    local_image_re,
    pinned_image_re,
)
from castoff.config import Config
from castoff.contract import check_contract
from castoff.errors import AssembleError, AuditError
from castoff.folders import check_claimable, mark, replace_folder, staging_beside
from castoff.manifest import (
    CHECKSUMS_FILE,
    JOURNAL_FILE,
    PARTIAL_MANIFEST,
    RELEASE_MANIFEST,
    BuildRecord,
    Excluded,
    PartialManifest,
    ReleaseArtifact,
    ReleaseManifest,
    format_checksums,
)
from castoff.plan import (
    SDIST,
    SDIST_METHOD,
    Artifact,
    BuildJob,
    ExtensionJob,
    ReleasePlan,
    archive_folder,
    wheel_filename,
)
from castoff.runner import Runner

__all__ = ["RELEASE_MANIFEST", "Input", "assemble", "collect", "make_alias"]


@dataclass(frozen=True, kw_only=True)
class Input:
    """One build folder and the partial manifest it holds."""

    folder: Path
    manifest: PartialManifest


def _holds_manifest(folder: Path) -> bool:
    """Return whether a folder holds a partial manifest; refuse one that is not a plain file."""
    path = folder / PARTIAL_MANIFEST
    if not path.exists() and not path.is_symlink():
        return False
    if path.is_symlink() or not path.is_file():
        raise AssembleError(
            f"{path}: is not a regular file (a link, a pipe or a folder); a build folder's "
            "manifest is read only as the plain file a build writes.",
            hint="Rebuild the target, or copy the real file in.",
        )
    return True


def collect(in_dirs: Sequence[Path]) -> list[Input]:
    """Find partial manifests in the given folders or one level below (as CI downloads them)."""
    inputs = []
    for directory in in_dirs:
        if not directory.is_dir():
            raise AssembleError(
                f"{directory}: is not a folder (missing, or a file).",
                hint="Name the build output folders.",
            )
        if _holds_manifest(directory):
            folders = [directory]
        else:
            folders = []
            for sub in sorted(directory.iterdir()):
                if sub.is_symlink():
                    raise AssembleError(
                        f"{sub}: is a symbolic link; build folders are read only where they are.",
                        hint="Pass the folder it points to itself.",
                    )
                if sub.is_dir() and _holds_manifest(sub):
                    folders.append(sub)
        if not folders:
            raise AssembleError(
                f"{directory}: holds no {PARTIAL_MANIFEST}, itself or in a subfolder.",
                hint="Pass the folders `castoff build` wrote (build/ or build/<triple>/).",
            )
        inputs += [
            Input(folder=f, manifest=PartialManifest.read(f / PARTIAL_MANIFEST)) for f in folders
        ]
    return inputs


def _expected_names(plan: ReleasePlan, job: BuildJob) -> dict[str, tuple[str, tuple[str, ...]]]:
    wheel = wheel_filename(plan.name, plan.version, job.built_platform_tags)
    return {
        wheel: ("wheel", tuple(sorted(job.built_platform_tags))),
        job.artifacts[1]: ("archive", ()),
        job.artifacts[2]: ("checksum", ()),
    }


def _planned_files(plan: ReleasePlan) -> dict[str, dict[str, tuple[str, tuple[str, ...]]]]:
    """Return each build folder's files by the name in its manifest: target, or SDIST."""
    planned = {job.triple: _expected_names(plan, job) for job in plan.jobs}
    for ext in plan.extensions:
        planned[ext.triple] = {w: ("wheel", tuple(sorted(ext.platform_tags))) for w in ext.wheels}
    if plan.sdist is not None:
        planned[SDIST] = {plan.sdist.name: ("sdist", ())}
    return planned


def check_inputs(inputs: Sequence[Input], plan: ReleasePlan) -> dict[str, Input]:
    """Refuse duplicates, mixed names or versions, missing or unplanned targets, other files."""
    by_target: dict[str, Input] = {}
    jobs = {job.triple: job for job in plan.jobs}
    extensions = {ext.triple: ext for ext in plan.extensions}
    planned = _planned_files(plan)
    for item in inputs:
        m = item.manifest
        where = item.folder / PARTIAL_MANIFEST
        if (m.name, m.version) != (plan.name, plan.version):
            raise AssembleError(
                f"{where}: built {m.name} {m.version}, but this release is "
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
            raise AssembleError(
                f"{where}: target '{m.target[:80]}' is not a target of this release plan.",
                hint="Pass only the build folders of the planned targets (and of the sdist, "
                "when the plan has one).",
            )
        job = jobs.get(m.target)
        extension = extensions.get(m.target)
        if extension is not None:
            _check_extension_record(item, extension)
        elif m.image != (job.image if job else None):
            # The provenance records the image; it must be the one the plan pinned.
            raise AssembleError(
                f"{where}: built in image {m.image!r}, but the plan pins "
                f"{job.image if job else None!r}.",
                hint="Rebuild the target as planned.",
            )
        commits = {i.manifest.source_commit for i in by_target.values()}
        if commits and m.source_commit not in commits:
            raise AssembleError(
                f"{where}: built from commit {m.source_commit}, the other builds from "
                f"{', '.join(sorted(str(c) for c in commits))}.",
                hint="Assemble the builds of one commit: a release is made from one source.",
            )
        if m.target == SDIST and (m.method, m.std, m.smoke) != (SDIST_METHOD, "none", ()):
            raise AssembleError(
                f"{where}: says the sdist was made by {m.method[:40]!r} (std {m.std[:20]!r}, "
                f"{len(m.smoke)} smoke-runs); castoff makes it with {SDIST_METHOD} alone.",
                hint="Build it again with `castoff build --target sdist`.",
            )
        expected = planned[m.target]
        listed = {a.name: (a.kind, tuple(sorted(a.platform_tags))) for a in m.artifacts}
        if listed != expected:
            raise AssembleError(
                f"{where}: lists {', '.join(sorted(listed)) or 'no files'}, but a build of "
                f"{m.target} makes exactly {', '.join(sorted(expected))} (with their kinds and "
                "tags).",
                hint="Rebuild the target with the same config (castoff build --target "
                f"{m.target}).",
            )
        by_target[m.target] = item
    missing = sorted(set(planned) - set(by_target))
    if missing:
        # Those only their own OS builds (MSVC) come from their runners' build jobs.
        native = [
            f"{j.triple} on {j.runner}"
            for j in plan.jobs
            if j.triple in missing
            and j.target.os != "linux"
            and not j.runner.casefold().startswith("ubuntu")
        ]
        elsewhere = f" Built only on their own OS's runners: {', '.join(native)}." if native else ""
        raise AssembleError(
            f"planned targets with no build: {', '.join(missing)}.",
            hint="Their build jobs failed or their folders were not passed: a release is all "
            f"or nothing.{elsewhere}",
        )
    return by_target


def _check_extension_record(item: Input, job: ExtensionJob) -> None:
    """Refuse an extension's build manifest that castoff's cibuildwheel build did not write."""
    m = item.manifest
    where = item.folder / PARTIAL_MANIFEST
    linux = job.target.os == "linux"
    arch = linux_arch(job.target) or ""
    # castoff's local image of the target's libc by its ID, or the image cibuildwheel's version
    # pins by digest. castoff's local images build x86_64 wheels only.
    local = job.target.libc in LOCAL_IMAGE_NAMES and arch == "x86_64"
    pinned = m.image is not None and bool(
        (local and local_image_re(job.target.libc).fullmatch(m.image))
        or (job.image is not None and pinned_image_re(job.image, arch).fullmatch(m.image))
    )
    if (
        m.method != CIBUILDWHEEL
        or m.smoke
        or not ((linux and pinned) or (not linux and not m.image))
    ):
        raise AssembleError(
            f"{where}: says {m.target} was built by {m.method[:40]!r} in image "
            f"{(m.image or 'none')[:100]!r}; castoff builds it with cibuildwheel, in "
            f"{job.image or 'no image'} pinned by digest or castoff's own local image.",
            hint=f"Build it again with `castoff build --target {job.triple}`.",
        )


@dataclass(frozen=True, kw_only=True)
class _Checked:
    """A target's files, copied into staging and checked: where the copies are, what they hold."""

    wheel: Path
    wheel_sha256: str
    archive: Path
    archive_sha256: str
    programs: tuple[Member, ...]


def _copy_inputs(item: Input, into: Path) -> dict[str, tuple[Path, str]]:
    """Copy a build folder's files into staging, hashing each; refuse links and changed bytes."""
    into.mkdir()
    copies = {}
    for artifact in item.manifest.artifacts:
        copy = into / artifact.name
        try:
            digest, size = copy_hashed(item.folder / artifact.name, copy, limit=artifact.size)
        except FileNotFoundError:
            raise AssembleError(
                f"{item.folder}: {artifact.name} is listed in its manifest but missing.",
                hint="Download that build's artifact whole, or rebuild the target.",
            ) from None
        except NotARegularFileError as exc:
            raise AssembleError(
                f"{item.folder}: {exc}; castoff reads only plain files from a build folder.",
                hint="Rebuild that target; a link could make castoff read (and ship) any file.",
            ) from None
        if size != artifact.size or digest != artifact.sha256:
            what = (
                f"sha256 {digest}, not {artifact.sha256}"
                if size == artifact.size
                else f"{'more than ' if size > artifact.size else ''}{size} bytes, not "
                f"{artifact.size}"
            )
            raise AssembleError(
                f"{item.folder}: {artifact.name} does not match the sha256 in its manifest "
                f"({what}).",
                hint="The file changed after it was built; rebuild that target.",
            )
        copies[artifact.name] = (copy, digest)
    return copies


def _check_target(item: Input, plan: ReleasePlan, staging: Path) -> tuple[_Checked, list[Finding]]:
    job = plan.job(item.manifest.target)
    target = job.target
    copies = _copy_inputs(item, staging / job.triple)
    wheel_name = wheel_filename(plan.name, plan.version, job.built_platform_tags)
    archive_name, sidecar_name = job.artifacts[1], job.artifacts[2]
    suffix = ".exe" if target.os == "windows" else ""
    expected = Expected(
        project=plan.name,
        version=plan.version,
        binaries=tuple(b + suffix for b in plan.binaries),
        format={"linux": "elf", "windows": "pe", "macos": "mach-o"}[target.os],  # type: ignore[arg-type]
        executable=target.os != "windows",
    )
    folder = job.archive_folder
    where = item.folder
    try:
        current = wheel_name
        wheel = read_wheel(copies[wheel_name][0], expected)
        current = archive_name
        archived = read_archive(copies[archive_name][0], folder, expected)
        current = sidecar_name
        read_sidecar(copies[sidecar_name][0], archive_name, copies[archive_name][1])
    except ContentsError as exc:
        raise AssembleError(
            f"{where}: {current}: {exc.problem}.",
            hint="castoff ships only what `castoff build` makes; rebuild this target.",
        ) from None
    in_wheel = {m.name.rsplit("/", 1)[1]: m.sha256 for m in wheel.programs}
    in_archive = {m.name.rsplit("/", 1)[1]: m.sha256 for m in archived}
    if in_wheel != in_archive:
        raise AssembleError(
            f"{where}: {archive_name} and {wheel_name} hold different binaries.",
            hint="Both are made from one build; rebuild this target.",
        )
    final = next(a for a in plan.artifacts if a.kind == "wheel" and a.target == job.triple)
    allowed = frozenset(job.allowed_libraries)
    findings = audit_members(
        wheel.programs, artifact=final.name, tags=final.platform_tags, allowed_libraries=allowed
    )
    if target.tag_family == "manylinux" and job.built_plain_linux:
        # maturin built it plain linux (no policy for its tag): nothing checked libstdc++.
        findings += unchecked_cxx_findings(
            wheel.programs, artifact=final.name, tags=final.platform_tags
        )
    findings += archive_findings(
        archived, artifact=archive_name, triple=job.triple, allowed_libraries=allowed
    )
    for alias in plan.artifacts:
        if alias.kind == "archive" and alias.alias_of == archive_name and alias.target:
            findings += _alias_findings(archived, alias)
    checked = _Checked(
        wheel=copies[wheel_name][0],
        wheel_sha256=copies[wheel_name][1],
        archive=copies[archive_name][0],
        archive_sha256=copies[archive_name][1],
        programs=wheel.programs,
    )
    return checked, findings


def _check_extension(
    item: Input, plan: ReleasePlan, staging: Path, runner: Runner
) -> tuple[dict[str, tuple[Path, str]], list[Finding]]:
    """Copy an extension's wheels into staging, read each whole and audit its shared objects."""
    job = next(e for e in plan.extensions if e.triple == item.manifest.target)
    copies = _copy_inputs(item, staging / job.triple)
    assert plan.module is not None  # noqa: S101 - an extension's plan names its module
    findings: list[Finding] = []
    for name in job.wheels:
        try:
            wheel = read_extension_wheel(
                copies[name][0], project=plan.name, version=plan.version, module=plan.module
            )
        except ContentsError as exc:
            raise AssembleError(
                f"{item.folder}: {name}: {exc.problem}.",
                hint="castoff ships only what `castoff build` makes; rebuild this target.",
            ) from None
        wanted = {"linux": "elf", "macos": "mach-o", "windows": "pe"}[job.target.os]
        findings += [
            Finding(
                artifact=name,
                binary=m.name,
                tag=None,
                problem=f"is {'not an object file' if m.format == 'other' else m.format}, not "
                f"the {wanted} a {job.target.os} wheel holds",
            )
            for m in wheel.programs
            if m.format != wanted
        ]
        if job.target.os == "linux":
            findings += audit_members(wheel.programs, artifact=name, tags=job.platform_tags)
        if any(t.abi == "abi3" for t in wheel.tags):
            # The stable ABI is a promise about which CPython functions the module calls.
            modules = [m.name.rsplit("/", 1)[-1] for m in wheel.programs]
            findings += abi3_findings(runner, copies[name][0], modules)
    return copies, findings


def _check_sdist(item: Input, plan: ReleasePlan, staging: Path) -> tuple[Path, str]:
    """Copy the sdist into staging and read it whole; return the copy and its sha256."""
    sdist = plan.sdist
    assert sdist is not None  # noqa: S101 - only a plan with an sdist has its input
    copy, digest = _copy_inputs(item, staging / SDIST)[sdist.name]
    try:
        read_sdist(copy, folder=sdist.folder, project=plan.name, version=plan.version)
    except ContentsError as exc:
        raise AssembleError(
            f"{item.folder}: {sdist.name}: {exc.problem}.",
            hint="castoff ships only the sdist `castoff build --target sdist` makes; build it "
            "again.",
        ) from None
    return copy, digest


def _alias_findings(members: Sequence[Member], alias: Artifact) -> list[Finding]:
    findings = []
    for member in members:
        facts = member.elf
        if facts is not None and not facts.is_static:
            needs = facts.interpreter or ", ".join(facts.needed)
            findings.append(
                Finding(
                    artifact=alias.name,
                    binary=member.name,
                    tag=None,
                    problem=f"is dynamically linked ({needs}), so it cannot serve {alias.name}",
                )
            )
    assert alias.target is not None  # noqa: S101 - aliases are per target
    return findings + archive_findings(members, artifact=alias.name, triple=alias.target)


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
    source: Path,
    alias: Artifact,
    *,
    out_dir: Path,
    mtime: int,
    archive_name: str | None = None,
) -> Path:
    """Write an alias archive: the source's static binaries, in a folder named for the alias."""
    assert alias.target is not None  # noqa: S101 - aliases are per target
    binaries = _archive_binaries(source)
    for name, data in binaries:
        facts = read_elf(io.BytesIO(data))
        if facts is not None and not facts.is_static:
            needs = facts.interpreter or ", ".join(facts.needed)
            raise AssembleError(
                f"{source.name}: {name} is dynamically linked ({needs}), so it cannot serve "
                f"{alias.name}.",
                hint="Only a static build can stand in for another libc's archive name.",
            )
    path = out_dir / alias.name
    write_archive(
        path,
        folder=alias.folder or archive_folder(archive_name or "", alias.target),
        binaries=binaries,
        mtime=mtime,
    )
    return path


def write_checksums(out_dir: Path, digests: Mapping[str, str]) -> Path:
    """Write SHA256SUMS for files by name and digest, sorted, in `sha256sum -c` format."""
    path = out_dir / CHECKSUMS_FILE
    path.write_text(format_checksums(digests), encoding="utf-8", newline="\n")
    return path


def assemble(
    plan: ReleasePlan,
    config: Config,
    inputs: Sequence[Input],
    *,
    out_dir: Path,
    previous: Path | None,
    mtime: int,
    runner: Runner,
) -> ReleaseManifest:
    """Assemble the release folder and return its manifest (also written as manifest.json).

    `runner` runs abi3audit on an extension's abi3 wheels (nothing else runs a command).
    """
    by_target = check_inputs(inputs, plan)
    check_contract(
        config, {a.name for a in plan.artifacts}, previous or config.contract.previous_manifest
    )
    if (out_dir / JOURNAL_FILE).exists():
        # A publish of that folder started: its journal (and the folder) are kept as they are.
        raise AssembleError(
            f"{out_dir}: holds {JOURNAL_FILE}, so a publish of this release started; castoff "
            "does not replace a folder that is being published.",
            hint=f"If that publish is unfinished, finish it with `castoff publish --resume "
            f"{out_dir}`; if it is done, keep the folder (it records what was published) and "
            "assemble into another one with --out.",
        )
    check_claimable(out_dir, "release", AssembleError, "--out")
    # Everything is read from private copies in staging, and the release is made there from
    # those same bytes, then moved into place whole: a failure leaves --out as it was.
    with staging_beside(out_dir) as staging:
        checked: dict[str, _Checked] = {}
        findings: list[Finding] = []
        # Targets are checked side by side (hashing and inflating release the GIL); each writes
        # only its own staging subfolder. The first error in plan order is the one raised.
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            futures = [
                pool.submit(_check_target, by_target[job.triple], plan, staging)
                for job in plan.jobs
            ]
            for job, future in zip(plan.jobs, futures, strict=True):
                checked[job.triple], found = future.result()
                findings += found
        extension_wheels: dict[str, tuple[Path, str]] = {}
        for ext in plan.extensions:
            copies, found = _check_extension(by_target[ext.triple], plan, staging, runner)
            extension_wheels.update(copies)
            findings += found
        sdist = _check_sdist(by_target[SDIST], plan, staging) if plan.sdist else None
        if findings:
            raise AuditError(
                f"{len(findings)} broken promises in the build folders: "
                + "; ".join(f.line() for f in findings)
                + ".",
                hint="castoff never ships a tag a binary cannot keep: fix the build, or the "
                "target's manylinux, musllinux, extra-tags or tag-policy.",
            )
        release = staging / "release"
        release.mkdir()
        manifest = _assemble_into(
            release, plan, by_target, checked, sdist, extension_wheels, mtime=mtime
        )
        replace_folder(release, out_dir, "release")
    return manifest


def _assemble_into(
    out_dir: Path,
    plan: ReleasePlan,
    by_target: dict[str, Input],
    checked: dict[str, _Checked],
    sdist: tuple[Path, str] | None,
    extension_wheels: Mapping[str, tuple[Path, str]],
    *,
    mtime: int,
) -> ReleaseManifest:
    produced: dict[str, Path] = {}
    # Each file is hashed once: a plain move keeps the digest of the checked copy, and the
    # sidecars, SHA256SUMS and the manifest all reuse it.
    digests: dict[str, str] = {}
    for artifact in plan.artifacts:
        if artifact.name in extension_wheels:
            # cibuildwheel's wheel has its final name and tags already: it moves as checked.
            produced[artifact.name] = out_dir / artifact.name
            shutil.move(extension_wheels[artifact.name][0], produced[artifact.name])
            digests[artifact.name] = extension_wheels[artifact.name][1]
        elif artifact.kind == "wheel":
            item = checked[artifact.target or ""]
            wheel = copy_wheel(item.wheel, out_dir, artifact.platform_tags)
            produced[artifact.name] = wheel
            digests[wheel.name] = (
                item.wheel_sha256 if wheel.name == item.wheel.name else sha256_file(wheel)
            )
        elif artifact.kind == "archive" and artifact.alias_of is None:
            item = checked[artifact.target or ""]
            produced[artifact.name] = out_dir / artifact.name
            shutil.move(item.archive, produced[artifact.name])
            digests[artifact.name] = item.archive_sha256
        elif artifact.kind == "archive":
            source = produced[artifact.alias_of or ""]
            produced[artifact.name] = make_alias(source, artifact, out_dir=out_dir, mtime=mtime)
            digests[artifact.name] = sha256_file(produced[artifact.name])
        elif artifact.kind == "sdist" and sdist is not None:
            produced[artifact.name] = out_dir / artifact.name
            shutil.move(sdist[0], produced[artifact.name])
            digests[artifact.name] = sdist[1]
        if artifact.kind == "archive":
            sidecar = write_sidecar(produced[artifact.name], digests[artifact.name])
            produced[sidecar.name] = sidecar
    produced[CHECKSUMS_FILE] = write_checksums(out_dir, dict(digests))
    mismatched = sorted(n for n, p in produced.items() if p.name != n)
    if mismatched:
        raise AssembleError(
            f"files came out under other names than planned: {', '.join(mismatched)}."
        )
    manifest = ReleaseManifest(
        name=plan.name,
        version=plan.version,
        artifacts=tuple(
            ReleaseArtifact(
                name=a.name,
                kind=a.kind,
                target=a.target,
                sha256=digests.get(a.name) or sha256_file(produced[a.name]),
                size=produced[a.name].stat().st_size,
                destinations=a.destinations,
                excluded=tuple(
                    Excluded(destination=e.destination, reason=e.reason) for e in a.excluded
                ),
                alias_of=a.alias_of,
                platform_tags=a.platform_tags,
                # Filled in by `castoff sign`, which also adds the provenance statement.
                signatures=(),
            )
            for a in plan.artifacts
            if a.kind != "provenance"
        ),
        builds=tuple(BuildRecord.of(by_target[name].manifest) for name in plan.build_folders),
    )
    manifest.write(out_dir)
    mark(out_dir, "release", [*produced, RELEASE_MANIFEST])
    return manifest
