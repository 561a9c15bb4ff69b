"""Build an extension module's wheels with cibuildwheel, one target into build/<triple>/.

cibuildwheel runs the project's PEP 517 backend (maturin) per build identifier, repairs the wheel
(auditwheel on Linux) and runs its test-command, which castoff sets to import the module. On
Linux it builds inside a container: Docker with the image cibuildwheel's version pins by digest
where Docker answers, else podman with castoff's local image (castoff.build.image), handed over by
its ID. On macOS and Windows it builds natively. castoff then checks the wheels it made against
the plan and records how in the folder's manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import shutil
import stat
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from castoff import __version__, cibw
from castoff.build import image
from castoff.build.record import JobLog, built_artifact, fresh_job_folder, reusable, source_files
from castoff.build.toolchains import Missing, host_system
from castoff.errors import BuildError, ToolMissingError
from castoff.filelock import locked
from castoff.manifest import MANIFEST_SCHEMA_VERSION, PartialManifest
from castoff.plan import ExtensionJob, ReleasePlan
from castoff.runner import Command, CommandFailedError, Runner

METHOD = cibw.CIBUILDWHEEL
INSTALL_CIBUILDWHEEL = "pip install 'castoff[build]' (maturin, ziglang and cibuildwheel)"
# cibuildwheel copies the project into the container; castoff hands it the hashed sources only.
_SOURCES = ".sources"
_WHEELHOUSE = ".wheelhouse"
# The Linux machines castoff's local image builds for: the image is of the host's CPU.
_LOCAL_ARCHES = {"x86_64": "x86_64"}


@dataclass(frozen=True, kw_only=True)
class ExtensionTools:
    """What an extension build needs here: cibuildwheel, and on Linux a container engine."""

    system: str  # linux, macos, windows
    machine: str  # the host's CPU as wheel tags spell it (x86_64, aarch64, arm64, amd64)
    cibuildwheel: str | None  # the Python that runs it (castoff's own), when it is installed
    cibuildwheel_version: str | None
    docker: bool  # a Docker engine answers
    podman: str | None
    mmdebstrap: str | None
    local_images: Mapping[str, str]  # libc -> the ID of castoff's local image for it, once built
    podman_root: Path  # castoff's podman configuration and storage (under the cache folder)
    # musl's loader is installed: the rehearsal imports musllinux wheels with the musl image's
    # CPython through it.
    musl_loader: bool = False


@dataclass(frozen=True, kw_only=True)
class Engine:
    """Where cibuildwheel builds a target: docker or podman (with the image), or natively."""

    name: str  # docker, podman, native
    image: str | None  # what CIBW_*_IMAGE names: cibuildwheel's image or the local image's ID
    missing: tuple[Missing, ...]  # what a package or the user installs
    # castoff's local image is not made yet: the first build (or castoff setup) makes it.
    needs_image: bool = False


def probe(
    runner: Runner, env: Mapping[str, str], cache_dir: Path, *, docker: bool
) -> ExtensionTools:
    """Look for cibuildwheel (beside castoff's Python), podman, mmdebstrap and the local image."""
    path = env.get("PATH", "")
    # castoff's own Python runs it (-m): the version recorded and the images it pins are the
    # ones that build, whatever else PATH holds.
    found = sys.executable if importlib.util.find_spec("cibuildwheel") else None
    version = None
    if found:
        shown = runner.capture(
            Command(
                argv=(sys.executable, "-c", "import cibuildwheel; print(cibuildwheel.__version__)")
            )
        )
        version = shown.stdout.strip() if shown.returncode == 0 else None
    podman = shutil.which(image.PODMAN, path=path)
    local_images: dict[str, str] = {}
    if podman and sys.platform == "linux":
        engine = image.podman_for(cache_dir)
        try:
            engine.configure()
            configured = True
        except OSError:
            configured = False  # an unwritable cache: the build says so; doctor shows no image
        for libc in image.LIBCS if configured else ():
            if found_id := engine.image_id(runner, image.image_tag(libc)):
                local_images[libc] = found_id
    import platform  # noqa: PLC0415 - only here

    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    return ExtensionTools(
        system=host_system(),
        machine=machine,
        cibuildwheel=found,
        cibuildwheel_version=version,
        docker=docker,
        podman=podman,
        mmdebstrap=shutil.which(image.MMDEBSTRAP, path=path),
        local_images=local_images,
        podman_root=image.podman_for(cache_dir).root,
        musl_loader=image.MUSL_LOADER.exists(),
    )


def in_container(job: ExtensionJob, system: str) -> bool:
    """Return whether a job builds in a container on a machine of that OS (Docker if it answers)."""
    # engine_for's rule, which probe's caller asks before `docker info`.
    return job.target.os == "linux" and system == "linux"


def asks_docker(jobs: Iterable[ExtensionJob]) -> bool:
    """Return whether building any of the jobs here asks whether a Docker engine answers."""
    system = host_system()
    return any(in_container(job, system) for job in jobs)


def engine_for(job: ExtensionJob, tools: ExtensionTools) -> Engine:
    """Return where cibuildwheel builds a job on this machine, and what it lacks for that."""
    missing: list[Missing] = []
    if tools.cibuildwheel is None:
        missing.append(Missing(what="cibuildwheel", install=INSTALL_CIBUILDWHEEL))
    target = job.target
    if target.os != "linux":
        if tools.system != target.os:
            missing.append(
                Missing(
                    what=f"a {target.os} machine (cibuildwheel builds {target.os} wheels natively)",
                    install=f"run this job on its GitHub runner ({job.runner})",
                )
            )
        return Engine(name="native", image=None, missing=tuple(missing))
    if not in_container(job, tools.system):
        missing.append(
            Missing(what="a Linux machine with Docker", install=f"run this job on {job.runner}")
        )
        return Engine(name="docker", image=job.image, missing=tuple(missing))
    if tools.docker:
        # cibuildwheel resolves the short name to the image its version pins by digest.
        return Engine(name="docker", image=job.image, missing=tuple(missing))
    # No Docker: podman with castoff's local images, which build for this CPU (glibc and musl).
    if target.libc not in image.LIBCS or _LOCAL_ARCHES.get(target.wheel_arch) != tools.machine:
        missing.append(
            Missing(
                what=f"a Docker engine (castoff's local images build "
                f"{' and '.join(_LOCAL_ARCHES)} manylinux and musllinux wheels on a machine of "
                "that CPU only, "
                f"not {target.triple} on this {tools.machine} one)",
                install=f"run this job where Docker runs ({job.runner})",
            )
        )
        return Engine(name="podman", image=None, missing=tuple(missing))
    for identifier in job.identifiers:
        if not identifier.startswith(image.PYTHON + "-") and not _abi3(job):
            missing.append(
                Missing(
                    what=f"CPython for {identifier} (castoff's local image has CPython "
                    f"{image.PYTHON_VERSION[0]}.{image.PYTHON_VERSION[1]} only)",
                    install=f"run this job where Docker runs ({job.runner})",
                )
            )
    if tools.podman is None or tools.mmdebstrap is None:
        missing.append(
            Missing(
                what="podman and mmdebstrap (castoff's local build image)",
                install=f"apt-get install {' '.join(image.PACKAGES)}",
                packages=image.PACKAGES,
            )
        )
    found = tools.local_images.get(target.libc)
    return Engine(
        name="podman",
        image=f"sha256:{found}" if found else None,
        missing=tuple(missing),
        needs_image=found is None,
    )


def make_local_image(tools: ExtensionTools, runner: Runner, libc: str) -> str:
    """Make castoff's local image for a libc unless a parallel build just did; return its ID.

    podman's and mmdebstrap's output goes to image.log beside castoff's podman storage.
    """
    podman = image.Podman(root=tools.podman_root)
    podman.configure()
    with locked(podman.image_lock):
        found = podman.image_id(runner, image.image_tag(libc))
        if found is not None:
            return found
        bundle = image.host_ca_bundle(runner.base_env)
        if bundle is None:
            raise ToolMissingError(
                "castoff's local build image needs this machine's CA bundle (SSL_CERT_FILE or "
                "/etc/ssl/certs/ca-certificates.crt) to reach PyPI from inside.",
                hint="Install ca-certificates, or point SSL_CERT_FILE at the bundle.",
            )
        log = JobLog(podman.root / "image.log")
        try:
            return image.build_image(runner, podman, bundle, libc, log=log.write)
        finally:
            log.close()


def _abi3(job: ExtensionJob) -> bool:
    return all("-abi3-" in wheel for wheel in job.wheels)


def build_identifiers(job: ExtensionJob, engine: Engine) -> tuple[str, ...]:
    """Return the identifiers cibuildwheel builds: the local image's CPython builds abi3 wheels."""
    if engine.name == "podman" and _abi3(job):
        # An abi3 wheel is the same built by any CPython from its floor on; the image has one.
        return (f"{image.PYTHON}-{cibw.platform(job.target)}",)
    return job.identifiers


def cibuildwheel_env(
    job: ExtensionJob, engine: Engine, module: str, identifiers: tuple[str, ...]
) -> dict[str, str]:
    """Return the CIBW_* settings of one target's build (they override the project's own)."""
    arch = cibw.linux_arch(job.target)
    env = {
        "CIBW_BUILD": " ".join(identifiers),
        # The module must import, in a fresh environment, from the repaired wheel: every build
        # runs the test, from outside the sources, and no host variable enters the container.
        "CIBW_TEST_COMMAND": f'python -c "import {module}"',
        "CIBW_TEST_SKIP": "",
        "CIBW_TEST_SOURCES": "",
        "CIBW_ENVIRONMENT_PASS_LINUX": "",
        "CIBW_BUILD_VERBOSITY": "1",
    }
    if job.target.os == "linux":
        assert arch is not None  # noqa: S101 - Linux identifiers end in the arch
        family = "musllinux" if job.target.libc == "musl" else "manylinux"
        env["CIBW_ARCHS_LINUX"] = arch
        env["CIBW_CONTAINER_ENGINE"] = engine.name
        if engine.image:
            env[f"CIBW_{family.upper()}_{arch.upper()}_IMAGE"] = engine.image
    if engine.name == "podman":
        # uv in the container and for the host's abi3 audit: no virtualenv.pyz download, and the
        # image's own tools (it pins them) rather than cibuildwheel's constraints files.
        env["CIBW_BUILD_FRONTEND"] = "build[uv]"
        env["CIBW_DEPENDENCY_VERSIONS"] = "latest"
        if job.target.libc == "musl":
            # The image's rustc is glibc's: the musl target and its tag are asked for by name.
            flags = f"--target {job.triple} --compatibility musllinux_{job.musllinux or '1_2'}"
            # zig links the module against `libc.so`, a name musl's loader keeps for itself
            # (as it does Alpine's libc.musl-<arch>.so.1, the only one auditwheel knows):
            # grafted into the wheel, a second libc would load beside the process's own.
            env["CIBW_REPAIR_WHEEL_COMMAND_LINUX"] = (
                "auditwheel repair --exclude libc.so -w {dest_dir} {wheel}"
            )
        else:
            # The image's glibc is newer than the wheel's tag: zig links against the tagged one.
            manylinux = job.manylinux or "2_17"
            compat = {"2_17": "manylinux2014"}.get(manylinux, f"manylinux_{manylinux}")
            flags = f"--compatibility {compat}"
        env["CIBW_ENVIRONMENT_LINUX"] = f'MATURIN_PEP517_ARGS="--zig {flags}"'
    elif engine.name == "docker":
        # cibuildwheel's images have no Rust: rustup installs it once per container.
        env["CIBW_BEFORE_ALL_LINUX"] = (
            "curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal"
        )
        env["CIBW_ENVIRONMENT_LINUX"] = 'PATH="$HOME/.cargo/bin:$PATH"'
    if job.macosx:
        env["MACOSX_DEPLOYMENT_TARGET"] = job.macosx
    return env


def extension_key(
    job: ExtensionJob,
    plan: ReleasePlan,
    engine: Engine,
    env: Mapping[str, str],
    tools: ExtensionTools,
    tree: str,
) -> str:
    """Return a target's cache key: the same sources, image and settings make the same wheels."""
    inputs = {
        "castoff": __version__,
        "job": [job.triple, list(job.identifiers), list(job.wheels)],
        "project": [plan.name, plan.version, plan.module],
        "engine": [engine.name, engine.image],
        "cibuildwheel": tools.cibuildwheel_version,
        "env": dict(sorted(env.items())),
        "tree": tree,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _copy_sources(project_dir: Path, dest: Path, exclude: list[Path]) -> None:
    """Copy the project's source files (those the tree hash covers) into dest, modes kept.

    A link is copied as the file it names only when that file is inside the project: the
    copy goes into a container whose build scripts can read all of it.
    """
    root = project_dir.resolve()
    for name, path in source_files(project_dir, exclude):
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise BuildError(
                f"{path}: is a link to {path.resolve()}, outside the project; castoff copies "
                "only the project's own files into the build container.",
                hint="Replace the link with a copy of the file (or remove it).",
            )
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)


def build_extension(
    job: ExtensionJob,
    *,
    plan: ReleasePlan,
    tools: ExtensionTools,
    runner: Runner,
    out_dir: Path,
    project_dir: Path,
    source_commit: str | None,
    tree: str,
) -> tuple[PartialManifest, bool]:
    """Build a target's wheels into out_dir/<triple>; return the manifest and whether cached."""
    engine = engine_for(job, tools)
    if engine.missing:
        raise ToolMissingError(
            f"{job.triple}: cibuildwheel cannot build it here: "
            + "; ".join(f"{m.what} (install: {m.install})" for m in engine.missing)
            + ".",
            hint="castoff doctor shows what each target needs; castoff setup installs it.",
        )
    inherited = sorted(k for k in runner.base_env if k.startswith("CIBW_"))
    if inherited:
        raise BuildError(
            f"{job.triple}: the environment sets {', '.join(inherited)}; castoff sets "
            "cibuildwheel's options itself, and the build record would not show yours.",
            hint="Unset them and put what you need in the project's [tool.cibuildwheel] table "
            "(part of the sources the build records).",
        )
    if engine.needs_image:
        # As docker pulls cibuildwheel's image on first use, castoff makes its own, once.
        image_id = make_local_image(tools, runner, job.target.libc)
        tools = dataclasses.replace(
            tools, local_images={**tools.local_images, job.target.libc: image_id}
        )
        engine = engine_for(job, tools)
    assert tools.cibuildwheel is not None and plan.module is not None  # noqa: PT018, S101
    identifiers = build_identifiers(job, engine)
    settings = cibuildwheel_env(job, engine, plan.module, identifiers)
    folder = out_dir / job.triple
    key = extension_key(job, plan, engine, settings, tools, tree)
    if (cached := reusable(folder, key)) is not None:
        return cached, True
    started = time.monotonic()
    log = fresh_job_folder(folder, [_SOURCES, _WHEELHOUSE, *job.wheels], "its target folder")
    sources = folder / _SOURCES
    wheelhouse = folder / _WHEELHOUSE
    env = dict(settings)
    if engine.name == "podman":
        podman = image.Podman(root=tools.podman_root)
        podman.configure()
        env.update(podman.env)
    try:
        _copy_sources(project_dir.resolve(), sources, [out_dir.resolve()])
        platform = {"linux": "linux", "macos": "macos", "windows": "windows"}[job.target.os]
        command = Command(
            argv=(
                tools.cibuildwheel,
                "-m",
                METHOD,
                "--platform",
                platform,
                "--output-dir",
                str(wheelhouse),
                ".",
            ),
            env=env,
            cwd=sources,
            install_hint=INSTALL_CIBUILDWHEEL,
        )
        try:
            log.run(runner, command)
        except CommandFailedError as exc:
            raise BuildError(
                f"{job.triple}: cibuildwheel failed. {exc.message}", hint=f"Full log: {log.path}"
            ) from None
        made = sorted(p.name for p in wheelhouse.iterdir()) if wheelhouse.is_dir() else []
        for name in made:
            if not stat.S_ISREG((wheelhouse / name).lstat().st_mode):
                # Copied out of the container as it was there: a link would name a host file.
                raise BuildError(
                    f"{job.triple}: cibuildwheel's output {name} is not a plain file.",
                    hint=f"Full log: {log.path}",
                )
        if made != sorted(job.wheels):
            raise BuildError(
                f"{job.triple}: cibuildwheel made {', '.join(made) or 'nothing'}, but the plan "
                f"names {', '.join(job.wheels)}.",
                hint="The interpreter tag comes from tool.castoff.python (an abi3 entry needs "
                "pyo3's matching abi3-pyXY feature), the platform tag from the target's "
                f"manylinux/musllinux/macosx. Full log: {log.path}",
            )
        for wheel in job.wheels:
            (wheelhouse / wheel).rename(folder / wheel)
        wheelhouse.rmdir()
        shutil.rmtree(sources)
    finally:
        log.close()
    manifest = PartialManifest(
        schema_version=MANIFEST_SCHEMA_VERSION,
        name=plan.name,
        version=plan.version,
        target=job.triple,
        method=METHOD,
        std="image" if engine.name != "native" else "toolchain",
        cache_key=key,
        source_commit=source_commit,
        source_tree_sha256=tree,
        image=_image_record(engine, job),
        toolchain={"cibuildwheel": tools.cibuildwheel_version, "engine": engine.name},
        commands=tuple(log.commands),
        seconds=round(time.monotonic() - started, 3),
        artifacts=tuple(
            built_artifact(folder / wheel, "wheel", job.platform_tags) for wheel in job.wheels
        ),
        smoke=(),
    )
    manifest.write(folder)
    return manifest, False


def _image_record(engine: Engine, job: ExtensionJob) -> str | None:
    """Return the image as the manifest records it, by digest: castoff's by its ID."""
    if engine.name == "podman" and engine.image:
        return f"{cibw.LOCAL_IMAGE_NAMES[job.target.libc]}@{engine.image}"
    if engine.name == "docker" and engine.image:
        arch = cibw.linux_arch(job.target)
        assert arch is not None  # noqa: S101 - Docker builds Linux targets only
        return pinned_image(engine.image, arch)
    return None


def pinned_image(name: str, arch: str) -> str:
    """Return the reference by digest the installed cibuildwheel pins an image to."""
    import configparser  # noqa: PLC0415 - only for Docker builds
    from importlib import resources  # noqa: PLC0415

    try:
        text = (
            resources.files("cibuildwheel")
            .joinpath("resources/pinned_docker_images.cfg")
            .read_text(encoding="utf-8")
        )
        parser = configparser.ConfigParser(inline_comment_prefixes=("#",))
        parser.read_string(text)
        found = parser.get(arch, name).strip()
    except (ImportError, OSError, configparser.Error) as exc:
        raise ToolMissingError(
            f"cibuildwheel does not say which {name} image it pins for {arch} ({exc}).",
            hint=INSTALL_CIBUILDWHEEL,
        ) from None
    if not cibw.pinned_image_re(name, arch).fullmatch(found):
        raise ToolMissingError(
            f"cibuildwheel pins {name} for {arch} as {found[:100]!r}, not by digest on quay.io.",
            hint=INSTALL_CIBUILDWHEEL,
        )
    return found


class Cibuildwheel:
    """cibuildwheel, as castoff.build.extension.ExtensionBuilder asks of a builder."""

    name = METHOD
    probe = staticmethod(probe)
    asks_docker = staticmethod(asks_docker)
    engine = staticmethod(engine_for)
    identifiers = staticmethod(build_identifiers)
    build = staticmethod(build_extension)


BUILDER = Cibuildwheel()
