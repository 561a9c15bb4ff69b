"""What castoff knows of Rust triples: CPU, libc, ELF identity, wheel tags, archives, qemu."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

OperatingSystem = Literal["linux", "macos", "windows"]
Libc = Literal["gnu", "musl", "darwin", "msvc", "mingw"]
TagFamily = Literal["manylinux", "musllinux", "linux", "macosx", "win"]
ArchiveKind = Literal["tar.gz", "zip"]
FloatAbi = Literal["hard", "soft", "double"]
Endianness = Literal["little", "big"]


@dataclass(frozen=True, kw_only=True)
class Elf:
    """How a binary for this target identifies itself in its ELF header."""

    machine: str  # pyelftools' e_machine name
    machine_id: int  # the numeric e_machine
    elf_class: Literal[32, 64]
    endianness: Endianness
    float_abi: FloatAbi | None  # only where the ELF flags encode it (ARM, RISC-V, LoongArch)


@dataclass(frozen=True, kw_only=True)
class Target:
    """One Rust target triple and everything castoff derives from it."""

    triple: str
    os: OperatingSystem
    libc: Libc
    wheel_arch: str  # the architecture as wheel platform tags spell it
    tag_family: TagFamily  # the family of platform tag its native wheel gets
    elf: Elf | None  # None for Mach-O and PE targets
    glibc_floor: tuple[int, int] | None  # lowest glibc Rust's std supports on this arch
    musl_floor: tuple[int, int] | None  # lowest musl whose ABI the arch exists in
    macos_floor: tuple[int, int] | None  # lowest deployment target rustc supports
    qemu: str | None  # qemu-user binary that runs it on an x86_64 host
    gnu_triple: str | None  # the Debian multiarch/cross-gcc triple (QEMU_LD_PREFIX=/usr/<it>)

    @property
    def archive_kind(self) -> ArchiveKind:
        """Return the archive format uv and cargo-dist use for this OS."""
        return "zip" if self.os == "windows" else "tar.gz"

    @property
    def is_static_by_default(self) -> bool:
        """Return whether Rust links binaries for this target statically (crt-static) by default."""
        return self.libc == "musl"


_EM = {
    "x86_64": ("EM_X86_64", 62),
    "i386": ("EM_386", 3),
    "aarch64": ("EM_AARCH64", 183),
    "arm": ("EM_ARM", 40),
    "ppc64": ("EM_PPC64", 21),
    "s390": ("EM_S390", 22),
    "riscv": ("EM_RISCV", 243),
    "loongarch": ("EM_LOONGARCH", 258),
}


def _elf(
    em: str, elf_class: Literal[32, 64], endianness: Endianness, float_abi: FloatAbi | None = None
) -> Elf:
    machine, machine_id = _EM[em]
    return Elf(
        machine=machine,
        machine_id=machine_id,
        elf_class=elf_class,
        endianness=endianness,
        float_abi=float_abi,
    )


# Per-architecture facts shared by the glibc and musl flavours of a Linux triple:
# (rust arch prefix, wheel arch, ELF, glibc floor, musl floor, qemu-user binary, Debian triple stem)
_G217 = (2, 17)
_LINUX_ARCHES: dict[str, tuple[str, Elf, tuple[int, int], tuple[int, int], str]] = {
    "x86_64": ("x86_64", _elf("x86_64", 64, "little"), _G217, (1, 1), "qemu-x86_64-static"),
    "i686": ("i686", _elf("i386", 32, "little"), _G217, (1, 1), "qemu-i386-static"),
    "aarch64": ("aarch64", _elf("aarch64", 64, "little"), _G217, (1, 1), "qemu-aarch64-static"),
    "armv7": ("armv7l", _elf("arm", 32, "little", "hard"), _G217, (1, 1), "qemu-arm-static"),
    "arm": ("armv6l", _elf("arm", 32, "little", "hard"), _G217, (1, 1), "qemu-arm-static"),
    "powerpc64le": (
        "ppc64le",
        _elf("ppc64", 64, "little"),
        _G217,
        (1, 1),
        "qemu-ppc64le-static",
    ),
    "powerpc64": ("ppc64", _elf("ppc64", 64, "big"), _G217, (1, 1), "qemu-ppc64-static"),
    "s390x": ("s390x", _elf("s390", 64, "big"), _G217, (1, 1), "qemu-s390x-static"),
    # glibc gained riscv64 in 2.27, but manylinux and Rust's std start at 2.31 (auditwheel policy).
    "riscv64gc": (
        "riscv64",
        _elf("riscv", 64, "little", "double"),
        (2, 31),
        (1, 1),
        "qemu-riscv64-static",
    ),
    # glibc 2.36 and musl 1.2.5 are the first releases with LoongArch.
    "loongarch64": (
        "loongarch64",
        _elf("loongarch", 64, "little", "double"),
        (2, 36),
        (1, 2),
        "qemu-loongarch64-static",
    ),
}

# The Debian multiarch triple for each arch's glibc flavour (cross gcc and libc6-*-cross sysroots).
_DEBIAN_GNU_TRIPLES = {
    "x86_64": "x86_64-linux-gnu",
    "i686": "i686-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
    "armv7": "arm-linux-gnueabihf",
    "arm": "arm-linux-gnueabihf",
    "powerpc64le": "powerpc64le-linux-gnu",
    "powerpc64": "powerpc64-linux-gnu",
    "s390x": "s390x-linux-gnu",
    "riscv64gc": "riscv64-linux-gnu",
    "loongarch64": "loongarch64-linux-gnu",
}

# Every Linux triple castoff knows: uv's, plus the musl and LoongArch flavours it lacks.
_LINUX_TRIPLES: dict[str, tuple[str, Libc]] = {
    # triple: (arch key, libc)
    "x86_64-unknown-linux-gnu": ("x86_64", "gnu"),
    "x86_64-unknown-linux-musl": ("x86_64", "musl"),
    "i686-unknown-linux-gnu": ("i686", "gnu"),
    "i686-unknown-linux-musl": ("i686", "musl"),
    "aarch64-unknown-linux-gnu": ("aarch64", "gnu"),
    "aarch64-unknown-linux-musl": ("aarch64", "musl"),
    "armv7-unknown-linux-gnueabihf": ("armv7", "gnu"),
    "armv7-unknown-linux-musleabihf": ("armv7", "musl"),
    "arm-unknown-linux-gnueabihf": ("arm", "gnu"),
    "arm-unknown-linux-musleabihf": ("arm", "musl"),
    "powerpc64le-unknown-linux-gnu": ("powerpc64le", "gnu"),
    "powerpc64le-unknown-linux-musl": ("powerpc64le", "musl"),
    "powerpc64-unknown-linux-gnu": ("powerpc64", "gnu"),
    "s390x-unknown-linux-gnu": ("s390x", "gnu"),
    "s390x-unknown-linux-musl": ("s390x", "musl"),
    "riscv64gc-unknown-linux-gnu": ("riscv64gc", "gnu"),
    "riscv64gc-unknown-linux-musl": ("riscv64gc", "musl"),
    "loongarch64-unknown-linux-gnu": ("loongarch64", "gnu"),
    "loongarch64-unknown-linux-musl": ("loongarch64", "musl"),
}


def _linux_target(triple: str, arch_key: str, libc: Libc) -> Target:
    wheel_arch, elf, glibc_floor, musl_floor, qemu = _LINUX_ARCHES[arch_key]
    # manylinux and musllinux define no armv6l; such wheels carry the legacy linux_armv6l tag.
    family: TagFamily = "manylinux" if libc == "gnu" else "musllinux"
    if wheel_arch == "armv6l":
        family = "linux"
    return Target(
        triple=triple,
        os="linux",
        libc=libc,
        wheel_arch=wheel_arch,
        tag_family=family,
        elf=elf,
        glibc_floor=glibc_floor,
        musl_floor=musl_floor,
        macos_floor=None,
        qemu=qemu,
        gnu_triple=_DEBIAN_GNU_TRIPLES[arch_key],
    )


def _other_target(
    triple: str,
    *,
    os: OperatingSystem,
    libc: Libc,
    wheel_arch: str,
    family: TagFamily,
    macos_floor: tuple[int, int] | None = None,
) -> Target:
    return Target(
        triple=triple,
        os=os,
        libc=libc,
        wheel_arch=wheel_arch,
        tag_family=family,
        elf=None,
        glibc_floor=None,
        musl_floor=None,
        macos_floor=macos_floor,
        qemu=None,
        gnu_triple=None,
    )


TARGETS: dict[str, Target] = {
    **{t: _linux_target(t, arch, libc) for t, (arch, libc) in _LINUX_TRIPLES.items()},
    # rustc's minimum deployment targets: 10.12 for x86_64, 11.0 for Apple silicon.
    "x86_64-apple-darwin": _other_target(
        "x86_64-apple-darwin",
        os="macos",
        libc="darwin",
        wheel_arch="x86_64",
        family="macosx",
        macos_floor=(10, 12),
    ),
    "aarch64-apple-darwin": _other_target(
        "aarch64-apple-darwin",
        os="macos",
        libc="darwin",
        wheel_arch="arm64",
        family="macosx",
        macos_floor=(11, 0),
    ),
    "x86_64-pc-windows-msvc": _other_target(
        "x86_64-pc-windows-msvc", os="windows", libc="msvc", wheel_arch="amd64", family="win"
    ),
    "i686-pc-windows-msvc": _other_target(
        "i686-pc-windows-msvc", os="windows", libc="msvc", wheel_arch="win32", family="win"
    ),
    "aarch64-pc-windows-msvc": _other_target(
        "aarch64-pc-windows-msvc", os="windows", libc="msvc", wheel_arch="arm64", family="win"
    ),
    "x86_64-pc-windows-gnu": _other_target(
        "x86_64-pc-windows-gnu", os="windows", libc="mingw", wheel_arch="amd64", family="win"
    ),
}

# Rust's tier-3 targets among these: rustup has no std for them (`rustup target add` fails), so
# castoff builds their std from the toolchain's sources (castoff.build.stds.sysroot).
NO_RUSTUP_STD = frozenset({"s390x-unknown-linux-musl"})

# The glibc of the cross toolchains (libc6-dev-<arch>-cross) on GitHub's x64 Ubuntu images
# (Ubuntu's own glibc: jammy 2.35, noble 2.39). A cross gcc links against it: from 2.34 on every
# binary needs GLIBC_2.34 (__libc_start_main), and a binary may need up to this version (Rust's
# std takes pidfd_spawnp@GLIBC_2.39 where glibc has it: a program that spawns processes, linked
# on ubuntu-24.04, needs 2.39).
RUNNER_CROSS_GLIBC: dict[str, tuple[int, int]] = {"ubuntu-22.04": (2, 35), "ubuntu-24.04": (2, 39)}
# ubuntu-latest moves to newer images: its glibc is at least this, never known exactly.
MOVING_RUNNER_CROSS_GLIBC: dict[str, tuple[int, int]] = {"ubuntu-latest": (2, 39)}
# The hosted runner whose cross glibc is oldest: where a cross-gcc build runs unless configured.
# GitHub retires an Ubuntu image about five years after its release (20.04's went in April
# 2025); when 22.04's goes, this becomes ubuntu-24.04 and the default tag 2_39.
CROSS_GCC_RUNNER = "ubuntu-22.04"
# The first glibc whose crt1.o needs a versioned __libc_start_main (GLIBC_2.34).
LIBC_START_MAIN_MOVED = (2, 34)

# Besides its own triple, what a macOS or Windows runner builds with the OS's own linker (and
# rustup's std): each Mac builds for the other CPU, x64 Windows for i686 and aarch64.
NATIVE_CROSS: dict[str, frozenset[str]] = {
    "aarch64-apple-darwin": frozenset({"x86_64-apple-darwin"}),
    "x86_64-apple-darwin": frozenset({"aarch64-apple-darwin"}),
    "x86_64-pc-windows-msvc": frozenset({"i686-pc-windows-msvc", "aarch64-pc-windows-msvc"}),
}
# And what it runs: Rosetta 2 runs x86_64 on Apple silicon, WOW64 runs i686 on x64 Windows,
# and Windows on Arm emulates both.
NATIVE_RUNS: dict[str, frozenset[str]] = {
    "aarch64-apple-darwin": frozenset({"x86_64-apple-darwin"}),
    "x86_64-pc-windows-msvc": frozenset({"i686-pc-windows-msvc"}),
    "aarch64-pc-windows-msvc": frozenset({"x86_64-pc-windows-msvc", "i686-pc-windows-msvc"}),
}

# PEP 600 keeps the pre-PEP-600 names as aliases of three glibc versions, each for a fixed set
# of arches; maturin and auditwheel emit the alias beside the PEP 600 tag, and so do we.
_LEGACY_MANYLINUX: dict[tuple[int, int], tuple[str, frozenset[str]]] = {
    (2, 5): ("manylinux1", frozenset({"x86_64", "i686"})),
    (2, 12): ("manylinux2010", frozenset({"x86_64", "i686"})),
    (2, 17): (
        "manylinux2014",
        frozenset({"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x"}),
    ),
}


@dataclass(frozen=True, kw_only=True)
class SimdOff:
    """How to build an architecture without its SIMD extensions, in rustc's and zig's terms."""

    target_features: tuple[str, ...]  # for rustc's -C target-feature
    zig_cpu: str  # for zig's -mcpu, which compiles the C runtime (musl, compiler-rt)


# LoongArch's LSX/LASX: Rust enables LSX by default, QEMU 7.2 cannot run it, and some LoongArch
# CPUs (the 2K series) lack it, so `lsx = false` builds for all of them.
LOONGARCH_WITHOUT_LSX = SimdOff(target_features=("-lasx", "-lsx"), zig_cpu="la464-lasx-lsx")


_LEGACY_VERSIONS = {name: glibc for glibc, (name, _) in _LEGACY_MANYLINUX.items()}
_LINUX_TAG_RE = re.compile(
    r"(?:(?P<family>manylinux|musllinux)_(?P<major>[0-9]{1,4})_(?P<minor>[0-9]{1,4})"
    r"|(?P<legacy>manylinux1|manylinux2010|manylinux2014)|(?P<plain>linux))_(?P<arch>[a-z0-9_]+)"
)


@dataclass(frozen=True, kw_only=True)
class LinuxTag:
    """A Linux platform tag taken apart: libc family, the version it promises, architecture."""

    family: Literal["manylinux", "musllinux", "linux"]
    version: tuple[int, int] | None  # glibc (legacy aliases resolved) or musl; None for linux_*
    arch: str


def parse_linux_tag(tag: str) -> LinuxTag | None:
    """Parse manylinux_X_Y_ARCH, musllinux_X_Y_ARCH, manylinux2014_ARCH and linux_ARCH tags."""
    m = _LINUX_TAG_RE.fullmatch(tag)
    if m is None:
        return None
    if m["legacy"]:
        return LinuxTag(family="manylinux", version=_LEGACY_VERSIONS[m["legacy"]], arch=m["arch"])
    if m["plain"]:
        return LinuxTag(family="linux", version=None, arch=m["arch"])
    family: Literal["manylinux", "musllinux"] = (
        "manylinux" if m["family"] == "manylinux" else "musllinux"
    )
    return LinuxTag(family=family, version=(int(m["major"]), int(m["minor"])), arch=m["arch"])


def lookup(triple: str) -> Target | None:
    """Return the Target for a triple castoff knows, or None."""
    return TARGETS.get(triple)


def suggest(triple: str) -> str | None:
    """Return the known triple closest to a mistyped one, if any is close."""
    matches = difflib.get_close_matches(triple, list(TARGETS), n=1, cutoff=0.75)
    return matches[0] if matches else None


def format_version(version: tuple[int, int]) -> str:
    """Spell a (major, minor) libc or macOS version as tags do: 2_17."""
    return f"{version[0]}_{version[1]}"


def parse_version(text: str) -> tuple[int, int] | None:
    """Parse '2_17', '2.17' or '11.0' into (major, minor); None when it is neither."""
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
    m = re.fullmatch(r"([0-9]{1,4})[._]([0-9]{1,4})", text)
    if m is None:
        return None
    return int(m[1]), int(m[2])


# The libc and OS versions a tag may promise: what real systems have had or may soon have.
# glibc has been 2.x since 1997 and musl 1.x since 2012; a tag outside these series promises a
# system that does not exist, and installers would never pick the wheel.
GLIBC_MAJOR = 2
MUSL_MAJOR = 1
MAX_MINOR = 99
MACOS_MAJORS = range(10, 100)


def version_problem(family: str, version: tuple[int, int]) -> str | None:
    """Return why no real system has this glibc, musl or macOS version, or None."""
    major, minor = version
    if family == "manylinux" and major != GLIBC_MAJOR:
        return f"glibc {major}.{minor} does not exist (glibc versions are 2.x)"
    if family == "musllinux" and major != MUSL_MAJOR:
        return f"musl {major}.{minor} does not exist (musl versions are 1.x)"
    if family == "macosx" and major not in MACOS_MAJORS:
        return f"macOS {major}.{minor} does not exist (macOS versions run from 10 on)"
    if minor > MAX_MINOR:
        return f"{major}.{minor} is not a version any system has"
    return None


# auditwheel's policies, which maturin checks against, end big-endian ppc64 at manylinux2014,
# though PyPI takes any manylinux_x_y_ppc64: above it maturin builds a plain linux_ppc64 wheel,
# and castoff's own audit holds the binary to the configured tag before assemble retags it.
MATURIN_MANYLINUX_MAX = {"ppc64": (2, 17)}


def maturin_tags_plain_linux(target: Target, manylinux: tuple[int, int] | None) -> bool:
    """Say whether maturin refuses a target's manylinux tag, so it must build plain linux."""
    most = MATURIN_MANYLINUX_MAX.get(target.wheel_arch)
    return (
        target.tag_family == "manylinux"
        and most is not None
        and manylinux is not None
        and manylinux > most
    )


def manylinux_tags(wheel_arch: str, glibc: tuple[int, int]) -> tuple[str, ...]:
    """Return the manylinux tags of a glibc version: the PEP 600 tag and any legacy alias."""
    tags = [f"manylinux_{format_version(glibc)}_{wheel_arch}"]
    legacy = _LEGACY_MANYLINUX.get(glibc)
    if legacy is not None and wheel_arch in legacy[1]:
        tags.append(f"{legacy[0]}_{wheel_arch}")
    return tuple(sorted(tags))


def native_platform_tags(
    target: Target,
    *,
    manylinux: tuple[int, int] | None = None,
    musllinux: tuple[int, int] | None = None,
    macosx: tuple[int, int] | None = None,
) -> tuple[str, ...]:
    """Return the sorted platform tags of the wheel maturin builds for a target."""

    def need(version: tuple[int, int] | None, key: str) -> tuple[int, int]:
        if version is None:
            raise ValueError(f"{target.triple} wheels need a {key} version")
        return version

    match target.tag_family:
        case "manylinux":
            return manylinux_tags(target.wheel_arch, need(manylinux, "manylinux"))
        case "musllinux":
            musl = format_version(need(musllinux, "musllinux"))
            return (f"musllinux_{musl}_{target.wheel_arch}",)
        case "linux":
            return (f"linux_{target.wheel_arch}",)
        case "macosx":
            return (f"macosx_{format_version(need(macosx, 'macosx'))}_{target.wheel_arch}",)
        case "win":
            return ("win32",) if target.wheel_arch == "win32" else (f"win_{target.wheel_arch}",)


@dataclass(frozen=True, kw_only=True)
class TagProblem:
    """Why a tag (or a compatibility version) would promise more than a target's binary keeps."""

    key: str  # the config key it came from
    problem: str
    fix: str | None = None


def compat_problem(
    target: Target,
    *,
    manylinux: tuple[int, int] | None,
    musllinux: tuple[int, int] | None,
    macosx: tuple[int, int] | None,
) -> TagProblem | None:
    """Return why a target's manylinux/musllinux/macosx version does not fit it, or None."""
    family = target.tag_family
    for key, value in (("manylinux", manylinux), ("musllinux", musllinux), ("macosx", macosx)):
        if value is not None and family != key:
            return TagProblem(
                key=key,
                problem=f"applies to {key} targets, and '{target.triple}' builds {family} wheels.",
                fix="Remove it; for a static musl wheel that should also install on glibc, use "
                "tool.castoff.tag-policy or extra-tags.",
            )
    if manylinux is not None and target.glibc_floor and manylinux < target.glibc_floor:
        floor = format_version(target.glibc_floor)
        return TagProblem(
            key="manylinux",
            problem=f"'{format_version(manylinux)}' is below the glibc floor of "
            f"{target.wheel_arch} ({floor}): the tag would promise systems the binary cannot "
            "run on.",
            fix=f"Use manylinux = '{floor}' or higher.",
        )
    if musllinux is not None and target.musl_floor and musllinux < target.musl_floor:
        floor = format_version(target.musl_floor)
        return TagProblem(
            key="musllinux",
            problem=f"'{format_version(musllinux)}' is below musl {floor} for {target.wheel_arch}.",
            fix=f"Use musllinux = '{floor}' or higher.",
        )
    if macosx is not None and macosx[0] >= 11 and macosx[1] != 0:
        return TagProblem(
            key="macosx",
            problem=f"'{macosx[0]}.{macosx[1]}': wheels for macOS 11 and later are tagged by "
            f"major version only (maturin tags macosx_{macosx[0]}_0, and PyPI takes no other).",
            fix=f"Use macosx = '{macosx[0]}.0'.",
        )
    if macosx is not None and target.macos_floor and macosx < target.macos_floor:
        floor = f"{target.macos_floor[0]}.{target.macos_floor[1]}"
        return TagProblem(
            key="macosx",
            problem=f"'{macosx[0]}.{macosx[1]}' is below rustc's minimum for this target.",
            fix=f"Use macosx = '{floor}' or higher.",
        )
    return None


def linked_glibc_problem(
    manylinux: tuple[int, int], glibc: tuple[int, int], machine: str
) -> TagProblem | None:
    """Return why a manylinux tag cannot hold for a binary linked against this glibc, or None."""
    if not glibc >= LIBC_START_MAIN_MOVED > manylinux:
        return None
    return TagProblem(
        key="manylinux",
        problem=f"'{format_version(manylinux)}' cannot hold on {machine}: its cross gcc links "
        f"against glibc {glibc[0]}.{glibc[1]}, and every binary linked against glibc 2.34 or "
        "later needs GLIBC_2.34 (__libc_start_main).",
        fix="Use manylinux = '2_34' or higher, or method = 'docker' with a manylinux2014 cross "
        "image for 2_17.",
    )


def extra_tag_problem(
    tag: str, target: Target, manylinux: tuple[int, int] | None = None
) -> TagProblem | None:
    """Return why an extra platform tag would promise more than a target keeps, or None.

    `manylinux` is the glibc a glibc target is built for: an extra tag may not promise less.
    """
    parsed = parse_linux_tag(tag)
    if parsed is None or target.os != "linux":
        return TagProblem(
            key="extra-tags",
            problem=f"'{tag}' is not a Linux platform tag castoff can add to a {target.triple} "
            "wheel.",
            fix="Use manylinux_X_Y_ARCH, musllinux_X_Y_ARCH, manylinux2014_ARCH or linux_ARCH.",
        )
    if parsed.arch != target.wheel_arch:
        return TagProblem(
            key="extra-tags",
            problem=f"'{tag}' names architecture '{parsed.arch}', but {target.triple} wheels are "
            f"'{target.wheel_arch}'.",
            fix=f"Use a tag ending in _{target.wheel_arch}.",
        )
    if parsed.version is not None:
        problem = version_problem(parsed.family, parsed.version)
        if problem is not None:
            return TagProblem(key="extra-tags", problem=f"'{tag}': {problem}.")
    glibc = parsed.version if parsed.family == "manylinux" else None
    return _extra_glibc_problem(tag, glibc, target, manylinux) if glibc else None


def _extra_glibc_problem(
    tag: str, glibc: tuple[int, int], target: Target, manylinux: tuple[int, int] | None
) -> TagProblem | None:
    if target.libc == "musl" and not target.is_static_by_default:
        return TagProblem(
            key="extra-tags", problem=f"'{tag}' claims glibc for a dynamically linked musl binary."
        )
    if target.glibc_floor and glibc < target.glibc_floor:
        floor = format_version(target.glibc_floor)
        return TagProblem(
            key="extra-tags",
            problem=f"'{tag}' promises glibc {glibc[0]}.{glibc[1]}, below the {target.wheel_arch} "
            f"floor of {floor.replace('_', '.')}.",
            fix=f"Use manylinux_{floor}_{target.wheel_arch} or higher.",
        )
    if target.libc == "gnu" and manylinux and glibc < manylinux:
        built = format_version(manylinux)
        return TagProblem(
            key="extra-tags",
            problem=f"'{tag}' promises glibc {glibc[0]}.{glibc[1]}, below the manylinux "
            f"{built} the target is built and checked for.",
            fix=f"Use manylinux_{built}_{target.wheel_arch} or higher, or lower the target's "
            "manylinux if its binary keeps it.",
        )
    return None
