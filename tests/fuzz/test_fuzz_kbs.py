"""Hostile KBS and AS answers (cococtl.kbs.client, cococtl.kbs.as_client): a loopback server answers random
status lines, headers and bodies (bad lengths, broken chunks, gzip that is not, terminal escapes in 5xx bodies,
redirects). Only CococtlError, printable messages, nothing written; bodies and decompression bounded."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cococtl.errors import CococtlError, IntegrityError, UnreachableError
from cococtl.evidence.sample import SampleAttester
from cococtl.kbs.as_client import AttestationServiceClient, VerificationRequest
from cococtl.kbs.client import KbsClient
from cococtl.kbs.jwe import TeeKeyPair
from tests.fuzz.conftest import check_cli, expect_clean, fuzz_settings, snapshot
from tests.fuzz.servers import HostileServer, http_answer
from tests.fuzz.strategies import CONTROL, json_values, text

KEYPAIR = TeeKeyPair.generate()


class _Scripted:
    """The answer the server sends next (set per example)."""

    def __init__(self) -> None:
        self.raw = b"HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n"

    def __call__(self, conn: socket.socket, request: bytes) -> None:
        conn.sendall(self.raw)


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[HostileServer, _Scripted]]:
    script = _Scripted()
    server = HostileServer(script, stop=threading.Event())
    try:
        yield server, script
    finally:
        server.close()


bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["PolicyDeny", "ResourceNotFound", "JWE", "x"]) | text, "detail": text}
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"nonce": text | json_values, "extra-params": json_values}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.fixed_dictionaries({"token": text | json_values}).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.builds(lambda a, c: (a + c + a).encode(), text, CONTROL),
)


def _chunked(body: bytes, broken: int) -> bytes:
    if broken == 0:
        return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    if broken == 1:
        return b"zz\r\n" + body
    if broken == 2:
        return f"{len(body) + 50:x}\r\n".encode() + body
    return f"{len(body):x}\r\n".encode() + body + b"\r\n"


@st.composite
def answers(draw: Any) -> bytes:
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 301, 307, 308, 400, 401, 403, 404, 500, 502, 599, 999]))
    body = draw(bodies)
    headers: dict[str, str] = {}
    framing = draw(st.sampled_from(["length", "short", "long", "junk-length", "chunked", "none"]))
    encoding = draw(st.sampled_from(["", "", "gzip", "gzip-bad", "deflate", "br", "x"]))
    if encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "deflate":
        body = zlib.compress(body)
    if encoding:
        headers["Content-Encoding"] = encoding.replace("-bad", "")
    if status in (301, 307, 308):
        headers["Location"] = draw(st.sampled_from(["http://127.0.0.2:1/x", "/kbs/v0/auth", "\x1b[2Jhttp://x"]))
    if draw(st.booleans()):
        headers["Content-Type"] = draw(st.sampled_from(["application/json", "text/plain; charset=x-bogus", "a\x7f"]))
    head = [f"HTTP/1.1 {status} {draw(st.sampled_from(['OK', 'X', '']))}"]
    if framing == "length":
        headers["Content-Length"] = str(len(body))
    elif framing == "short":
        headers["Content-Length"] = str(max(0, len(body) - 3))
    elif framing == "long":
        headers["Content-Length"] = str(len(body) + 100)
    elif framing == "junk-length":
        headers["Content-Length"] = draw(st.sampled_from(["-1", "abc", "1, 2", "99999999999999999999"]))
    elif framing == "chunked":
        headers["Transfer-Encoding"] = "chunked"
        body = _chunked(body, draw(st.integers(0, 3)))
    headers["Connection"] = "close"
    head += [f"{k}: {v}" for k, v in headers.items()]
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + body
    if draw(st.integers(0, 9)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]  # cut anywhere, even inside the status line
    return raw


def _client(server: HostileServer) -> KbsClient:
    return KbsClient(server.url, timeout=2.0)


@fuzz_settings(150)
@given(first=answers(), second=answers())
def test_hostile_kbs(scripted: tuple[HostileServer, _Scripted], first: bytes, second: bytes) -> None:
    server, script = scripted
    started = time.monotonic()
    with _client(server) as client:
        script.raw = first
        expect_clean(lambda: client.attest(SampleAttester(), KEYPAIR))
        script.raw = second
        expect_clean(lambda: client.get_resource("default/key/k1", KEYPAIR))
    assert time.monotonic() - started < 2 * 2.0 + 1


@fuzz_settings(80)
@given(answer=answers())
def test_hostile_as(scripted: tuple[HostileServer, _Scripted], answer: bytes) -> None:
    server, script = scripted
    script.raw = answer
    client = AttestationServiceClient(server.url, timeout=2.0)
    expect_clean(lambda: client.attest([VerificationRequest("sample", {"svn": "1"})]))
    expect_clean(client.list_policies)
    expect_clean(client.jwks)


@fuzz_settings(40)
@given(answer=answers())
def test_hostile_kbs_cli(cli: Any, scripted: tuple[HostileServer, _Scripted], tmp_path: Path, answer: bytes) -> None:
    server, script = scripted
    script.raw = answer
    out = tmp_path / "cli-out"
    out.mkdir(exist_ok=True)
    before = snapshot(out)
    result = cli("kbs", "attest", "--url", server.url, "--tee", "sample", "--timeout", "2", "-o", out / "t.jwt",
                 expect=None)  # fmt: skip
    check_cli(result, allowed=(0, 3, 4, 5, 6, 7))
    if result.exit_code != 0:
        assert snapshot(out) == before


def _big_answer(size: int) -> Any:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode()
    block = b"x" * (1 << 20)

    def reply(conn: socket.socket, request: bytes) -> None:
        conn.sendall(head)
        for _ in range(size >> 20):
            conn.sendall(block)

    return reply


def _gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(b"\0" * (1 << 20)) for _ in range(256)]
    return b"".join(parts) + compressor.flush()


@pytest.mark.parametrize("kind", ["96 MiB body", "gzip bomb", "chunked bomb"])
def test_answer_size_bounded(kind: str) -> None:
    """A 96 MiB answer or a 256 KiB gzip bomb is cut at 16 MiB: exit 4 "too large", within 2 s and 128 MiB."""
    if kind == "96 MiB body":
        reply = _big_answer(96 << 20)
    else:
        bomb = _gzip_bomb()
        assert len(bomb) < 300 << 10
        framing = f"Content-Length: {len(bomb)}" if kind == "gzip bomb" else "Transfer-Encoding: chunked"
        payload = bomb if kind == "gzip bomb" else f"{len(bomb):x}\r\n".encode() + bomb + b"\r\n0\r\n\r\n"
        raw = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n{framing}\r\nConnection: close\r\n\r\n".encode()

        def reply(conn: socket.socket, request: bytes) -> None:
            conn.sendall(raw + payload)

    server = HostileServer(reply, stop=threading.Event())
    try:
        tracemalloc.start()
        started = time.monotonic()
        with KbsClient(server.url, timeout=10) as client:
            error = expect_clean(lambda: client.attest(SampleAttester(), KEYPAIR))
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        server.close()
    assert isinstance(error, UnreachableError) and "too large" in error.message, error
    assert seconds < 2 and peak < 128 << 20, (seconds, peak >> 20)


def test_terminal_escapes_in_5xx_are_escaped() -> None:
    body = b"\x1b[2J\x1b]0;owned\x07" + b"x" * 100_000

    def reply(conn: socket.socket, request: bytes) -> None:
        conn.sendall(http_answer(500, body))

    server = HostileServer(reply, stop=threading.Event())
    try:
        with KbsClient(server.url, timeout=2) as client:
            error = expect_clean(lambda: client.attest(SampleAttester(), KEYPAIR))
        as_error = expect_clean(
            lambda: AttestationServiceClient(server.url, timeout=2).attest([VerificationRequest("sample", {})])
        )
    finally:
        server.close()
    for item in (error, as_error):
        assert "\x1b" not in str(item) and len(str(item)) < 2000, str(item)[:300]


def test_too_many_redirects_download(tmp_path: Path) -> None:
    """A download that redirects to itself forever: exit 4 in words, not requests' text."""
    from cococtl.sources.base import FetchSettings
    from cococtl.sources.http import fetch_http

    def reply(conn: socket.socket, request: bytes) -> None:
        conn.sendall(http_answer(302, b"", {"Location": "/again"}))

    server = HostileServer(reply, stop=threading.Event())
    out = tmp_path / "out"
    out.mkdir()
    try:
        error = expect_clean(lambda: fetch_http(f"{server.url}/x", out, FetchSettings(timeout=2, retries=0)))
    finally:
        server.close()
    assert isinstance(error, UnreachableError) and "redirected more than" in error.message
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot-gzip!!",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    ],
    ids=["InvalidChunkLength", "IncompleteRead", "ContentDecodingError", "ChunkedEncodingError"],
)
def test_peer_failures_in_words(raw: bytes, tmp_path: Path) -> None:
    from cococtl.sources.base import FetchSettings
    from cococtl.sources.http import fetch_http

    def reply(conn: socket.socket, request: bytes) -> None:
        conn.sendall(raw)

    server = HostileServer(reply, stop=threading.Event())
    try:
        with KbsClient(server.url, timeout=2) as client:
            kbs_error = expect_clean(lambda: client.get_resource("default/key/k1", KEYPAIR))
        as_error = expect_clean(AttestationServiceClient(server.url, timeout=2).list_policies)
        out = tmp_path / "out"
        out.mkdir()
        download = expect_clean(lambda: fetch_http(f"{server.url}/x", out, FetchSettings(timeout=2, retries=0)))
    finally:
        server.close()
    # A download that breaks off keeps its documented code (4, or 7 when bytes arrived but not all of them).
    assert isinstance(download, UnreachableError | IntegrityError), download
    for error in (kbs_error, as_error, download):
        assert isinstance(error, CococtlError), error
        assert error.exit_code in (4, 7) and (error is download or error.exit_code == 4), error
        for word in ("IncompleteRead", "InvalidChunkLength", "Connection broken", "ProtocolError"):
            assert word not in error.message, error.message
    assert list(out.iterdir()) == []
