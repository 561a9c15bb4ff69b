"""castoff setup: install what the planned targets need on this machine (a CI runner, usually).

The plan of commands is pure (doctor prints it, a unit test pins it per runner OS); running it
is one loop through the runner. Per OS: apt-get on Debian and Ubuntu (qemu-user for smoke-runs,
cross gcc, glibc sysroots), rustup's downloads everywhere (targets' std, rust-src); what no
command here can install is named, with how to get it, before anything is installed.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from castoff.build import stds, toolchains
from castoff.errors import ToolMissingError
from castoff.runner import Command, CommandFailedError, Runner

if TYPE_CHECKING:
    from castoff.build.toolchains import HostTools, Missing
    from castoff.plan import ReleasePlan

APT_GET = "apt-get"
# Debian's and Ubuntu's own front end, quiet and unattended, as a CI runner needs it.
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


@dataclass(frozen=True, kw_only=True)
class Machine:
    """What decides the commands: the OS, and how this user installs system packages."""

    system: str  # "linux", "macos" or "windows" (castoff.targets' OS names)
    apt_get: str | None  # apt-get, when this is Debian or Ubuntu
    sudo: str | None  # sudo, when the user is not root (GitHub's runners: passwordless)


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

    def to_json(self) -> dict[str, Any]:
        """Return the plan as JSON data."""
        return {
            "system": self.system,
            "steps": [{"what": s.what, "argv": list(s.command.argv)} for s in self.steps],
            "manual": [{"what": m.what, "install": m.install} for m in self.manual],
        }


def _apt(machine: Machine, packages: list[str]) -> tuple[Step, ...]:
    assert machine.apt_get is not None  # noqa: S101 - callers check
    prefix = (machine.sudo, "-E") if machine.sudo else ()
    hint = "apt-get (Debian or Ubuntu)"
    update = Command(
        argv=(*prefix, machine.apt_get, "update", "-q"), env=APT_ENV, install_hint=hint
    )
    install = Command(
        argv=(
            *prefix, machine.apt_get, "install", "-y", "-q", "--no-install-recommends", *packages,
        ),
        env=APT_ENV,
        install_hint=hint,
    )  # fmt: skip
    return (
        Step(what="the package lists", command=update),
        Step(what=", ".join(packages), command=install),
    )


def plan_setup(plan: ReleasePlan, tools: HostTools, machine: Machine) -> SetupPlan:
    """Return the commands that install what the plan's targets lack here; pure."""
    packages: dict[str, None] = {}
    manual: dict[tuple[str, str], Missing] = {}
    downloads: dict[tuple[str, ...], Step] = {}
    for job in plan.jobs:
        choice = toolchains.choose(job, tools)
        smoke = toolchains.smoke_plan(job.target, tools)
        for missing in (*choice.missing, *smoke.missing):
            if missing.packages and machine.system == "linux" and machine.apt_get:
                packages.update(dict.fromkeys(missing.packages))
            else:
                manual.setdefault((missing.what, missing.install), missing)
        if choice.std in stds.SOURCES:
            for command in stds.get(choice.std).setup(choice, tools, job.triple):
                downloads.setdefault(
                    command.argv, Step(what=f"std for {job.triple}", command=command)
                )
    steps = _apt(machine, sorted(packages)) if packages else ()
    return SetupPlan(
        system=machine.system,
        steps=(*steps, *downloads.values()),
        manual=tuple(manual.values()),
    )


def run_setup(
    setup: SetupPlan, runner: Runner, *, log: Callable[[str], None] | None = None
) -> None:
    """Run every step, or none when something must be installed by hand first."""
    if setup.manual:
        raise ToolMissingError(
            "castoff setup cannot install "
            + "; ".join(f"{m.what} (install: {m.install})" for m in setup.manual)
            + f" on this {setup.system} machine.",
            hint="Install them yourself, then run castoff setup again (castoff doctor shows "
            "what each target needs).",
        )
    for step in setup.steps:
        try:
            runner.run(step.command, log=log)
        except CommandFailedError as exc:
            raise ToolMissingError(
                f"castoff setup could not install {step.what}: {exc.message}",
                hint="Check the package source or network access, then run castoff setup again.",
            ) from exc


SYSTEMS = {"linux": "linux", "darwin": "macos", "win32": "windows"}  # sys.platform -> OS


def machine_here(env: Mapping[str, str]) -> Machine:
    """Return the machine this process runs on, from its platform, PATH and user."""
    path = env.get("PATH", "")
    system = SYSTEMS.get(sys.platform, sys.platform)
    root = not hasattr(os, "geteuid") or os.geteuid() == 0
    apt_get = shutil.which(APT_GET, path=path) if system == "linux" else None
    sudo = None if root else shutil.which("sudo", path=path)
    return Machine(
        system=system, apt_get=APT_GET if apt_get else None, sudo="sudo" if sudo else None
    )
