"""castoff setup's exact commands on each kind of runner, and what it refuses to half-do."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from castoff.build.builder import built_elsewhere
from castoff.build.setup import Machine, plan_setup, refuse_manual, run_setup
from castoff.build.toolchains import HostTools
from castoff.config import load
from castoff.errors import ToolMissingError
from castoff.plan import ReleasePlan, build_plan
from castoff.runner import Runner
from castoff.targets import TARGETS
from tests.unit.test_toolchains import EVERYTHING, RUNNER, RUNNER_TOOLCHAIN

# GitHub: a sudoer, not root
UBUNTU = Machine(system="linux", apt_get="apt-get", sudo="sudo", root=False)
DEBIAN_ROOT = Machine(system="linux", apt_get="apt-get", sudo=None, root=True)
DEBIAN_USER = Machine(system="linux", apt_get="apt-get", sudo=None, root=False)  # no sudo
FEDORA = Machine(system="linux", apt_get=None, sudo="sudo", root=False)
MACOS = Machine(system="macos", apt_get=None, sudo="sudo", root=False)
WINDOWS = Machine(system="windows", apt_get=None, sudo=None, root=False)
# ubuntu-latest: rustup's stable with the host std; no qemu, cross gcc or glibc sysroots.
UBUNTU_TOOLS = dataclasses.replace(RUNNER, qemu={}, cross_gcc={}, sysroots={})
RUSTUP = "/home/runner/.cargo/bin/rustup"
STABLE = "stable-x86_64-unknown-linux-gnu"
# sudo keeps only the front end's setting; apt waits for a lock the runner's upgrades hold.
APT = ("sudo", "--preserve-env=DEBIAN_FRONTEND", "apt-get", "-o", "DPkg::Lock::Timeout=300")
APT_INSTALL = (*APT, "install", "-y", "-q", "--no-install-recommends")


def plan_for(example_pyproject: Path, *triples: str) -> ReleasePlan:
    """Return the example's plan with only these targets' jobs."""
    plan = build_plan(load(example_pyproject))
    base = plan.jobs[0]
    jobs = tuple(dataclasses.replace(base, target=TARGETS[t]) for t in triples)
    return dataclasses.replace(plan, jobs=jobs)


def argvs(
    example_pyproject: Path, tools: HostTools, machine: Machine, *triples: str
) -> list[tuple[str, ...]]:
    """Return the argv of every command setup plans for these targets."""
    setup = plan_setup(plan_for(example_pyproject, *triples), tools, machine)
    return [step.command.argv for step in setup.steps]


def test_ubuntu_runner_commands_per_target(example_pyproject: Path) -> None:
    """On ubuntu-latest: apt-get through sudo for qemu and cross tools, rustup for the std."""
    assert argvs(example_pyproject, UBUNTU_TOOLS, UBUNTU, "x86_64-unknown-linux-gnu") == []
    assert argvs(example_pyproject, UBUNTU_TOOLS, UBUNTU, "aarch64-unknown-linux-gnu") == [
        (*APT, "update", "-q"),
        (*APT_INSTALL, "libc6-arm64-cross", "qemu-user-static"),
        (RUSTUP, "target", "add", "--toolchain", STABLE, "aarch64-unknown-linux-gnu"),
    ]
    assert argvs(example_pyproject, UBUNTU_TOOLS, UBUNTU, "powerpc64le-unknown-linux-gnu") == [
        (*APT, "update", "-q"),
        (
            *APT_INSTALL,
            "gcc-powerpc64le-linux-gnu",
            "libc6-dev-ppc64el-cross",
            "libc6-ppc64el-cross",
            "qemu-user-static",
        ),
        (RUSTUP, "target", "add", "--toolchain", STABLE, "powerpc64le-unknown-linux-gnu"),
    ]
    # Tier 3: no rustup std; rustup's rust-src, then castoff builds std from it.
    assert argvs(example_pyproject, UBUNTU_TOOLS, UBUNTU, "s390x-unknown-linux-musl") == [
        (*APT, "update", "-q"),
        (*APT_INSTALL, "qemu-user-static"),
        (RUSTUP, "component", "add", "--toolchain", STABLE, "rust-src"),
    ]


def test_one_install_for_every_target_and_nothing_twice(example_pyproject: Path) -> None:
    """Every target at once: one apt-get install of the union, each rustup download once.

    (But MSVC's: only a Windows runner builds them, see below.)
    """
    plan = build_plan(load(example_pyproject))
    elsewhere = built_elsewhere(plan, UBUNTU_TOOLS)
    triples = [j.triple for j in plan.jobs if j.triple not in elsewhere]
    setup = plan_setup(plan_for(example_pyproject, *triples), UBUNTU_TOOLS, UBUNTU)
    commands = [s.command.argv for s in setup.steps]
    assert len(commands) == len(set(commands))
    installs = [c for c in commands if c[:len(APT_INSTALL)] == APT_INSTALL]  # fmt: skip
    assert len(installs) == 1
    assert installs[0][len(APT_INSTALL) :] == tuple(sorted(installs[0][len(APT_INSTALL) :]))
    added = {c[-1] for c in commands if c[1:3] == ("target", "add")}
    assert added == set(triples) - {"x86_64-unknown-linux-gnu", "s390x-unknown-linux-musl"}
    assert setup.manual == ()


def test_root_on_debian_uses_no_sudo_and_this_machine_needs_nothing(
    example_pyproject: Path,
) -> None:
    """As root apt-get runs directly; with everything installed there is nothing to do."""
    bare = dataclasses.replace(EVERYTHING, qemu={})
    assert argvs(example_pyproject, bare, DEBIAN_ROOT, "riscv64gc-unknown-linux-musl") == [
        (*APT[2:], "update", "-q"),
        (*APT[2:], "install", "-y", "-q", "--no-install-recommends", "qemu-user-static"),
    ]
    here = dataclasses.replace(
        EVERYTHING,
        sysroots={
            g: f"/usr/{g}"
            for g in ("aarch64-linux-gnu", "powerpc64le-linux-gnu", "powerpc64-linux-gnu")
        },
    )
    triples = [j.triple for j in build_plan(load(example_pyproject)).jobs]
    assert argvs(example_pyproject, here, DEBIAN_ROOT, *triples) == []


def runner_on(host: str) -> HostTools:
    """Return a GitHub runner of another OS: rustup's stable with its host's std only."""
    return dataclasses.replace(
        UBUNTU_TOOLS,
        host_triple=host,
        default=dataclasses.replace(
            RUNNER_TOOLCHAIN, std_targets=frozenset({host}), rustup=f"stable-{host}"
        ),
    )


def test_macos_and_windows_runners_only_add_rustup_targets(example_pyproject: Path) -> None:
    """The arm64 Mac adds x86_64's std; x64 Windows adds i686's and aarch64's; no apt."""
    mac = runner_on("aarch64-apple-darwin")
    assert argvs(example_pyproject, mac, MACOS, "aarch64-apple-darwin", "x86_64-apple-darwin") == [
        (
            RUSTUP,
            "target",
            "add",
            "--toolchain",
            "stable-aarch64-apple-darwin",
            "x86_64-apple-darwin",
        )
    ]
    windows = runner_on("x86_64-pc-windows-msvc")
    triples = ("x86_64-pc-windows-msvc", "i686-pc-windows-msvc", "aarch64-pc-windows-msvc")
    assert argvs(example_pyproject, windows, WINDOWS, *triples) == [
        (RUSTUP, "target", "add", "--toolchain", "stable-x86_64-pc-windows-msvc", t)
        for t in triples[1:]
    ]


def test_without_apt_get_nothing_is_installed_and_the_error_names_what(
    example_pyproject: Path,
) -> None:
    """On a Linux without apt-get setup names the packages' tools and runs no command at all."""
    setup = plan_setup(
        plan_for(example_pyproject, "aarch64-unknown-linux-gnu"), UBUNTU_TOOLS, FEDORA
    )
    assert {m.what for m in setup.manual} == {
        "qemu-aarch64-static", "the aarch64-linux-gnu glibc sysroot",
    }  # fmt: skip
    ran: list[str] = []
    runner = Runner(base_env={"PATH": ""}, echo=ran.append)
    with pytest.raises(ToolMissingError, match="qemu-aarch64-static") as error:
        run_setup(setup, runner)
    assert ran == []  # not even the rustup download
    assert "linux machine" in error.value.message


def test_a_user_without_sudo_is_told_to_install_as_root(example_pyproject: Path) -> None:
    """Not root and no sudo: nothing is run, and the packages are named for root to install."""
    setup = plan_setup(
        plan_for(example_pyproject, "aarch64-unknown-linux-gnu"), UBUNTU_TOOLS, DEBIAN_USER
    )
    assert not any(s.command.argv[0] == "apt-get" for s in setup.steps)
    assert {m.install for m in setup.manual} == {
        "as root: apt-get install qemu-user-static",
        "as root: apt-get install libc6-arm64-cross",
    }


def test_a_target_allowed_to_skip_its_smoke_run_gets_no_emulator(example_pyproject: Path) -> None:
    """no-smoke-run = "why": qemu is neither installed nor asked for; the std still is."""
    plan = plan_for(example_pyproject, "riscv64gc-unknown-linux-musl")
    excused = dataclasses.replace(
        plan, jobs=(dataclasses.replace(plan.jobs[0], no_smoke_run="no emulator on the runner"),)
    )
    assert [s.command.argv for s in plan_setup(plan, UBUNTU_TOOLS, UBUNTU).steps][1] == (
        *APT_INSTALL, "qemu-user-static",
    )  # fmt: skip
    assert [s.command.argv for s in plan_setup(excused, UBUNTU_TOOLS, UBUNTU).steps] == [
        (RUSTUP, "target", "add", "--toolchain", STABLE, "riscv64gc-unknown-linux-musl"),
    ]
    assert plan_setup(excused, UBUNTU_TOOLS, FEDORA).manual == ()


def test_the_refusal_carries_the_whole_plan_for_json(example_pyproject: Path) -> None:
    """`castoff setup --dry-run --json` prints one document: the error's, with the plan in it."""
    from castoff.build.setup import refuse_manual  # noqa: PLC0415

    setup = plan_setup(
        plan_for(example_pyproject, "aarch64-unknown-linux-gnu"), UBUNTU_TOOLS, FEDORA
    )
    with pytest.raises(ToolMissingError) as error:
        refuse_manual(setup)
    assert error.value.details == {**setup.to_json(), "ran": False}
    assert error.value.details["manual"]


def test_unnamed_msvc_targets_are_left_to_windows_runners_named_ones_refused(
    example_pyproject: Path,
) -> None:
    """Setup on Ubuntu skips the example's MSVC targets (elsewhere) unless they are named."""
    plan = build_plan(load(example_pyproject))
    elsewhere = built_elsewhere(plan, UBUNTU_TOOLS)
    setup = plan_setup(plan, UBUNTU_TOOLS, UBUNTU, elsewhere=elsewhere)
    assert setup.manual == ()
    assert setup.elsewhere == (
        ("i686-pc-windows-msvc", "windows-latest"),
        ("aarch64-pc-windows-msvc", "windows-11-arm"),
    )
    assert setup.to_json()["elsewhere"][0] == {
        "target": "i686-pc-windows-msvc",
        "runner": "windows-latest",
    }
    named = plan_setup(build_plan(load(example_pyproject), only=("i686-pc-windows-msvc",)),
                       UBUNTU_TOOLS, UBUNTU)  # fmt: skip
    assert [(m.what, m.install) for m in named.manual] == [
        ("a windows machine", "run this job on a windows runner (runner = 'windows-latest')")
    ]
    with pytest.raises(ToolMissingError, match="castoff setup cannot install a windows machine"):
        refuse_manual(named)


def test_msvc_targets_on_simulated_windows_runners_run_these_exact_commands(
    tmp_path: Path, example_pyproject: Path
) -> None:
    """MSVC jobs, on stand-ins for windows-latest and windows-11-arm: setup, then maturin.

    MSVC cannot be built here (Microsoft's CRT and SDK): the plan sends each to a Windows
    runner. The stand-in (rustup's stable with its host std, no apt-get) checks the commands
    the job runs there.
    """
    from castoff.build import methods  # noqa: PLC0415
    from castoff.build.maturin import BuildPaths, maturin_command  # noqa: PLC0415
    from castoff.build.toolchains import choose  # noqa: PLC0415

    text = example_pyproject.read_text()
    triples = ("x86_64-pc-windows-msvc", "i686-pc-windows-msvc", "aarch64-pc-windows-msvc")
    # x86_64 Windows is this config's MSVC build (the example builds it with mingw instead).
    text = text.replace('triple = "x86_64-pc-windows-gnu"', f'triple = "{triples[0]}"')
    (tmp_path / "pyproject.toml").write_text(text)
    for name in ("Cargo.toml", "README.md"):
        (tmp_path / name).write_text((example_pyproject.parent / name).read_text())
    plan = build_plan(load(tmp_path / "pyproject.toml"))
    matrix = {e["target"]: e for e in plan.github_matrix()["include"]}
    assert {t: matrix[t]["runs-on"] for t in triples} == {
        "x86_64-pc-windows-msvc": "windows-latest",
        "i686-pc-windows-msvc": "windows-latest",
        "aarch64-pc-windows-msvc": "windows-11-arm",
    }
    for triple in triples:
        job = plan.job(triple)
        host = "aarch64-pc-windows-msvc" if job.runner == "windows-11-arm" else triples[0]
        windows = runner_on(host)
        method = methods.resolved(job.method, job.target, job.runner)
        assert method is not None
        assert method.name == "native"
        # setup: rustup adds the target's std where the runner's host is another triple.
        steps = [
            s.command.argv
            for s in plan_setup(plan_for(example_pyproject, triple), windows, WINDOWS).steps
        ]
        stable = f"stable-{host}"
        assert steps == (
            [] if triple == host else [(RUSTUP, "target", "add", "--toolchain", stable, triple)]
        )
        # After setup the runner has the std; maturin then builds with MSVC's own linker.
        assert windows.default is not None
        after = dataclasses.replace(
            windows,
            default=dataclasses.replace(windows.default, std_targets=frozenset({host, triple})),
        )
        choice = choose(job, after)
        assert choice.buildable, choice.missing
        paths = BuildPaths(
            project_dir=Path("D:/a/hello"),
            wheel_dir=Path("D:/out/.wheel"),
            cargo_target_dir=Path("D:/cache/t"),
        )
        command = maturin_command(job, choice, after, paths)
        assert command.argv == (
            after.maturin, "build", "--release", "--locked", "--target", triple,
            "--out", str(paths.wheel_dir),
        )  # fmt: skip
        assert "--zig" not in command.argv
        assert command.env["RUSTUP_TOOLCHAIN"] == stable
        # The project's own .cargo/config.toml rustflags (uv's +crt-static) stay in force.
        assert "RUSTFLAGS" not in command.env
    # The example's: MSVC programs need no VCRUNTIME140.dll (which the audit refuses).
    cargo = tomllib.loads((example_pyproject.parent / ".cargo" / "config.toml").read_text())
    msvc = cargo["target"]['cfg(all(target_os = "windows", target_env = "msvc"))']
    assert msvc["rustflags"] == ["-C", "target-feature=+crt-static"]
