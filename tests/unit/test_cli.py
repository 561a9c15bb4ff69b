from __future__ import annotations

import json
from pathlib import Path

import pytest

from castoff.cli import main
from castoff.errors import EXIT_CODES
from tests.conftest import EXAMPLE, GOLDEN_PLAN


def test_plan_json_is_the_golden_plan(
    example_pyproject: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`castoff plan --json` prints exactly the golden plan."""
    assert main(["plan", "--config", str(example_pyproject), "--json"], env={}) == 0
    assert capsys.readouterr().out == GOLDEN_PLAN.read_text()


def test_github_matrix_is_one_compact_line(
    example_pyproject: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The matrix format is one line of JSON, ready for $GITHUB_OUTPUT."""
    assert (
        main(["plan", "--config", str(example_pyproject), "--format", "github-matrix"], env={}) == 0
    )
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert json.loads(out)["include"][0]["target"] == "x86_64-unknown-linux-gnu"


def test_table_shows_refusals_and_aliases(
    example_pyproject: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table for people shows PyPI's refusal of loongarch64 and the alias archives."""
    assert main(["plan", "--config", str(example_pyproject)], env={}) == 0
    out = capsys.readouterr().out
    assert "PyPI refuses platform tag" in out
    assert "hello-s390x-unknown-linux-gnu.tar.gz" in out
    assert "GitHub release: 67 files and 88 signatures. PyPI: 17 wheels and the sdist." in out


def test_config_from_environment_and_command_line_wins(
    example_pyproject: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CASTOFF_CONFIG is used when --config is absent; --config wins over it."""
    env = {"CASTOFF_CONFIG": str(example_pyproject)}
    assert main(["plan", "--json"], env=env) == 0
    assert json.loads(capsys.readouterr().out)["project"]["name"] == "castoff-hello"
    assert main(["plan", "--json", "--config", str(tmp_path / "pyproject.toml")], env=env) == 3


def test_targets_from_environment_and_command_line_wins(
    example_pyproject: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CASTOFF_TARGETS selects targets; --target replaces that selection."""
    env = {"CASTOFF_TARGETS": "x86_64-unknown-linux-musl, aarch64-unknown-linux-musl"}
    assert main(["plan", "--config", str(example_pyproject), "--json"], env=env) == 0
    jobs = [j["target"] for j in json.loads(capsys.readouterr().out)["jobs"]]
    assert jobs == ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]
    argv = [
        "plan",
        "--config",
        str(example_pyproject),
        "--json",
        "--target",
        "riscv64gc-unknown-linux-musl",
    ]
    assert main(argv, env=env) == 0
    assert [j["target"] for j in json.loads(capsys.readouterr().out)["jobs"]] == [
        "riscv64gc-unknown-linux-musl"
    ]


def test_errors_are_one_paragraph_with_a_distinct_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config error prints one paragraph naming the file and the fix, exits 3, no traceback."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[project]\nname = 'x'\n")
    assert main(["plan", "--config", str(pyproject)], env={}) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    err = " ".join(captured.err.split())
    assert err.startswith(f"castoff: error: {pyproject}: has no [tool.castoff] table. Add one")
    assert "Traceback" not in captured.err


def test_json_errors_are_machine_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --json an error is also printed as a JSON object on stdout."""
    assert main(["plan", "--config", str(tmp_path / "nope.toml"), "--json"], env={}) == 3
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["kind"] == "ConfigError"
    assert error["exit_code"] == 3
    assert "nope.toml: no such file." in error["message"]


def test_debug_adds_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--debug prints the traceback behind an error."""
    assert main(["--debug", "plan", "--config", str(tmp_path / "nope.toml")], env={}) == 3
    assert "Traceback" in capsys.readouterr().err


def test_unknown_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Selecting a target the project does not build exits 2 and names the option."""
    argv = [
        "plan",
        "--config",
        str(EXAMPLE / "pyproject.toml"),
        "--target",
        "mips-unknown-linux-gnu",
    ]
    assert main(argv, env={}) == 2
    assert "--target: 'mips-unknown-linux-gnu' is not a target" in " ".join(
        capsys.readouterr().err.split()
    )


def test_a_bad_source_date_epoch_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """SOURCE_DATE_EPOCH must be seconds since 1970; anything else exits 2 naming it."""
    argv = ["plan", "--config", str(EXAMPLE / "pyproject.toml")]
    assert main(argv, env={"SOURCE_DATE_EPOCH": "yesterday"}) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "SOURCE_DATE_EPOCH: 'yesterday' is not a whole number of seconds since 1970." in err


def test_exit_codes_are_distinct() -> None:
    """Every error class has its own exit code."""
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)


def test_a_build_log_gets_each_targets_outcome_without_a_live_display(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where stderr is no terminal (CI's log), only outcomes print, and rich.progress stays out."""
    import sys  # noqa: PLC0415

    from castoff import render  # noqa: PLC0415

    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "rich.progress", raising=False)
    with render.build_progress(["aarch64-unknown-linux-musl", "x86_64-pc-windows-gnu"]) as report:
        report("aarch64-unknown-linux-musl", "compiling")
        report("aarch64-unknown-linux-musl", "built")
        report("x86_64-pc-windows-gnu", "failed")
    assert capsys.readouterr().err.splitlines() == [
        "aarch64-unknown-linux-musl: built",
        "x86_64-pc-windows-gnu: failed",
    ]
    assert "rich.progress" not in sys.modules


@pytest.mark.parametrize("command", ["build", "doctor", "setup", "rehearse"])
def test_a_bad_config_is_refused_before_any_tool_is_asked(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The machine's tools are probed in the background only once the config is planned."""
    from castoff.build import toolchains  # noqa: PLC0415

    started: list[object] = []
    monkeypatch.setattr(toolchains, "Probe", lambda *a: started.append(a))
    (tmp_path / "pyproject.toml").write_text('[tool.castoff]\ntargets = "all of them"\n')
    config = str(tmp_path / "pyproject.toml")
    assert main([command, "--config", config], env={"PATH": ""}) == 3
    assert started == []
