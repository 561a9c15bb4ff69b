"""Every build method castoff knows, by name: the one list (cibuildwheel's ALL_PLATFORM_MODULES).

A method is one module whose METHOD satisfies castoff.build.method.BuildMethod; listing it here
(or calling register) is all castoff needs to plan, doctor and build with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from castoff.build.method import BuildMethod
from castoff.build.methods import build_std, cross_gcc, docker, native, zig

if TYPE_CHECKING:
    from collections.abc import Iterable

    from castoff.plan import BuildJob
    from castoff.targets import Target

AUTO = "auto"
# What BuildMethod asks of a method (register checks them: a Protocol does not).
_MEMBERS = (
    "name", "uses_zig", "builds_std", "links_machine_glibc", "uses_docker",
    "auto_reason", "missing", "linker", "prepare", "command",
)  # fmt: skip
# In the order `auto` asks them: the first that takes a target builds it.
METHODS: dict[str, BuildMethod] = {
    m.name: m
    for m in (cross_gcc.METHOD, zig.METHOD, native.METHOD, build_std.METHOD, docker.METHOD)
}


def register(method: BuildMethod) -> None:
    """Add a method; its name must be new (and not `auto`)."""
    lacking = [m for m in _MEMBERS if not hasattr(method, m)]
    if lacking:
        # Said here, not as an AttributeError when a config first names a target.
        raise TypeError(
            f"build method {getattr(method, 'name', method)!r} lacks {', '.join(lacking)}: "
            "subclass castoff.build.method.Defaults and see BuildMethod"
        )
    if method.name in METHODS or method.name == AUTO:
        raise ValueError(f"a build method named {method.name!r} is registered already")
    METHODS[method.name] = method


def unregister(name: str) -> None:
    """Remove a method added with register (tests)."""
    METHODS.pop(name, None)


def auto_pick(target: Target) -> tuple[BuildMethod, str] | None:
    """Return the method `auto` builds a target with, and why; None when none takes it."""
    return next(((m, why) for m in METHODS.values() if (why := m.auto_reason(target))), None)


def runner_os(runner: str | None) -> str | None:
    """Return the OS of a GitHub-hosted runner label (macos-14, windows-2022), or None."""
    label = (runner or "").casefold()  # GitHub's labels ignore case: macOS-latest
    for os_name in ("macos", "windows", "ubuntu"):
        if label.startswith(os_name):
            return "linux" if os_name == "ubuntu" else os_name
    return None


def resolved(method: str, target: Target, runner: str | None = None) -> BuildMethod | None:
    """Return the method a target's `method` builds it with (None: auto finds none).

    A macOS target whose configured runner is a Mac builds there natively; otherwise `auto`
    cross-builds it where a method can (zig: macOS, Windows gnu). MSVC builds natively only.
    """
    if target.os != "linux":
        if method == AUTO and target.os == "macos" and runner_os(runner) == "macos":
            return METHODS[native.METHOD.name]
        chosen = METHODS.get(method)
        if chosen is not None and (
            chosen.name in (native.METHOD.name, docker.METHOD.name) or chosen.auto_reason(target)
        ):
            return chosen
        # A method that cannot build the target (cross-gcc for macOS): the one auto picks.
        picked = auto_pick(target)
        return picked[0] if picked else None
    if method == AUTO:
        picked = auto_pick(target)
        return picked[0] if picked else None
    return METHODS[method]


def in_docker(jobs: Iterable[BuildJob]) -> bool:
    """Return whether any of the jobs builds with a method that runs in a Docker engine."""
    return any(
        (m := resolved(j.method, j.target, j.runner)) is not None and m.uses_docker for j in jobs
    )


def names() -> tuple[str, ...]:
    """Return what a target's `method` may be: auto and every method."""
    return (AUTO, *METHODS)


def get(name: str) -> BuildMethod:
    """Return a method by name (config has checked that it exists)."""
    return METHODS[name]
