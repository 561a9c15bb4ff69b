"""What castoff knows of cibuildwheel (pure): build identifiers, images, interpreter tags.

An extension module's wheel is built per target and per interpreter (or once per target for
abi3). cibuildwheel names each build `<interpreter>-<platform>` (cp311-manylinux_x86_64) and
builds Linux wheels in a manylinux or musllinux image that its own version pins by digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from castoff import targets as tg

# The cibuildwheel castoff drives (tests, rehearsals and the generated workflows pin it).
CIBUILDWHEEL = "cibuildwheel"
# castoff's own build image where no registry can be pulled from (castoff.build.image), and how
# a build manifest records it: by its ID. One image per libc: glibc (manylinux), musl (musllinux).
LOCAL_IMAGE_NAME = "localhost/castoff-cibw"
LOCAL_IMAGE_NAMES = {"gnu": LOCAL_IMAGE_NAME, "musl": f"{LOCAL_IMAGE_NAME}-musl"}


def local_image_re(libc: str) -> re.Pattern[str]:
    """Return how a manifest records castoff's local image for a libc: its name and ID."""
    return re.compile(re.escape(LOCAL_IMAGE_NAMES[libc]) + r"@sha256:[0-9a-f]{64}", re.ASCII)


# cibuildwheel 3 builds CPython 3.8 and later.
OLDEST_PYTHON = (3, 8)
NEWEST_PYTHON = (3, 14)
_PYTHON_RE = re.compile(r"cp3([0-9]|[1-9][0-9])(-abi3)?", re.ASCII)
# cibuildwheel's spelling of each architecture in a Linux build identifier, where it builds it.
_LINUX_ARCHES = {
    "x86_64": "x86_64",
    "i686": "i686",
    "aarch64": "aarch64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "armv7l": "armv7l",
    "riscv64": "riscv64",
}
# The manylinux images cibuildwheel offers, by the glibc they build against, per architecture
# (manylinux2014 is glibc 2.17; armv7l starts at 2.31, riscv64 at 2.39).
_MANYLINUX_IMAGES: dict[tuple[int, int], tuple[str, frozenset[str]]] = {
    (2, 17): ("manylinux2014", frozenset({"x86_64", "i686", "aarch64", "ppc64le", "s390x"})),
    (2, 28): ("manylinux_2_28", frozenset({"x86_64", "i686", "aarch64", "ppc64le", "s390x"})),
    (2, 31): ("manylinux_2_31", frozenset({"armv7l"})),
    (2, 34): ("manylinux_2_34", frozenset({"x86_64", "i686", "aarch64", "ppc64le", "s390x"})),
    (2, 35): ("manylinux_2_35", frozenset({"armv7l"})),
    (2, 39): ("manylinux_2_39", frozenset({"riscv64"})),
}
MUSLLINUX = (1, 2)  # the one musllinux image cibuildwheel 3 offers
_MACOS_ARCHES = {"x86_64": "x86_64", "arm64": "arm64"}
_WINDOWS_ARCHES = {"amd64": "win_amd64", "win32": "win32", "arm64": "win_arm64"}
# Where a target's wheel is built natively, as uv and maturin-action pick runners.
RUNNERS = {
    "aarch64-unknown-linux-gnu": "ubuntu-24.04-arm",
    "aarch64-unknown-linux-musl": "ubuntu-24.04-arm",
    "x86_64-apple-darwin": "macos-15-intel",
    "aarch64-apple-darwin": "macos-14",
    "aarch64-pc-windows-msvc": "windows-11-arm",
}


@dataclass(frozen=True, kw_only=True)
class Interpreter:
    """One entry of `python`: a CPython version's own ABI, or the stable ABI from a version on."""

    version: tuple[int, int]
    abi3: bool

    @property
    def spelled(self) -> str:
        """Return it as the config spells it: cp311, or cp38-abi3."""
        return f"cp{self.version[0]}{self.version[1]}" + ("-abi3" if self.abi3 else "")

    @property
    def python_tag(self) -> str:
        """Return the wheel's interpreter tag: cp38."""
        return f"cp{self.version[0]}{self.version[1]}"

    @property
    def abi_tag(self) -> str:
        """Return the wheel's ABI tag: abi3, or the version's own (cp311)."""
        return "abi3" if self.abi3 else self.python_tag


def oldest_python(target: tg.Target) -> tuple[int, int]:
    """Return the oldest CPython cibuildwheel builds a target for (Windows on Arm: 3.9)."""
    return (3, 9) if target.os == "windows" and target.wheel_arch == "arm64" else OLDEST_PYTHON


def parse_interpreter(text: str) -> Interpreter | None:
    """Return the interpreter a `python` entry names (cp311, cp38-abi3), or None."""
    match = _PYTHON_RE.fullmatch(text)
    if match is None:
        return None
    return Interpreter(version=(3, int(match.group(1))), abi3=match.group(2) is not None)


def platform(target: tg.Target) -> str | None:
    """Return the platform half of cibuildwheel's build identifier, or None where it has none."""
    arch = target.wheel_arch
    if target.os == "linux" and arch in _LINUX_ARCHES:
        family = {"gnu": "manylinux", "musl": "musllinux"}.get(target.libc)
        return f"{family}_{_LINUX_ARCHES[arch]}" if family else None
    if target.os == "macos" and arch in _MACOS_ARCHES:
        return f"macosx_{_MACOS_ARCHES[arch]}"
    if target.os == "windows" and target.libc == "msvc":
        return _WINDOWS_ARCHES.get(arch)
    return None


def linux_arch(target: tg.Target) -> str | None:
    """Return the architecture of a Linux target as cibuildwheel names it (None elsewhere)."""
    return _LINUX_ARCHES.get(target.wheel_arch) if target.os == "linux" else None


def identifier(interpreter: Interpreter, target: tg.Target) -> str:
    """Return cibuildwheel's build identifier of an interpreter on a target."""
    plat = platform(target)
    if plat is None:
        raise ValueError(f"cibuildwheel does not build {target.triple}")
    return f"{interpreter.python_tag}-{plat}"


def manylinux_image(wheel_arch: str, glibc: tuple[int, int]) -> str | None:
    """Return the cibuildwheel image that builds against a glibc on an arch, if there is one."""
    image = _MANYLINUX_IMAGES.get(glibc)
    return image[0] if image is not None and wheel_arch in image[1] else None


def manylinux_choices(wheel_arch: str) -> tuple[tuple[int, int], ...]:
    """Return the glibc versions cibuildwheel has an image for on an arch, lowest first."""
    return tuple(g for g, (_, arches) in sorted(_MANYLINUX_IMAGES.items()) if wheel_arch in arches)


def image_for(target: tg.Target, manylinux: tuple[int, int] | None) -> str | None:
    """Return the cibuildwheel image name a Linux target's wheels build in (None: not Linux)."""
    if target.os != "linux":
        return None
    if target.libc == "musl":
        return f"musllinux_{tg.format_version(MUSLLINUX)}"
    return manylinux_image(target.wheel_arch, manylinux) if manylinux else None


def pinned_image_re(image: str, arch: str) -> re.Pattern[str]:
    """Return the pattern of the reference cibuildwheel pins an image by (quay.io, by digest)."""
    return re.compile(rf"quay\.io/pypa/{re.escape(image)}_{re.escape(arch)}@sha256:[0-9a-f]{{64}}")


def wheel_filename(
    distribution: str, version: str, interpreter: Interpreter, platform_tags: str
) -> str:
    """Return an extension wheel's file name from its normalized distribution name."""
    return (
        f"{distribution}-{version}-{interpreter.python_tag}-{interpreter.abi_tag}-"
        f"{platform_tags}.whl"
    )
