"""Pure planning: Config in, a frozen ReleasePlan out, naming every job and file of the release."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, cast, get_args

from castoff import cibw
from castoff import targets as tg
from castoff.config import EXTENSION_METHOD, KINDS, Config, TagPolicy, TargetConfig, module_problem
from castoff.errors import ConfigError, PlanError, UsageError
from castoff.manifest import CHECKSUMS_FILE, MAX_NAME_BYTES, Field
from castoff.pypi import canonical_wheel_name, tag_set, wheel_refusal
from castoff.sign import registry

# 5: extension modules (cibuildwheel); 4: the sdist; 3: jobs name the glibc a cross gcc links.
SCHEMA_VERSION = 5
Destination = Literal["github", "pypi"]
ArtifactKind = Literal["wheel", "archive", "checksum", "provenance", "sdist"]
DESTINATIONS: tuple[Destination, ...] = ("github", "pypi")
__all__ = ["CHECKSUMS_FILE"]


# The sdist's place wherever a target's triple goes: `--target sdist`, its build folder, the
# matrix entry. No triple is a single word, so it cannot be taken for one.
SDIST = "sdist"
# The runner of the sdist job: `maturin sdist` needs no particular machine.
SDIST_RUNNER = "ubuntu-latest"
# How its build manifest says it was made.
SDIST_METHOD = "maturin-sdist"


def sdist_filename(name: str, version: str) -> str:
    """Return the sdist's file name as PEP 625 spells it (maturin's too)."""
    return f"{sdist_folder(name, version)}.tar.gz"


def sdist_folder(name: str, version: str) -> str:
    """Return the one folder an sdist holds: `<normalized_name>-<version>`."""
    return f"{canonical_wheel_name(name)}-{version}"


def provenance_filename(name: str, version: str) -> str:
    """Return the name of the release's in-toto provenance statement."""
    return f"{canonical_wheel_name(name)}-{version}.intoto.json"


@dataclass(frozen=True, kw_only=True)
class Exclusion:
    """A destination an artifact does not go to, and why."""

    destination: Destination
    reason: str


@dataclass(frozen=True, kw_only=True)
class Signature:
    """A detached signature file that one backend writes beside an artifact."""

    backend: str
    name: str


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """One file of the release, by its final name."""

    name: str
    kind: ArtifactKind
    target: str | None
    destinations: tuple[Destination, ...]
    excluded: tuple[Exclusion, ...]
    alias_of: str | None
    platform_tags: tuple[str, ...]
    signatures: tuple[Signature, ...]
    folder: str | None = None  # an archive's top folder (its name without extension)


@dataclass(frozen=True, kw_only=True)
class BuildJob:
    """One target to build, with everything the build step needs: it reads nothing else."""

    target: tg.Target  # the triple and what castoff knows of it (CPU, libc, ELF, qemu, ...)
    method: str  # auto, or a build method's name (castoff.build.methods)
    runner: str
    image: str | None
    manylinux: str | None
    musllinux: str | None
    macosx: str | None
    # What maturin tags the wheel; assemble retags it to the final tags.
    built_platform_tags: tuple[str, ...]
    target_features: tuple[str, ...]  # rustc -C target-feature, e.g. -lsx
    zig_cpu: str | None  # zig -mcpu for the C runtime, e.g. la464-lasx-lsx
    binaries: tuple[str, ...]  # the programs as files: hello, or hello.exe on Windows
    built_wheel: str  # the wheel's name in the build folder (maturin's tags, sorted)
    archive_folder: str  # the folder inside the archive
    artifacts: tuple[str, ...]  # final names: the wheel, the archive, its .sha256
    # The glibc the runner's cross gcc links against (cross-gcc: "2_35"): the binary may need up
    # to it, so a lower manylinux holds only if the audit finds no newer symbol version.
    linked_glibc: str | None = None
    # Why its binaries may ship though no machine ran them (config no-smoke-run); None: must run.
    no_smoke_run: str | None = None
    allowed_libraries: tuple[str, ...] = ()  # beyond the OS's own (config allowed-libraries)

    @property
    def triple(self) -> str:
        """Return the target triple."""
        return self.target.triple

    @property
    def archive(self) -> str:
        """Return the archive's file name."""
        return self.artifacts[1]

    @property
    def built_plain_linux(self) -> bool:
        """Return whether maturin tags the wheel plain linux (armv6l; ppc64 above 2014)."""
        return self.built_platform_tags == (f"linux_{self.target.wheel_arch}",)


@dataclass(frozen=True, kw_only=True)
class SdistJob:
    """The source distribution: one `maturin sdist`, built into the folder named SDIST."""

    name: str  # its file name, <normalized_name>-<version>.tar.gz
    runner: str

    @property
    def folder(self) -> str:
        """Return the folder inside the sdist (its name without .tar.gz)."""
        return self.name.removesuffix(".tar.gz")


@dataclass(frozen=True, kw_only=True)
class ExtensionJob:
    """One target of an extension module: cibuildwheel's builds of it, one wheel each."""

    target: tg.Target
    runner: str
    # cibuildwheel's Linux image (manylinux2014, musllinux_1_2): its version pins the digest.
    image: str | None
    manylinux: str | None
    musllinux: str | None
    macosx: str | None
    platform_tags: tuple[str, ...]
    identifiers: tuple[str, ...]  # cibuildwheel's build identifiers: cp38-manylinux_x86_64
    wheels: tuple[str, ...]  # the final name of each identifier's wheel, in the same order

    @property
    def triple(self) -> str:
        """Return the target triple."""
        return self.target.triple


@dataclass(frozen=True, kw_only=True)
class ReleasePlan:
    """Everything a release will build and publish; a versioned JSON contract."""

    schema_version: int
    name: str
    version: str
    binaries: tuple[str, ...]
    jobs: tuple[BuildJob, ...]
    artifacts: tuple[Artifact, ...]
    sdist: SdistJob | None = None
    kind: str = "binary"  # castoff.config.Kind
    extensions: tuple[ExtensionJob, ...] = ()
    module: str | None = None  # what `import` names an extension (None for a binary project)

    @property
    def signing_backends(self) -> tuple[str, ...]:
        """Return the backends the plan's signatures come from, in the order first named."""
        return tuple(dict.fromkeys(s.backend for a in self.artifacts for s in a.signatures))

    @property
    def build_folders(self) -> tuple[str, ...]:
        """Return the names of the plan's build folders: each target's triple, then SDIST."""
        return (
            *(job.triple for job in self.jobs),
            *(ext.triple for ext in self.extensions),
            *([SDIST] if self.sdist else []),
        )

    def job(self, triple: str) -> BuildJob:
        """Return the job of a planned triple."""
        return next(j for j in self.jobs if j.triple == triple)

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as plain JSON data."""
        return {
            "schema_version": self.schema_version,
            "project": {
                "name": self.name,
                "version": self.version,
                "kind": self.kind,
                "binaries": list(self.binaries),
                "module": self.module,
            },
            "jobs": [_job_dict(job) for job in self.jobs],
            "extensions": [_extension_dict(ext) for ext in self.extensions],
            "sdist": None
            if self.sdist is None
            else {"name": self.sdist.name, "runner": self.sdist.runner},
            "artifacts": [_artifact_dict(artifact) for artifact in self.artifacts],
        }

    def to_json(self) -> str:
        """Return the plan as deterministic JSON text: same plan, same bytes."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def github_matrix(self) -> dict[str, list[dict[str, str]]]:
        """Return the object a GitHub Actions `strategy.matrix` takes through fromJson."""
        include = []
        for job in self.jobs:
            entry = {"target": job.triple, "method": job.method, "runs-on": job.runner}
            if job.image:
                entry["image"] = job.image
            include.append(entry)
        for ext in self.extensions:
            include.append(
                {"target": ext.triple, "method": EXTENSION_METHOD, "runs-on": ext.runner}
            )
        if self.sdist is not None:
            include.append({"target": SDIST, "method": SDIST, "runs-on": self.sdist.runner})
        return {"include": include}

    @classmethod
    def from_json(cls, text: str, *, source: str = "plan") -> ReleasePlan:
        """Read a plan written by to_json, refusing other schema versions and any other shape."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise PlanError(
                f"{source}: not JSON ({exc}).", hint="Write it with `castoff plan --format json`."
            ) from None
        if not isinstance(data, dict) or "schema_version" not in data:
            raise PlanError(f"{source}: not a castoff plan (no schema_version).")
        if data["schema_version"] != SCHEMA_VERSION:
            raise PlanError(
                f"{source}: schema_version {data['schema_version']!r}, but this castoff reads "
                f"version {SCHEMA_VERSION}.",
                hint="Make the plan with the same castoff version that consumes it.",
            )
        try:
            return _plan_from(Field(data, "", source, PlanError))
        except PlanError as exc:
            raise PlanError(
                f"{source}: malformed castoff plan ({exc.message.removeprefix(source + ': ')})",
                hint="Make the plan with `castoff plan --format json` of the same castoff.",
            ) from None


def target_facts(target: tg.Target) -> dict[str, Any]:
    """Return what castoff knows of a triple as JSON data (a job's `facts`)."""
    elf = target.elf
    return {
        "os": target.os,
        "libc": target.libc,
        "wheel_arch": target.wheel_arch,
        "tag_family": target.tag_family,
        "archive_kind": target.archive_kind,
        "elf": None
        if elf is None
        else {
            "machine": elf.machine,
            "machine_id": elf.machine_id,
            "elf_class": elf.elf_class,
            "endianness": elf.endianness,
            "float_abi": elf.float_abi,
        },
        "glibc_floor": _spelled(target.glibc_floor),
        "musl_floor": _spelled(target.musl_floor),
        "macos_floor": _spelled(target.macos_floor),
        "qemu": target.qemu,
        "gnu_triple": target.gnu_triple,
    }


def _job_dict(job: BuildJob) -> dict[str, Any]:
    return {
        "target": job.triple,
        "facts": target_facts(job.target),
        "method": job.method,
        "runner": job.runner,
        "image": job.image,
        "manylinux": job.manylinux,
        "musllinux": job.musllinux,
        "macosx": job.macosx,
        "built_platform_tags": list(job.built_platform_tags),
        "target_features": list(job.target_features),
        "zig_cpu": job.zig_cpu,
        "binaries": list(job.binaries),
        "built_wheel": job.built_wheel,
        "archive_folder": job.archive_folder,
        "artifacts": list(job.artifacts),
        "no_smoke_run": job.no_smoke_run,
        "linked_glibc": job.linked_glibc,
        "allowed_libraries": list(job.allowed_libraries),
    }


def _extension_dict(ext: ExtensionJob) -> dict[str, Any]:
    return {
        "target": ext.triple,
        "facts": target_facts(ext.target),
        "runner": ext.runner,
        "image": ext.image,
        "manylinux": ext.manylinux,
        "musllinux": ext.musllinux,
        "macosx": ext.macosx,
        "platform_tags": list(ext.platform_tags),
        "identifiers": list(ext.identifiers),
        "wheels": list(ext.wheels),
    }


def _extension_from(f: Field, name: str, version: str) -> ExtensionJob:
    """Read an extension job, checking each field against what castoff derives for it."""
    f.only(EXTENSION_KEYS)
    target = _target_from(f)
    platform = cibw.platform(target)
    if platform is None:
        f.key("target").fail(f"is not a target cibuildwheel builds ({target.triple}).")
    manylinux = f.key("manylinux").optional_compat()
    musllinux = f.key("musllinux").optional_compat()
    macosx = f.key("macosx").optional_string()
    if macosx is not None and not re.fullmatch(r"[0-9]{1,2}\.[0-9]{1,2}", macosx):
        f.key("macosx").fail("should be a macOS version such as 11.0.")
    try:
        tags = tg.native_platform_tags(
            target,
            manylinux=tg.parse_version(manylinux) if manylinux else None,
            musllinux=tg.parse_version(musllinux) if musllinux else None,
            macosx=tg.parse_version(macosx) if macosx else None,
        )
    except ValueError:
        f.fail(f"lacks the version its {target.triple} tags need.")
    if f.key("platform_tags").strings() != tags:
        f.key("platform_tags").fail(f"should be {', '.join(tags)}, the target's tags.")
    image = f.key("image").optional_string()
    wanted = cibw.image_for(target, tg.parse_version(manylinux) if manylinux else None)
    if image != wanted:
        f.key("image").fail(f"should be {wanted}, cibuildwheel's image for these tags.")
    identifiers = f.key("identifiers").strings()
    wheels = tuple(w.file_name() for w in f.key("wheels").items())
    if not identifiers or len(identifiers) != len(wheels):
        f.key("wheels").fail("should name one wheel per cibuildwheel identifier.")
    for identifier, wheel in zip(identifiers, wheels, strict=True):
        interpreter = cibw.parse_interpreter(identifier.removesuffix(f"-{platform}"))
        named: list[str] = []
        if interpreter is not None and not interpreter.abi3 and identifier.endswith(platform):
            # cpXY builds cpXY-cpXY, or cpXY-abi3 for a crate with the abi3-pyXY feature.
            abi3 = cibw.Interpreter(version=interpreter.version, abi3=True)
            named = [
                cibw.wheel_filename(canonical_wheel_name(name), version, i, tag_set(tags))
                for i in (interpreter, abi3)
            ]
        if wheel not in named:
            f.key("wheels").fail(f"{wheel[:120]} is not the wheel of {identifier[:40]}.")
    return ExtensionJob(
        target=target,
        runner=f.key("runner").text(),
        image=image,
        manylinux=manylinux,
        musllinux=musllinux,
        macosx=macosx,
        platform_tags=tags,
        identifiers=identifiers,
        wheels=wheels,
    )


def _module_from(f: Field, kind: str) -> str | None:
    if kind == "binary":
        if f.value is not None:
            f.fail("is for extension modules only.")
        return None
    module = f.string()
    problem = module_problem(module)
    if problem is not None:
        f.fail(f"{problem}.")
    return module


EXTENSION_KEYS = (
    "target", "facts", "runner", "image", "manylinux", "musllinux", "macosx", "platform_tags",
    "identifiers", "wheels",
)  # fmt: skip


def _artifact_dict(artifact: Artifact) -> dict[str, Any]:
    return {
        "name": artifact.name,
        "kind": artifact.kind,
        "target": artifact.target,
        "destinations": list(artifact.destinations),
        "excluded": [{"destination": e.destination, "reason": e.reason} for e in artifact.excluded],
        "alias_of": artifact.alias_of,
        "platform_tags": list(artifact.platform_tags),
        "signatures": [{"backend": s.backend, "name": s.name} for s in artifact.signatures],
        "folder": artifact.folder,
    }


def _target_from(job: Field) -> tg.Target:
    triple = job.key("target").string()
    known = tg.lookup(triple)
    if known is None:
        job.key("target").fail(f"'{triple[:80]}' is not a triple this castoff knows.")
    if job.key("facts").value != target_facts(known):
        # The facts travel with the plan; a plan made by another castoff may know them otherwise.
        job.key("facts").fail(
            f"do not say of {triple} what this castoff knows of it.",
            "Make the plan with the same castoff version that consumes it.",
        )
    return known


def _job_from(f: Field) -> BuildJob:
    from castoff.build import methods  # noqa: PLC0415 - the build layer builds on the plan

    f.only(JOB_KEYS)
    files = f.key("artifacts")
    if len(list(files.items())) != len(JOB_FILES):
        # Executors read them by place: the wheel, the archive, its sidecar.
        files.fail(f"should name {len(JOB_FILES)} files: {', '.join(JOB_FILES)}.")
    return BuildJob(
        target=_target_from(f),
        method=f.key("method").choice(methods.names()),
        runner=f.key("runner").text(),
        image=f.key("image").optional_string(),
        manylinux=f.key("manylinux").optional_compat(),
        musllinux=f.key("musllinux").optional_compat(),
        macosx=f.key("macosx").optional_string(),
        built_platform_tags=f.key("built_platform_tags").strings(),
        target_features=f.key("target_features").strings(),
        zig_cpu=f.key("zig_cpu").optional_string(),
        binaries=tuple(b.file_name() for b in f.key("binaries").items()),
        built_wheel=f.key("built_wheel").file_name(),
        archive_folder=f.key("archive_folder").file_name(),
        artifacts=tuple(a.file_name() for a in f.key("artifacts").items()),
        no_smoke_run=f.key("no_smoke_run").optional_string(),
        linked_glibc=f.key("linked_glibc").optional_compat(),
        allowed_libraries=f.key("allowed_libraries").strings(),
    )


JOB_FILES = ("the wheel", "the archive", "the archive's .sha256")
JOB_KEYS = (
    "target", "facts", "method", "runner", "image", "manylinux", "musllinux", "macosx",
    "built_platform_tags", "target_features", "zig_cpu", "binaries", "built_wheel",
    "archive_folder", "artifacts", "no_smoke_run", "linked_glibc", "allowed_libraries",
)  # fmt: skip


def _artifact_from(f: Field) -> Artifact:
    f.only(("name", "kind", "target", "destinations", "excluded", "alias_of", "platform_tags",
            "signatures", "folder"))  # fmt: skip
    folder = f.key("folder")
    alias = f.key("alias_of")
    return Artifact(
        name=f.key("name").file_name(),
        kind=cast("ArtifactKind", f.key("kind").choice(get_args(ArtifactKind))),
        target=f.key("target").optional_string(),
        destinations=tuple(
            cast("Destination", d.choice(DESTINATIONS)) for d in f.key("destinations").items()
        ),
        excluded=tuple(
            Exclusion(
                destination=cast("Destination", e.key("destination").choice(DESTINATIONS)),
                reason=e.key("reason").text(),
            )
            for e in f.key("excluded").items()
        ),
        alias_of=None if alias.value is None else alias.file_name(),
        platform_tags=f.key("platform_tags").strings(),
        signatures=tuple(
            Signature(backend=s.key("backend").text(), name=s.key("name").file_name())
            for s in f.key("signatures").items()
        ),
        folder=None if folder.value is None else folder.file_name(),
    )


def _sdist_from(f: Field, name: str, version: str) -> SdistJob | None:
    if f.value is None:
        return None
    f.only(("name", "runner"))
    file = f.key("name").file_name()
    if file != sdist_filename(name, version):
        f.key("name").fail(f"should be {sdist_filename(name, version)}, the sdist's PEP 625 name.")
    return SdistJob(name=file, runner=f.key("runner").text())


def _plan_from(f: Field) -> ReleasePlan:
    f.only(("schema_version", "project", "jobs", "extensions", "sdist", "artifacts"))
    project = f.key("project")
    project.only(("name", "version", "kind", "binaries", "module"))
    name = project.key("name").project()
    version = project.key("version").version()
    kind = project.key("kind").choice(KINDS)
    jobs = tuple(_job_from(j) for j in f.key("jobs").items())
    extensions = tuple(_extension_from(e, name, version) for e in f.key("extensions").items())
    if (kind == "extension" and jobs) or (kind == "binary" and extensions):
        # Executors pick their pipeline by the kind: a plan with both would be half built.
        f.key("jobs").fail(
            f"{'an extension' if kind == 'extension' else 'a binary'} project's plan has "
            f"{'jobs' if jobs else 'extensions'}."
        )
    triples = [j.triple for j in jobs] + [e.triple for e in extensions]
    if len(set(triples)) != len(triples):
        f.key("jobs").fail("name a target twice.")
    sdist = _sdist_from(f.key("sdist"), name, version)
    artifacts = tuple(_artifact_from(a) for a in f.key("artifacts").items())
    listed = [a.name for a in artifacts if a.kind == "sdist"]
    if listed != ([sdist.name] if sdist else []):
        # Executors find the sdist by its job: the two must name the one file.
        f.key("artifacts").fail(
            f"lists the sdist files {', '.join(listed) or 'none'}, but its sdist is "
            f"{sdist.name if sdist else 'none'}."
        )
    stray = {a.target for a in artifacts if a.kind == "wheel"} - set(triples)
    if stray:
        f.key("artifacts").fail(f"list wheels of {', '.join(sorted(map(str, stray)))}, no job's.")
    for ext in extensions:
        wheels = sorted(a.name for a in artifacts if a.kind == "wheel" and a.target == ext.triple)
        if wheels != sorted(ext.wheels):
            # Executors stage an extension's wheels by its job: the artifacts must agree.
            f.key("artifacts").fail(f"do not list the wheels of {ext.triple} its job names.")
    return ReleasePlan(
        schema_version=SCHEMA_VERSION,
        name=name,
        version=version,
        binaries=tuple(b.file_name() for b in project.key("binaries").items()),
        jobs=jobs,
        artifacts=artifacts,
        sdist=sdist,
        kind=kind,
        extensions=extensions,
        module=_module_from(project.key("module"), kind),
    )


def configured_platform_tags(target_config: TargetConfig) -> tuple[str, ...]:
    """Return the platform tags a target's config asks for, before the tag policy and extras."""
    return tg.native_platform_tags(
        target_config.target,
        manylinux=target_config.manylinux,
        musllinux=target_config.musllinux,
        macosx=target_config.macosx,
    )


def built_platform_tags(target_config: TargetConfig) -> tuple[str, ...]:
    """Return the platform tags maturin gives the wheel of a target (assemble retags it)."""
    target = target_config.target
    if tg.maturin_tags_plain_linux(target, target_config.manylinux):
        return (f"linux_{target.wheel_arch}",)
    return configured_platform_tags(target_config)


def wheel_platform_tags(
    target_config: TargetConfig, all_targets: Sequence[TargetConfig], policy: TagPolicy
) -> tuple[str, ...]:
    """Return the final, sorted platform tags of a target's wheel after the tag policy and extras.

    The policy tags a static musl wheel manylinux at its arch's glibc floor only where no glibc
    wheel of the same arch is built: two wheels claiming one tag would leave installers to pick.
    """
    tags = set(configured_platform_tags(target_config)) | set(target_config.extra_tags)
    target = target_config.target
    if (
        policy.static_musl_manylinux
        and target.tag_family == "musllinux"
        and target.is_static_by_default
    ):
        glibc_sibling = any(
            t.target.libc == "gnu"
            and t.target.wheel_arch == target.wheel_arch
            and t.target.os == target.os
            for t in all_targets
        )
        if not glibc_sibling and target.glibc_floor is not None:
            tags |= set(tg.manylinux_tags(target.wheel_arch, target.glibc_floor))
    return tuple(sorted(tags))


def signatures_of(name: str, kind: str, backends: Iterable[str]) -> tuple[Signature, ...]:
    """Return the signatures a file of the release must have from these backends."""
    if kind == "checksum" and name != CHECKSUMS_FILE:
        # A per-archive sidecar repeats one line of the signed SHA256SUMS.
        return ()
    return tuple(
        Signature(backend=b, name=file)
        for b in backends
        for file in registry.get(b).signatures(name, kind)
    )


def signatures_for(config: Config, name: str, kind: str) -> tuple[Signature, ...]:
    """Return the signatures a file of the release must have, one or two per backend."""
    return signatures_of(name, kind, config.sign.backends)


# What castoff adds to a file's name while it writes it (a temporary name beside it).
_TEMPORARY_SUFFIX = 24


def _check_name_lengths(config: Config, artifacts: Sequence[Artifact]) -> None:
    for artifact in artifacts:
        longest = max(
            [_TEMPORARY_SUFFIX, *(len(s.name) - len(artifact.name) for s in artifact.signatures)]
        )
        size = len(artifact.name.encode()) + longest
        if size > MAX_NAME_BYTES:
            key = (
                "name (or [project] name)"
                if artifact.kind in ("wheel", "sdist")
                else "archive-name"
            )
            raise ConfigError(
                f"{config.pyproject}: tool.castoff.{key}: the release file {artifact.name[:60]}... "
                f"would have a name of {len(artifact.name.encode())} bytes; with its signatures' "
                f"suffixes that is over the {MAX_NAME_BYTES} bytes a file name may have.",
                hint="Use a shorter project or archive name (or fewer extra tags).",
            )


def _route(
    wanted: Mapping[Destination, str | None],
) -> tuple[tuple[Destination, ...], tuple[Exclusion, ...]]:
    """Split destinations into those taken (reason None) and those left out with their reason."""
    taken = tuple(d for d in DESTINATIONS if wanted[d] is None)
    left = tuple(
        Exclusion(destination=d, reason=r) for d in DESTINATIONS if (r := wanted[d]) is not None
    )
    return taken, left


def _github_reason(config: Config) -> str | None:
    if not config.publish.github.enabled:
        return "GitHub releases are off (tool.castoff.publish.github.enabled = false)"
    return None


_NOT_FOR_PYPI = "PyPI takes only wheels and sdists; this file goes to the GitHub release"


def wheel_filename(name: str, version: str, platform_tags: Iterable[str]) -> str:
    """Return a bin wheel's file name: py3-none, with the platform tag set sorted."""
    return f"{canonical_wheel_name(name)}-{version}-py3-none-{tag_set(platform_tags)}.whl"


def archive_folder(archive_name: str, triple: str) -> str:
    """Return the folder inside a target's archive, and its name without extension (uv's form)."""
    return f"{archive_name}-{triple}"


def archive_filename(archive_name: str, triple: str, kind: tg.ArchiveKind) -> str:
    """Return the file name of a target's archive: <name>-<triple>.tar.gz (.zip on Windows)."""
    return f"{archive_folder(archive_name, triple)}.{kind}"


def _wheel_artifact(
    config: Config, target_config: TargetConfig, tags: tuple[str, ...], *, name: str | None = None
) -> Artifact:
    name = name or wheel_filename(config.name, config.version, tags)
    pypi_reason: str | None
    if not config.publish.pypi.enabled:
        pypi_reason = "publishing to PyPI is off (tool.castoff.publish.pypi.enabled = false)"
    elif target_config.pypi is False:
        pypi_reason = f"{target_config.key_path}.pypi = false"
    else:
        pypi_reason = wheel_refusal(tags)
        if pypi_reason is not None and target_config.pypi is True:
            raise ConfigError(
                f"{config.pyproject}: {target_config.key_path}.pypi: is true, but {pypi_reason}.",
                hint="Remove the key (castoff then keeps the wheel for the GitHub release) or set "
                "pypi = false.",
            )
    github_reason = _github_reason(config)
    if github_reason is None and not config.publish.github.wheels and pypi_reason is None:
        # A wheel PyPI will not take stays on the GitHub release whatever this switch says.
        github_reason = "wheels go to PyPI only (tool.castoff.publish.github.wheels = false)"
    destinations, excluded = _route({"github": github_reason, "pypi": pypi_reason})
    return Artifact(
        name=name,
        kind="wheel",
        target=target_config.triple,
        destinations=destinations,
        excluded=excluded,
        alias_of=None,
        platform_tags=tags,
        signatures=signatures_for(config, name, "wheel"),
    )


def _archive_artifacts(
    config: Config, triple: str, archive: tg.ArchiveKind, alias_of: str | None
) -> tuple[Artifact, Artifact]:
    name = archive_filename(config.archive_name, triple, archive)
    destinations, excluded = _route({"github": _github_reason(config), "pypi": _NOT_FOR_PYPI})
    archive_artifact = Artifact(
        name=name,
        kind="archive",
        target=triple,
        destinations=destinations,
        excluded=excluded,
        alias_of=alias_of,
        platform_tags=(),
        signatures=signatures_for(config, name, "archive"),
        folder=archive_folder(config.archive_name, triple),
    )
    sidecar = Artifact(
        name=name + ".sha256",
        kind="checksum",
        target=triple,
        destinations=destinations,
        excluded=excluded,
        alias_of=alias_of + ".sha256" if alias_of else None,
        platform_tags=(),
        signatures=signatures_for(config, name + ".sha256", "checksum"),
    )
    return archive_artifact, sidecar


def _check_no_shared_tags(config: Config, wheels: Mapping[str, tuple[str, ...]]) -> None:
    owner: dict[str, str] = {}
    for triple, tags in wheels.items():
        for tag in tags:
            if tag in owner:
                first, second = (config.target(t) for t in (owner[tag], triple))
                assert first is not None and second is not None  # noqa: PT018, S101 - both configured
                raise ConfigError(
                    f"{config.pyproject}: {second.key_path}: its wheel and the wheel of "
                    f"{first.key_path} ({owner[tag]}) both claim platform tag '{tag}', so "
                    "installers would pick one of them arbitrarily.",
                    hint="Build only one of the two targets, or remove the tag from extra-tags "
                    "if it came from there.",
                )
            owner[tag] = triple


def select_targets(config: Config, wanted: Iterable[str], *, source: str) -> tuple[str, ...]:
    """Resolve a --target or CASTOFF_TARGETS selection into triples; an alias picks its source.

    SDIST selects the sdist (when the config makes one).
    """
    aliases = {a.to: a.source for a in config.aliases}
    chosen: list[str] = []
    for triple in wanted:
        resolved = aliases.get(triple, triple)
        if config.target(resolved) is None and not (resolved == SDIST and config.sdist):
            known = ", ".join([t.triple for t in config.targets] + [SDIST] * config.sdist)
            raise UsageError(
                f"{source}: '{triple}' is not a target of {config.pyproject}.",
                hint=f"Choose from: {known}.",
            )
        if resolved not in chosen:
            chosen.append(resolved)
    return tuple(chosen)


def _extension_job(
    config: Config, target_config: TargetConfig
) -> tuple[ExtensionJob, list[Artifact]]:
    """Return an extension target's job and its wheels: one per interpreter (one for abi3)."""
    target = target_config.target
    tags = configured_platform_tags(target_config)  # cibuildwheel's images tag them so
    wheels = [
        _wheel_artifact(
            config,
            target_config,
            tags,
            name=cibw.wheel_filename(
                canonical_wheel_name(config.name), config.version, interpreter, tag_set(tags)
            ),
        )
        for interpreter in config.python
    ]
    job = ExtensionJob(
        target=target,
        runner=target_config.runner,
        image=cibw.image_for(target, target_config.manylinux),
        manylinux=_spelled(target_config.manylinux),
        musllinux=_spelled(target_config.musllinux),
        macosx=f"{target_config.macosx[0]}.{target_config.macosx[1]}"
        if target_config.macosx
        else None,
        platform_tags=tags,
        identifiers=tuple(cibw.identifier(i, target) for i in config.python),
        wheels=tuple(w.name for w in wheels),
    )
    return job, wheels


def build_plan(config: Config, *, only: Sequence[str] = ()) -> ReleasePlan:
    """Plan the release of a Config, optionally limited to some configured targets."""
    if config.kind == "extension":
        return _extension_plan(config, only)
    # Final tags depend on every configured target (the tag policy looks for glibc siblings), so
    # they are computed over the whole config: a partial plan names files as the full one does.
    tags_by_target = {
        t.triple: wheel_platform_tags(t, config.targets, config.tag_policy) for t in config.targets
    }
    _check_no_shared_tags(config, tags_by_target)
    selected = [t for t in config.targets if not only or t.triple in only]
    jobs: list[BuildJob] = []
    artifacts: list[Artifact] = []
    for target_config in selected:
        wheel = _wheel_artifact(config, target_config, tags_by_target[target_config.triple])
        archive, sidecar = _archive_artifacts(
            config, target_config.triple, target_config.archive, None
        )
        artifacts += [wheel, archive, sidecar]
        simd = target_config.simd_off
        suffix = ".exe" if target_config.target.os == "windows" else ""
        jobs.append(
            BuildJob(
                target=target_config.target,
                method=target_config.method,
                runner=target_config.runner,
                image=target_config.image,
                manylinux=_spelled(target_config.manylinux),
                musllinux=_spelled(target_config.musllinux),
                macosx=f"{target_config.macosx[0]}.{target_config.macosx[1]}"
                if target_config.macosx
                else None,
                built_platform_tags=built_platform_tags(target_config),
                target_features=simd.target_features if simd else (),
                zig_cpu=simd.zig_cpu if simd else None,
                binaries=tuple(b + suffix for b in config.binaries),
                built_wheel=wheel_filename(
                    config.name, config.version, built_platform_tags(target_config)
                ),
                archive_folder=archive_folder(config.archive_name, target_config.triple),
                artifacts=(wheel.name, archive.name, sidecar.name),
                no_smoke_run=target_config.no_smoke_run,
                linked_glibc=_spelled(target_config.linked_glibc),
                allowed_libraries=target_config.allowed_libraries,
            )
        )
    selected_triples = {t.triple for t in selected}
    for alias in config.aliases:
        if alias.source not in selected_triples:
            continue
        source = config.target(alias.source)
        assert source is not None  # noqa: S101 - config validated aliases
        source_name = archive_filename(config.archive_name, alias.source, source.archive)
        artifacts += _archive_artifacts(config, alias.to, source.archive, source_name)
    return _finish(config, only, artifacts, jobs=tuple(jobs), extensions=())


def _finish(
    config: Config,
    only: Sequence[str],
    artifacts: list[Artifact],
    *,
    jobs: tuple[BuildJob, ...],
    extensions: tuple[ExtensionJob, ...],
) -> ReleasePlan:
    """Add the files of the whole release (sdist, SHA256SUMS, provenance) and make the plan."""
    sdist = None
    if config.sdist and (not only or SDIST in only):
        sdist = SdistJob(name=sdist_filename(config.name, config.version), runner=SDIST_RUNNER)
        # After the targets' own files, before the aliases' (the order plans always had).
        place = next((i for i, a in enumerate(artifacts) if a.alias_of), len(artifacts))
        artifacts.insert(place, _sdist_artifact(config, sdist.name))
    not_for_pypi: dict[Destination, str | None] = {
        "github": _github_reason(config),
        "pypi": _NOT_FOR_PYPI,
    }
    artifacts.append(_release_file(config, CHECKSUMS_FILE, "checksum", not_for_pypi))
    # Written and signed by `castoff sign`: its subjects are every file above, with sha256.
    provenance = provenance_filename(config.name, config.version)
    artifacts.append(_release_file(config, provenance, "provenance", not_for_pypi))
    _check_name_lengths(config, artifacts)
    return ReleasePlan(
        schema_version=SCHEMA_VERSION,
        name=config.name,
        version=config.version,
        binaries=config.binaries,
        jobs=jobs,
        artifacts=tuple(artifacts),
        sdist=sdist,
        kind=config.kind,
        extensions=extensions,
        module=config.module,
    )


def _extension_plan(config: Config, only: Sequence[str]) -> ReleasePlan:
    """Plan an extension module's release: cibuildwheel's wheels per target, the sdist."""
    extensions: list[ExtensionJob] = []
    artifacts: list[Artifact] = []
    for target_config in config.targets:
        if only and target_config.triple not in only:
            continue
        job, wheels = _extension_job(config, target_config)
        extensions.append(job)
        artifacts += wheels
    return _finish(config, only, artifacts, jobs=(), extensions=tuple(extensions))


def _sdist_artifact(config: Config, name: str) -> Artifact:
    pypi_reason = (
        None
        if config.publish.pypi.enabled
        else "publishing to PyPI is off (tool.castoff.publish.pypi.enabled = false)"
    )
    return _release_file(
        config, name, "sdist", {"github": _github_reason(config), "pypi": pypi_reason}
    )


def _release_file(
    config: Config, name: str, kind: ArtifactKind, wanted: Mapping[Destination, str | None]
) -> Artifact:
    """Return a file of the whole release (no target): the sdist, SHA256SUMS, the provenance."""
    destinations, excluded = _route(wanted)
    return Artifact(
        name=name,
        kind=kind,
        target=None,
        destinations=destinations,
        excluded=excluded,
        alias_of=None,
        platform_tags=(),
        signatures=signatures_for(config, name, kind),
    )


def _spelled(version: tuple[int, int] | None) -> str | None:
    return tg.format_version(version) if version else None


def plan_schema() -> dict[str, Any]:
    """Return the JSON Schema of the plan, as shipped in the package."""
    text = (
        resources.files("castoff").joinpath("schemas/plan.schema.json").read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema
