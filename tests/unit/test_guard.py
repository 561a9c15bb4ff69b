import socket
import subprocess

import pytest


def test_unit_tests_cannot_start_processes() -> None:
    """The autouse guard stops subprocess calls in unit tests."""
    with pytest.raises(AssertionError, match="outside world"):
        subprocess.run(["true"], check=False)


def test_unit_tests_cannot_open_sockets() -> None:
    """The autouse guard stops network connections in unit tests."""
    with pytest.raises(AssertionError, match="outside world"):
        socket.create_connection(("127.0.0.1", 9))
