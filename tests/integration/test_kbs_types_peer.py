"""Trustee's own serde types judge the KBS bodies: every body cococtl's client sends and every body the KBS
double answers goes through the ``kbs-types`` crate (tests/peers/kbs-types, kbs-types 0.18.0, the version
trustee 78962cd4 pins in its Cargo.toml). A body the crate rejects is a failing test.

Crate facts the checks rest on (kbs-types-0.18.0/src/lib.rs):
- lib.rs:31-76 ``Tee`` serde names, incl. ``nvidia-dpu`` (alias ``nvidiadpu``, lib.rs:62); lib.rs:78-84
  ``Request`` (``extra-params`` is a required ``Value``); lib.rs:86-91 ``Challenge``.
- lib.rs:93-119 ``TeePubKey`` (``#[serde(tag = "kty")]``; ``alg`` required; RSA ``n``/``e``).
- lib.rs:189-229 ``RuntimeData``, ``CompositeEvidence`` (``additional_evidence`` is a ``String``),
  ``InitData``, ``Attestation`` (kebab-case; ``init-data`` is an ``Option``).
- lib.rs:231-250 ``ProtectedHeader`` and ``generate_aad`` = base64url(re-serialised header), the AAD trustee
  encrypts with and guest-components' client decrypts with; lib.rs:264-297 every JWE member is decoded
  with ``BASE64_URL_SAFE_NO_PAD`` (padding is an error); lib.rs:327-366 ``Response``; lib.rs:368-373
  ``ErrorInformation``.
- trustee kbs/src/attestation/backend.rs:350-388: the runtime data hashed for the primary and the additional
  evidence, and ``additional_evidence`` parsed as ``HashMap<Tee, Value>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cococtl.evidence.sample import SampleAttester
from cococtl.kbs.b64 import b64std
from cococtl.kbs.client import KbsClient, read_init_data
from cococtl.kbs.jwe import KEY_TYPES, TeeKeyPair
from cococtl.policy import builtin as policies
from tests.integration.conftest import RunningKbs, start_devkbs
from tests.peer_tools import peer_binary, peer_json, run_peer

pytestmark = pytest.mark.integration
PEER = "kbs-types"
SECRET = b"\x00kbs-types judged secret\xff"
TIMEOUT = 20.0


@dataclass(frozen=True)
class SampleDeviceAttester:
    """A ``sampledevice`` attester (guest-components' sample device evidence shape), for additional evidence."""

    svn: str = "2"

    @property
    def tee(self) -> str:
        return "sampledevice"

    def evidence(self, report_data: bytes) -> Any:
        return {"svn": self.svn, "report_data": b64std(report_data)}


@dataclass
class Exchange:
    """The exact bytes of one attestation + resource round trip: ``(method, path) -> (sent, answered)``."""

    keypair: TeeKeyPair
    bodies: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)

    def sent(self, what: str) -> bytes:
        return self.bodies[what][0]

    def answered(self, what: str) -> bytes:
        return self.bodies[what][1]


CASES = [(kind, extra) for kind in KEY_TYPES for extra in (False, True)]
CASE_IDS = [f"{kind}-{'additional' if extra else 'primary-only'}" for kind, extra in CASES]


def _judge(kind: str, body: bytes | str) -> Any:
    """The crate's verdict on one body; a rejection fails the test with the crate's serde error."""
    text = body.encode() if isinstance(body, str) else body
    verdict = peer_json(PEER, "parse", kind, stdin=text, timeout=TIMEOUT)
    assert verdict["ok"], f"kbs-types rejects this {kind}: {verdict['error']}\nbody: {text.decode(errors='replace')}"
    return verdict["value"]


def _round_trip(kind: str, body: bytes) -> Any:
    """Accepted, and the crate's re-serialisation is the same JSON value (member names and casing match)."""
    value = _judge(kind, body)
    assert value == json.loads(body), f"kbs-types re-serialises this {kind} differently"
    return value


@pytest.fixture(scope="module")
def kbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningKbs]:
    peer_binary(PEER)  # missing peer: fail before starting anything
    running = start_devkbs(tmp_path_factory.mktemp("kbs-types-peer"))
    running.server.state.set_resource_policy(policies.ALLOW_ALL)
    running.server.state.resource_file(["default", "key", "judged"]).write_bytes(SECRET)
    yield running
    running.server.stop()


def _exchange(
    url: str, kind: str, *, additional: bool, init_data: dict[str, str] | None = None, tee_path: str = ""
) -> Exchange:
    record = Exchange(TeeKeyPair.generate(kind))

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        request = response.request
        body = request.body or b""
        sent = body.encode() if isinstance(body, str) else bytes(body)
        assert response.status_code == 200, f"{request.path_url}: {response.status_code} {response.content!r}"
        record.bodies[request.path_url.removeprefix("/kbs/v0/")] = (sent, response.content)

    with KbsClient(url, timeout=TIMEOUT) as client:
        client._session.hooks["response"].append(hook)
        devices = [SampleDeviceAttester()] if additional else []
        client.attest(SampleAttester(), record.keypair, init_data=init_data, additional=devices)
        assert client.get_resource("default/key/judged", record.keypair) == SECRET
    assert set(record.bodies) == {"auth", "attest", "resource/default/key/judged"}
    return record


@pytest.fixture(scope="module")
def exchanges(kbs: RunningKbs) -> dict[tuple[str, bool], Exchange]:
    return {(kind, extra): _exchange(kbs.url, kind, additional=extra) for kind, extra in CASES}


@pytest.mark.parametrize(("kind", "extra"), CASES, ids=CASE_IDS)
def test_request_body_is_a_kbs_types_request(
    exchanges: dict[tuple[str, bool], Exchange], kind: str, extra: bool
) -> None:
    value = _round_trip("request", exchanges[kind, extra].sent("auth"))
    assert value["version"] == "0.4.0" and value["tee"] == "sample"


@pytest.mark.parametrize(("kind", "extra"), CASES, ids=CASE_IDS)
def test_double_challenge_is_a_kbs_types_challenge(
    exchanges: dict[tuple[str, bool], Exchange], kind: str, extra: bool
) -> None:
    value = _round_trip("challenge", exchanges[kind, extra].answered("auth"))
    assert value["extra-params"] == "" and len(base64.b64decode(value["nonce"], validate=True)) == 32


@pytest.mark.parametrize(("kind", "extra"), CASES, ids=CASE_IDS)
def test_attestation_body_is_a_kbs_types_attestation(
    exchanges: dict[tuple[str, bool], Exchange], kind: str, extra: bool
) -> None:
    exchange = exchanges[kind, extra]
    body = exchange.sent("attest")
    value = _round_trip("attestation", body)
    assert value["init-data"] is None
    # The tee-pubkey survives the crate's TeePubKey (lib.rs:93) member for member: nothing the KBS drops.
    pubkey = json.loads(body)["runtime-data"]["tee-pubkey"]
    assert _round_trip("tee-pubkey", json.dumps(pubkey).encode()) == exchange.keypair.public_jwk()
    additional = value["tee-evidence"]["additional_evidence"]
    if extra:
        # Trustee parses the text as HashMap<Tee, Value> (backend.rs:377): the crate must accept it.
        devices = _judge("additional-evidence", json.dumps(additional))
        assert list(devices) == ["sampledevice"]
    else:
        assert additional == ""


@pytest.mark.parametrize(("kind", "extra"), CASES, ids=CASE_IDS)
def test_report_data_is_the_kbs_binding(exchanges: dict[tuple[str, bool], Exchange], kind: str, extra: bool) -> None:
    """The crate's re-serialised TeePubKey, JCS (serde_json_canonicalizer) and HashAlgorithm::digest."""
    body = exchanges[kind, extra].sent("attest")
    binding = peer_json(PEER, "binding", stdin=body, timeout=TIMEOUT)
    assert binding["ok"], binding["error"]
    assert binding["hash"] == "sha384" and binding["digest_len"] == 48
    evidence = json.loads(body)["tee-evidence"]
    assert evidence["primary_evidence"]["report_data"] == binding["digest"]
    if extra:
        assert binding["additional_evidence"]["sampledevice"]["report_data"] == binding["device_digest"]
    else:
        assert binding["additional_evidence"] is None
    # The Python JCS the client hashes agrees with the crate-side canonical text.
    import rfc8785

    assert bytes(rfc8785.dumps(binding["runtime_data"])).decode() == binding["canonical"]


@pytest.mark.parametrize(("kind", "extra"), CASES, ids=CASE_IDS)
def test_double_resource_answer_is_a_kbs_types_response(
    exchanges: dict[tuple[str, bool], Exchange], kind: str, extra: bool
) -> None:
    exchange = exchanges[kind, extra]
    body = exchange.answered("resource/default/key/judged")
    value = _round_trip("response", body)
    header = json.loads(base64.urlsafe_b64decode(value["protected"] + "=" * (-len(value["protected"]) % 4)))
    assert header["alg"] == exchange.keypair.alg and header["enc"] == "A256GCM"
    # guest-components decrypts with AAD = ProtectedHeader::generate_aad() (a re-serialisation); Trustee
    # encrypts with it too. The double's protected text must be exactly that, or a real client fails.
    aad = peer_json(PEER, "aad", stdin=body, timeout=TIMEOUT)
    assert aad["ok"], aad["error"]
    assert aad["aad"] == json.loads(body)["protected"]
    # And cococtl decrypts the crate's serialisation of the Response (what a Trustee KBS sends).
    assert exchange.keypair.decrypt(json.dumps(value)) == SECRET


def test_init_data_attestation_round_trips(kbs: RunningKbs, tmp_path: Path) -> None:
    toml = tmp_path / "init.toml"
    toml.write_text('algorithm = "sha384"\nversion = "0.1.0"\n\n[data]\n"aa.toml" = "x"\n')
    exchange = _exchange(kbs.url, "ec-p256", additional=False, init_data=read_init_data(toml))
    value = _round_trip("attestation", exchange.sent("attest"))
    assert value["init-data"] == {"format": "toml", "body": toml.read_text()}
    _round_trip("init-data", json.dumps(value["init-data"]).encode())


def test_double_accepts_exactly_the_crates_tees(kbs: RunningKbs) -> None:
    """The double's /auth accepts a ``tee`` iff kbs-types' Tee does (lib.rs:31-76)."""
    import requests

    names = [
        *("az-snp-vtpm", "az-tdx-vtpm", "nvidia", "sgx", "snp", "tdx", "cca", "csv", "se", "hygondcu"),
        *("nvidia-dpu", "nvidiadpu", "tpm", "sample", "sampledevice"),
        *("sev", "SAMPLE", "nvidia_dpu", "azsnpvtpm", ""),
    ]
    disagreements = []
    for name in names:
        body = json.dumps({"version": "0.4.0", "tee": name, "extra-params": ""}).encode()
        crate = peer_json(PEER, "parse", "request", stdin=body, timeout=TIMEOUT)["ok"]
        answer = requests.post(f"{kbs.url}/kbs/v0/auth", data=body, timeout=TIMEOUT)
        if crate != (answer.status_code == 200):
            disagreements.append(f"{name!r}: crate {'accepts' if crate else 'rejects'}, double {answer.status_code}")
        elif answer.status_code == 200:
            _round_trip("challenge", answer.content)
    assert not disagreements, disagreements


def test_double_error_bodies_are_error_information(kbs: RunningKbs) -> None:
    import requests

    answers = [
        requests.post(
            f"{kbs.url}/kbs/v0/auth", data=b'{"version":"0.3.0","tee":"sample","extra-params":""}', timeout=9
        ),
        requests.post(f"{kbs.url}/kbs/v0/attest", data=b"{}", timeout=9),
        requests.get(f"{kbs.url}/kbs/v0/resource/default/key/judged", timeout=9),
        requests.get(f"{kbs.url}/kbs/v0/nosuchplugin/x", timeout=9),
    ]
    for answer in answers:
        assert answer.status_code in (401, 404)
        value = _round_trip("error-information", answer.content)
        assert value["type"].startswith("https://github.com/confidential-containers/kbs/errors/")


def test_double_rejects_additional_evidence_the_crate_cannot_parse(kbs: RunningKbs) -> None:
    """Trustee fails /attest when additional_evidence is not a {Tee: evidence} map (backend.rs:376-379)."""
    import requests
    import rfc8785

    pair = TeeKeyPair.generate("ec-p256")
    for additional in ('{"sev":{}}', "not json", "[]"):
        crate = peer_json(PEER, "parse", "additional-evidence", stdin=json.dumps(additional).encode(), timeout=TIMEOUT)
        assert not crate["ok"]
        with requests.Session() as session:
            challenge = session.post(
                f"{kbs.url}/kbs/v0/auth",
                json={"version": "0.4.0", "tee": "sample", "extra-params": ""},
                timeout=TIMEOUT,
            ).json()
            pubkey = pair.public_jwk()
            runtime = {"tee-pubkey": pubkey, "nonce": challenge["nonce"], "additional-evidence": additional}
            digest = hashlib.sha384(bytes(rfc8785.dumps(runtime))).digest()
            attestation = {
                "init-data": None,
                "runtime-data": {"nonce": challenge["nonce"], "tee-pubkey": pubkey},
                "tee-evidence": {
                    "primary_evidence": SampleAttester().evidence(digest),
                    "additional_evidence": additional,
                },
            }
            assert _judge("attestation", json.dumps(attestation))
            answer = session.post(f"{kbs.url}/kbs/v0/attest", json=attestation, timeout=TIMEOUT)
        assert answer.status_code == 401, f"{additional!r}: the double accepted what Trustee rejects"


@pytest.mark.parametrize(
    ("kind", "body", "needle"),
    [
        ("request", {"version": "0.4.0", "tee": "sev", "extra-params": ""}, "unknown variant `sev`"),
        ("request", {"version": "0.4.0", "tee": "sample"}, "missing field `extra-params`"),
        ("tee-pubkey", {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "missing field `alg`"),
        ("tee-pubkey", {"kty": "OKP", "alg": "ECDH-ES+A256KW", "crv": "X25519", "x": "AA"}, "unknown variant"),
        ("response", {"protected": "e30", "encrypted_key": "", "iv": "AA==", "ciphertext": "", "tag": ""}, "alg"),
        (
            "response",
            {
                "protected": "eyJhbGciOiJhIiwiZW5jIjoiYiJ9",
                "encrypted_key": "",
                "iv": "AA==",
                "ciphertext": "",
                "tag": "",
            },
            "Invalid",
        ),
        ("challenge", {"nonce": 1, "extra-params": ""}, "invalid type"),
    ],
)
def test_the_judge_rejects(kind: str, body: dict[str, Any], needle: str) -> None:
    """The peer is not a rubber stamp: bodies Trustee would refuse are refused, exit 0, serde error text."""
    done = run_peer(PEER, "parse", kind, stdin=json.dumps(body).encode(), timeout=TIMEOUT)
    assert done.returncode == 0
    verdict = json.loads(done.stdout)
    assert verdict["ok"] is False and needle in verdict["error"], verdict


def test_peer_usage_errors_exit_2() -> None:
    assert run_peer(PEER, "parse", "nonsense", timeout=TIMEOUT).returncode == 2
    assert run_peer(PEER, timeout=TIMEOUT).returncode == 2
    assert peer_json(PEER, "make", "challenge", "n0nce", timeout=TIMEOUT) == {
        "ok": True,
        "value": {"nonce": "n0nce", "extra-params": ""},
    }


@pytest.mark.parametrize(
    ("name", "kind"), [("kbs-client-auth.json", "request"), ("kbs-client-attest.json", "attestation")]
)
def test_what_the_real_kbs_client_sent_is_what_the_crate_reads(name: str, kind: str, kbs: RunningKbs) -> None:
    # Recorded from Trustee's own kbs-client (tests/vectors/trustee-wire/SOURCES.md): the judge reads it, and the
    # double answers kbs-client's /auth body with a challenge the crate reads too.
    recorded = json.loads((Path(__file__).parents[1] / "vectors" / "trustee-wire" / name).read_text())
    body = recorded["request_body"].encode()
    _round_trip(kind, body)
    if kind == "request":
        import requests

        answer = requests.post(f"{kbs.url}/kbs/v0/auth", data=body, timeout=TIMEOUT)
        assert answer.status_code == 200
        _round_trip("challenge", answer.content)
