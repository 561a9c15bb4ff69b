"""castoff's benchmarks: each a ratio against a reference tool timed in the same run, beside its goal.

- publish: the example release (examples/hello, built and signed here) uploaded to a local
  pypiserver by `castoff publish` (preflight, the journal, twine in process, reading everything
  back) versus one plain `twine upload` of the same files to a second, empty pypiserver.
- retag: 20 wheels, each holding a 40 MB binary, given one more platform tag by one
  `castoff retag` (every wheel audited, members copied as byte ranges) versus one `wheel tags`
  (which recompresses), and versus `cp` of the same files.
- assemble: a uv-sized release (20 targets, about 700 MB of wheels and archives) by
  `castoff assemble` versus `sha256sum` over the same input files, the least any tool that
  verifies a release must do.
- sign: that release signed with minisign and ssh and every signature verified, by `castoff sign`
  versus the same tools run by hand.
- build: one target of the example rebuilt after a source change (std present) by `castoff
  build` versus the same `maturin build` command run by hand; and a re-run of every target with
  nothing changed.
- cold: `./ci/nox -s rehearse` of the example from a fresh clone on a fresh GitHub ubuntu-latest
  runner, simulated (tests/runner_shape.py: a home with rustup and the host's std only, empty
  caches, rustup's downloads served by a local stand-in for static.rust-lang.org), after the
  setup every build job of the workflow runs (`./ci/nox -s setup`, here for every target). Its
  goal is in seconds. It needs root (mount namespaces), rustup, PyPI, and takes 8 minutes.

The stand-in binaries are half random bytes, half repetitive text, so they compress about as
real binaries do, behind their target's executable header (ELF, Mach-O or PE).
Run: nox -s bench [-- --json] [-- --only retag --only publish ...].
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from castoff.build.archive import sha256_file, write_archive, write_sidecar

# The tests' wheel writer serves here too; the benchmark runs from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.wheels import make_wheel, program_for

from castoff.manifest import BuiltArtifact, PartialManifest
from castoff.plan import archive_filename, wheel_filename

# Twenty Linux triples, as a uv-sized release has (uv ships 18 targets).
TRIPLES = [
    "x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl", "i686-unknown-linux-gnu",
    "i686-unknown-linux-musl", "aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl",
    "armv7-unknown-linux-gnueabihf", "armv7-unknown-linux-musleabihf",
    "aarch64-apple-darwin", "arm-unknown-linux-musleabihf",
    "powerpc64le-unknown-linux-gnu", "powerpc64le-unknown-linux-musl",
    "powerpc64-unknown-linux-gnu", "s390x-unknown-linux-gnu", "s390x-unknown-linux-musl",
    "riscv64gc-unknown-linux-gnu", "riscv64gc-unknown-linux-musl",
    "loongarch64-unknown-linux-gnu", "loongarch64-unknown-linux-musl",
    "x86_64-pc-windows-gnu",
]  # fmt: skip


def binary(size: int) -> bytes:
    """Return a stand-in binary: half incompressible, half very compressible."""
    half = size // 2
    return os.urandom(half) + (b"castoff benchmark text " * (half // 23 + 1))[: size - half]


def timed(action: Callable[[], object]) -> float:
    """Return how many seconds an action took."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(*argv: str, env: dict[str, str] | None = None, cwd: str | None = None) -> str:
    """Run a command, failing loudly; return its stdout."""
    try:
        done = subprocess.run(argv, check=True, capture_output=True, text=True, env=env, cwd=cwd)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"bench: {argv[0]} failed ({exc.returncode}):\n{exc.stderr[-3000:]}"
        ) from None
    return done.stdout


@dataclass(frozen=True)
class Row:
    """One benchmark: castoff's time, the reference's, and the goal for their ratio."""

    name: str
    what: str
    castoff: float
    reference: str
    reference_seconds: float | None  # None: the goal is castoff's time itself, in seconds
    goal: float | None  # the most the ratio (or the seconds) may be; None: no goal, shown only

    @property
    def ratio(self) -> float:
        """Return castoff's time over the reference's (or castoff's seconds)."""
        return self.castoff / self.reference_seconds if self.reference_seconds else self.castoff

    @property
    def met(self) -> bool | None:
        """Return whether the goal is met (None: no goal)."""
        return None if self.goal is None else self.ratio <= self.goal


CASTOFF = shutil.which("castoff") or "castoff"
ROUNDS = 5  # timings taken several times (the median): a lone one of a second is noise
# Whole commands of a few seconds (publish, a build) vary by 10-20% from one run to the next on a
# shared 2-core machine, and their ratios' goals are 5-30% apart: more rounds for their medians.
COMMAND_ROUNDS = 9


def elf_with_sections_at_the_end(payload: bytes) -> bytes:
    """Return a static x86_64 ELF whose section header table follows the payload, as a linker puts it.

    Its audit must read the end of the file, so a retag inflates all of it (hashing none).
    """
    import struct  # noqa: PLC0415

    header = bytearray(program_for("x86_64-unknown-linux-musl"))
    table = bytes(64)  # one section header: the null section every ELF starts its table with
    shoff = len(header) + len(payload)
    struct.pack_into("<Q", header, 0x28, shoff)  # e_shoff
    struct.pack_into("<HHH", header, 0x3A, 64, 1, 0)  # e_shentsize, e_shnum, e_shstrndx
    return bytes(header) + payload + table


def copy_each(files: list[Path]) -> None:
    """Copy each file beside itself with one cp each."""
    for file in files:
        run("cp", str(file), str(file.parent / "copy.whl"))


def bench_retag(root: Path, wheels: int, size: int) -> list[Row]:
    """Time one castoff retag of every wheel against one wheel tags, and against cp.

    Twice: programs whose headers are all at the front (the audit reads a few kilobytes), and
    programs whose section headers are at the end (the whole program is inflated).
    """
    payload = binary(size)
    tag = "manylinux_2_17_x86_64"
    name = "bench-1.0-py3-none-musllinux_1_2_x86_64.whl"
    rows = []
    for layout, program in (
        ("headers at the front", program_for("x86_64-unknown-linux-musl", payload)),
        ("section headers at the end", elf_with_sections_at_the_end(payload)),
    ):
        here = root / layout.replace(" ", "-")
        here.mkdir()
        template = make_wheel(here, ["musllinux_1_2_x86_64"], program, name="bench", script="bench")
        folders: dict[str, list[Path]] = {}
        for tool in ("castoff", "wheel", "cp"):
            folders[tool] = []
            for i in range(wheels):
                folder = here / tool / str(i)
                folder.mkdir(parents=True)
                shutil.copyfile(template, folder / name)
                folders[tool].append(folder / name)
        retag = [CASTOFF, "retag", *map(str, folders["castoff"]), "--add-platform", tag]
        castoff = timed(partial(run, *retag))
        tags = [sys.executable, "-m", "wheel", "tags", "--platform-tag", f"+{tag}"]
        wheel = timed(partial(run, *tags, *map(str, folders["wheel"])))
        # One cp per wheel: a copy under the new name, the least a retag must write.
        copy = timed(partial(copy_each, folders["cp"]))
        for tool in ("castoff", "wheel"):
            made = sorted(p.name for p in folders[tool][0].parent.glob("*.whl"))
            assert len(made) == 2, made
        what = f"{wheels} wheels x {size >> 20} MB, one tag added; programs with {layout}"
        rows += [
            Row("retag", what, castoff, "wheel tags", wheel, 0.1),
            Row("retag vs cp", what, castoff, "cp", copy, 3.0),
        ]
        shutil.rmtree(here)  # its wheels out of the page cache's way
    return rows


def synthetic_release(root: Path, targets: int, size: int) -> tuple[Path, Path]:
    """Write a project config and one build folder per target, as castoff build would."""
    project = root / "project"
    project.mkdir()
    triples = TRIPLES[:targets]
    (project / "pyproject.toml").write_text(
        '[project]\nname = "bench"\nversion = "1.0.0"\n\n[tool.castoff]\nbinaries = ["bench"]\n'
        'archive-name = "bench"\nsdist = false\n\n[tool.castoff.tag-policy]\nstatic-musl-manylinux = true\n'
        + "".join(
            f'\n[[tool.castoff.targets]]\ntriple = "{t}"\n'
            # Nothing here runs macOS binaries; the stand-ins are never run anyway.
            + ('no-smoke-run = "a benchmark stand-in"\n' if "apple" in t else "")
            for t in triples
        )
    )
    plan = json.loads(
        subprocess.run(
            [shutil.which("castoff") or "castoff", "plan", "--config", str(project / "pyproject.toml"), "--json"],
            check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    builds = root / "build"
    payload = binary(size)
    for job in plan["jobs"]:
        folder = builds / job["target"]
        folder.mkdir(parents=True)
        kind = "zip" if "windows" in job["target"] else "tar.gz"
        suffix = ".exe" if kind == "zip" else ""
        # The target's own executable header in front: assemble checks each program's type.
        program = program_for(job["target"], payload)
        wheel = make_wheel(
            folder,
            job["built_platform_tags"],
            program,
            name="bench",
            version="1.0.0",
            script="bench" + suffix,
        )
        assert wheel.name == wheel_filename("bench", "1.0.0", job["built_platform_tags"])
        archive = folder / archive_filename("bench", job["target"], kind)  # type: ignore[arg-type]
        write_archive(
            archive,
            folder=f"bench-{job['target']}",
            binaries=[("bench" + suffix, program)],
            mtime=0,
        )
        sidecar = write_sidecar(archive)
        artifacts = tuple(
            BuiltArtifact(
                name=p.name, kind=k, sha256=sha256_file(p), size=p.stat().st_size, platform_tags=t
            )
            for p, k, t in (
                (wheel, "wheel", tuple(job["built_platform_tags"])),
                (archive, "archive", ()),
                (sidecar, "checksum", ()),
            )
        )
        PartialManifest(
            schema_version=1, name="bench", version="1.0.0", target=job["target"], method="zig",
            std="prebuilt", cache_key="bench", source_commit=None, source_tree_sha256="bench",
            image=None, toolchain={}, commands=(), seconds=0.0, artifacts=artifacts, smoke=(),
        ).write(folder)  # fmt: skip
    return project / "pyproject.toml", builds


def bench_assemble(root: Path, targets: int, size: int) -> list[Row]:
    """Time castoff assemble against sha256sum over the same files."""
    config, builds = synthetic_release(root, targets, size)
    files = sorted(str(p) for p in builds.rglob("*") if p.suffix in (".whl", ".gz", ".zip"))
    total = sum(Path(f).stat().st_size for f in files)
    # Both read the files from the page cache: one read first, untimed, puts them there.
    for file in files:
        with Path(file).open("rb") as handle:
            while handle.read(1 << 20):
                pass
    assemble, checksum = [], []
    out = root / "dist"  # the last round's release is signed by bench_sign
    argv = (CASTOFF, "assemble", "--config", str(config), str(builds), "--out", str(out))
    for _ in range(ROUNDS):
        if out.exists():
            shutil.rmtree(out)
        os.sync()  # the last round's writes go to disk before this one, not during it
        assemble.append(timed(lambda: run(*argv)))
        checksum.append(timed(lambda: run("sha256sum", *files)))
    what = f"{targets} targets, {total / 1e6:.0f} MB of wheels and archives, median of {ROUNDS}"
    return [
        Row("assemble", what, statistics.median(assemble), "sha256sum",
            statistics.median(checksum), 1.2)
    ]  # fmt: skip


SIGN_TABLE = """
[tool.castoff.sign]
backends = ["minisign", "ssh"]

[tool.castoff.sign.minisign]
secret-key-env = "UNUSED_WITH_KEYS_DIR"
public-key = "unused.pub"

[tool.castoff.sign.ssh]
key-env = "UNUSED_WITH_KEYS_DIR"
allowed-signers = "unused_allowed_signers"
identity = "bench@castoff.invalid"
"""


def bench_sign(root: Path) -> list[Row]:
    """Time castoff sign (sign and verify) against minisign and ssh-keygen run by hand."""
    config = root / "project" / "pyproject.toml"
    config.write_text(config.read_text() + SIGN_TABLE)
    dist, keys = root / "dist", root / "keys"
    run(CASTOFF, "keygen", "--config", str(config), str(keys))
    manifest = json.loads((dist / "manifest.json").read_text())
    names = [a["name"] for a in manifest["artifacts"] if not a["name"].endswith(".sha256")]
    by_hand = root / "by-hand"
    by_hand.mkdir()
    for name in names:
        (by_hand / name).hardlink_to(dist / name)
    files = [str(by_hand / n) for n in names]
    password = (keys / "minisign.password").read_text() + "\n"

    def tools() -> None:
        subprocess.run(
            ["minisign", "-S", "-s", str(keys / "minisign.key"), "-m", *files],
            input=password.encode(),
            check=True,
            capture_output=True,
        )
        run("ssh-keygen", "-q", "-Y", "sign", "-f", str(keys / "ssh_key"), "-n", "file", *files)
        for file in files:
            run("minisign", "-V", "-p", str(keys / "minisign.pub"), "-m", file)
            with Path(file).open("rb") as stdin:
                verify = ("ssh-keygen", "-Y", "verify", "-f", str(keys / "allowed_signers"))
                subprocess.run(
                    [*verify, "-I", "bench@castoff.invalid", "-n", "file", "-s", f"{file}.sig"],
                    stdin=stdin,
                    check=True,
                    capture_output=True,
                )

    signing = timed(
        lambda: run(CASTOFF, "sign", "--config", str(config), str(dist), "--keys", str(keys))
    )
    by_tools = timed(tools)
    what = f"{len(names)} files signed with minisign and ssh, every signature verified"
    return [Row("sign", what, signing, "the tools by hand", by_tools, None)]


def built_targets(config: str, build: Path) -> tuple[list[str], float]:
    """Build the example's targets into a folder; return assemble's --target arguments.

    Also return how long a second build took with nothing changed (every target reused).
    """
    outcome = json.loads(run(CASTOFF, "build", "--config", config, "--out", str(build), "--json"))
    # Targets only another OS builds (MSVC) are left out, as a rehearsal here leaves them.
    built = [t["target"] for t in outcome["targets"] if t["status"] in ("built", "cached")]
    again = timed(lambda: run(CASTOFF, "build", "--config", config, "--out", str(build)))
    return [x for t in built for x in ("--target", t)], again


def bench_publish(root: Path, config: str, build: Path) -> list[Row]:
    """Time castoff publish of the example against one plain twine upload of the same files."""
    from castoff.rehearse import local_index  # noqa: PLC0415 - needs the rehearse extra
    from castoff.runner import Runner  # noqa: PLC0415

    targets, _ = built_targets(config, build)
    dist, keys = root / "dist", root / "keys"
    run(CASTOFF, "assemble", "--config", config, str(build), "--out", str(dist), *targets)
    run(CASTOFF, "keygen", "--config", config, str(keys))
    run(CASTOFF, "sign", "--config", config, str(dist), "--keys", str(keys))
    manifest = json.loads((dist / "manifest.json").read_text())
    wheels = [str(dist / a["name"]) for a in manifest["artifacts"] if "pypi" in a["destinations"]]
    runner = Runner(base_env=os.environ, echo=lambda _: None)
    by_castoff, by_twine = [], []
    for i in range(COMMAND_ROUNDS):
        # Each round publishes a fresh copy of the release (its journal says it is done after
        # one) to a fresh index, then twine uploads the same files to another fresh one.
        copy = root / f"dist-{i}"
        shutil.copytree(dist, copy)
        with local_index(root / f"index-castoff-{i}", runner) as first:
            argv: tuple[str, ...] = (CASTOFF, "publish", "--config", config, str(copy))
            argv += ("--keys", str(keys))
            # The index step alone (preflight, journal, uploads, read-back): the GitHub
            # release is another step, which twine does not do.
            argv += ("--step", "index", "--repository-url", first.repository_url)
            argv += ("--index-url", first.index_url)
            env = {**os.environ, **first.twine_env()}
            by_castoff.append(timed(lambda: run(*argv, env=env)))  # noqa: B023 - called at once
        with local_index(root / f"index-twine-{i}", runner) as second:
            twine: tuple[str, ...] = (sys.executable, "-m", "twine", "upload", "--non-interactive")
            twine += ("--repository-url", second.repository_url, *wheels)
            env = {**os.environ, **second.twine_env()}
            by_twine.append(timed(lambda: run(*twine, env=env)))  # noqa: B023 - called at once
    what = (
        f"the example's {len(wheels)} index files to a local pypiserver, median of {COMMAND_ROUNDS}"
    )
    return [
        Row("publish", what, statistics.median(by_castoff), "twine upload",
            statistics.median(by_twine), 1.3)
    ]  # fmt: skip


def bench_build(root: Path, config: str, build: Path) -> list[Row]:
    """Time castoff build of one target after a source change against its maturin by hand.

    Then time a re-run of every target with nothing changed.
    """
    _, unchanged = built_targets(config, build)
    project = root / "hello"
    source = Path(config).parent
    shutil.copytree(source, project, ignore=shutil.ignore_patterns("target"))
    copied = str(project / "pyproject.toml")
    target = "x86_64-unknown-linux-musl"
    main_rs = project / "src" / "main.rs"
    original = main_rs.read_text()
    out = root / "out"
    run(CASTOFF, "build", "--config", copied, "--target", target, "--out", str(out))
    recorded = json.loads((out / target / "manifest.json").read_text())["commands"]
    [maturin] = [c for c in recorded if "maturin" in Path(c["argv"][0]).name]
    argv = list(maturin["argv"])
    argv[argv.index("--out") + 1] = str(root / "by-hand")
    env = {**os.environ, **maturin["env"]}
    castoff_times, maturin_times = [], []
    for i in range(COMMAND_ROUNDS):
        # A changed source: cargo compiles the crate again, against the std already built.
        main_rs.write_text(f"{original}// castoff bench {i}a\n")
        castoff_times.append(
            timed(
                lambda: run(
                    CASTOFF, "build", "--config", copied, "--target", target, "--out", str(out)
                )
            )
        )
        main_rs.write_text(f"{original}// castoff bench {i}b\n")
        maturin_times.append(timed(lambda: run(*argv, env=env, cwd=maturin["cwd"])))
    warm = f"{target} after a source change (std present), median of {COMMAND_ROUNDS}"
    return [
        Row("build (warm)", warm, statistics.median(castoff_times), "maturin build by hand",
            statistics.median(maturin_times), 1.05),
        Row("build (unchanged)", "every target of the example, nothing changed", unchanged,
            "seconds", None, 2.0),
    ]  # fmt: skip


# What a fresh runner's job gets from the shell the benchmark runs in, and nothing else (no
# castoff, zig, uv or pip cache, no virtualenv, no compiler wrapper, no credentials): how this
# machine reaches PyPI, which stands in for the network.
_REACHING_THE_NETWORK = ("LANG", "LC_ALL", "TERM", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
    "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "http_proxy", "https_proxy",
    "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")  # fmt: skip


def cold_prerequisites() -> str | None:
    """Return what the cold benchmark lacks here (it simulates a runner), or None."""
    from tests import rust_dist  # noqa: PLC0415 - the simulation's own

    if os.geteuid() != 0:
        return "it runs as root (each step in a mount namespace with overlays)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux)"
    if not rust_dist.RUSTUP.is_file():
        return f"rustup at {rust_dist.RUSTUP} (the runner image's rustup is installed from it)"
    return None


def bench_cold(root: Path) -> list[Row]:
    """Time a cold `./ci/nox -s rehearse` of a fresh clone on a simulated ubuntu-latest runner."""
    from tests.runner_shape import ubuntu_latest  # noqa: PLC0415 - the simulation itself

    shape = ubuntu_latest(root / "state")
    job = shape.job(root / "runner")
    clone = root / "clone"  # of what is committed, as a runner's checkout is
    run("git", "clone", "-q", str(Path(__file__).resolve().parents[1]), str(clone))
    base = {k: v for k, v in os.environ.items() if k in _REACHING_THE_NETWORK}
    # The runner's Python is setup-python's, not this benchmark's virtualenv; pip's and uv's
    # caches start empty in the runner's home (the tests' runners share this machine's).
    env = shape.environment(job, base, python=Path(sys.base_prefix) / "bin")
    env["PIP_CACHE_DIR"] = str(job / "home" / ".cache" / "pip")
    env["UV_CACHE_DIR"] = str(job / "home" / ".cache" / "uv")

    def step(script: str) -> float:
        return timed(lambda: run(*shape.argv(job, script), env=env, cwd=str(clone)))

    # minisign as ci.yml's rehearse job installs it; then the setup each build job runs (here
    # for every target: apt-get and rustup, whose downloads the stand-ins serve); then the
    # rehearsal, timed.
    step(
        "command -v minisign >/dev/null || (sudo apt-get update && sudo apt-get install -y minisign)"
    )
    setup = step("./ci/nox -s setup")
    seconds = step("./ci/nox -s rehearse")
    what = (
        "./ci/nox -s rehearse of the example, fresh clone and caches, on a simulated "
        f"ubuntu-latest runner (std from rustup; its setup took {setup:.0f} s more), one run"
    )
    return [Row("rehearse (cold)", what, seconds, "seconds", None, 480.0)]


BENCHES = ("publish", "retag", "assemble", "sign", "build", "cold")


def shown_ratio(row: Row) -> str:
    """Return a row's ratio to two places, or more where two would round it onto its goal."""
    if row.goal is None or row.ratio == row.goal:
        return f"{row.ratio:.2f}x"
    # "1.30x" beside "not met" would read as a contradiction.
    for places in range(2, 7):
        if float(shown := f"{row.ratio:.{places}f}") != row.goal:
            return f"{shown}x"
    return f"{row.goal:g}x {'over' if row.ratio > row.goal else 'under'}"


def show(rows: list[Row]) -> None:
    """Print the rows as a table: each ratio beside its goal."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="castoff benchmarks (ratios against the reference, same run)")
    for column in ("benchmark", "castoff s", "reference", "reference s", "ratio", "goal", ""):
        table.add_column(
            column, justify="left" if column in ("benchmark", "reference") else "right"
        )
    for row in rows:
        seconds_goal = row.reference_seconds is None
        table.add_row(
            f"{row.name}\n[dim]{row.what}[/dim]",
            f"{row.castoff:.2f}",
            row.reference,
            "" if seconds_goal else f"{row.reference_seconds:.2f}",
            "" if seconds_goal else shown_ratio(row),
            ""
            if row.goal is None
            else (f"< {row.goal:g} s" if seconds_goal else f"<= {row.goal:g}x"),
            {True: "[green]met[/green]", False: "[red]not met[/red]", None: ""}[row.met],
        )
    Console(width=110).print(table)


def main() -> None:
    """Run the benchmarks; print a table, or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=int, default=20)
    parser.add_argument(
        "--size-mb", type=int, default=40, help="binary size in the retag benchmark"
    )
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument(
        "--release-mb", type=int, default=700, help="total size of the assembled release"
    )
    parser.add_argument("--only", action="append", choices=BENCHES, help="repeatable")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    chosen = args.only or list(BENCHES)
    if "cold" in chosen and (lacking := cold_prerequisites()):
        # Said before the other benchmarks run, not after them.
        raise SystemExit(f"bench: the cold benchmark needs {lacking}; --only runs the others.")
    # Compiled once, as an installed package is: the interpreter's start-up is not measured
    # against a cold bytecode cache (this machine runs Python with PYTHONDONTWRITEBYTECODE).
    for folder in {sysconfig.get_path("purelib"), str(Path(__file__).resolve().parents[1] / "src")}:
        compileall.compile_dir(folder, quiet=2, workers=0)
    config = str(Path(__file__).resolve().parents[1] / "examples" / "hello" / "pyproject.toml")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="castoff-bench-") as tmp:
        root = Path(tmp)
        build = root / "example-build"
        if "publish" in chosen:
            (root / "publish").mkdir()
            rows += bench_publish(root / "publish", config, build)
        if "retag" in chosen:
            (root / "retag").mkdir()
            rows += bench_retag(root / "retag", args.wheels, args.size_mb << 20)
            shutil.rmtree(root / "retag")  # its 1.6 GB out of the page cache's way
        if {"assemble", "sign"} & set(chosen):
            (root / "assemble").mkdir()
            # A wheel and an archive per target, each compressing the binary to about 55%.
            per_binary = int(args.release_mb * 1e6 / args.targets / 2 / 0.55)
            rows += bench_assemble(root / "assemble", args.targets, per_binary)
            if "sign" in chosen:
                rows += bench_sign(root / "assemble")
            if "assemble" not in chosen:
                rows = [r for r in rows if r.name != "assemble"]
        if "build" in chosen:
            (root / "build").mkdir()
            rows += bench_build(root / "build", config, build)
        if "cold" in chosen:
            (root / "cold").mkdir()
            rows += bench_cold(root / "cold")
    if args.json:
        print(json.dumps([{**asdict(r), "ratio": r.ratio, "met": r.met} for r in rows], indent=2))
    else:
        show(rows)


if __name__ == "__main__":
    main()
