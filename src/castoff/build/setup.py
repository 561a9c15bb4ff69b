"""castoff setup: install what the planned targets need on this machine (a CI runner, usually).

The plan of commands is pure (doctor prints it, a unit test pins it per runner OS); running it
is one loop through the runner. Per OS: apt-get on Debian and Ubuntu (qemu-user for smoke-runs,
cross gcc, glibc sysroots), rustup's downloads everywhere (targets' std, rust-src); what no
command here can install is named, with how to get it, before anything is installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from castoff.build import extension, image, stds, toolchains
from castoff.build.cibuildwheel import ExtensionTools
from castoff.config import EXTENSION_METHOD
from castoff.errors import ToolMissingError
from castoff.runner import Command, CommandFailedError, Runner

if TYPE_CHECKING:
    from castoff.build.toolchains import Choice, HostTools, Missing
    from castoff.plan import ReleasePlan

APT_GET = "apt-get"
# Debian's and Ubuntu's own front end, quiet and unattended, as a CI runner needs it.
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
# A runner's own unattended upgrades may hold dpkg's lock at boot: wait for it, not fail.
APT_LOCK = ("-o", "DPkg::Lock::Timeout=300")
# sudo resets the environment; only the front end's setting is kept (never the job's secrets).
SUDO_KEEP = "--preserve-env=" + ",".join(APT_ENV)


@dataclass(frozen=True, kw_only=True)
class Machine:
    """What decides the commands: the OS, and how this user installs system packages."""

    system: str  # "linux", "macos" or "windows" (castoff.targets' OS names)
    apt_get: str | None  # apt-get, when this is Debian or Ubuntu
    sudo: str | None  # sudo, when the user is not root (GitHub's runners: passwordless)
    root: bool  # the user is root: apt-get runs without sudo


@dataclass(frozen=True, kw_only=True)
class Step:
    """One command setup runs, and what it is for."""

    what: str
    command: Command


@dataclass(frozen=True, kw_only=True)
class SetupPlan:
    """The commands that make the targets buildable and runnable here, and what they cannot."""

    system: str
    steps: tuple[Step, ...]
    manual: tuple[Missing, ...]  # what castoff cannot install on this machine itself
    # Targets left to their own OS's runners (no target was named), with the runner.
    elsewhere: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the plan as JSON data."""
        return {
            "system": self.system,
            "steps": [{"what": s.what, "argv": list(s.command.argv)} for s in self.steps],
            "manual": [{"what": m.what, "install": m.install} for m in self.manual],
            "elsewhere": [{"target": t, "runner": r} for t, r in self.elsewhere],
        }


def _apt(machine: Machine, packages: list[str]) -> tuple[Step, ...]:
    assert machine.apt_get is not None  # noqa: S101 - callers check
    prefix = (machine.sudo, SUDO_KEEP) if machine.sudo else ()
    apt = (*prefix, machine.apt_get, *APT_LOCK)
    hint = "apt-get (Debian or Ubuntu)"
    update = Command(argv=(*apt, "update", "-q"), env=APT_ENV, install_hint=hint)
    install = Command(
        argv=(*apt, "install", "-y", "-q", "--no-install-recommends", *packages),
        env=APT_ENV,
        install_hint=hint,
    )  # fmt: skip
    return (
        Step(what="the package lists", command=update),
        Step(what=", ".join(packages), command=install),
    )


def _can_apt(machine: Machine) -> bool:
    """Return whether setup can run apt-get here: Debian or Ubuntu, as root or through sudo."""
    return (
        machine.system == "linux" and bool(machine.apt_get) and (machine.root or bool(machine.sudo))
    )


def plan_setup(
    plan: ReleasePlan,
    tools: HostTools,
    machine: Machine,
    choices: Mapping[str, Choice] | None = None,
    extension_tools: ExtensionTools | None = None,
    elsewhere: Mapping[str, str] | None = None,
) -> SetupPlan:
    """Return the commands that install what the plan's targets lack here; pure.

    `choices` are the jobs' choices by triple, when the caller has made them already;
    `extension_tools` what an extension's builds need (cibuildwheel, podman, the local image);
    `elsewhere` the targets only their own OS's runners build (by triple: the runner), skipped.
    """
    packages: dict[str, None] = {}
    manual: dict[tuple[str, str], Missing] = {}
    downloads: dict[tuple[str, ...], Step] = {}
    lacking: list[tuple[Missing, ...]] = []
    for job in (j for j in plan.jobs if j.triple not in (elsewhere or {})):
        choice = (choices or {}).get(job.triple) or toolchains.choose(job, tools)
        # A target the config lets ship without a smoke-run needs no emulator installed.
        smoke = () if job.no_smoke_run else toolchains.smoke_plan(job.target, tools).missing
        lacking.append((*choice.missing, *smoke))
        if choice.std in stds.SOURCES:
            for command in stds.get(choice.std).setup(choice, tools, job.triple):
                downloads.setdefault(
                    command.argv, Step(what=f"std for {job.triple}", command=command)
                )
    image_step: tuple[Step, ...] = ()
    libcs: dict[str, None] = {}
    for ext in plan.extensions if extension_tools else ():
        assert extension_tools is not None  # noqa: S101 - checked above
        engine = extension.get(EXTENSION_METHOD).engine(ext, extension_tools)
        lacking.append(engine.missing)
        if engine.needs_image:
            libcs[ext.target.libc] = None
        if (
            engine.name == "podman"
            and ext.target.libc == "musl"
            and not extension_tools.musl_loader
        ):
            # Not for the build: the rehearsal imports the wheel with the musl image's CPython.
            lacking.append(
                (
                    toolchains.Missing(
                        what=f"musl's loader {image.MUSL_LOADER} (the rehearsal imports "
                        f"{ext.triple} wheels with the musl image's CPython)",
                        install=f"apt-get install {' '.join(image.MUSL_PACKAGES)}",
                        packages=image.MUSL_PACKAGES,
                    ),
                )
            )
    if libcs and extension_tools is not None:
        # After apt-get: it needs podman and mmdebstrap.
        command = image.setup_command(extension_tools.podman_root.parent, tuple(libcs))
        names = ", ".join(image.image_tag(libc) for libc in libcs)
        image_step = (Step(what=f"castoff's local build images ({names})", command=command),)
    for missings in lacking:
        for missing in missings:
            if missing.packages and _can_apt(machine):
                packages.update(dict.fromkeys(missing.packages))
            elif missing.packages and machine.apt_get:
                install = f"as root: apt-get install {' '.join(missing.packages)}"
                manual.setdefault((missing.what, install), replace(missing, install=install))
            else:
                manual.setdefault((missing.what, missing.install), missing)
    steps = _apt(machine, sorted(packages)) if packages else ()
    return SetupPlan(
        system=machine.system,
        steps=(*steps, *downloads.values(), *image_step),
        manual=tuple(manual.values()),
        elsewhere=tuple((elsewhere or {}).items()),
    )


def refuse_manual(setup: SetupPlan) -> None:
    """Raise, naming each, when something must be installed by hand before setup can run."""
    if setup.manual:
        raise ToolMissingError(
            "castoff setup cannot install "
            + "; ".join(f"{m.what} (install: {m.install})" for m in setup.manual)
            + f" on this {setup.system} machine.",
            hint="Install them yourself, then run castoff setup again (castoff doctor shows "
            "what each target needs).",
            details={**setup.to_json(), "ran": False},
        )


def run_setup(setup: SetupPlan, runner: Runner) -> None:
    """Run every step, or none when something must be installed by hand first."""
    refuse_manual(setup)
    for step in setup.steps:
        try:
            runner.run(step.command)
        except CommandFailedError as exc:
            raise ToolMissingError(
                f"castoff setup could not install {step.what}: {exc.message}",
                hint="Check the package source or network access, then run castoff setup again.",
            ) from exc


def machine_here(env: Mapping[str, str]) -> Machine:
    """Return the machine this process runs on, from its platform, PATH and user."""
    path = env.get("PATH", "")
    system = toolchains.host_system()
    root = not hasattr(os, "geteuid") or os.geteuid() == 0
    apt_get = shutil.which(APT_GET, path=path) if system == "linux" else None
    sudo = None if root else shutil.which("sudo", path=path)
    return Machine(
        system=system,
        apt_get=APT_GET if apt_get else None,
        sudo="sudo" if sudo else None,
        root=root,
    )
