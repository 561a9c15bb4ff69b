"""castoff's in-process twine upload against a local HTTP stand-in for an index's upload endpoint.

The stand-in answers every upload with one status (and echoes the Authorization header back), so
each answer PyPI can give is met by twine's real upload code and castoff's reading of it.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from castoff.publish import twine
from tests.wheels import elf_stub, make_wheel


class _Answering(http.server.BaseHTTPRequestHandler):
    """An index stand-in that answers every upload with one status, echoing what it was sent."""

    status = 200

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = f"refused; you sent {self.headers.get('Authorization', '')}".encode()
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[http.server.HTTPServer]:
    """Serve _Answering on a free port of 127.0.0.1 for one test."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Answering)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (200, False),
        (201, False),
        (204, False),
        (302, False),
        (500, True),
        (503, True),
        (429, True),
        (400, False),
    ],
)
def test_twine_in_process_reads_each_answer_and_never_shows_the_password(
    tmp_path: Path, answering: http.server.HTTPServer, status: int, transient: bool
) -> None:
    """A real twine upload to a local stand-in: HTTP status, retry advice, password redacted."""
    _Answering.status = status
    wheel = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], elf_stub())
    password = "index-password-4711"  # noqa: S105 - a made-up secret to search for
    url = f"http://127.0.0.1:{answering.server_address[1]}/"
    env = {"TWINE_USERNAME": "castoff", "TWINE_PASSWORD": password}
    with twine.Uploader(url, env) as uploader:
        outcome = uploader.upload(wheel, None)
    landed = 200 <= status < 300  # any 2xx, as twine's own command takes it
    assert (outcome.ok, outcome.transient) == (landed, transient)
    assert outcome.status == (None if landed else status)
    if not landed:
        assert f"HTTPError: {status}" in outcome.message
        # The stand-in echoes the Authorization header: base64 of the password, not the password.
        assert "refused; you sent Basic" in outcome.message
    assert password not in outcome.message


def test_twine_in_process_a_closed_port_is_worth_a_retry_a_bad_file_is_not(
    tmp_path: Path,
) -> None:
    """No index listening: transient, no status. A file twine cannot read: not transient."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wheel = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], elf_stub())
    env = {"TWINE_USERNAME": "castoff", "TWINE_PASSWORD": "x"}
    with twine.Uploader(f"http://127.0.0.1:{port}/", env) as uploader:
        refused = uploader.upload(wheel, None)
        broken = tmp_path / "castoff_hello-0.1.0-py3-none-any.whl"
        broken.write_bytes(b"not a zip")
        unreadable = uploader.upload(broken, None)
    assert (refused.ok, refused.status, refused.transient) == (False, None, True)
    assert "ConnectionError" in refused.message
    assert (unreadable.ok, unreadable.status, unreadable.transient) == (False, None, False)


def test_twine_in_process_without_credentials_says_so_and_sends_nothing(
    tmp_path: Path, answering: http.server.HTTPServer
) -> None:
    """No TWINE_PASSWORD, no keyring, not PyPI: twine's own refusal, not worth a retry."""
    _Answering.status = 200
    wheel = make_wheel(tmp_path, ["musllinux_1_2_x86_64"], elf_stub())
    url = f"http://127.0.0.1:{answering.server_address[1]}/"
    with twine.Uploader(url, {"TWINE_USERNAME": "castoff"}) as uploader:
        outcome = uploader.upload(wheel, None)
    assert (outcome.ok, outcome.status, outcome.transient) == (False, None, False)
    assert "Credential not found" in outcome.message
