"""castoff's file locks: one holder at a time, released when the holder is done."""

from __future__ import annotations

import os
from pathlib import Path

from castoff.filelock import locked, try_lock


def test_a_held_lock_is_not_taken_twice_and_is_released(tmp_path: Path) -> None:
    """While one holder has the lock another cannot take it; after, it can."""
    path = tmp_path / "x.lock"
    with locked(path):
        fd = os.open(path, os.O_RDWR)
        try:
            assert not try_lock(fd)
        finally:
            os.close(fd)
    fd = os.open(path, os.O_RDWR)
    try:
        assert try_lock(fd)
    finally:
        os.close(fd)
