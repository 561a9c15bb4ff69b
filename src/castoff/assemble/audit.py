"""Audit every binary in wheels and archives against what their tags or names promise."""

from __future__ import annotations

import json
import posixpath
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from castoff.assemble.contents import ContentsError, Member, read_archive, read_wheel
from castoff.assemble.elf import ElfFacts
from castoff.assemble.macho import MachOFacts
from castoff.assemble.pe import PE32, PE32_PLUS, PeFacts
from castoff.errors import AuditError, UsageError
from castoff.pypi import is_sdist_filename
from castoff.runner import Command, Runner
from castoff.targets import TARGETS, Elf, LinuxTag, Target, parse_linux_tag

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
# Where dyld finds what macOS itself ships; anything else would have to come with the binary.
# Private frameworks are Apple's to change between releases, so they are not among them.
MACOS_SYSTEM_PREFIXES = ("/usr/lib/", "/System/Library/Frameworks/")
MACOS_DYLD = "/usr/lib/dyld"
ARM64_MACOS = (11, 0)  # the first macOS on Apple silicon
# The DLLs of every Windows 10 and later install (System32) that Rust's std and C programs
# import, with the UCRT (ucrtbase) and the old msvcrt that MinGW links against. The Visual C++
# runtime (vcruntime140.dll, msvcp140.dll) is not among them: it is installed separately.
WINDOWS_SYSTEM_DLLS = frozenset(
    f"{name}.dll"
    for name in (
        "kernel32", "kernelbase", "ntdll", "advapi32", "user32", "gdi32", "ws2_32", "mswsock",
        "userenv", "bcrypt", "bcryptprimitives", "ole32", "oleaut32", "shell32", "shlwapi",
        "secur32", "sspicli", "crypt32", "ncrypt", "iphlpapi", "dnsapi", "dbghelp", "psapi",
        "msvcrt", "ucrtbase", "synchronization", "powrprof", "winmm", "version", "rpcrt4",
        "setupapi", "cfgmgr32", "netapi32", "winhttp", "wininet", "wintrust", "comctl32",
        "comdlg32", "imm32", "dwmapi", "uxtheme", "normaliz", "wtsapi32", "credui", "propsys",
        "opengl32", "dxgi", "d3d11", "d3d12", "pdh", "mpr", "shcore", "hid", "avrt", "dwrite",
        "d2d1", "mf", "mfplat", "mfreadwrite", "ksuser", "propsys", "wevtapi", "wldap32",
    )
) | {"winspool.drv"}  # fmt: skip
# API sets (api-ms-win-crt-*, the UCRT's; api-ms-win-core-*): names the loader redirects to
# system DLLs, never files next to the program.
_API_SET = re.compile(r"^(api|ext)-ms-[a-z0-9-]+\.dll$")
_MACOS_TAG = re.compile(r"^macosx_(\d+)_(\d+)_(\w+)$")
# The slices a macOS wheel architecture runs: universal2 holds both.
MACOS_CPUS = {"x86_64": ("x86_64",), "arm64": ("arm64",), "universal2": ("x86_64", "arm64")}
# COFF machine and optional-header magic by Windows wheel architecture (win_amd64: amd64).
WINDOWS_MACHINES = {
    "amd64": ("AMD64", PE32_PLUS),
    "win32": ("I386", PE32),
    "arm64": ("ARM64", PE32_PLUS),
}
_WINDOWS_TAGS = {"win_amd64": "amd64", "win32": "win32", "win_arm64": "arm64"}
_FORMAT_NAMES = {ElfFacts: "ELF", MachOFacts: "Mach-O", PeFacts: "PE"}
Facts = ElfFacts | MachOFacts | PeFacts
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


def _wrong_format(facts: Facts, wanted: type[Facts]) -> str:
    return f"is {_FORMAT_NAMES[type(facts)]}, not {_FORMAT_NAMES[wanted]}"


def is_macos_system_library(name: str) -> bool:
    """Return whether dyld finds this install name among the libraries macOS ships."""
    # /usr/lib/../../opt/homebrew/lib/libfoo.dylib starts like a system library but is not one.
    return name.startswith(MACOS_SYSTEM_PREFIXES) and posixpath.normpath(name) == name


def is_windows_system_dll(name: str) -> bool:
    """Return whether an imported DLL name is a Windows system DLL or an API set."""
    folded = name.casefold()
    if "/" in folded or "\\" in folded:
        return False
    if "." not in folded:
        folded += ".dll"  # the loader adds .dll to a name without an extension
    return folded in WINDOWS_SYSTEM_DLLS or _API_SET.match(folded) is not None


def _macho_problems(
    facts: MachOFacts,
    cpus: tuple[str, ...],
    allowed_libraries: frozenset[str],
    minimum: tuple[int, int] | None,
) -> list[str]:
    """Check the slices a wheel or archive architecture runs: CPU, macOS version, libraries."""
    by_cpu = {s.cpu: s for s in facts.slices}
    have = ", ".join(s.cpu for s in facts.slices)
    missing = [cpu for cpu in cpus if cpu not in by_cpu]
    if missing and len(cpus) == 1:
        return [f"is {have}, not {cpus[0]}"]
    if missing:
        return [f"has no {' or '.join(missing)} slice (it is {have})"]
    # Every slice runs somewhere (x86_64h on newer Intel Macs, arm64 natively on Apple silicon
    # beside an x86_64 slice), so every slice is checked, not only those the tag names.
    problems = []
    for found in facts.slices:
        cpu = found.cpu
        where = f" (its {cpu} slice)" if len(facts.slices) > 1 else ""
        if found.dylinker not in (None, MACOS_DYLD):
            problems.append(f"names {found.dylinker}{where} as its loader, not {MACOS_DYLD}")
        if found.other_platforms:
            problems.append(f"is built for {', '.join(found.other_platforms)}{where}, not macOS")
        if minimum is not None and found.min_macos is None:
            problems.append(
                f"names no minimum macOS version (LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX){where}"
            )
        elif (
            minimum is not None
            and found.min_macos
            # No Mac before 11.0 runs arm64: a universal2 tag's 10.x speaks for x86_64 alone.
            and found.min_macos
            > (*max(minimum, ARM64_MACOS if cpu.startswith("arm64") else minimum), 0)
        ):
            major, minor, patch = found.min_macos
            version = f"{major}.{minor}" + (f".{patch}" if patch else "")
            problems.append(f"needs macOS {version}{where}")
        if found.signature == "absent" and cpu.startswith("arm64"):
            problems.append(f"has no code signature{where}, which macOS requires of arm64 code")
        elif found.signature not in ("valid", "absent"):
            problems.append(f"has a code signature macOS would reject{where}: {found.signature}")
        if found.dyld_environment:
            problems.append(
                f"sets dyld's environment ({', '.join(found.dyld_environment)}){where}, so it "
                "can load libraries from anywhere"
            )
        foreign = [
            name
            for name in dict.fromkeys(found.dylibs)
            if not is_macos_system_library(name) and name not in allowed_libraries
        ]
        if foreign:
            which = "is not a system library" if len(foreign) == 1 else "are not system libraries"
            problems.append(f"loads {', '.join(foreign)}{where}, which {which}")
    return problems


def _pe_problems(facts: PeFacts, arch: str, allowed_libraries: frozenset[str]) -> list[str]:
    """Check a PE binary against a Windows architecture: COFF machine, PE32(+), DLLs."""
    machine, magic = WINDOWS_MACHINES[arch]
    if facts.machine != machine:
        return [f"is {facts.machine}, not {machine}"]
    if facts.magic != magic:
        return [f"is {facts.kind}, not {'PE32+' if magic == PE32_PLUS else 'PE32'}"]
    allowed = {name.casefold() for name in allowed_libraries}
    foreign = list(
        {
            name.casefold(): name
            for name in facts.imports + facts.delay_imports
            if not is_windows_system_dll(name) and name.casefold() not in allowed
        }.values()
    )
    if not foreign:
        return []
    which = (
        "is not a Windows system or UCRT DLL"
        if len(foreign) == 1
        else "are not Windows system or UCRT DLLs"
    )
    return [f"imports {', '.join(foreign)}, which {which}"]


def _linux_problem(facts: Facts, parsed: LinuxTag, target: Target) -> str | None:
    """Check a binary against a Linux tag castoff knows the architecture of."""
    if not isinstance(facts, ElfFacts) or target.elf is None:
        return _wrong_format(facts, ElfFacts)
    problem = _arch_problem(facts, target.elf, parsed.arch)
    if problem is None and parsed.family == "manylinux" and parsed.version:
        problem = _glibc_problem(facts, parsed.version, target.glibc_floor)
    elif problem is None and parsed.family == "musllinux":
        problem = _musl_problem(facts)
    return problem


def _non_linux_problems(
    facts: Facts,
    os: str,
    arch: str,
    allowed_libraries: frozenset[str],
    minimum: tuple[int, int] | None = None,
) -> list[str]:
    """Check a binary against a macOS or Windows architecture (a tag's, or a triple's)."""
    if os == "macos":
        if not isinstance(facts, MachOFacts):
            return [_wrong_format(facts, MachOFacts)]
        return _macho_problems(facts, MACOS_CPUS[arch], allowed_libraries, minimum)
    if not isinstance(facts, PeFacts):
        return [_wrong_format(facts, PeFacts)]
    return _pe_problems(facts, arch, allowed_libraries)


def _tag_problems(facts: Facts, tag: str, allowed_libraries: frozenset[str]) -> list[str] | None:
    """Return what breaks a platform tag's promise; None for a tag castoff cannot audit."""
    macos = _MACOS_TAG.match(tag)
    if macos and macos[3] in MACOS_CPUS:
        minimum = (int(macos[1]), int(macos[2]))
        return _non_linux_problems(facts, "macos", macos[3], allowed_libraries, minimum)
    if tag in _WINDOWS_TAGS:
        return _non_linux_problems(facts, "windows", _WINDOWS_TAGS[tag], allowed_libraries)
    parsed = parse_linux_tag(tag)
    target = _LINUX_BY_ARCH.get(parsed.arch) if parsed else None
    if parsed is None or target is None or target.elf is None:
        return None
    problem = _linux_problem(facts, parsed, target)
    return [problem] if problem else []


def audit_binary(
    facts: Facts,
    *,
    artifact: str,
    binary: str,
    tags: Iterable[str],
    allowed_libraries: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Check one binary against each platform tag of its wheel.

    `allowed_libraries` are libraries the project ships or vouches for beyond the system's:
    Mach-O install names compared exactly, Windows DLL names compared case-insensitively.
    """
    findings = []
    for tag in sorted(tags):
        problems = _tag_problems(facts, tag, allowed_libraries)
        if problems is None:
            problems = ["is in a wheel whose tag castoff cannot audit"]
        findings += [
            Finding(artifact=artifact, binary=binary, tag=tag, problem=problem)
            for problem in problems
        ]
    return findings


def _facts(member: Member) -> Facts | None:
    return member.elf or member.macho or member.pe


def audit_members(
    members: Iterable[Member],
    *,
    artifact: str,
    tags: Iterable[str],
    allowed_libraries: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Check every ELF, Mach-O and PE program among a wheel's members against every tag."""
    findings = []
    platforms = sorted(set(tags))
    for member in members:
        facts = _facts(member)
        if member.binary_problem:
            findings.append(
                Finding(
                    artifact=artifact, binary=member.name, tag=None, problem=member.binary_problem
                )
            )
        elif facts is not None:
            findings += audit_binary(
                facts,
                artifact=artifact,
                binary=member.name,
                tags=platforms,
                allowed_libraries=allowed_libraries,
            )
    return findings


def unchecked_cxx_findings(
    members: Sequence[Member], *, artifact: str, tags: Sequence[str]
) -> list[Finding]:
    """Refuse libstdc++ in a wheel maturin built plain linux and castoff retags manylinux.

    castoff's audit checks GLIBC_ symbol versions only; maturin's checks libstdc++'s GLIBCXX_
    and CXXABI_ too, but has no policy to check them against (ppc64 above manylinux2014).
    """
    tag = next((t for t in sorted(tags) if t.startswith("manylinux")), None)
    return [
        Finding(
            artifact=artifact,
            binary=m.name,
            tag=tag,
            problem="needs libstdc++.so.6, whose GLIBCXX_ versions nothing here checks "
            "(maturin has no policy for this tag)",
        )
        for m in members
        if tag and m.elf is not None and "libstdc++.so.6" in m.elf.needed
    ]


def audit_wheel(path: Path, *, allowed_libraries: frozenset[str] = frozenset()) -> list[Finding]:
    """Audit every binary in a wheel against every platform tag in its name."""
    try:
        wheel = read_wheel(path)
    except ContentsError as exc:
        return [Finding(artifact=path.name, binary="-", tag=None, problem=exc.problem)]
    if not wheel.programs:
        return [
            Finding(artifact=path.name, binary="-", tag=None, problem="holds no program to run")
        ]
    return audit_members(
        wheel.programs,
        artifact=path.name,
        tags={t.platform for t in wheel.tags},
        allowed_libraries=allowed_libraries,
    )


def archive_triple(name: str) -> str | None:
    """Return the target triple an archive's name promises, if it names one castoff knows."""
    for suffix in (".tar.gz", ".zip"):
        if name.endswith(suffix):
            stem = name.removesuffix(suffix)
            return next(
                (t for t in sorted(TARGETS, key=len, reverse=True) if stem.endswith("-" + t)), None
            )
    return None


def archive_findings(
    members: Iterable[Member],
    *,
    artifact: str,
    triple: str,
    allowed_libraries: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Check an archive's programs against the triple it is named for.

    Linux: ELF identity and libc family. macOS: Mach-O, a slice of the CPU, system libraries
    (no minimum macOS: an archive's name promises none). Windows: PE, machine, system DLLs.
    """
    target = TARGETS[triple]
    findings = []
    for member in members:
        if member.binary_problem:
            findings.append(
                Finding(
                    artifact=artifact, binary=member.name, tag=None, problem=member.binary_problem
                )
            )
            continue
        facts = _facts(member)
        if facts is None:
            continue  # a README or a licence
        problems = _archive_problems(facts, target, allowed_libraries)
        findings += [
            Finding(artifact=artifact, binary=member.name, tag=triple, problem=problem)
            for problem in problems
        ]
    return findings


def _archive_problems(facts: Facts, target: Target, allowed_libraries: frozenset[str]) -> list[str]:
    if target.os != "linux":
        # No minimum macOS: an archive's name promises none.
        return _non_linux_problems(facts, target.os, target.wheel_arch, allowed_libraries)
    if not isinstance(facts, ElfFacts) or target.elf is None:
        return [_wrong_format(facts, ElfFacts)]
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
    return [problem] if problem else []


def audit_archive(path: Path, *, allowed_libraries: frozenset[str] = frozenset()) -> list[Finding]:
    """Audit an archive's binaries against the triple in its name: CPU, libc, libraries."""
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
    return archive_findings(
        members, artifact=path.name, triple=triple, allowed_libraries=allowed_libraries
    )


def audit_paths(
    paths: Sequence[Path], *, allowed_libraries: frozenset[str] = frozenset()
) -> tuple[list[str], list[Finding]]:
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
        audit = audit_wheel if file.name.endswith(".whl") else audit_archive
        findings += audit(file, allowed_libraries=allowed_libraries)
    return [f.name for f in files], findings


def audit_error(findings: Sequence[Finding], details: dict[str, object]) -> AuditError:
    """Return the error for broken promises, each named."""
    return AuditError(
        f"{len(findings)} broken promises: " + "; ".join(f.line() for f in findings) + ".",
        hint="Fix the build (or the tags it is given); castoff never ships a tag a binary "
        "cannot keep. A library the project ships or vouches for goes in the target's "
        "allowed-libraries (castoff audit --allow-library NAME); for MSVC's VCRUNTIME140.dll, "
        "link the C runtime in as uv does (-C target-feature=+crt-static in .cargo/config.toml).",
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
