"""castoff's release benchmarks: each prints a ratio against a reference tool timed in the same run.

- retag: 20 wheels, each holding a 40 MB binary, given one more platform tag, by `castoff retag`
  (raw copy of compressed members) versus `wheel tags` (which recompresses), both as commands.
- assemble: a uv-sized release (20 targets, about 700 MB of wheels and archives) by
  `castoff assemble` versus `sha256sum` over the same input files, the least any tool that
  verifies a release must do.
- sign: that release signed with minisign and ssh and every signature verified, by `castoff sign`
  (which also hashes the release, writes the provenance and updates the manifest) versus the
  same tools run by hand: one `minisign -S` and one `ssh-keygen -Y sign` over all the files, then
  one verify per file and backend.
- publish: the example release (examples/hello, built and signed here) uploaded to a local
  pypiserver by `castoff publish` (preflight, an index read before each file, one twine upload
  per file, the journal, reading everything back) versus one plain `twine upload` of the same
  files to a second, empty pypiserver.

The binaries are half random bytes, half repetitive text, so they compress about as real
binaries do, behind their target's executable header (ELF, Mach-O or PE), which assemble
checks and the audit reads.
Run: nox -s bench [-- --wheels N --size-mb M --targets N].
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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


def run(*argv: str) -> None:
    """Run a command, failing loudly."""
    subprocess.run(argv, check=True, capture_output=True)


def bench_retag(root: Path, wheels: int, size: int) -> None:
    """Time castoff retag against wheel tags on the same wheels."""
    payload = binary(size)
    template = make_wheel(root, ["musllinux_1_2_x86_64"], payload, name="bench", script="bench")
    castoff = shutil.which("castoff") or "castoff"
    results = {}
    for tool in ("castoff", "wheel"):
        folders = []
        for i in range(wheels):
            folder = root / tool / str(i)
            folder.mkdir(parents=True)
            shutil.copyfile(template, folder / "bench-1.0-py3-none-musllinux_1_2_x86_64.whl")
            folders.append(folder)

        def castoff_all(folders: list[Path] = folders) -> None:
            for f in folders:
                run(
                    castoff,
                    "retag",
                    str(next(f.glob("*.whl"))),
                    "--add-platform",
                    "manylinux_2_17_x86_64",
                )

        def wheel_all(folders: list[Path] = folders) -> None:
            for f in folders:
                run(
                    sys.executable,
                    "-m",
                    "wheel",
                    "tags",
                    "--platform-tag",
                    "+manylinux_2_17_x86_64",
                    str(next(f.glob("*.whl"))),
                )

        results[tool] = timed(castoff_all if tool == "castoff" else wheel_all)
        made = sorted(p.name for p in (root / tool / "0").glob("*.whl"))
        assert len(made) == 2, made
    print(
        f"retag {wheels} wheels x {size >> 20} MB: castoff {results['castoff']:.2f} s, "
        f"wheel tags {results['wheel']:.2f} s, ratio {results['castoff'] / results['wheel']:.2f} "
        f"(castoff takes {100 * results['castoff'] / results['wheel']:.0f}% of wheel tags' time)"
    )


def synthetic_release(root: Path, targets: int, size: int) -> tuple[Path, Path]:
    """Write a project config and one build folder per target, as castoff build would."""
    project = root / "project"
    project.mkdir()
    triples = TRIPLES[:targets]
    (project / "pyproject.toml").write_text(
        '[project]\nname = "bench"\nversion = "1.0.0"\n\n[tool.castoff]\nbinaries = ["bench"]\n'
        'archive-name = "bench"\n\n[tool.castoff.tag-policy]\nstatic-musl-manylinux = true\n'
        + "".join(f'\n[[tool.castoff.targets]]\ntriple = "{t}"\n' for t in triples)
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


def bench_assemble(root: Path, targets: int, size: int) -> None:
    """Time castoff assemble against sha256sum over the same files."""
    config, builds = synthetic_release(root, targets, size)
    files = sorted(str(p) for p in builds.rglob("*") if p.suffix in (".whl", ".gz", ".zip"))
    total = sum(Path(f).stat().st_size for f in files)
    castoff = shutil.which("castoff") or "castoff"
    assemble = timed(
        lambda: run(
            castoff, "assemble", "--config", str(config), str(builds), "--out", str(root / "dist")
        )
    )
    checksum = timed(lambda: run("sha256sum", *files))
    print(
        f"assemble {targets} targets, {total / 1e6:.0f} MB: castoff {assemble:.2f} s, "
        f"sha256sum {checksum:.2f} s, ratio {assemble / checksum:.2f}"
    )


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


def bench_sign(root: Path) -> None:
    """Time castoff sign (sign and verify) against minisign and ssh-keygen run by hand."""
    config = root / "project" / "pyproject.toml"
    config.write_text(config.read_text() + SIGN_TABLE)
    dist, keys = root / "dist", root / "keys"
    castoff = shutil.which("castoff") or "castoff"
    run(castoff, "keygen", "--config", str(config), str(keys))
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
        lambda: run(castoff, "sign", "--config", str(config), str(dist), "--keys", str(keys))
    )
    by_tools = timed(tools)
    print(
        f"sign and verify {len(names)} files with minisign and ssh: castoff {signing:.2f} s, "
        f"the tools by hand {by_tools:.2f} s, ratio {signing / by_tools:.2f}"
    )


def bench_publish(root: Path) -> None:
    """Time castoff publish of the example against one plain twine upload of the same files."""
    from castoff.rehearse import local_index  # noqa: PLC0415 - needs the rehearse extra
    from castoff.runner import Runner  # noqa: PLC0415

    repo = Path(__file__).resolve().parent.parent
    config = str(repo / "examples" / "hello" / "pyproject.toml")
    castoff = shutil.which("castoff") or "castoff"
    build, dist, keys = root / "build", root / "dist", root / "keys"
    run(castoff, "build", "--config", config, "--out", str(build))
    run(castoff, "assemble", "--config", config, str(build), "--out", str(dist))
    run(castoff, "keygen", "--config", config, str(keys))
    run(castoff, "sign", "--config", config, str(dist), "--keys", str(keys))
    manifest = json.loads((dist / "manifest.json").read_text())
    wheels = [str(dist / a["name"]) for a in manifest["artifacts"] if "pypi" in a["destinations"]]
    runner = Runner(base_env=os.environ, echo=lambda _: None)
    with local_index(root / "index-castoff", runner) as first:
        env = {**os.environ, **first.twine_env()}
        started = time.perf_counter()
        # The GitHub side goes to a local folder: gh cannot reach GitHub here.
        destinations = (
            "--repository-url", first.repository_url, "--index-url", first.index_url,
            "--release-folder", str(root / "release"),
        )  # fmt: skip
        subprocess.run(
            [castoff, "publish", "--config", config, str(dist), "--keys", str(keys), *destinations],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        by_castoff = time.perf_counter() - started
    with local_index(root / "index-twine", runner) as second:
        env = {**os.environ, **second.twine_env()}
        started = time.perf_counter()
        twine = (sys.executable, "-m", "twine", "upload", "--non-interactive")
        subprocess.run(
            [*twine, "--repository-url", second.repository_url, *wheels],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        by_twine = time.perf_counter() - started
    print(
        f"publish the example's {len(wheels)} wheels to a local pypiserver: castoff publish "
        f"{by_castoff:.2f} s, twine upload {by_twine:.2f} s, ratio {by_castoff / by_twine:.2f}"
    )


def main() -> None:
    """Run the benchmarks and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=int, default=20)
    parser.add_argument(
        "--size-mb", type=int, default=40, help="binary size in the retag benchmark"
    )
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument(
        "--release-mb", type=int, default=700, help="total size of the assembled release"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="castoff-bench-") as tmp:
        root = Path(tmp)
        (root / "retag").mkdir()
        bench_retag(root / "retag", args.wheels, args.size_mb << 20)
        (root / "assemble").mkdir()
        # A wheel and an archive per target, each compressing the binary to about 55%.
        per_binary = int(args.release_mb * 1e6 / args.targets / 2 / 0.55)
        bench_assemble(root / "assemble", args.targets, per_binary)
        bench_sign(root / "assemble")
        (root / "publish").mkdir()
        bench_publish(root / "publish")


if __name__ == "__main__":
    main()
