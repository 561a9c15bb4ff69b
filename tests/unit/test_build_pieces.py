"""Archives, checksums, smoke verdicts, cache keys, manifests and the runner, without processes."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import signal
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import NoReturn

import pytest

from castoff.build import archive
from castoff.build.archive import write_archive, write_sidecar
from castoff.build.builder import (
    _smoke,
    _unrun_allowed,
    cache_key,
    stable_maturin,
)
from castoff.build.record import JobLog, source_tree_sha256
from castoff.build.smoke import judge, smoke_command
from castoff.build.toolchains import Choice, SmokePlan
from castoff.config import load
from castoff.errors import BuildError, PlanError, ToolMissingError
from castoff.manifest import BuiltArtifact, CommandRecord, PartialManifest, SmokeRecord
from castoff.plan import build_plan
from castoff.runner import Command, CommandFailedError, Result, Runner, redact
from castoff.targets import TARGETS
from tests.unit.test_toolchains import EVERYTHING

BINARIES = [("hello", b"\x7fELF fake binary"), ("hellox", b"second")]


@pytest.mark.parametrize("suffix", ["tar.gz", "zip"])
def test_archives_are_byte_identical_for_identical_input(tmp_path: Path, suffix: str) -> None:
    """Two archives of the same binaries have the same bytes, whatever order they come in."""
    first, second = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
    write_archive(
        first, folder="hello-x86_64-unknown-linux-musl", binaries=BINARIES, mtime=1700000000
    )
    write_archive(
        second, folder="hello-x86_64-unknown-linux-musl", binaries=BINARIES[::-1], mtime=1700000000
    )
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("cores", [1, 2, 8])
def test_a_large_archive_is_one_gzip_member_whatever_the_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int
) -> None:
    """Deflated in pieces: one member (as flate2's GzDecoder reads), the same bytes on any cores."""
    # 300 KiB that compresses, with references that reach back across pieces.
    program = b"".join(i.to_bytes(4, "little") * 3 + b"castoff" for i in range(20_000))
    made = []
    for count in (1, cores):
        monkeypatch.setattr(archive, "usable_cores", lambda count=count: count)
        path = tmp_path / f"{count}.tar.gz"
        write_archive(path, folder="p", binaries=[("program", program)], mtime=1700000000)
        made.append(path.read_bytes())
    assert made[0] == made[1]
    # A single-member reader (wbits 31: gzip, no concatenated members) reads all of it.
    member = zlib.decompressobj(wbits=31)
    tar = member.decompress(made[1])
    assert member.eof
    assert member.unused_data == b""
    with tarfile.open(fileobj=io.BytesIO(tar)) as unpacked:
        extracted = unpacked.extractfile("p/program")
        assert extracted is not None
        assert extracted.read() == program


def test_tar_members_have_fixed_owners_modes_and_times(tmp_path: Path) -> None:
    """Entries sit in the triple-named folder, executable, root-owned, at SOURCE_DATE_EPOCH."""
    path = tmp_path / "hello-s390x-unknown-linux-musl.tar.gz"
    write_archive(
        path, folder="hello-s390x-unknown-linux-musl", binaries=BINARIES, mtime=1700000000
    )
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [
            "hello-s390x-unknown-linux-musl",
            "hello-s390x-unknown-linux-musl/hello",
            "hello-s390x-unknown-linux-musl/hellox",
        ]
        assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {
            (0, 0, "", "", 1700000000)
        }
        assert all(m.mode == 0o755 for m in members)
        extracted = tar.extractfile("hello-s390x-unknown-linux-musl/hello")
        assert extracted is not None
        assert extracted.read() == BINARIES[0][1]
    with gzip.open(path) as gz:
        gz.read()
    assert int.from_bytes(path.read_bytes()[4:8], "little") == 1700000000  # gzip header mtime


def test_zip_members_are_executable(tmp_path: Path) -> None:
    """Windows zips keep the folder and a unix mode, so unzip on Linux keeps the x bit."""
    path = tmp_path / "hello-x86_64-pc-windows-msvc.zip"
    write_archive(
        path, folder="hello-x86_64-pc-windows-msvc", binaries=[("hello.exe", b"MZ")], mtime=0
    )
    with zipfile.ZipFile(path) as archive:
        (info,) = archive.infolist()
        assert info.filename == "hello-x86_64-pc-windows-msvc/hello.exe"
        assert info.external_attr >> 16 == 0o100755
        assert info.date_time == (1980, 1, 1, 0, 0, 0)


def test_sidecar_is_in_sha256sum_format(tmp_path: Path) -> None:
    """The .sha256 file is `<hex>  <name>` as sha256sum writes it."""
    path = tmp_path / "hello-x.tar.gz"
    path.write_bytes(b"archive")
    sidecar = write_sidecar(path)
    assert sidecar.name == "hello-x.tar.gz.sha256"
    assert sidecar.read_text() == f"{hashlib.sha256(b'archive').hexdigest()}  hello-x.tar.gz\n"


LOONG = TARGETS["loongarch64-unknown-linux-musl"]
QEMU = SmokePlan(runner="qemu-loongarch64-static", ld_prefix=None, missing=(), reason="")


@pytest.mark.parametrize(
    ("returncode", "output", "status", "reason"),
    [
        (
            0,
            "hello 0.1.0 (loongarch64-unknown-linux-musl)",
            "passed",
            "printed its version and target",
        ),
        (0, "hello 0.1.0", "passed", "printed its version"),
        (0, "hello 0.0.9", "failed", "does not name version 0.1.0"),
        (1, "boom", "failed", "exited with 1"),
        (-signal.SIGILL, "", "not-run", "QEMU 7.2 lacks LoongArch LSX"),
        (128 + signal.SIGILL, "", "not-run", "SIGILL"),
    ],
)
def test_smoke_verdicts(returncode: int, output: str, status: str, reason: str) -> None:
    """A smoke-run passes on exit 0 naming the version; LoongArch SIGILL under QEMU is not-run."""
    verdict = judge(
        binary="hello",
        target=LOONG,
        plan=QEMU,
        returncode=returncode,
        output=output,
        version="0.1.0",
    )
    assert verdict.status == status
    assert reason in verdict.reason


def test_smoke_command_uses_qemu_and_the_sysroot() -> None:
    """Under qemu, a glibc binary runs with QEMU_LD_PREFIX at the cross sysroot."""
    plan = SmokePlan(
        runner="qemu-aarch64-static", ld_prefix="/usr/aarch64-linux-gnu", missing=(), reason=""
    )
    command = smoke_command(Path("/work/hello"), plan)
    assert command == Command(
        argv=("qemu-aarch64-static", "/work/hello", "--version"),
        env={"QEMU_LD_PREFIX": "/usr/aarch64-linux-gnu"},
    )
    assert smoke_command(Path("/work/hello"), dataclasses.replace(plan, runner=None)) is None


def test_source_hash_changes_with_sources_not_with_outputs(tmp_path: Path) -> None:
    """Editing a source changes the tree hash; build outputs and hidden folders do not."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text("fn main() {}")
    before = source_tree_sha256(tmp_path)
    for output in ("target", "build", ".git"):
        (tmp_path / output).mkdir()
        (tmp_path / output / "x").write_text("noise")
    assert source_tree_sha256(tmp_path) == before
    (tmp_path / "src" / "main.rs").write_text("fn main() { println!() }")
    assert source_tree_sha256(tmp_path) != before
    # But the project's cargo config counts: it says where the dependencies come from.
    before = source_tree_sha256(tmp_path)
    (tmp_path / ".cargo").mkdir()
    (tmp_path / ".cargo" / "config.toml").write_text("[net]\noffline = true\n")
    assert source_tree_sha256(tmp_path) != before


def test_cache_key_depends_on_every_input(example_pyproject: Path) -> None:
    """The cache key changes when the source, toolchain, method or epoch change."""
    config = load(example_pyproject)
    job = build_plan(config).jobs[0]
    chosen = Choice(method="zig", std="toolchain", linker=None, missing=(), reason="")
    base = {
        "job": job,
        "plan": build_plan(config),
        "choice": chosen,
        "toolchain": {"rustc": "1.95"},
        "tree": "a",
        "epoch": 0,
    }
    key = cache_key(**base)  # type: ignore[arg-type]
    assert key == cache_key(**base)  # type: ignore[arg-type]
    for change in (
        {"tree": "b"},
        {"toolchain": {"rustc": "1.96"}},
        {"choice": dataclasses.replace(chosen, std="sysroot")},
        {"epoch": 1},
        {"environment": {"RUSTFLAGS": "-C target-cpu=native"}},
        {"job": dataclasses.replace(job, manylinux="2_28")},
    ):
        assert cache_key(**{**base, **change}) != key  # type: ignore[arg-type]


def test_partial_manifest_round_trips(tmp_path: Path) -> None:
    """A partial manifest read back equals what was written; other schemas are refused."""
    manifest = PartialManifest(
        schema_version=1,
        name="castoff-hello",
        version="0.1.0",
        target="s390x-unknown-linux-musl",
        method="zig",
        std="sysroot",
        cache_key="k",
        source_commit=None,
        source_tree_sha256="t",
        image=None,
        toolchain={"rustc": "1.96", "zig": None},
        commands=(
            CommandRecord(argv=("maturin", "build"), env={"A": "1"}, cwd="/src", seconds=1.5),
        ),
        seconds=2.0,
        artifacts=(
            BuiltArtifact(
                name="w.whl",
                kind="wheel",
                sha256="00" * 32,
                size=1,
                platform_tags=("musllinux_1_2_s390x",),
            ),
        ),
        smoke=(
            SmokeRecord(
                binary="hello",
                status="passed",
                runner="qemu-s390x-static",
                output="hello 0.1.0",
                reason="ok",
            ),
        ),
    )
    assert PartialManifest.read(manifest.write(tmp_path)) == manifest
    (tmp_path / "manifest.json").write_text('{"schema_version": 7}')
    with pytest.raises(PlanError, match="schema_version 7"):
        PartialManifest.read(tmp_path / "manifest.json")


def test_runner_redacts_secrets_in_what_it_shows() -> None:
    """Secrets are replaced in displayed commands, environment included."""
    command = Command(argv=("twine", "upload", "--password", "s3cret!"), env={"TOKEN": "s3cret!"})
    assert command.display(["s3cret!"]) == "TOKEN='***' twine upload --password '***'"
    assert redact("a s3cret! b", ["s3cret!", ""]) == "a *** b"


def test_dry_run_echoes_and_starts_nothing() -> None:
    """In dry-run the runner prints `+ cmd` and never starts a process (the guard would fail it)."""
    lines: list[str] = []
    runner = Runner(base_env={}, echo=lines.append, dry_run=True, secrets=["pw"])
    result = runner.run(Command(argv=("maturin", "build", "--password=pw")))
    assert result.returncode == 0
    assert lines == ["+ maturin build --password=***"]


def test_missing_tool_says_how_to_install_it() -> None:
    """A command whose program is not on PATH raises ToolMissingError with its install hint."""
    runner = Runner(base_env={"PATH": "/nonexistent"}, echo=lambda _: None)
    with pytest.raises(ToolMissingError) as caught:
        runner.run(
            Command(
                argv=("qemu-s390x-static", "x"), install_hint="apt-get install -y qemu-user-static"
            )
        )
    assert caught.value.exit_code == 5
    assert caught.value.paragraph() == (
        "'qemu-s390x-static' is not installed (not found on PATH). "
        "Install it: apt-get install -y qemu-user-static"
    )


def test_a_program_the_system_will_not_run_is_a_failed_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exec's OSError (a foreign CPU, a held file) fails the command; castoff does not crash."""
    program = tmp_path / "tool"
    program.write_bytes(b"\0")
    program.chmod(0o755)

    def refuse(*_args: object, **_kwargs: object) -> NoReturn:
        raise OSError(8, "Exec format error")

    monkeypatch.setattr("subprocess.run", refuse)
    runner = Runner(base_env={"PATH": str(tmp_path)}, echo=lambda _: None)
    result = runner.run(Command(argv=("tool", "--version")), check=False)
    assert result.returncode == 126
    assert "Exec format error" in result.stderr
    with pytest.raises(CommandFailedError):
        runner.run(Command(argv=("tool", "--version")))


class CannedRunner(Runner):
    """Answers each command with the next canned exit code: a stand-in for qemu-user itself."""

    def __init__(self, codes: list[int]) -> None:
        super().__init__(base_env={}, echo=lambda _: None)
        self.codes = codes
        self.calls = 0

    def run(self, command: Command, **_: object) -> Result:
        """Return the next canned result without starting anything."""
        code = self.codes[min(self.calls, len(self.codes) - 1)]
        self.calls += 1
        out = (
            "hello 0.1.0 (loongarch64-unknown-linux-musl)"
            if code == 0
            else "memory allocation failed"
        )
        return Result(command=command, returncode=code, stdout=out, stderr="", seconds=0.0)


@pytest.mark.parametrize(
    ("triple", "codes", "status", "calls", "reason"),
    [
        (
            "loongarch64-unknown-linux-musl",
            [-6, 0],
            "passed",
            2,
            "on attempt 2 after qemu-loongarch64-static failed: exited with -6",
        ),
        ("loongarch64-unknown-linux-musl", [-6], "failed", 3, "exited with -6"),
        ("x86_64-unknown-linux-musl", [1, 0], "failed", 1, "exited with 1"),
    ],
)
def test_smoke_retries_only_under_qemu_and_says_so(
    tmp_path: Path,
    example_pyproject: Path,
    triple: str,
    codes: list[int],
    status: str,
    calls: int,
    reason: str,
) -> None:
    """An emulated run gets three tries and the record says which passed; a native run gets one."""
    config = load(example_pyproject)
    job = build_plan(config).job(triple)
    tools = dataclasses.replace(
        EVERYTHING, qemu={"qemu-loongarch64-static": "/usr/bin/qemu-loongarch64-static"}
    )
    runner = CannedRunner(codes)
    log = JobLog(tmp_path / "build.log")
    (record,) = _smoke([("hello", b"\x7fELF")], job, config.version, tools, runner, log, tmp_path)
    log.close()
    assert (record.status, runner.calls) == (status, calls)
    assert reason in record.reason


def test_maturin_runs_from_one_copy_per_version(tmp_path: Path) -> None:
    """Two venvs' maturin of one version map to one cached path: a stable linker for cargo."""
    first, second = tmp_path / "venv1" / "maturin", tmp_path / "venv2" / "maturin"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(b"maturin 1.16.0 binary")
    cache = tmp_path / "cache"
    one = stable_maturin(dataclasses.replace(EVERYTHING, maturin=str(first)), cache)
    two = stable_maturin(dataclasses.replace(EVERYTHING, maturin=str(second)), cache)
    assert one.maturin == two.maturin == str(cache / "tools" / "maturin-1.16.0" / "maturin")
    assert Path(str(one.maturin)).read_bytes() == b"maturin 1.16.0 binary"
    unversioned = dataclasses.replace(EVERYTHING, maturin=str(first), maturin_version=None)
    assert stable_maturin(unversioned, cache).maturin == str(first)


def test_binaries_nobody_ran_fail_the_build_unless_the_config_says_why(
    example_pyproject: Path,
) -> None:
    """A not-run smoke record is an error, naming what to install, or the config's reason."""
    job = build_plan(load(example_pyproject)).job("riscv64gc-unknown-linux-musl")
    unrun = SmokeRecord(binary="hello", status="not-run", runner=None, output="", reason="no qemu")
    no_qemu = dataclasses.replace(EVERYTHING, qemu={})
    with pytest.raises(BuildError, match="castoff ships no binary nobody ran") as caught:
        _unrun_allowed(job, (unrun,), no_qemu)
    assert "qemu-user-static" in caught.value.paragraph()
    assert "no-smoke-run" in caught.value.paragraph()
    allowed = dataclasses.replace(job, no_smoke_run="built on a runner without qemu")
    (record,) = _unrun_allowed(allowed, (unrun,), no_qemu)
    assert record.status == "not-run"
    assert record.reason.endswith("allowed by the config: built on a runner without qemu")
