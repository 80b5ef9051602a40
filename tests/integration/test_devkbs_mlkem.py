"""``--tee-key-type ml-kem-768`` end to end against the KBS double, with Trustee's kbs-types crate
(tests/peers/kbs-types, 0.18.0, which has ``TeePubKey::AKP``) judging the AKP key, the binding and the JWE."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cococtl.devkbs import jwe as devkbs_jwe
from cococtl.devkbs import server as devkbs_server
from cococtl.evidence.sample import SampleAttester
from cococtl.kbs.client import KbsClient
from cococtl.kbs.jwe import MLKEM_ALG, TeeKeyPair
from cococtl.policy import builtin as policies
from tests.integration.conftest import RunningKbs, start_devkbs
from tests.peer_tools import peer_binary, peer_json

pytestmark = pytest.mark.integration
PEER = "kbs-types"
TIMEOUT = 20.0
SECRET = b"\x00ml-kem resource\xff"
VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "mlkem-jwe" / "vectors.json").read_text())


@pytest.fixture
def kbs(tmp_path: Path) -> Iterator[RunningKbs]:
    running = start_devkbs(tmp_path / "kbs")
    running.server.state.set_resource_policy(policies.ALLOW_ALL)
    running.server.state.resource_file(["default", "key", "pq"]).write_bytes(SECRET)
    yield running
    running.server.stop()


def _judge(kind: str, body: bytes) -> Any:
    verdict = peer_json(PEER, "parse", kind, stdin=body, timeout=TIMEOUT)
    assert verdict["ok"], f"kbs-types rejects this {kind}: {verdict['error']}"
    return verdict["value"]


def test_get_resource_with_an_ml_kem_key(cli: Any, kbs: RunningKbs) -> None:
    args = ["kbs", "get-resource", "--url", kbs.url, "--path", "default/key/pq", "--tee", "sample", "--raw"]
    assert cli(*args, "--tee-key-type", "ml-kem-768").stdout_bytes == SECRET


def test_passport_mode_with_an_ml_kem_key_file(cli: Any, kbs: RunningKbs, tmp_path: Path) -> None:
    pair = TeeKeyPair.generate("ml-kem-768")
    (tmp_path / "tee.pem").write_bytes(pair.to_pem())
    with KbsClient(kbs.url, timeout=TIMEOUT) as client:
        (tmp_path / "token.jwt").write_text(client.attest(SampleAttester(), pair))
    got = cli(
        "kbs", "get-resource", "--url", kbs.url, "--path", "default/key/pq", "--raw",
        "--attestation-token", tmp_path / "token.jwt", "--tee-key-file", tmp_path / "tee.pem",
    ).stdout_bytes  # fmt: skip
    assert got == SECRET


# cococtl in a process where pycryptodome (the pqc extra) cannot be imported.
WITHOUT_PYCRYPTODOME = (
    "import sys; sys.modules['Crypto'] = None; from cococtl.cli import main; sys.argv[0] = 'cococtl'; main()"
)


def test_without_pycryptodome_an_ml_kem_key_is_exit_8_before_the_kbs_is_asked(kbs: RunningKbs) -> None:
    args = ["kbs", "get-resource", "--url", kbs.url, "--path", "default/key/pq", "--tee", "sample"]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYCRYPTODOME, *args, "--tee-key-type", "ml-kem-768"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 8, done.stderr
    assert "hint: pip install 'cococtl[pqc]'" in done.stderr and "Traceback" not in done.stderr
    assert kbs.server.state.requests == []
    # The classic key types do not need it.
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYCRYPTODOME, *args, "--raw"], capture_output=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0 and done.stdout == SECRET, done.stderr


def test_secret_unseal_with_an_ml_kem_key(cli: Any, kbs: RunningKbs, tmp_path: Path) -> None:
    """``secret`` fetches through the same client: the envelope's key and the signature's key, both ML-KEM JWEs."""
    cli("secret", "keygen", "--kid", "signer", "-o", tmp_path)
    (tmp_path / "plain.bin").write_bytes(SECRET)
    sealed = cli(
        "secret", "seal", "envelope", "--key-uri", "kbs:///default/key/kek", "--plaintext", tmp_path / "plain.bin",
        "--new-key", tmp_path / "kek.bin", "--kid", "kbs:///default/signing/pub",
        "--signing-key", tmp_path / "signer-private.json", "--provision-to-kbs", kbs.url,
    ).stdout.strip()  # fmt: skip
    before = len(kbs.server.state.requests)
    got = cli(
        "secret", "unseal", "-", "-o", "-", "--kbs-url", kbs.url, "--tee", "sample", "--tee-key-type", "ml-kem-768",
        input=sealed + "\n",
    )  # fmt: skip
    assert got.stdout_bytes == SECRET
    assert ("GET", "/kbs/v0/resource/default/key/kek") in kbs.server.state.requests[before:]


def test_a_tampered_resource_is_exit_7(cli: Any, kbs: RunningKbs, monkeypatch: pytest.MonkeyPatch) -> None:
    real = devkbs_jwe.encrypt_to

    def tampered(pubkey: dict[str, Any], plaintext: bytes) -> dict[str, str]:
        jwe = real(pubkey, plaintext)
        raw = bytearray(base64.urlsafe_b64decode(jwe["ciphertext"] + "=" * (-len(jwe["ciphertext"]) % 4)))
        raw[0] ^= 0x80
        jwe["ciphertext"] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
        return jwe

    monkeypatch.setattr(devkbs_server, "encrypt_to", tampered)
    args = ["kbs", "get-resource", "--url", kbs.url, "--path", "default/key/pq", "--tee", "sample"]
    result = cli(*args, "--tee-key-type", "ml-kem-768", expect=7)
    assert "does not authenticate" in result.stderr


def test_kbs_types_judges_the_ml_kem_exchange(kbs: RunningKbs) -> None:
    peer_binary(PEER)
    pair = TeeKeyPair.generate("ml-kem-768")
    bodies: dict[str, tuple[bytes, bytes]] = {}

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        body = response.request.body or b""
        sent = body.encode() if isinstance(body, str) else bytes(body)
        bodies[response.request.path_url.removeprefix("/kbs/v0/")] = (sent, response.content)

    with KbsClient(kbs.url, timeout=TIMEOUT) as client:
        client._session.hooks["response"].append(hook)
        client.attest(SampleAttester(), pair)
        assert client.get_resource("default/key/pq", pair) == SECRET
    attestation = bodies["attest"][0]
    # TeePubKey::AKP takes the client's JWK member for member.
    pubkey = json.loads(attestation)["runtime-data"]["tee-pubkey"]
    assert _judge("tee-pubkey", json.dumps(pubkey).encode()) == {"kty": "AKP", "alg": MLKEM_ALG, "pub": pubkey["pub"]}
    assert _judge("attestation", attestation)["runtime-data"]["tee-pubkey"] == pubkey
    # The report data is the KBS's binding of the AKP key.
    binding = peer_json(PEER, "binding", stdin=attestation, timeout=TIMEOUT)
    assert binding["ok"], binding["error"]
    assert json.loads(attestation)["tee-evidence"]["primary_evidence"]["report_data"] == binding["digest"]
    # The double's JWE is a kbs-types Response whose generate_aad() is the protected text sent.
    answer = bodies["resource/default/key/pq"][1]
    value = _judge("response", answer)
    assert value == json.loads(answer)
    aad = peer_json(PEER, "aad", stdin=answer, timeout=TIMEOUT)
    assert aad["ok"], aad["error"]
    assert aad["aad"] == value["protected"]


def test_kbs_types_reads_the_jwe_trustees_code_made_as_the_double_writes_it() -> None:
    """The vector (Trustee's akp.rs output) has the same Response shape and AAD rule as the double's JWEs."""
    peer_binary(PEER)
    response = json.dumps(VECTORS["trustee_jwe"]["response"]).encode()
    assert _judge("response", response) == VECTORS["trustee_jwe"]["response"]
    aad = peer_json(PEER, "aad", stdin=response, timeout=TIMEOUT)
    assert aad["ok"] and aad["aad"] == VECTORS["trustee_jwe"]["response"]["protected"]
