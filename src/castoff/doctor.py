"""castoff doctor: what this machine can build, smoke-run and sign, read from the plan alone."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Mapping

from castoff.build import extension, toolchains
from castoff.build.cibuildwheel import ExtensionTools
from castoff.build.image import LIBCS, image_tag
from castoff.build.setup import Machine, plan_setup
from castoff.build.toolchains import INSTALL_BUILD_PYTHON, INSTALL_RUSTUP, HostTools, Missing
from castoff.config import EXTENSION_METHOD
from castoff.plan import SDIST, SDIST_METHOD, ExtensionJob, ReleasePlan
from castoff.results import DoctorResult, SigningTool, TargetReadiness
from castoff.sign import registry
from castoff.sign.backend import Tool


def _found(tool: Tool, path: str | None) -> str | None:
    if tool.module is not None:
        try:
            spec = importlib.util.find_spec(tool.module)
        except (ImportError, ValueError):
            return None
        return None if spec is None else (spec.origin or tool.module)
    return shutil.which(tool.command, path=path)


def _sdist_readiness(tools: HostTools) -> TargetReadiness:
    """Return whether `maturin sdist` runs here: it lists the crate's files with cargo."""
    missing = []
    if tools.maturin is None:
        missing.append(Missing(what="maturin", install=INSTALL_BUILD_PYTHON))
    if tools.default is None:
        missing.append(Missing(what="cargo", install=INSTALL_RUSTUP))
    return TargetReadiness(
        target=SDIST,
        buildable=not missing,
        method=SDIST_METHOD,
        std="none",
        why="maturin sdist packs the sources; cargo lists the crate's files",
        smoke="pip, in the rehearsal",
        smoke_why="the rehearsal builds it back with pip install --no-binary :all: and runs it",
        missing=tuple(missing),
    )


def _extension_readiness(job: ExtensionJob, tools: ExtensionTools) -> TargetReadiness:
    """Return how cibuildwheel builds an extension's target here, and what it lacks."""
    builder = extension.get(EXTENSION_METHOD)
    engine = builder.engine(job, tools)
    local = image_tag(job.target.libc) if job.target.libc in LIBCS else ""
    where = {
        "docker": f"in cibuildwheel's {job.image} image (pinned by its version), with Docker",
        "podman": f"in castoff's local image {local}, with podman"
        + (
            " (not made yet: the first build, or castoff setup, makes it once)"
            if engine.needs_image
            else ""
        ),
        "native": "natively",
    }[engine.name]
    return TargetReadiness(
        target=job.triple,
        buildable=not engine.missing,
        method=f"{builder.name} {' '.join(builder.identifiers(job, engine))}",
        std=engine.name,
        why=f"cibuildwheel builds {', '.join(job.wheels)} {where}",
        smoke="cibuildwheel's test-command",
        smoke_why="it imports the module from the repaired wheel in a fresh environment",
        missing=engine.missing,
    )


def diagnose(
    plan: ReleasePlan,
    tools: HostTools,
    env: Mapping[str, str],
    machine: Machine,
    extension_tools: ExtensionTools | None = None,
) -> DoctorResult:
    """Return how each planned target builds and runs here, and which signing tools are here."""
    targets = []
    choices = {job.triple: toolchains.choose(job, tools) for job in plan.jobs}
    for job in plan.jobs:
        choice = choices[job.triple]
        smoke = toolchains.smoke_plan(job.target, tools)
        targets.append(
            TargetReadiness(
                target=job.triple,
                buildable=choice.buildable,
                method=choice.method,
                std=choice.std,
                why=choice.reason,
                smoke=smoke.runner,
                smoke_why=smoke.reason,
                missing=(*choice.missing, *smoke.missing),
            )
        )
    for ext in plan.extensions if extension_tools else ():
        assert extension_tools is not None  # noqa: S101 - checked above
        targets.append(_extension_readiness(ext, extension_tools))
    if plan.sdist is not None:
        targets.append(_sdist_readiness(tools))
    # The backends the plan's signatures name: the plan alone says what signing needs.
    backends = dict.fromkeys(s.backend for a in plan.artifacts for s in a.signatures)
    path = env.get("PATH")
    signing = tuple(
        SigningTool(
            backend=name,
            command=tool.command,
            found=_found(tool, path),
            install=tool.install,
        )
        for name in backends
        for tool in registry.get(name).tools
    )
    return DoctorResult(
        host=tools.host_triple,
        maturin=tools.maturin_version,
        zig=tools.zig_version,
        targets=tuple(targets),
        signing=signing,
        setup=tuple(
            s.command.display()
            for s in plan_setup(plan, tools, machine, choices, extension_tools).steps
        ),
    )
