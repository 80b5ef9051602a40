"""The KBS double answers what the real Trustee answered: each exchange recorded from a Trustee KBS built by hand
(tests/vectors/trustee-wire/SOURCES.md) is replayed against the double, status and body compared byte for byte
(the policy-engine text, which comes from another Rego engine, by error type)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from cococtl.devkbs.admin import AdminPolicy
from cococtl.evidence.sample import SampleAttester
from cococtl.kbs.client import KbsClient
from cococtl.kbs.jwe import TeeKeyPair
from cococtl.policy import builtin
from tests.integration.conftest import RunningKbs, start_devkbs

pytestmark = pytest.mark.integration
WIRE = Path(__file__).parents[1] / "vectors" / "trustee-wire"
# Exchanges the double is in the same state for without a session (those needing one are replayed below).
STATELESS = [
    "real-404-empty-plugin.json",
    "real-404-PluginNotFound.json",
    "real-404-GET-auth.json",
    "real-401-failed_to_parse_KBS_version.json",
    "real-401-Version_Mismatch.json",
    "real-401-deserialize_Request.json",
    "real-401-RCAR_handshake_Attest_failed.json",
    "real-401-TokenVerifierError.json",
    "real-401-AdminAuthAccess.json",
    "real-401-AdminAuthInitialization.json",
    "real-401-RvpsError.json",
    "real-401-Invalid_padding.json",
    "real-401-Policy_engine_error.json",
]


def _load(name: str) -> dict[str, Any]:
    return json.loads((WIRE / name).read_text())


@pytest.fixture(scope="module")
def kbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningKbs, str]]:
    """A double configured like the recorded Trustee: bearer admin (issuer TrusteeInDocker) and a token."""
    from cococtl.kbs.admin import mint_admin_token

    d = tmp_path_factory.mktemp("fidelity")
    key = ed25519.Ed25519PrivateKey.generate()
    (d / "admin.pub").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    admin = AdminPolicy.from_options("bearer", d / "admin.pub", issuer="TrusteeInDocker")
    running = start_devkbs(d / "kbs", admin=admin)
    yield running, mint_admin_token(key, ttl_seconds=600)
    running.server.stop()


def _replay(kbs: RunningKbs, token: str, exchange: dict[str, Any]) -> requests.Response:
    headers = {k: v for k, v in exchange["request_headers"].items() if k.lower() in ("content-type", "authorization")}
    if "removed" in headers.get("Authorization", ""):
        headers["Authorization"] = f"Bearer {token}"
    body = exchange["request_body"]
    data = body.encode() if isinstance(body, str) and not body.startswith("b64:") else b""
    return requests.request(exchange["method"], kbs.url + exchange["path"], data=data, headers=headers, timeout=10)


@pytest.mark.parametrize("name", STATELESS)
def test_the_double_answers_what_trustee_answered(kbs: tuple[RunningKbs, str], name: str) -> None:
    running, token = kbs
    exchange = _load(name)
    answer = _replay(running, token, exchange)
    assert answer.status_code == exchange["status"]
    if name == "real-401-Policy_engine_error.json":  # regorus' parse message vs regopy's: the type must agree
        assert answer.json()["type"] == json.loads(exchange["response_body"])["type"]
    else:
        assert answer.text == exchange["response_body"]


def test_challenge_shape_is_trustees(kbs: tuple[RunningKbs, str]) -> None:
    running, _ = kbs
    recorded = _load("real-200-challenge.json")
    answer = requests.post(running.url + "/kbs/v0/auth", data=recorded["request_body"], timeout=10,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    ours, theirs = answer.text, recorded["response_body"]
    assert list(json.loads(ours)) == list(json.loads(theirs)) and len(ours) == len(theirs)  # compact, same keys
    assert answer.headers["Set-Cookie"].startswith("kbs-session-id=") and "Expires=" in answer.headers["Set-Cookie"]


def test_session_answers_policy_deny_and_missing_resource(kbs: tuple[RunningKbs, str]) -> None:
    running, token = kbs
    admin = {"Authorization": f"Bearer {token}"}
    from cococtl.kbs.admin import policy_payload

    requests.post(running.url + "/kbs/v0/resource/default/key/k1", data=b"x", headers=admin, timeout=10)
    with KbsClient(running.url) as client:
        client.attest(SampleAttester(), TeeKeyPair.generate("ec-p256"))
        denied = client._session.get(running.url + "/kbs/v0/resource/default/key/k1", timeout=10)
        assert denied.status_code == 401 and denied.text == _load("real-401-PolicyDeny.json")["response_body"]
        body = {"policy": policy_payload(builtin.ALLOW_ALL)}
        assert requests.post(running.url + "/kbs/v0/resource-policy", json=body, headers=admin, timeout=10).ok
        missing = client._session.get(running.url + "/kbs/v0/resource/default/key/nope", timeout=10)
        recorded = _load("real-401-PluginInternalError-missing.json")
        assert (missing.status_code, missing.text) == (recorded["status"], recorded["response_body"])


def test_outside_kbs_v0_and_oversized_bodies_are_answered_like_actix(kbs: tuple[RunningKbs, str]) -> None:
    running, token = kbs
    assert requests.get(running.url + "/kbs/v1/x", timeout=10).status_code == 404
    assert requests.get(running.url + "/kbs/v1/x", timeout=10).content == b""
    import http.client

    connection = http.client.HTTPConnection(running.url.split("//", 1)[1], timeout=10)
    connection.request("GET", "//kbs/v0/resource/default/key/k1")
    response = connection.getresponse()
    assert response.status == 404 and response.read() == b""
    connection.close()
    big = requests.post(running.url + "/kbs/v0/resource/default/key/big", data=b"x" * (3 << 20), timeout=30,
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert big.status_code == 413


def test_the_client_maps_trustees_answers_to_exit_codes(kbs: tuple[RunningKbs, str], cli: Any, tmp_path: Path) -> None:
    running, token = kbs
    (tmp_path / "tok").write_text(token)
    (tmp_path / "big").write_bytes(b"x" * (3 << 20))
    put = ["kbs", "--url", running.url, "set-resource", "--path", "default/key/big", "--resource-file"]
    result = cli(*put, tmp_path / "big", "--admin-token-file", tmp_path / "tok", expect=3)
    assert "413" in result.stderr and "payload_request_size" in result.stderr
    (tmp_path / "bad").write_text("not.a.token")
    (tmp_path / "small").write_bytes(b"x")
    result = cli(*put, tmp_path / "small", "--admin-token-file", tmp_path / "bad", expect=5)
    assert "Cannot verify token" in result.stderr and "identity_providers" in result.stderr
