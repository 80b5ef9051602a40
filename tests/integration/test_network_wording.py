"""Network and peer failures in words (issue #12): each answer a user meets names the peer and the reason, with a
documented exit code, never library text such as ``HTTPConnectionPool(...)`` or a bare ``cannot listen``."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.peers import FileServer, free_port

LIBRARY_TEXT = ("HTTPConnectionPool", "HTTPSConnectionPool", "_HttpsPool", "Max retries", "NewConnectionError")


def _clean(stderr: str) -> None:
    assert "Traceback" not in stderr and not any(text in stderr for text in LIBRARY_TEXT), stderr
    assert stderr.startswith(("error: ", "warning: ")), stderr


class _HtmlErrors(BaseHTTPRequestHandler):
    """A web server that is not a KBS: Python's own HTML error page for every POST."""

    def do_POST(self) -> None:
        self.send_error(501, "Unsupported method ('POST')")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def not_a_kbs() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlErrors)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_connection_refused_names_the_kbs(cli: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("-q", "kbs", "attest", "--url", url, "--tee", "sample", expect=4)
    _clean(result.stderr)
    assert f"cannot reach the KBS at {url}: Connection refused" in result.stderr


def test_https_url_to_a_plain_http_server_says_so(cli: Any, not_a_kbs: str) -> None:
    result = cli("kbs", "attest", "--url", f"https://{not_a_kbs}", "--tee", "sample", expect=4)
    _clean(result.stderr)
    assert "answers in plain HTTP, not HTTPS" in result.stderr and "use an http:// URL" in result.stderr
    assert "--cert-file" not in result.stderr


def test_an_untrusted_certificate_gives_the_tls_reason(cli: Any, https_server: FileServer) -> None:
    result = cli("kbs", "attest", "--url", https_server.url, "--tee", "sample", expect=4)
    _clean(result.stderr)
    assert "TLS verification of the KBS" in result.stderr and "CERTIFICATE_VERIFY_FAILED" in result.stderr
    assert "hint: pass --cert-file" in result.stderr


def test_a_web_page_instead_of_a_kbs_is_not_echoed(cli: Any, not_a_kbs: str) -> None:
    result = cli("-q", "kbs", "attest", "--url", f"http://{not_a_kbs}", "--tee", "sample", expect=4)
    _clean(result.stderr)
    assert "an HTML page: Error response (is this URL a KBS?)" in result.stderr
    assert "<html" not in result.stderr.lower() and len(result.stderr.splitlines()) == 1


def test_an_expired_admin_token_says_expired(cli: Any, tmp_path: Path) -> None:
    # Trustee answers a bare 401 for an expired token; cococtl reads exp (without trusting it) and says so first.
    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    claims = {"iss": "TrusteeInDocker", "sub": "admin", "aud": ["KBS"], "exp": int(time.time()) - 600}
    (tmp_path / "admin.tok").write_text(f"{part({'alg': 'EdDSA'})}.{part(claims)}.c2ln\n")
    (tmp_path / "r").write_bytes(b"x")
    result = cli(
        "kbs", "set-resource", "--url", f"http://127.0.0.1:{free_port()}", "--path", "a/b/c",
        "--resource-file", tmp_path / "r", "--admin-token-file", tmp_path / "admin.tok", expect=5,
    )  # fmt: skip
    _clean(result.stderr)
    assert f"the admin token in {tmp_path / 'admin.tok'} expired at" in result.stderr
    assert "kbs admin-token" in result.stderr


def test_a_busy_port_is_named_with_the_option_to_change_it(cli: Any) -> None:
    pytest.importorskip("grpc", reason="the grpc extra is installed by make test")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = cli("keyprovider", "serve", "--listen", f"127.0.0.1:{port}", expect=3)
    _clean(result.stderr)
    assert f"port {port} is already in use" in result.stderr and "--listen HOST:PORT" in result.stderr
