"""Loopback HTTP peers that misbehave on purpose: a slow drip, raw hostile answers, a redirect.

Every loop here is bounded (accept with a timeout, reads with a timeout, a drip with a byte budget) and stops
when the server is closed, so a test that forgets one cannot hang the suite.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Reply = Callable[[socket.socket, bytes], None]


def _read_request(conn: socket.socket, limit: int = 1 << 20) -> bytes:
    """Headers and a Content-Length body, bounded in size and time."""
    conn.settimeout(5)
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data and len(data) < limit:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = min(int(value.strip()), limit)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    return data


@dataclass(repr=False)
class HostileServer:
    """``reply(conn, request)`` writes whatever it likes; the server closes the connection afterwards."""

    reply: Reply
    requests: list[bytes] = field(default_factory=list, repr=False)
    stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def __repr__(self) -> str:
        return f"HostileServer({self.url})"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            self.requests = [*self.requests[-20:], request]
            with contextlib.suppress(OSError):
                self.reply(conn, request)
                conn.shutdown(socket.SHUT_WR)
                # Let the client read everything before the close (an RST could eat the tail).
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    while conn.recv(65536):
                        pass

    def close(self) -> None:
        self.stop.set()
        self._sock.close()
        self._accept.join(timeout=2)
        for thread in self._threads:
            thread.join(timeout=2)


@contextlib.contextmanager
def hostile_server(reply: Reply, stop: threading.Event | None = None) -> Iterator[HostileServer]:
    server = HostileServer(reply, stop=stop or threading.Event())
    try:
        yield server
    finally:
        server.close()


def drip(stop: threading.Event, *, interval: float = 0.5, budget: int = 120, headers_too: bool = False) -> Reply:
    """One byte every ``interval`` seconds: the body (or, with ``headers_too``, the status line onwards).
    At most ``budget`` bytes, and never past the server's stop."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"

    def reply(conn: socket.socket, request: bytes) -> None:
        if not headers_too:
            conn.sendall(head)
        payload = (head if headers_too else b"") + b'{"nonce": "' + b"a" * 100000
        for index in range(budget):
            if stop.is_set():
                return
            conn.sendall(payload[index : index + 1])
            if stop.wait(interval):
                return

    return reply


def answer(raw: bytes) -> Reply:
    """Send ``raw`` (a whole HTTP answer, well-formed or not) and close."""

    def reply(conn: socket.socket, request: bytes) -> None:
        conn.sendall(raw)

    return reply


def http_answer(status: int, body: bytes, headers: dict[str, str] | None = None, *, reason: str = "X") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    fields = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def elapsed(start: float) -> float:
    return time.monotonic() - start
