"""Private copies of verified bytes: what every upload sends, never the release folder itself."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from castoff.build.archive import NotARegularFileError, copy_hashed
from castoff.errors import VerifyError

# A signature or attestation is a few kilobytes; more is not one castoff wrote.
MAX_ATTESTATION = 1 << 24


def verified_copy(
    dist: Path, name: str, sha256: str, into: Path, *, size: int | None = None
) -> Path:
    """Copy dist/name into a private folder, refusing any bytes but the verified ones."""
    copy = into / name
    limit = MAX_ATTESTATION if size is None else size
    try:
        digest, copied = copy_hashed(dist / name, copy, limit=limit)
    except (FileNotFoundError, NotARegularFileError) as exc:
        raise VerifyError(
            f"{dist / name}: gone or replaced since it was verified ({exc}); nothing of it was "
            "sent.",
            hint="Put back the verified release folder (castoff verify says which bytes are "
            "right) before publishing it; other bytes under this name would need a new version.",
        ) from None
    if digest != sha256 or copied > limit or (size is not None and copied != size):
        now = (
            f"its sha256 is now {digest}, verified {sha256}"
            if copied <= limit
            else f"it is now longer than the verified {limit} bytes"
        )
        raise VerifyError(
            f"{dist / name}: changed after it was verified ({now}); nothing of it was sent.",
            hint="Find out what changed it and put back the verified file before publishing "
            "again: an index never takes a file name twice, so other bytes under this name "
            "would need a new version.",
        )
    return copy


@contextmanager
def private_copies() -> Iterator[Path]:
    """Yield a folder only this user can read, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="castoff-upload-") as tmp:
        yield Path(tmp)
