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
        self.reject_body = b"An internal error occured: \n0: attestation report evaluate\n1: policy denied"


def _b64url(text: str) -> bytes:
    """URL_SAFE_NO_PAD as the AS decodes it (padding or +/ are errors)."""
    if "=" in text or "+" in text or "/" in text:
        raise ValueError("not URL-safe base64 without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _one_of(value: object, keys: tuple[str, ...]) -> str:
    """serde's externally tagged enum: an object with exactly one known key."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in keys:
        raise ValueError(f"expected one of {keys}")
    return str(next(iter(value)))


def check_attestation_body(body: object) -> None:
    """trustee attestation-service/src/bin/restful/mod.rs (78962cd4): AttestationRequest {verification_requests:
    Vec<IndividualAttestationRequest>, policy_ids: Vec<String>} (both required), each {tee: String, evidence:
    String, runtime_data: Option<RuntimeData>, init_data: Option<InitDataInput>, runtime_data_hash_algorithm:
    Option<String>}; RuntimeData = {"raw"} | {"structured"}, InitDataInput = {"init_data_digest"} |
    {"init_data_toml"}; evidence is URL_SAFE_NO_PAD of JSON; the hash is kbs-types HashAlgorithm."""
    assert isinstance(body, dict)
    assert isinstance(body["verification_requests"], list) and isinstance(body["policy_ids"], list)
    assert all(isinstance(p, str) for p in body["policy_ids"])
    for request in body["verification_requests"]:
        assert isinstance(request["tee"], str) and isinstance(request["evidence"], str)
        json.loads(_b64url(request["evidence"]))
        if request.get("runtime_data") is not None:
            if _one_of(request["runtime_data"], ("raw", "structured")) == "raw":
                _b64url(request["runtime_data"]["raw"])
        if request.get("init_data") is not None:
            if _one_of(request["init_data"], ("init_data_digest", "init_data_toml")) == "init_data_digest":
                _b64url(request["init_data"]["init_data_digest"])
            else:
                assert isinstance(request["init_data"]["init_data_toml"], str)
        algorithm = request.get("runtime_data_hash_algorithm")
        assert algorithm is None or algorithm.lower() in ("sha256", "sha384", "sha512", "sm3")


@pytest.fixture
def restful_as() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, answer: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:
            if self.path == "/policy":
                self._answer(200, b'[{"policy-id":"default"},{"policy-id":"my-policy"}]')
            elif self.path == "/.well-known/jwks.json":
                self._answer(200, b'{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}')
            else:
                self._answer(404, b"")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            recorder.bodies.append((self.path, body))
            if self.path == "/attestation":
                try:
                    check_attestation_body(body)
                except (AssertionError, KeyError, ValueError, TypeError) as error:
                    # actix's web::Json answers a body serde cannot read with 400.
                    self._answer(400, f"Json deserialize error: {error!r}".encode())
                    return
            if recorder.reject:
                self._answer(500, recorder.reject_body)
            elif self.path == "/attestation":
                self._answer(200, b"eyJhbGciOiJSUzM4NCJ9.eyJ0ZWUiOiJzbnAifQ.c2ln")
            elif self.path == "/challenge":
                self._answer(200, b"challenge-for-" + body["tee"].encode())
            else:
                self._answer(200, b"")

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
    assert path == "/attestation" and body["policy_ids"] == ["default"]
    (request,) = body["verification_requests"]
    assert request["tee"] == "snp" and request["runtime_data_hash_algorithm"] == "sha384"
    assert json.loads(_b64url(request["evidence"])) == json.loads((VECTORS / "snp-evidence.json").read_text())
    assert "runtime_data" not in request and "init_data" not in request


def test_attest_auto_binds_a_nonce(cli: Any, restful_as: tuple[str, Recorder]) -> None:
    import hashlib

    from cococtl.kbs.client import canonical_json

    url, recorder = restful_as
    cli("as", "attest", "--url", url, "--tee", "sample", "--evidence", "auto")
    _, body = recorder.bodies[-1]
    (request,) = body["verification_requests"]
    evidence = json.loads(_b64url(request["evidence"]))
    expected = hashlib.sha384(canonical_json(request["runtime_data"]["structured"])).digest()
    assert base64.b64decode(evidence["report_data"]) == expected
    assert body["policy_ids"] == []  # the AS then applies "default"
    # The AS was asked for a supplemental challenge first; this one gives one, and it is the nonce.
    assert recorder.bodies[-2] == ("/challenge", {"tee": "sample", "tee_params": ""})
    assert request["runtime_data"]["structured"] == {"nonce": "challenge-for-sample"}


def test_set_policy_and_denial(cli: Any, restful_as: tuple[str, Recorder], tmp_path: Path) -> None:
    url, recorder = restful_as
    (tmp_path / "p.rego").write_text("package policy\ndefault allow = false\n")
    cli("as", "set-policy", "--url", url, "--id", "my-policy", "--policy-file", tmp_path / "p.rego")
    path, body = recorder.bodies[-1]
    # SetPolicyInput {policy_id, policy}; the AS decodes policy with URL_SAFE_NO_PAD (attestation-service/src/lib.rs).
    assert path == "/policy" and set(body) == {"policy_id", "policy"} and body["policy_id"] == "my-policy"
    assert _b64url(body["policy"]) == (tmp_path / "p.rego").read_bytes()
    recorder.reject = True
    result = cli("as", "attest", "--url", url, "--tee", "snp", "--evidence", VECTORS / "snp-evidence.json", expect=5)
    assert "occured: ; 0: attestation report evaluate; 1: policy denied" in result.stderr.replace(
        "occured:;", "occured: ;"
    )


def test_several_evidences_runtime_and_init_data_in_one_request(
    cli: Any, restful_as: tuple[str, Recorder], tmp_path: Path
) -> None:
    url, recorder = restful_as
    toml = b'version = "0.1.0"\r\nalgorithm = "sha384"\n[data]\n'
    (tmp_path / "init.toml").write_bytes(toml)
    (tmp_path / "rt.bin").write_bytes(b"\x00\xffraw")
    (tmp_path / "sample.json").write_text('{"svn":"1","report_data":""}')
    cli(
        "as", "attest", "--url", url,
        "--evidence", f"snp={VECTORS / 'snp-evidence.json'}",
        "--evidence", f"sample={tmp_path / 'sample.json'}",
        "--runtime-data", tmp_path / "rt.bin",
        "--init-data", tmp_path / "init.toml",
        "--hash-algorithm", "sha512",
        "--policy-id", "a", "--policy-id", "b",
    )  # fmt: skip
    _, body = recorder.bodies[-1]
    assert [r["tee"] for r in body["verification_requests"]] == ["snp", "sample"] and body["policy_ids"] == ["a", "b"]
    for request in body["verification_requests"]:
        assert _b64url(request["runtime_data"]["raw"]) == b"\x00\xffraw"
        assert request["init_data"]["init_data_toml"].encode() == toml  # byte-exact: the digest is over the bytes
        assert request["runtime_data_hash_algorithm"] == "sha512"
    digest = "ab" * 48
    cli("as", "attest", "--url", url, "--tee", "snp", "--evidence", VECTORS / "snp-evidence.json",
        "--init-data-digest", digest)  # fmt: skip
    (request,) = recorder.bodies[-1][1]["verification_requests"]
    assert _b64url(request["init_data"]["init_data_digest"]) == bytes.fromhex(digest)


def test_refusals_before_sending(cli: Any, restful_as: tuple[str, Recorder]) -> None:
    url, recorder = restful_as
    evidence = str(VECTORS / "snp-evidence.json")
    # Fixed choices are usage errors (exit 2), caught before anything is sent.
    assert "tdxx" in cli("as", "attest", "--url", url, "--tee", "tdxx", "--evidence", evidence, expect=2).stderr
    assert "sha512" in cli("as", "attest", "--url", url, "--tee", "snp", "--evidence", evidence,
                        "--hash-algorithm", "md5", expect=2).stderr  # fmt: skip
    assert "which TEE" in cli("as", "attest", "--url", url, "--evidence", evidence, expect=3).stderr
    assert recorder.bodies == []


def test_policies_challenge_and_jwks(cli: Any, restful_as: tuple[str, Recorder]) -> None:
    url, recorder = restful_as
    assert cli("as", "policies", "--url", url).stdout.split() == ["default", "my-policy"]
    assert cli("as", "challenge", "--url", url, "--tee", "se").stdout.strip() == "challenge-for-se"
    assert recorder.bodies[-1] == ("/challenge", {"tee": "se", "tee_params": ""})
    assert cli("as", "jwks", "--url", url).json["keys"][0]["kty"] == "EC"


def test_an_unknown_policy_is_not_found(cli: Any, restful_as: tuple[str, Recorder]) -> None:
    # What Trustee's restful-as answered for --policy-id nope (recorded by hand, 78962cd4).
    url, recorder = restful_as
    recorder.reject_body = (
        b"An internal error occured: \n0: attestation report evaluate\n1: Policy `nope_cpu.rego` not found"
    )
    recorder.reject = True
    result = cli("as", "attest", "--url", url, "--tee", "snp", "--evidence", VECTORS / "snp-evidence.json",
                 "--policy-id", "nope", expect=6)  # fmt: skip
    assert "no such policy" in result.stderr
