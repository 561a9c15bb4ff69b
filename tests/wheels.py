"""Make small but real wheels around given binaries, for audit and retag tests."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    folder: Path,
    platforms: list[str],
    binary: bytes,
    *,
    name: str = "demo",
    version: str = "1.0",
    script: str = "hello",
) -> Path:
    """Write `<name>-<version>-py3-none-<platforms>.whl` holding `binary` as a script."""
    tags = ".".join(sorted(platforms))
    path = folder / f"{name}-{version}-py3-none-{tags}.whl"
    dist_info = f"{name}-{version}.dist-info"
    members = {
        f"{name}-{version}.data/scripts/{script}": binary,
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: castoff-tests\nRoot-Is-Purelib: false\n"
            + "".join(f"Tag: py3-none-{p}\n" for p in sorted(platforms))
        ).encode(),
    }
    record = (
        "".join(f"{n},{_hash(d)},{len(d)}\n" for n, d in members.items())
        + f"{dist_info}/RECORD,,\n"
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16
            wheel.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        wheel.writestr(f"{dist_info}/RECORD", record)
    return path
