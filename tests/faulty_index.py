"""A real pypiserver behind a WSGI wrapper that injects faults into uploads (tests only).

Run: python tests/faulty_index.py PACKAGES HTPASSWD PORT [--die-after K] [--die-during K]
     [--status K:CODE] ... [--log FILE]   (K counts upload requests from 1)
--die-after K    the process exits right after answering the K-th upload (which landed)
--die-during K   the K-th upload is stored, then the process exits without answering
--status K:CODE  the K-th upload is answered with CODE (500, 400, ...) and not stored
--slow SECONDS   every upload takes this long (publishes that overlap, for the lock tests)
--no-hashes      project pages carry no sha256 (an index clients must download to check)
--tamper K:PATH  before answering the K-th project-page read, append a byte to PATH: someone
                 changing a release folder between castoff's preflight and its upload
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pypiserver  # type: ignore[import-not-found]  # untyped

StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
# What PyPI says when it refuses a file (warehouse's forklift), for the 400 fault.
REFUSAL = b"400 Binary wheel 'x.whl' has an unsupported platform tag 'linux_loongarch64'."


class _Closing:
    """A response body that runs an action once the server has sent it."""

    def __init__(self, body: Iterable[bytes], action: Callable[[], None]) -> None:
        self.body = body
        self.action = action

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        close = getattr(self.body, "close", None)
        if close is not None:
            close()
        self.action()


def _record(log: str, count: int, status: str) -> None:
    """Append one line per upload the index answered (or would have): the tests count them."""
    with open(log, "a", encoding="utf-8") as handle:  # noqa: PTH123 - a plain path string
        handle.write(f"{count} {status}\n")


def faulty(app: Wsgi, args: argparse.Namespace) -> Wsgi:
    """Wrap the index: count upload requests and apply the fault planned for each."""
    count = 0
    statuses = {int(k): int(v) for k, v in (s.split(":") for s in args.status)}

    reads = 0
    tamper = dict(t.split(":", 1) for t in args.tamper)

    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        nonlocal count, reads
        if environ["REQUEST_METHOD"] != "POST":
            if (
                environ.get("PATH_INFO", "").startswith("/simple/")
                and environ["PATH_INFO"] != "/simple/"
            ):
                reads += 1
                victim = tamper.get(str(reads))
                if victim is not None:
                    _append(victim)  # before the answer: the client reads after the change
            return app(environ, start_response)
        count += 1
        if args.slow:
            time.sleep(args.slow)
        if count in statuses:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            code = statuses[count]
            _record(args.log, count, str(code))
            text = REFUSAL if code == 400 else f"{code} injected fault".encode()
            start_response(f"{code} Injected", [("Content-Type", "text/plain")])
            return [text]
        statuses_seen: list[str] = []

        def recording(status: str, headers: Any, *rest: Any) -> Any:
            statuses_seen.append(status)
            return start_response(status, headers, *rest)

        body = app(environ, recording)
        _record(args.log, count, statuses_seen[0].split()[0] if statuses_seen else "?")
        if count == args.die_during:
            list(body)  # the file is stored by now
            os._exit(3)
        if count == args.die_after:
            return _Closing(body, lambda: os._exit(3))
        return body

    return wrapped


def _append(path: str) -> None:
    with open(path, "ab") as handle:  # noqa: PTH123 - a plain path string
        handle.write(b"\0")


class _Threaded(ThreadingMixIn, WSGIServer):
    """Answers reads while a slow upload is in progress, as a real index does."""

    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("packages")
    parser.add_argument("htpasswd")
    parser.add_argument("port", type=int)
    parser.add_argument("--die-after", type=int, default=0)
    parser.add_argument("--die-during", type=int, default=0)
    parser.add_argument("--status", action="append", default=[])
    parser.add_argument("--log", default=os.devnull, help="append one line per upload: K STATUS")
    parser.add_argument("--slow", type=float, default=0.0)
    parser.add_argument("--no-hashes", action="store_true")
    parser.add_argument("--tamper", action="append", default=[])
    args = parser.parse_args()
    app = pypiserver.app(
        roots=[args.packages],
        password_file=args.htpasswd,
        authenticate=["update"],
        disable_fallback=True,
        hash_algo=None if args.no_hashes else "sha256",
    )
    server = make_server(
        "127.0.0.1", args.port, faulty(app, args), server_class=_Threaded, handler_class=_Quiet
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
