"""The RESTful AS client against a recording HTTP peer that checks the documented request shapes."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
VECTORS = Path(__file__).parents[1] / "vectors" / "evidence"


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.reject = False


@pytest.fixture
def restful_as() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            recorder.bodies.append((self.path, body))
            if recorder.reject:
                answer, status = b"Verification failed: evidence does not match", 401
            elif self.path == "/attestation":
                padded = body["evidence"] + "=" * (-len(body["evidence"]) % 4)
                json.loads(base64.urlsafe_b64decode(padded))  # URL-safe base64 of JSON, as the AS decodes it
                answer, status = b"eyJhbGciOiJSUzM4NCJ9.eyJ0ZWUiOiJzbnAifQ.c2ln", 200
            else:
                answer, status = b"", 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    server.shutdown()
    server.server_close()


def test_attest_with_evidence_file(cli: Any, restful_as: tuple[str, Recorder]) -> None:
    url, recorder = restful_as
    token = cli(
        "as",
        "attest",
        "--url",
        url,
        "--tee",
        "snp",
        "--evidence",
        VECTORS / "snp-evidence.json",
        "--policy-id",
        "default",
    ).stdout.strip()
    assert token.count(".") == 2
    path, body = recorder.bodies[-1]
    assert path == "/attestation" and body["tee"] == "snp" and body["policy_ids"] == ["default"]
    assert "=" not in body["evidence"] and "+" not in body["evidence"] and "/" not in body["evidence"]
    decoded = json.loads(base64.urlsafe_b64decode(body["evidence"] + "=" * (-len(body["evidence"]) % 4)))
    assert decoded == json.loads((VECTORS / "snp-evidence.json").read_text())
    assert body["runtime_data_hash_algorithm"] == "sha384" and "runtime_data" not in body


def test_attest_auto_binds_a_nonce(cli: Any, restful_as: tuple[str, Recorder]) -> None:
    import hashlib

    from cococtl.kbs.client import canonical_json

    url, recorder = restful_as
    cli("as", "attest", "--url", url, "--tee", "sample", "--evidence", "auto")
    _, body = recorder.bodies[-1]
    evidence = json.loads(base64.urlsafe_b64decode(body["evidence"] + "=" * (-len(body["evidence"]) % 4)))
    expected = hashlib.sha384(canonical_json(body["runtime_data"]["structured"])).digest()
    assert base64.b64decode(evidence["report_data"]) == expected


def test_set_policy_and_denial(cli: Any, restful_as: tuple[str, Recorder], tmp_path: Path) -> None:
    url, recorder = restful_as
    (tmp_path / "p.rego").write_text("package policy\ndefault allow = false\n")
    cli("as", "set-policy", "--url", url, "--id", "my-policy", "--policy-file", tmp_path / "p.rego")
    path, body = recorder.bodies[-1]
    assert path == "/policy" and body["policy_id"] == "my-policy" and body["type"] == "rego"
    assert base64.urlsafe_b64decode(body["policy"] + "==") == (tmp_path / "p.rego").read_bytes()
    recorder.reject = True
    result = cli("as", "attest", "--url", url, "--tee", "snp", "--evidence", VECTORS / "snp-evidence.json", expect=5)
    assert "Verification failed" in result.stderr
