import pytest

from castoff import targets as tg

UV_LINUX_TRIPLES = [
    "aarch64-unknown-linux-gnu",
    "aarch64-unknown-linux-musl",
    "arm-unknown-linux-musleabihf",
    "armv7-unknown-linux-gnueabihf",
    "armv7-unknown-linux-musleabihf",
    "powerpc64-unknown-linux-gnu",
    "powerpc64le-unknown-linux-gnu",
    "riscv64gc-unknown-linux-gnu",
    "s390x-unknown-linux-gnu",
    "x86_64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "i686-unknown-linux-gnu",
    "i686-unknown-linux-musl",
]
OTHER_TRIPLES = [
    "loongarch64-unknown-linux-gnu",
    "loongarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "i686-pc-windows-msvc",
    "aarch64-pc-windows-msvc",
]


@pytest.mark.parametrize("triple", UV_LINUX_TRIPLES + OTHER_TRIPLES)
def test_every_uv_triple_and_loongarch64_is_known(triple: str) -> None:
    """Castoff knows every Linux triple uv ships, loongarch64, and common macOS/Windows triples."""
    assert tg.lookup(triple) is not None


@pytest.mark.parametrize(
    ("triple", "machine", "elf_class", "endianness", "float_abi", "qemu"),
    [
        ("x86_64-unknown-linux-gnu", "EM_X86_64", 64, "little", None, "qemu-x86_64-static"),
        ("i686-unknown-linux-musl", "EM_386", 32, "little", None, "qemu-i386-static"),
        ("aarch64-unknown-linux-musl", "EM_AARCH64", 64, "little", None, "qemu-aarch64-static"),
        ("armv7-unknown-linux-musleabihf", "EM_ARM", 32, "little", "hard", "qemu-arm-static"),
        ("powerpc64le-unknown-linux-gnu", "EM_PPC64", 64, "little", None, "qemu-ppc64le-static"),
        ("powerpc64-unknown-linux-gnu", "EM_PPC64", 64, "big", None, "qemu-ppc64-static"),
        ("s390x-unknown-linux-musl", "EM_S390", 64, "big", None, "qemu-s390x-static"),
        ("riscv64gc-unknown-linux-musl", "EM_RISCV", 64, "little", "double", "qemu-riscv64-static"),
        (
            "loongarch64-unknown-linux-musl",
            "EM_LOONGARCH",
            64,
            "little",
            "double",
            "qemu-loongarch64-static",
        ),
    ],
)
def test_elf_identity_and_qemu(
    triple: str, machine: str, elf_class: int, endianness: str, float_abi: str | None, qemu: str
) -> None:
    """Each Linux triple knows its binaries' ELF header and the qemu-user that runs them."""
    target = tg.TARGETS[triple]
    assert target.elf is not None
    assert (target.elf.machine, target.elf.elf_class, target.elf.endianness) == (
        machine,
        elf_class,
        endianness,
    )
    assert target.elf.float_abi == float_abi
    assert target.qemu == qemu


@pytest.mark.parametrize(
    ("triple", "floor"),
    [
        ("x86_64-unknown-linux-gnu", (2, 17)),
        ("aarch64-unknown-linux-gnu", (2, 17)),
        ("s390x-unknown-linux-musl", (2, 17)),
        ("riscv64gc-unknown-linux-gnu", (2, 31)),
        ("loongarch64-unknown-linux-musl", (2, 36)),
    ],
)
def test_glibc_floors(triple: str, floor: tuple[int, int]) -> None:
    """The glibc floor is 2.17 generally, 2.31 for riscv64 and 2.36 for loongarch64."""
    assert tg.TARGETS[triple].glibc_floor == floor


def test_archive_kind_is_zip_only_on_windows() -> None:
    """Archives are tar.gz everywhere but Windows, as uv and cargo-dist do."""
    assert tg.TARGETS["x86_64-pc-windows-msvc"].archive_kind == "zip"
    assert tg.TARGETS["aarch64-apple-darwin"].archive_kind == "tar.gz"
    assert tg.TARGETS["s390x-unknown-linux-gnu"].archive_kind == "tar.gz"


@pytest.mark.parametrize(
    ("triple", "kwargs", "tags"),
    [
        (
            "x86_64-unknown-linux-gnu",
            {"manylinux": (2, 17)},
            ("manylinux2014_x86_64", "manylinux_2_17_x86_64"),
        ),
        ("aarch64-unknown-linux-gnu", {"manylinux": (2, 28)}, ("manylinux_2_28_aarch64",)),
        ("riscv64gc-unknown-linux-gnu", {"manylinux": (2, 31)}, ("manylinux_2_31_riscv64",)),
        (
            "x86_64-unknown-linux-gnu",
            {"manylinux": (2, 5)},
            ("manylinux1_x86_64", "manylinux_2_5_x86_64"),
        ),
        ("armv7-unknown-linux-musleabihf", {"musllinux": (1, 2)}, ("musllinux_1_2_armv7l",)),
        ("arm-unknown-linux-musleabihf", {}, ("linux_armv6l",)),
        ("aarch64-apple-darwin", {"macosx": (11, 0)}, ("macosx_11_0_arm64",)),
        ("x86_64-apple-darwin", {"macosx": (10, 12)}, ("macosx_10_12_x86_64",)),
        ("x86_64-pc-windows-msvc", {}, ("win_amd64",)),
        ("i686-pc-windows-msvc", {}, ("win32",)),
        ("aarch64-pc-windows-msvc", {}, ("win_arm64",)),
    ],
)
def test_native_platform_tags(
    triple: str, kwargs: dict[str, tuple[int, int]], tags: tuple[str, ...]
) -> None:
    """Native wheel tags match what maturin emits, with legacy manylinux aliases, sorted."""
    assert tg.native_platform_tags(tg.TARGETS[triple], **kwargs) == tags


def test_suggest_fixes_a_missing_vendor() -> None:
    """A triple missing its vendor part is matched to the real one."""
    assert tg.suggest("aarch64-linux-musl") == "aarch64-unknown-linux-musl"
    assert tg.suggest("sparc-solaris") is None


@pytest.mark.parametrize(
    ("text", "parsed"), [("2_17", (2, 17)), ("11.0", (11, 0)), ("2", None), ("a_b", None)]
)
def test_parse_version(text: str, parsed: tuple[int, int] | None) -> None:
    """Compatibility versions are written 2_17 or 11.0."""
    assert tg.parse_version(text) == parsed


@pytest.mark.parametrize(
    ("tag", "parsed"),
    [
        (
            "manylinux_2_31_riscv64",
            tg.LinuxTag(family="manylinux", version=(2, 31), arch="riscv64"),
        ),
        ("manylinux2014_s390x", tg.LinuxTag(family="manylinux", version=(2, 17), arch="s390x")),
        ("manylinux1_x86_64", tg.LinuxTag(family="manylinux", version=(2, 5), arch="x86_64")),
        ("musllinux_1_2_armv7l", tg.LinuxTag(family="musllinux", version=(1, 2), arch="armv7l")),
        ("linux_armv6l", tg.LinuxTag(family="linux", version=None, arch="armv6l")),
        ("macosx_11_0_arm64", None),
        ("win_amd64", None),
    ],
)
def test_parse_linux_tag(tag: str, parsed: tg.LinuxTag | None) -> None:
    """Linux tags come apart into family, promised version (legacy names resolved) and arch."""
    assert tg.parse_linux_tag(tag) == parsed
