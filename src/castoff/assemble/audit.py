"""Audit every binary in wheels and archives against what their tags or names promise."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from castoff.assemble.contents import ContentsError, Member, read_archive, read_wheel
from castoff.assemble.elf import ElfFacts
from castoff.errors import AuditError, UsageError
from castoff.pypi import is_sdist_filename
from castoff.runner import Command, Runner
from castoff.targets import TARGETS, Elf, Target, parse_linux_tag

EF_ARM_ABI_FLOAT_HARD = 0x400
EF_RISCV_FLOAT_ABI = 0x6
EF_RISCV_FLOAT_ABI_DOUBLE = 0x4
EF_LOONGARCH_ABI = 0x7
EF_LOONGARCH_ABI_DOUBLE_FLOAT = 0x3
# PEP 599/600: the libraries a manylinux wheel may assume on the system (plus the loader).
MANYLINUX_LIBRARIES = frozenset(
    {
        "libgcc_s.so.1", "libstdc++.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libc.so.6",
        "libnsl.so.1", "libutil.so.1", "libpthread.so.0", "libresolv.so.2", "libX11.so.6",
        "libXext.so.6", "libXrender.so.1", "libICE.so.6", "libSM.so.6", "libGL.so.1",
        "libgobject-2.0.so.0", "libgthread-2.0.so.0", "libglib-2.0.so.0",
    }
)  # fmt: skip
_GLIBC_LOADER = re.compile(r"^ld(-linux[-\w.]*|64)\.so\.\d+$")
_MUSL_LIBRARY = re.compile(r"^(libc\.musl-[\w]+\.so\.1|ld-musl-[\w]+\.so\.1|libc\.so)$")
# Facts by wheel architecture; the glibc and musl flavours of an arch share them.
_LINUX_BY_ARCH: dict[str, Target] = {}
for _target in TARGETS.values():
    if _target.os == "linux":
        _LINUX_BY_ARCH.setdefault(_target.wheel_arch, _target)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One broken promise: which artifact, which binary, which tag, and what is wrong."""

    artifact: str
    binary: str
    tag: str | None
    problem: str

    def line(self) -> str:
        """Return the finding as one line."""
        tag = f" but is tagged {self.tag}" if self.tag else ""
        return f"{self.artifact}: {self.binary} {self.problem}{tag}"


def _arch_problem(facts: ElfFacts, expected: Elf, arch: str) -> str | None:
    if facts.machine != expected.machine:
        return f"is {facts.machine}, not {expected.machine} ({arch})"
    if facts.elf_class != expected.elf_class:
        return f"is ELF{facts.elf_class}, not ELF{expected.elf_class} ({arch})"
    if facts.little_endian != (expected.endianness == "little"):
        endian = "little" if facts.little_endian else "big"
        return f"is {endian}-endian, not {expected.endianness} ({arch})"
    float_problem = {
        "EM_ARM": (facts.flags & EF_ARM_ABI_FLOAT_HARD) == 0,
        "EM_RISCV": (facts.flags & EF_RISCV_FLOAT_ABI) != EF_RISCV_FLOAT_ABI_DOUBLE,
        "EM_LOONGARCH": (facts.flags & EF_LOONGARCH_ABI) != EF_LOONGARCH_ABI_DOUBLE_FLOAT,
    }.get(expected.machine, False)
    if expected.float_abi and float_problem:
        return f"does not use the {expected.float_abi}-float ABI of {arch}"
    return None


def _glibc_problem(
    facts: ElfFacts, glibc: tuple[int, int], floor: tuple[int, int] | None
) -> str | None:
    if floor and glibc < floor:
        return (
            f"cannot honour glibc {glibc[0]}.{glibc[1]}: below the {floor[0]}.{floor[1]} "
            "floor of its architecture"
        )
    if facts.is_static:
        return None
    if facts.interpreter and "musl" in facts.interpreter:
        return f"is linked against musl ({facts.interpreter})"
    if facts.max_glibc and facts.max_glibc[0] > glibc:
        version = ".".join(map(str, facts.max_glibc[0]))
        return f"needs GLIBC_{version} ({facts.max_glibc[1]})"
    unexpected = [
        n for n in facts.needed if n not in MANYLINUX_LIBRARIES and not _GLIBC_LOADER.match(n)
    ]
    if unexpected:
        return f"needs {', '.join(unexpected)}, which manylinux does not allow"
    return None


def _musl_problem(facts: ElfFacts) -> str | None:
    if facts.is_static:
        return None
    foreign = [n for n in facts.needed if not _MUSL_LIBRARY.match(n)]
    if foreign or (facts.interpreter and "musl" not in facts.interpreter):
        return f"needs {', '.join(foreign) or facts.interpreter}, not only musl"
    if facts.max_glibc:
        # musl's loader maps libc.so.6 to itself too, but has no glibc symbol versions.
        return f"needs glibc's symbol versions ({facts.max_glibc[1]}), not only musl"
    return None


def audit_binary(
    facts: ElfFacts, *, artifact: str, binary: str, tags: Iterable[str]
) -> list[Finding]:
    """Check one binary against each platform tag of its wheel."""
    findings = []
    for tag in sorted(tags):
        parsed = parse_linux_tag(tag)
        target = _LINUX_BY_ARCH.get(parsed.arch) if parsed else None
        if parsed is None or target is None or target.elf is None:
            findings.append(
                Finding(
                    artifact=artifact,
                    binary=binary,
                    tag=tag,
                    problem="is in a wheel whose tag castoff cannot audit",
                )
            )
            continue
        problem = _arch_problem(facts, target.elf, parsed.arch)
        if problem is None and parsed.family == "manylinux" and parsed.version:
            problem = _glibc_problem(facts, parsed.version, target.glibc_floor)
        elif problem is None and parsed.family == "musllinux":
            problem = _musl_problem(facts)
        if problem:
            findings.append(Finding(artifact=artifact, binary=binary, tag=tag, problem=problem))
    return findings


def audit_members(
    members: Iterable[Member], *, artifact: str, tags: Iterable[str]
) -> list[Finding]:
    """Check every ELF program among a wheel's members against every platform tag."""
    findings = []
    platforms = sorted(set(tags))
    for member in members:
        if member.elf_problem:
            findings.append(
                Finding(artifact=artifact, binary=member.name, tag=None, problem=member.elf_problem)
            )
        elif member.elf is not None:
            findings += audit_binary(
                member.elf, artifact=artifact, binary=member.name, tags=platforms
            )
    return findings


def audit_wheel(path: Path) -> list[Finding]:
    """Audit every ELF binary in a wheel against every platform tag in its name."""
    try:
        wheel = read_wheel(path)
    except ContentsError as exc:
        return [Finding(artifact=path.name, binary="-", tag=None, problem=exc.problem)]
    if not wheel.programs:
        return [
            Finding(artifact=path.name, binary="-", tag=None, problem="holds no program to run")
        ]
    return audit_members(wheel.programs, artifact=path.name, tags={t.platform for t in wheel.tags})


def archive_triple(name: str) -> str | None:
    """Return the target triple an archive's name promises, if it names one castoff knows."""
    for suffix in (".tar.gz", ".zip"):
        if name.endswith(suffix):
            stem = name.removesuffix(suffix)
            return next(
                (t for t in sorted(TARGETS, key=len, reverse=True) if stem.endswith("-" + t)), None
            )
    return None


def archive_findings(members: Iterable[Member], *, artifact: str, triple: str) -> list[Finding]:
    """Check an archive's ELF programs against the triple it is named for: CPU and libc family."""
    target = TARGETS[triple]
    findings = []
    for member in members:
        if member.elf_problem:
            findings.append(
                Finding(artifact=artifact, binary=member.name, tag=None, problem=member.elf_problem)
            )
            continue
        facts = member.elf
        if facts is None or target.elf is None:
            continue  # a README or licence; and castoff does not audit Mach-O or PE binaries
        problem = _arch_problem(facts, target.elf, target.wheel_arch)
        if problem is None and target.libc == "musl":
            problem = _musl_problem(facts)
        if (
            problem is None
            and target.libc == "gnu"
            and facts.interpreter
            and "musl" in facts.interpreter
        ):
            problem = f"is linked against musl ({facts.interpreter})"
        if problem:
            findings.append(
                Finding(artifact=artifact, binary=member.name, tag=triple, problem=problem)
            )
    return findings


def audit_archive(path: Path) -> list[Finding]:
    """Audit an archive's binaries against the triple in its name: CPU and libc family."""
    triple = archive_triple(path.name)
    if triple is None:
        return [
            Finding(
                artifact=path.name,
                binary="-",
                tag=None,
                problem="does not end in a target triple castoff knows",
            )
        ]
    try:
        members = read_archive(path)
    except ContentsError as exc:
        return [Finding(artifact=path.name, binary="-", tag=None, problem=exc.problem)]
    return archive_findings(members, artifact=path.name, triple=triple)


def audit_paths(paths: Sequence[Path]) -> tuple[list[str], list[Finding]]:
    """Audit wheels and archives (folders are searched); return what was audited, and findings."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UsageError(
                f"{path}: no such file or folder.", hint="Name wheels, archives or folders."
            )
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.name.endswith((".whl", ".tar.gz", ".zip"))
                and not is_sdist_filename(p.name)
                and p.is_file()
            )
        elif not path.is_file():
            raise UsageError(f"{path}: not a file or folder.", hint="Name wheels or archives.")
        elif is_sdist_filename(path.name):
            raise UsageError(
                f"{path}: is an sdist; it holds sources, not binaries, so there is nothing to "
                "audit (assemble and preflight read it whole).",
                hint="Name wheels, archives or folders.",
            )
        else:
            files.append(path)
    findings: list[Finding] = []
    for file in files:
        findings += audit_wheel(file) if file.name.endswith(".whl") else audit_archive(file)
    return [f.name for f in files], findings


def audit_error(findings: Sequence[Finding], details: dict[str, object]) -> AuditError:
    """Return the error for broken promises, each named."""
    return AuditError(
        f"{len(findings)} broken promises: " + "; ".join(f.line() for f in findings) + ".",
        hint="Fix the build (or the tags it is given); castoff never ships a tag a binary "
        "cannot keep.",
        details=details,
    )


INSTALL_ABI3AUDIT = "pip install 'castoff[audit]' (abi3audit)"


def abi3audit_command(wheel: Path) -> Command:
    """Return abi3audit's strict JSON audit of one abi3 wheel (the one beside castoff's Python)."""
    beside = Path(sys.executable).parent / "abi3audit"
    return Command(
        argv=(str(beside) if beside.is_file() else "abi3audit", "--strict", "--report", str(wheel)),
        install_hint=INSTALL_ABI3AUDIT,
    )


def abi3_findings(runner: Runner, wheel: Path, objects: Sequence[str]) -> list[Finding]:
    """Return abi3audit's findings for an abi3 wheel: symbols outside the stable ABI, its floor.

    `objects` are the base names of the wheel's object files: abi3audit must have audited
    every .so and .pyd among them (it looks at no other), and at least one.
    """
    result = runner.capture(abi3audit_command(wheel))
    try:
        report = json.loads(result.stdout)
        specs = report["specs"][str(wheel)]["wheel"]
        results = [(entry["name"], entry["result"]) for entry in specs]
    except (ValueError, KeyError, TypeError):
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return [
            Finding(
                artifact=wheel.name,
                binary="-",
                tag="abi3",
                problem=f"abi3audit did not report on it (exit {result.returncode}: "
                f"{detail[0][:200]})",
            )
        ]
    findings = []
    modules = sorted(n for n in objects if n.endswith((".so", ".pyd")))
    if not modules or sorted(str(name) for name, _ in results) != modules:
        audited = ", ".join(sorted(str(n) for n, _ in results)) or "none"
        return [
            Finding(
                artifact=wheel.name,
                binary="-",
                tag="abi3",
                problem=f"abi3audit audited {audited}, not its extension modules "
                f"({', '.join(modules) or 'none: no .so or .pyd'})",
            )
        ]
    for name, found in results:
        if not isinstance(found, dict):
            continue
        problems = []
        if not found.get("is_abi3", False):
            problems.append("is not built for the stable ABI")
        if not found.get("is_abi3_baseline_compatible", False):
            problems.append(
                f"uses the stable ABI of CPython {found.get('computed')}, newer than the "
                f"wheel's cp{str(found.get('baseline', '')).replace('.', '')} promises"
            )
        symbols = found.get("non_abi3_symbols") or []
        if symbols:
            shown = ", ".join(str(s) for s in symbols[:5])
            problems.append(f"calls {len(symbols)} functions outside the stable ABI ({shown})")
        findings += [
            Finding(artifact=wheel.name, binary=str(name), tag="abi3", problem=p) for p in problems
        ]
    if result.returncode != 0 and not findings:
        findings.append(
            Finding(artifact=wheel.name, binary="-", tag="abi3", problem="abi3audit failed it")
        )
    return findings
