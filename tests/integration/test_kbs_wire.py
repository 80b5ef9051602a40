"""The exact JSON and headers the KBS client sends, checked by a recording peer written from the protocol
notes (independently of the KBS double)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cococtl.errors import DeniedError, UnreachableError
from cococtl.evidence.sample import SampleAttester
from cococtl.kbs.admin import AdminCredentials, KbsAdmin
from cococtl.kbs.client import KbsClient, fetch_resources
from cococtl.kbs.jwe import TeeKeyPair

pytestmark = pytest.mark.integration
NONCE = base64.b64encode(bytes(range(32))).decode()


class Wire:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.jwe: dict[str, str] = {}
        self.extra_params: Any = ""
        self.redirect_to: str | None = None
        self.error: tuple[int, bytes] | None = None
        self.unauthorized_gets = 0
        self.unauthorized_type = "TokenVerifierError"


@contextlib.contextmanager
def serve_wire() -> Iterator[tuple[str, Wire]]:
    record = Wire()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            record.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "raw": raw}
            )
            body, headers, status = b"", {}, 200
            if record.redirect_to is not None:
                status, headers["Location"] = 307, record.redirect_to + self.path
            elif record.error is not None:
                status, body = record.error
            elif self.path == "/kbs/v0/auth":
                body = json.dumps({"nonce": NONCE, "extra-params": record.extra_params}).encode()
                headers["Set-Cookie"] = (
                    "kbs-session-id=0123456789abcdef0123456789abcdef; Expires=Wed, 21 Oct 2037 07:28:00 GMT"
                )
            elif self.path == "/kbs/v0/attest":
                body = json.dumps({"token": "h.p.s"}).encode()
            elif self.command == "GET" and record.unauthorized_gets > 0:
                record.unauthorized_gets -= 1
                status = 401
                body = json.dumps({"type": f"https://x/{record.unauthorized_type}", "detail": "expired"}).encode()
            elif self.command == "GET":
                body = json.dumps(record.jwe).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", record
    server.shutdown()
    server.server_close()


@pytest.fixture
def wire() -> Iterator[tuple[str, Wire]]:
    with serve_wire() as served:
        yield served


@pytest.fixture
def other_wire() -> Iterator[tuple[str, Wire]]:
    with serve_wire() as served:
        yield served


def test_attestation_and_resource_requests(wire: tuple[str, Wire]) -> None:
    from cococtl.devkbs.jwe import encrypt_to

    url, record = wire
    pair = TeeKeyPair.generate("ec-p256")
    record.jwe = encrypt_to(pair.public_jwk(), b"secret")
    with KbsClient(url + "/") as client:
        resources, token = fetch_resources(
            client, SampleAttester(), ["default/key/a", "kbs:///default/key/b"], keypair=pair
        )
    assert token == "h.p.s" and resources == {"default/key/a": b"secret", "default/key/b": b"secret"}
    paths = [(r["method"], r["path"]) for r in record.requests]
    assert paths == [
        ("POST", "/kbs/v0/auth"),
        ("POST", "/kbs/v0/attest"),
        ("GET", "/kbs/v0/resource/default/key/a"),
        ("GET", "/kbs/v0/resource/default/key/b"),
    ]
    auth = json.loads(record.requests[0]["raw"])
    assert auth["version"] == "0.4.0" and auth["tee"] == "sample" and "extra-params" in auth
    attest_raw = record.requests[1]["raw"]
    attest = json.loads(attest_raw)
    assert list(attest) == ["init-data", "runtime-data", "tee-evidence"] and attest["init-data"] is None
    pubkey = attest["runtime-data"]["tee-pubkey"]
    assert list(pubkey) == ["alg", "crv", "kty", "x", "y"] and pubkey["alg"] == "ECDH-ES+A256KW"
    assert attest["runtime-data"]["nonce"] == NONCE
    evidence = attest["tee-evidence"]
    assert evidence["additional_evidence"] == ""
    # The binding, computed here from the protocol description (sorted keys, compact, SHA-384).
    canonical = json.dumps(
        {"tee-pubkey": pubkey, "nonce": NONCE, "additional-evidence": ""}, sort_keys=True, separators=(",", ":")
    ).encode()
    assert evidence["primary_evidence"] == {
        "svn": "1",
        "report_data": base64.b64encode(hashlib.sha384(canonical).digest()).decode(),
    }
    for request in record.requests[1:]:
        assert "kbs-session-id=0123456789abcdef0123456789abcdef" in request["headers"].get("Cookie", "")
        assert "Authorization" not in request["headers"]


def test_passport_mode_sends_a_bearer_and_no_cookie(wire: tuple[str, Wire]) -> None:
    from cococtl.devkbs.jwe import encrypt_to

    url, record = wire
    pair = TeeKeyPair.generate("rsa")
    record.jwe = encrypt_to(pair.public_jwk(), b"x")
    with KbsClient(url) as client:
        assert client.get_resource("a/b/c", pair, token="the.token.value") == b"x"
    request = record.requests[-1]
    assert request["headers"]["Authorization"] == "Bearer the.token.value" and "Cookie" not in request["headers"]


def test_admin_bodies_use_each_endpoints_base64_flavour(wire: tuple[str, Wire]) -> None:
    url, record = wire
    admin = KbsAdmin(KbsClient(url), AdminCredentials(token="admin-token"))
    policy = "package policy\nallow = true\n"
    admin.set_resource_policy(policy)
    admin.set_attestation_policy(policy, policy_id="default_cpu")
    admin.set_reference_value("svn", ["1"])
    admin.set_resource("default/key/k", b"\x00\xffraw")
    policy_body = json.loads(record.requests[0]["raw"])
    assert "=" not in policy_body["policy"] and "+" not in policy_body["policy"]
    assert base64.urlsafe_b64decode(policy_body["policy"] + "==") == policy.encode()
    attestation = json.loads(record.requests[1]["raw"])
    assert attestation == {"type": "rego", "policy_id": "default_cpu", "policy": policy_body["policy"]}
    reference = json.loads(record.requests[2]["raw"])
    assert reference["version"] == "0.1.0" and reference["type"] == "sample"
    assert json.loads(base64.b64decode(reference["payload"], validate=True)) == {"svn": ["1"]}
    resource = record.requests[3]
    assert resource["raw"] == b"\x00\xffraw" and resource["headers"]["Content-Type"] == "application/octet-stream"
    assert all(r["headers"]["Authorization"] == "Bearer admin-token" for r in record.requests)


def test_every_hash_is_advertised_and_the_selected_one_binds(wire: tuple[str, Wire]) -> None:
    # guest-components kbs_protocol rcar_client.rs: extra-params {"supported-hash-algorithms": list_all()},
    # the challenge's "selected-hash-algorithm" (case-insensitive) picks the hash, default sha384.
    url, record = wire
    record.extra_params = {"selected-hash-algorithm": "SHA512"}
    with KbsClient(url) as client:
        client.attest(SampleAttester(), TeeKeyPair.generate("ec-p256"))
    auth = json.loads(record.requests[0]["raw"])
    assert auth["extra-params"] == {"supported-hash-algorithms": ["sha256", "sha384", "sha512", "sm3"]}
    attest = json.loads(record.requests[1]["raw"])
    runtime = {"tee-pubkey": attest["runtime-data"]["tee-pubkey"], "nonce": NONCE, "additional-evidence": ""}
    canonical = json.dumps(runtime, sort_keys=True, separators=(",", ":")).encode()
    report = base64.b64decode(attest["tee-evidence"]["primary_evidence"]["report_data"])
    assert report == hashlib.sha512(canonical).digest()
    record.extra_params = {"selected-hash-algorithm": "md5"}
    with KbsClient(url) as client, pytest.raises(UnreachableError, match="unknown hash algorithm"):
        client.attest(SampleAttester(), TeeKeyPair.generate("ec-p256"))


def test_plugin_uris_go_to_their_plugin_with_the_query(wire: tuple[str, Wire]) -> None:
    # resource_uri lib.rs: kbs+<plugin>:// → plugin; kbs_protocol get_resource: /kbs/v0/<plugin>/<path>?<query>.
    from cococtl.devkbs.jwe import encrypt_to

    url, record = wire
    pair = TeeKeyPair.generate("ec-p256")
    record.jwe = encrypt_to(pair.public_jwk(), b"cert")
    with KbsClient(url) as client:
        got, _ = fetch_resources(
            client, SampleAttester(), ["kbs+pkcs11:///slot/1/key?label=a&x=1", "kbs+resource:///default/key/c"],
            keypair=pair,
        )  # fmt: skip
    assert got == {"kbs+pkcs11:///slot/1/key?label=a&x=1": b"cert", "default/key/c": b"cert"}
    assert [r["path"] for r in record.requests[2:]] == [
        "/kbs/v0/pkcs11/slot/1/key?label=a&x=1",
        "/kbs/v0/resource/default/key/c",
    ]


def test_a_redirect_is_never_followed_with_a_secret(wire: tuple[str, Wire], other_wire: tuple[str, Wire]) -> None:
    url, record = wire
    elsewhere, seen = other_wire
    record.redirect_to = elsewhere
    admin = KbsAdmin(KbsClient(url), AdminCredentials(token="admin-token"))
    with pytest.raises(UnreachableError, match=r"redirect.*not followed") as caught:
        admin.set_resource("default/key/k", b"the secret key bytes")
    assert caught.value.exit_code == 4 and seen.requests == []
    assert "admin-token" not in caught.value.message


def test_peer_text_is_escaped_and_cut(wire: tuple[str, Wire]) -> None:
    url, record = wire
    detail = "denied \x1b[31mred\x1b[0m " + "x" * 5000
    record.error = (401, json.dumps({"type": "https://x/PolicyDeny", "detail": detail}).encode())
    with KbsClient(url) as client, pytest.raises(DeniedError) as caught:
        client.attest(SampleAttester(), TeeKeyPair.generate("ec-p256"))
    message = caught.value.message
    assert "\x1b" not in message and "\\x1b[31m" in message and "(5020 characters)" in message
    assert len(message) < 600


@pytest.mark.parametrize(
    ("failures", "kind", "reattestations", "ok"),
    [(1, "TokenVerifierError", 1, True), (5, "TokenVerifierError", 2, False), (1, "PolicyDeny", 0, False)],
)
def test_an_expired_session_is_attested_again_a_bounded_number_of_times(
    wire: tuple[str, Wire], failures: int, kind: str, reattestations: int, ok: bool
) -> None:
    # kbs_protocol rcar_client.rs get_resource: on UNAUTHORIZED, a new RCAR handshake, bounded attempts.
    from cococtl.devkbs.jwe import encrypt_to

    url, record = wire
    pair = TeeKeyPair.generate("ec-p256")
    record.jwe = encrypt_to(pair.public_jwk(), b"again")
    record.unauthorized_gets, record.unauthorized_type = failures, kind
    with KbsClient(url) as client:
        if ok:
            got, _ = fetch_resources(client, SampleAttester(), ["default/key/a"], keypair=pair)
            assert got == {"default/key/a": b"again"}
        else:
            with pytest.raises(DeniedError):
                fetch_resources(client, SampleAttester(), ["default/key/a"], keypair=pair)
        assert client.reattestations == reattestations
    handshakes = [r["path"] for r in record.requests].count("/kbs/v0/auth")
    assert handshakes == 1 + reattestations
