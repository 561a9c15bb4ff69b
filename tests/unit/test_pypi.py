import pytest

from castoff import pypi

# (platform tag, accepted by PyPI?) as warehouse's _valid_platform_tag decides at 6b62157.
PLATFORM_CASES = [
    ("manylinux_2_31_riscv64", True),
    ("musllinux_1_2_riscv64", True),
    ("manylinux2014_riscv64", False),
    ("manylinux_2_36_loongarch64", False),
    ("musllinux_1_2_loongarch64", False),
    ("manylinux2014_loongarch64", False),
    ("linux_loongarch64", False),
    ("manylinux_2_17_ppc64", True),
    ("manylinux2014_ppc64", True),
    ("musllinux_1_2_ppc64", False),
    ("musllinux_1_1_ppc64le", True),
    ("manylinux_2_17_s390x", True),
    ("manylinux2014_armv7l", True),
    ("linux_armv7l", True),
    ("linux_armv6l", True),
    ("linux_x86_64", False),
    ("manylinux1_aarch64", False),
    ("manylinux1_x86_64", True),
    ("manylinux2010_i686", True),
    ("macosx_10_9_x86_64", True),
    ("macosx_10_15_universal2", True),
    ("macosx_11_0_arm64", True),
    ("macosx_11_1_arm64", False),
    ("macosx_26_0_arm64", True),
    ("macosx_16_0_arm64", False),
    ("macosx_10_9_sparc", False),
    ("win_amd64", True),
    ("win32", True),
    ("win_arm64", True),
    ("ios_13_0_arm64_iphoneos", True),
    ("ios_13_0_arm64_iphonesimulator", True),
    ("android_21_arm64_v8a", True),
    ("android_21_riscv64", False),
    ("pyemscripten_2026_0_wasm32", True),
    ("any", True),
    ("freebsd_14_0_amd64", False),
]


@pytest.mark.parametrize(("tag", "accepted"), PLATFORM_CASES)
def test_platform_tags_follow_warehouse(tag: str, accepted: bool) -> None:
    """Each platform tag is accepted or refused exactly as warehouse does."""
    reason = pypi.platform_tag_refusal(tag)
    assert (reason is None) is accepted, reason


def test_one_bad_member_of_a_dotted_set_refuses_the_wheel() -> None:
    """A compressed tag set is refused when any member is refused, naming that member."""
    reason = pypi.wheel_refusal(["manylinux_2_17_x86_64", "manylinux2014_riscv64"])
    assert reason is not None
    assert "'manylinux2014_riscv64'" in reason
    assert "manylinux_X_Y_riscv64" in reason


def test_a_fully_accepted_set_passes() -> None:
    """A set whose members PyPI all accepts is not refused."""
    assert pypi.wheel_refusal(["manylinux_2_31_riscv64", "musllinux_1_2_riscv64"]) is None


def test_refusal_reasons_say_why() -> None:
    """Reasons name the rule that refused the tag, so the plan can show it."""
    loong = pypi.platform_tag_refusal("manylinux_2_36_loongarch64")
    assert loong is not None
    assert "'loongarch64' is not among PyPI's manylinux architectures" in loong
    mac = pypi.platform_tag_refusal("macosx_11_1_arm64")
    assert mac is not None
    assert "macosx_11_0_arm64" in mac


def test_tag_sets_are_written_sorted() -> None:
    """Tag sets are joined in sorted order, as maturin and auditwheel do not."""
    tags = ["manylinux_2_17_x86_64", "manylinux2014_x86_64", "musllinux_1_2_x86_64"]
    assert pypi.tag_set(tags) == "manylinux2014_x86_64.manylinux_2_17_x86_64.musllinux_1_2_x86_64"
