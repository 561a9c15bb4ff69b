"""PyPI's upload rules as data and predicates, so castoff refuses before PyPI does.

Mirrors pypi/warehouse `warehouse/forklift/legacy.py` at commit 6b62157 (lines 103-232:
`_allowed_platforms`, the macOS/iOS/Android/many-musllinux/pyemscripten regexes and arch sets, and
`_valid_platform_tag`; the per-member check of a dotted tag set at line 1441; the refusal text at
lines 1444-1450; `MAX_FILESIZE`; and `MAXIMUM_AGE_FOR_NEW_UPLOADS_DAYS` from #19727). When
warehouse changes (as it did for riscv64 in #18390), change the tables here and the commit above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

WAREHOUSE_COMMIT = "6b62157"

# warehouse: MAX_FILESIZE = 100 * ONE_MB (ONE_MB = 1024 * 1024); PyPI admins can raise it.
DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024
# warehouse forklift/metadata.py: the metadata versions an upload may declare.
SUPPORTED_METADATA_VERSIONS = frozenset({"1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4"})
# warehouse legacy.py: "Only one sdist may be uploaded per release."
ONE_SDIST = "Only one sdist may be uploaded per release"
# warehouse #19727: new files cannot be added to a release older than this.
MAXIMUM_AGE_FOR_NEW_UPLOADS_DAYS = 14

ALLOWED_PLATFORMS = frozenset(
    {
        "any",
        "win32",
        "win_arm64",
        "win_amd64",
        "win_ia64",
        "manylinux1_x86_64",
        "manylinux1_i686",
        "manylinux2010_x86_64",
        "manylinux2010_i686",
        "manylinux2014_x86_64",
        "manylinux2014_i686",
        "manylinux2014_aarch64",
        "manylinux2014_armv7l",
        "manylinux2014_ppc64",
        "manylinux2014_ppc64le",
        "manylinux2014_s390x",
        "linux_armv6l",
        "linux_armv7l",
    }
)
MACOSX_ARCHES = frozenset(
    {
        "ppc",
        "ppc64",
        "i386",
        "x86_64",
        "arm64",
        "intel",
        "fat",
        "fat3",
        "fat64",
        "universal",
        "universal2",
    }
)
# macOS 10.x takes any minor; from 11 on only minor 0 is accepted.
MACOSX_MAJOR_VERSIONS = frozenset({"11", "12", "13", "14", "15", "26"})
IOS_ARCHES = frozenset({"arm64", "x86_64"})
ANDROID_ARCHES = frozenset({"armeabi_v7a", "arm64_v8a", "x86", "x86_64"})
JOINTLINUX_ARCHES = frozenset(
    {"x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"}
)
MANYLINUX_ARCHES = JOINTLINUX_ARCHES | {"ppc64"}
MUSLLINUX_ARCHES = JOINTLINUX_ARCHES

# warehouse applies these with re.match and a trailing `.*`, which is the same as fullmatch here.
_MACOSX_RE = re.compile(r"macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.*)")
_IOS_RE = re.compile(r"ios_(\d+)_(\d+)_(?P<arch>.*)_(iphoneos|iphonesimulator)")
_ANDROID_RE = re.compile(r"android_(\d+)_(?P<arch>.*)")
_LINUX_RE = re.compile(r"(?P<libc>(many|musl))linux_(\d+)_(\d+)_(?P<arch>.*)")
_PYEMSCRIPTEN_RE = re.compile(r"pyemscripten_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>wasm32)")
_LEGACY_LINUX_RE = re.compile(r"(?P<family>manylinux1|manylinux2010|manylinux2014)_(?P<arch>.+)")


def _names(arches: Iterable[str]) -> str:
    return ", ".join(sorted(arches))


def platform_tag_refusal(tag: str) -> str | None:  # noqa: PLR0911, PLR0912 - warehouse's chain
    """Return why PyPI refuses one platform tag, or None when PyPI accepts it."""
    if tag in ALLOWED_PLATFORMS:
        return None
    if m := _MACOSX_RE.match(tag):
        major, minor, arch = m["major"], m["minor"], m["arch"]
        if arch not in MACOSX_ARCHES:
            return f"'{arch}' is not a macOS architecture PyPI knows ({_names(MACOSX_ARCHES)})"
        if major == "10":
            return None
        if major not in MACOSX_MAJOR_VERSIONS:
            return f"PyPI accepts macOS majors 10, {_names(MACOSX_MAJOR_VERSIONS)}; not {major}"
        if minor != "0":
            return (
                f"from macOS 11 on PyPI accepts only minor version 0; use 'macosx_{major}_0_{arch}'"
            )
        return None
    if m := _LINUX_RE.match(tag):
        arches = MUSLLINUX_ARCHES if m["libc"] == "musl" else MANYLINUX_ARCHES
        if m["arch"] in arches:
            return None
        return (
            f"'{m['arch']}' is not among PyPI's {m['libc']}linux architectures ({_names(arches)})"
        )
    if (m := _IOS_RE.match(tag)) and m["arch"] in IOS_ARCHES:
        return None
    if (m := _ANDROID_RE.match(tag)) and m["arch"] in ANDROID_ARCHES:
        return None
    if _PYEMSCRIPTEN_RE.match(tag):
        return None
    if m := _LEGACY_LINUX_RE.match(tag):
        return (
            f"PyPI accepts the legacy '{m['family']}' form only for the architectures it was "
            f"defined for; use the PEP 600 form 'manylinux_X_Y_{m['arch']}'"
        )
    if tag.startswith("linux_"):
        return "PyPI accepts plain 'linux_*' tags only for armv6l and armv7l"
    return "it is not a platform tag PyPI knows"


def wheel_refusal(platform_tags: Iterable[str]) -> str | None:
    """Return why PyPI refuses a wheel with these platform tags, or None when it accepts it.

    Like warehouse, every member of a dotted tag set is checked: one bad member refuses the wheel.
    """
    for tag in sorted(set(platform_tags)):
        reason = platform_tag_refusal(tag)
        if reason is not None:
            return f"PyPI refuses platform tag '{tag}': {reason}"
    return None


def is_sdist_filename(name: str) -> bool:
    """Return whether a file name is an sdist's as PEP 625 spells it (`name_part-version.tar.gz`).

    An archive castoff names `<name>-<triple>.tar.gz` never is: every triple has a '-' in it.
    """
    stem = name.removesuffix(".tar.gz")
    if stem == name or stem.count("-") != 1:
        return False
    # packaging.utils loads packaging.tags (and logging, sysconfig): a tenth of a build's start-up.
    from packaging.utils import InvalidSdistFilename, parse_sdist_filename  # noqa: PLC0415
    from packaging.version import InvalidVersion  # noqa: PLC0415

    try:
        parse_sdist_filename(name)
    except (InvalidSdistFilename, InvalidVersion):
        return False
    return True


def tag_set(tags: Iterable[str]) -> str:
    """Join tags into a compressed tag set, sorted as PEP 425 asks; warehouse #18129 may insist."""
    return ".".join(sorted(set(tags)))


def canonical_wheel_name(name: str) -> str:
    """Return the distribution name as it appears in wheel file names (PEP 427, escaped)."""
    # PEP 503's normal form (packaging's canonicalize_name: runs of -_. as one -, lower case),
    # each separator then written as _: in one step, without loading packaging.utils.
    return re.sub(r"[-_.]+", "_", name).lower()
