"""Run each built binary's `--version`, natively or under qemu-user, and judge what it printed."""

from __future__ import annotations

import dataclasses
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from castoff.build import wine
from castoff.build.toolchains import WINE_RUNNER, SmokePlan
from castoff.filelock import locked
from castoff.manifest import SmokeRecord
from castoff.runner import Command, Runner
from castoff.targets import Target

SMOKE_TIMEOUT = 120
SMOKE_ATTEMPTS_UNDER_QEMU = 3


def smoke_command(
    binary: Path, plan: SmokePlan, env: Mapping[str, str] | None = None
) -> Command | None:
    """Return the command that runs a binary's --version here, or None when it cannot run."""
    if plan.runner is None:
        return None
    argv = (
        (str(binary), "--version")
        if plan.runner == "native"
        else (plan.program or plan.runner, str(binary), "--version")
    )
    extra = {"QEMU_LD_PREFIX": plan.ld_prefix} if plan.ld_prefix else {}
    return Command(argv=argv, env={**extra, **(env or {})})


def judge(
    *, binary: str, target: Target, plan: SmokePlan, returncode: int, output: str, version: str
) -> SmokeRecord:
    """Decide whether a smoke-run passed: exit 0 and the version in its output."""

    def record(status: str, reason: str) -> SmokeRecord:
        return SmokeRecord(
            binary=binary, status=status, runner=plan.runner, output=output, reason=reason
        )

    if returncode in (-signal.SIGILL, 128 + signal.SIGILL) and target.wheel_arch == "loongarch64":
        return record(
            "not-run",
            "could not run here: QEMU 7.2 lacks LoongArch LSX, so this build (Rust's default "
            "+lsx) dies with SIGILL; set lsx = false on the target to smoke-run it",
        )
    if returncode != 0:
        return record("failed", f"exited with {returncode}")
    if version not in output:
        return record("failed", f"its --version output does not name version {version}")
    names_target = target.triple in output
    return record("passed", "printed its version" + (" and target" if names_target else ""))


def run_smoke(
    binary: Path,
    *,
    name: str,
    target: Target,
    plan: SmokePlan,
    runner: Runner,
    version: str,
    log: Callable[[str], None],
    cache_dir: Path,
) -> SmokeRecord:
    """Run a binary's --version here (retrying qemu-user's own flakes) and judge the output.

    Under Wine the program runs from a folder of its own beside castoff's DLL shim, in
    castoff's Wine prefix (under `cache_dir`), one Wine run at a time.
    """
    with _staged(binary, plan, runner, cache_dir) as (program, env):
        return _judged_runs(program, name, target, plan, runner, version, log, env)


@contextmanager
def _staged(
    binary: Path, plan: SmokePlan, runner: Runner, cache_dir: Path
) -> Iterator[tuple[Path, Mapping[str, str]]]:
    """Yield the program to run and its environment: under Wine, a copy beside the shim."""
    if plan.runner != WINE_RUNNER:
        yield binary, {}
        return
    setup = wine.prepare(cache_dir, runner)
    with (
        tempfile.TemporaryDirectory(prefix="castoff-wine-") as folder,
        locked(setup.prefix.with_name("prefix.lock")),
    ):
        yield setup.stage(binary, Path(folder)), setup.env()


def _judged_runs(
    binary: Path,
    name: str,
    target: Target,
    plan: SmokePlan,
    runner: Runner,
    version: str,
    log: Callable[[str], None],
    env: Mapping[str, str],
) -> SmokeRecord:
    command = smoke_command(binary, plan, env)
    if command is None:
        why = plan.reason + "".join(f"; install {m.what}: {m.install}" for m in plan.missing)
        return SmokeRecord(binary=name, status="not-run", runner=None, output="", reason=why)
    # qemu-user itself fails now and then (QEMU 7.2's loongarch64 malloc, about 1 run in 40);
    # a broken binary fails every attempt, so a few tries cannot hide one.
    attempts = SMOKE_ATTEMPTS_UNDER_QEMU if plan.runner not in ("native", WINE_RUNNER) else 1
    failures: list[str] = []
    for _ in range(attempts):
        result = runner.run(command, check=False, timeout=SMOKE_TIMEOUT, log=log)
        verdict = judge(
            binary=name,
            target=target,
            plan=plan,
            returncode=result.returncode,
            output=(result.stdout + result.stderr).strip(),
            version=version,
        )
        if verdict.status != "failed":
            break
        failures.append(verdict.reason)
    if failures and verdict.status != "failed":
        verdict = dataclasses.replace(
            verdict,
            reason=f"{verdict.reason}, on attempt {len(failures) + 1} after "
            f"{plan.runner} failed: {'; '.join(failures)}",
        )
    return verdict
