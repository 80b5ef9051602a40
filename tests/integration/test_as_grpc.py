"""The gRPC AS and RVPS clients (and the key-provider client) against in-process servers built from the generated
servicers, with upstream-shaped behaviour, checking every request message field by field against the protos.

Shapes: trustee 78962cd4 protos/attestation.proto:5-98, protos/reference.proto:5-22, and the server behaviour in
attestation-service/src/bin/grpc/mod.rs:106-333 (everything fails with ABORTED), rvps/src/lib.rs:41-122 and
rvps/src/extractors/sample/mod.rs:27-49.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest

from cococtl.protos import attestation_pb2, attestation_pb2_grpc, reference_pb2, reference_pb2_grpc
from tests.integration.peers import free_port

pytestmark = pytest.mark.integration
VECTORS = Path(__file__).parents[1] / "vectors" / "evidence"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJ0ZWUiOiJzbnAifQ.c2ln"
# attestation-service/src/bin/grpc/mod.rs:42-60
UPSTREAM_TEES = {
    "sgx",
    "snp",
    "tdx",
    "csv",
    "sample",
    "az-snp-vtpm",
    "cca",
    "az-tdx-vtpm",
    "se",
    "hygondcu",
    "nvidia",
    "tpm",
}


def _b64url(text: str) -> bytes:
    """URL_SAFE_NO_PAD exactly as the AS decodes it (padding, +/ or whitespace are errors)."""
    if any(c in text for c in "=+/ \n"):
        raise ValueError("not URL-safe base64 without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fields(message: Any) -> set[str]:
    """The fields a proto3 message carries on the wire (scalars at their default are not sent)."""
    return {descriptor.name for descriptor, _ in message.ListFields()}


class FakeAttestationService(attestation_pb2_grpc.AttestationServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.reject: str | None = None
        self.fail: tuple[grpc.StatusCode, str] | None = None
        self.delay = threading.Event()
        self.sleep = 0.0
        self.policies: dict[str, str] = {}

    def _enter(self, name: str, request: Any, context: Any) -> None:
        self.requests.append((name, request))
        if self.sleep:
            self.delay.wait(self.sleep)
        if self.fail is not None:
            context.abort(*self.fail)

    def AttestationEvaluate(self, request: Any, context: Any) -> Any:
        self._enter("AttestationEvaluate", request, context)
        for individual in request.verification_requests:  # grpc/mod.rs:145-212
            if individual.tee not in UPSTREAM_TEES:
                context.abort(grpc.StatusCode.ABORTED, f"parse TEE type: Unsupported TEE type: {individual.tee}")
            try:
                json.loads(_b64url(individual.evidence))
                kind = individual.WhichOneof("runtime_data")
                if kind == "raw_runtime_data":
                    _b64url(individual.raw_runtime_data)
                elif kind == "structured_runtime_data":
                    json.loads(individual.structured_runtime_data)
                if individual.WhichOneof("init_data") == "init_data_digest":
                    _b64url(individual.init_data_digest)
            except (ValueError, binascii.Error) as error:
                context.abort(grpc.StatusCode.ABORTED, f"Illegal input Evidence: {error}")
            if individual.runtime_data_hash_algorithm not in ("", "sha256", "sha384", "sha512", "sm3"):
                context.abort(grpc.StatusCode.ABORTED, "parse runtime data HashAlgorithm failed: unknown")
        if self.reject:
            context.abort(grpc.StatusCode.ABORTED, f"Attestation evaluation failed: \n0: {self.reject}\n1: denied")
        return attestation_pb2.AttestationResponse(attestation_token=TOKEN)

    def SetAttestationPolicy(self, request: Any, context: Any) -> Any:
        self._enter("SetAttestationPolicy", request, context)
        try:  # attestation-service/src/lib.rs:173-178
            self.policies[request.policy_id] = _b64url(request.policy).decode()
        except (ValueError, binascii.Error) as error:
            context.abort(grpc.StatusCode.ABORTED, f"Set Attestation Policy Failed: {error}")
        return attestation_pb2.SetPolicyResponse()

    def GetAttestationChallenge(self, request: Any, context: Any) -> Any:
        self._enter("GetAttestationChallenge", request, context)
        if "tee" not in request.inner:  # grpc/mod.rs:251-258
            context.abort(grpc.StatusCode.ABORTED, "Error parse inner_tee tee")
        if "tee_params" not in request.inner:
            context.abort(grpc.StatusCode.ABORTED, "Error parse inner_tee tee_params")
        return attestation_pb2.ChallengeResponse(attestation_challenge=f"challenge-for-{request.inner['tee']}")


class FakeRvps(reference_pb2_grpc.ReferenceValueProviderServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.store: dict[str, Any] = {}

    def RegisterReferenceValue(self, request: Any, context: Any) -> Any:
        self.requests.append(("RegisterReferenceValue", request))
        try:  # rvps/src/lib.rs:90-111 and the sample extractor
            message = json.loads(request.message)
            if message.get("version", "0.1.0") != "0.1.0":
                raise ValueError(f"Version unmatched! Need 0.1.0, given {message['version']}.")
            if message["type"] != "sample":
                raise ValueError(f"Could not find extractor for {message['type']}")
            provenance = json.loads(base64.b64decode(message["payload"], validate=True))
            self.store.update(dict(provenance))
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            context.abort(grpc.StatusCode.ABORTED, f"Register reference value: {error}")
        return reference_pb2.ReferenceValueRegisterResponse()

    def QueryReferenceValue(self, request: Any, context: Any) -> Any:
        self.requests.append(("QueryReferenceValue", request))
        if request.reference_value_id not in self.store:
            return reference_pb2.ReferenceValueQueryResponse()
        return reference_pb2.ReferenceValueQueryResponse(
            reference_value_results=json.dumps(self.store[request.reference_value_id])
        )


@pytest.fixture
def services() -> Iterator[tuple[str, FakeAttestationService, FakeRvps]]:
    fake_as, fake_rvps = FakeAttestationService(), FakeRvps()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    attestation_pb2_grpc.add_AttestationServiceServicer_to_server(fake_as, server)
    reference_pb2_grpc.add_ReferenceValueProviderServiceServicer_to_server(fake_rvps, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"grpc://127.0.0.1:{port}", fake_as, fake_rvps
    fake_as.delay.set()
    server.stop(grace=0).wait(5)


def _attest(cli: Any, url: str, *args: Any, expect: int = 0) -> Any:
    return cli("as", "attest", "--url", url, *args, expect=expect)


def test_attest_one_evidence(cli: Any, services: tuple[str, FakeAttestationService, FakeRvps]) -> None:
    url, fake, _ = services
    result = _attest(cli, url, "--tee", "snp", "--evidence", VECTORS / "snp-evidence.json", "--policy-id", "default")
    assert result.stdout.strip() == TOKEN
    ((name, request),) = fake.requests
    assert name == "AttestationEvaluate" and _fields(request) == {"verification_requests", "policy_ids"}
    assert list(request.policy_ids) == ["default"]
    (individual,) = request.verification_requests
    assert _fields(individual) == {"tee", "evidence", "runtime_data_hash_algorithm"}
    assert individual.tee == "snp" and individual.runtime_data_hash_algorithm == "sha384"
    assert json.loads(_b64url(individual.evidence)) == json.loads((VECTORS / "snp-evidence.json").read_text())
    assert individual.WhichOneof("runtime_data") is None and individual.WhichOneof("init_data") is None
    assert cli("--json", "as", "attest", "--url", url, "--tee", "snp", "--evidence",
               VECTORS / "snp-evidence.json").json == {"tees": ["snp"], "token": TOKEN}  # fmt: skip
    assert list(fake.requests[-1][1].policy_ids) == []  # the AS then applies "default" (grpc/mod.rs:213-216)


def test_attest_several_evidences_with_runtime_and_init_data(
    cli: Any, services: tuple[str, FakeAttestationService, FakeRvps], tmp_path: Path
) -> None:
    url, fake, _ = services
    toml = b'version = "0.1.0"\r\nalgorithm = "sha384"\n[data]\n'
    (tmp_path / "init.toml").write_bytes(toml)
    (tmp_path / "rt.bin").write_bytes(b"\x00\xffraw\xfb")
    (tmp_path / "sample.json").write_text('{"svn":"1","report_data":""}')
    _attest(
        cli, url,
        "--evidence", f"snp={VECTORS / 'snp-evidence.json'}",
        "--evidence", f"sample={tmp_path / 'sample.json'}",
        "--runtime-data", tmp_path / "rt.bin",
        "--init-data", tmp_path / "init.toml",
        "--hash-algorithm", "SHA512",
        "--policy-id", "a", "--policy-id", "b",
    )  # fmt: skip
    request = fake.requests[-1][1]
    assert [r.tee for r in request.verification_requests] == ["snp", "sample"]
    assert list(request.policy_ids) == ["a", "b"]
    for individual in request.verification_requests:
        assert _fields(individual) == {
            "tee", "evidence", "raw_runtime_data", "init_data_toml", "runtime_data_hash_algorithm"
        }  # fmt: skip
        assert individual.WhichOneof("runtime_data") == "raw_runtime_data"
        assert _b64url(individual.raw_runtime_data) == b"\x00\xffraw\xfb"
        assert individual.WhichOneof("init_data") == "init_data_toml"
        assert individual.init_data_toml.encode() == toml  # byte-exact: the AS hashes the text
        assert individual.runtime_data_hash_algorithm == "sha512"
    assert json.loads(_b64url(request.verification_requests[1].evidence)) == {"svn": "1", "report_data": ""}

    (tmp_path / "rt.json").write_text('{"nonce": "abc", "tee-pubkey": {"kty": "EC"}}')
    digest = "ab" * 48
    _attest(cli, url, "--tee", "snp", "--evidence", VECTORS / "snp-evidence.json",
            "--runtime-data-json", tmp_path / "rt.json", "--init-data-digest", digest,
            "--hash-algorithm", "sha256")  # fmt: skip
    (individual,) = fake.requests[-1][1].verification_requests
    assert _fields(individual) == {
        "tee", "evidence", "structured_runtime_data", "init_data_digest", "runtime_data_hash_algorithm"
    }  # fmt: skip
    assert json.loads(individual.structured_runtime_data) == {"nonce": "abc", "tee-pubkey": {"kty": "EC"}}
    assert _b64url(individual.init_data_digest) == bytes.fromhex(digest)
    assert individual.runtime_data_hash_algorithm == "sha256"


def test_attest_auto_binds_a_nonce(cli: Any, services: tuple[str, FakeAttestationService, FakeRvps]) -> None:
    from cococtl.kbs.client import canonical_json

    url, fake, _ = services
    _attest(cli, url, "--tee", "sample", "--evidence", "auto")
    (individual,) = fake.requests[-1][1].verification_requests
    assert individual.tee == "sample" and individual.WhichOneof("runtime_data") == "structured_runtime_data"
    runtime = json.loads(individual.structured_runtime_data)
    evidence = json.loads(_b64url(individual.evidence))
    assert base64.b64decode(evidence["report_data"]) == hashlib.sha384(canonical_json(runtime)).digest()


def test_refusals_before_sending(cli: Any, services: tuple[str, FakeAttestationService, FakeRvps]) -> None:
    url, fake, _ = services
    evidence = str(VECTORS / "snp-evidence.json")
    # The gRPC AS's TEE list is its own: sampledevice is RESTful only.
    assert "nvidia" in _attest(cli, url, "--tee", "sampledevice", "--evidence", evidence, expect=3).stderr
    assert "sha512" in _attest(cli, url, "--tee", "snp", "--evidence", evidence, "--hash-algorithm", "md5",
                               expect=2).stderr  # fmt: skip
    assert "port" in _attest(cli, "grpc://127.0.0.1", "--tee", "snp", "--evidence", evidence, expect=3).stderr
    assert "HOST:PORT" in _attest(cli, url + "/x", "--tee", "snp", "--evidence", evidence, expect=3).stderr
    assert fake.requests == []
    _attest(cli, url, "--tee", "tpm", "--evidence", evidence)  # and it takes TEEs the RESTful AS does not


def test_set_policy_challenge_and_policies(
    cli: Any, services: tuple[str, FakeAttestationService, FakeRvps], tmp_path: Path
) -> None:
    url, fake, _ = services
    policy = "package policy\n\ndefault allow = false\n"
    (tmp_path / "p.rego").write_text(policy)
    result = cli("as", "set-policy", "--url", url, "--id", "my-policy", "--policy-file", tmp_path / "p.rego")
    assert "set policy my-policy" in result.stderr
    name, request = fake.requests[-1]
    assert name == "SetAttestationPolicy" and _fields(request) == {"policy_id", "policy"}
    assert request.policy_id == "my-policy" and _b64url(request.policy).decode() == policy
    (tmp_path / "bad.rego").write_text("package policy\nallow {{\n")
    cli("as", "set-policy", "--url", url, "--id", "x", "--policy-file", tmp_path / "bad.rego", expect=3)
    assert len(fake.requests) == 1  # parse-checked before sending

    assert cli("as", "challenge", "--url", url, "--tee", "se", "--tee-params", "p=1").stdout.strip() == (
        "challenge-for-se"
    )
    name, request = fake.requests[-1]
    assert name == "GetAttestationChallenge" and dict(request.inner) == {"tee": "se", "tee_params": "p=1"}
    cli("as", "challenge", "--url", url, "--tee", "se")
    assert dict(fake.requests[-1][1].inner) == {"tee": "se", "tee_params": ""}  # both keys are required upstream

    result = cli("as", "policies", "--url", url, expect=3)
    assert "no call that lists policies" in result.stderr and "RESTful" in result.stderr


def test_jwks_over_http_on_the_grpc_port(cli: Any) -> None:
    # The gRPC AS answers GET /.well-known/jwks.json over HTTP/1 on its gRPC port (grpc/mod.rs:357-389).
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            answer = b'{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}' if "jwks" in self.path else b""
            self.send_response(200 if answer else 404)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        assert cli("as", "jwks", "--url", f"grpc://127.0.0.1:{server.server_address[1]}").json["keys"][0]["kty"] == "EC"
    finally:
        server.shutdown()
        server.server_close()


def test_rvps_message_register_and_query(
    cli: Any, services: tuple[str, FakeAttestationService, FakeRvps], tmp_path: Path
) -> None:
    url, _, rvps = services
    values = {"svn": ["1"], "launch_digest": ["abcd", "ef01"]}
    (tmp_path / "values.json").write_text(json.dumps(values))
    message = cli("rvps", "message", "--type", "sample", "--values", tmp_path / "values.json").json
    # rvps/src/lib.rs:41-47 Message {version, payload, type}; the sample extractor decodes STANDARD base64 of JSON.
    assert set(message) == {"version", "type", "payload"}
    assert message["version"] == "0.1.0" and message["type"] == "sample"
    assert json.loads(base64.b64decode(message["payload"], validate=True)) == values
    cli("rvps", "message", "--values", tmp_path / "values.json", "-o", tmp_path / "message.json")
    cli("rvps", "message", "--values", tmp_path / "values.json", "-o", tmp_path / "message.json", expect=3)

    result = cli("rvps", "register", "--url", url, "--message", tmp_path / "message.json")
    assert "registered sample" in result.stderr
    name, request = rvps.requests[-1]
    assert name == "RegisterReferenceValue" and _fields(request) == {"message"}
    assert request.message == (tmp_path / "message.json").read_text()  # sent as written
    assert rvps.store == values

    assert cli("rvps", "query", "--url", url, "--id", "svn").json == ["1"]
    name, request = rvps.requests[-1]
    assert name == "QueryReferenceValue" and _fields(request) == {"reference_value_id"}
    assert request.reference_value_id == "svn"
    both = cli("--json", "rvps", "query", "--url", url, "--id", "svn", "--id", "launch_digest").json
    assert both == {"reference_values": {"svn": ["1"], "launch_digest": ["abcd", "ef01"]}}
    assert "no reference value 'nope'" in cli("rvps", "query", "--url", url, "--id", "nope", expect=6).stderr

    # Checked here first (rvps/src/lib.rs:93-100), and the RVPS's own refusal is invalid input too.
    sent = len(rvps.requests)
    (tmp_path / "v2.json").write_text(json.dumps({**message, "version": "0.2.0"}))
    assert "0.1.0" in cli("rvps", "register", "--url", url, "--message", tmp_path / "v2.json", expect=3).stderr
    (tmp_path / "odd.json").write_text(json.dumps({**message, "type": "in-toto"}))
    assert "no extractor" in cli("rvps", "register", "--url", url, "--message", tmp_path / "odd.json", expect=3).stderr
    assert len(rvps.requests) == sent
    swid = {"version": "0.1.0", "type": "swid", "payload": base64.b64encode(b"<x/>").decode()}
    result = cli("rvps", "register", "--url", url, "--message", "-", input=json.dumps(swid), expect=3)
    assert "Could not find extractor for swid" in result.stderr


@pytest.mark.parametrize(
    ("code", "details", "exit_code", "words"),
    [
        (grpc.StatusCode.ABORTED, "Attestation evaluation failed: \n0: report data mismatch\n1: x", 5, "refused"),
        (grpc.StatusCode.ABORTED, "parse TEE type: Unsupported TEE type: snp", 3, "could not read the request"),
        (grpc.StatusCode.PERMISSION_DENIED, "no", 5, "PERMISSION_DENIED"),
        (grpc.StatusCode.UNAUTHENTICATED, "who", 5, "UNAUTHENTICATED"),
        (grpc.StatusCode.INVALID_ARGUMENT, "bad field", 3, "could not use the request"),
        (grpc.StatusCode.NOT_FOUND, "no policy", 6, "not found"),
        (grpc.StatusCode.UNAVAILABLE, "draining", 4, "cannot reach"),
        (grpc.StatusCode.INTERNAL, "boom", 4, "failed (INTERNAL)"),
    ],
)
def test_status_codes_map_to_exit_codes(
    cli: Any,
    services: tuple[str, FakeAttestationService, FakeRvps],
    code: grpc.StatusCode,
    details: str,
    exit_code: int,
    words: str,
) -> None:
    url, fake, _ = services
    fake.fail = (code, details)
    result = _attest(cli, url, "--tee", "snp", "--evidence", VECTORS / "snp-evidence.json", expect=exit_code)
    assert words in result.stderr and "\n1:" not in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluation_failure_message_on_one_line(
    cli: Any, services: tuple[str, FakeAttestationService, FakeRvps]
) -> None:
    url, fake, _ = services
    fake.reject = "policy denied"
    result = _attest(cli, url, "--tee", "snp", "--evidence", VECTORS / "snp-evidence.json", expect=5)
    assert "Attestation evaluation failed:; 0: policy denied; 1: denied" in result.stderr


def test_deadline_and_unreachable_exit_4_in_time(
    cli: Any, services: tuple[str, FakeAttestationService, FakeRvps]
) -> None:
    url, fake, _ = services
    fake.sleep = 10.0
    evidence = VECTORS / "snp-evidence.json"
    for args in (
        ("as", "attest", "--url", url, "--tee", "snp", "--evidence", evidence),
        ("as", "challenge", "--url", url, "--tee", "se"),
    ):
        start = time.monotonic()
        result = cli(*args, "--timeout", "0.5", expect=4)
        assert time.monotonic() - start < 1.5
        assert "did not answer within 0.5 s" in result.stderr and "--timeout" in result.stderr
    fake.delay.set()
    start = time.monotonic()
    closed = f"grpc://127.0.0.1:{free_port()}"
    result = cli("rvps", "query", "--url", closed, "--id", "svn", "--timeout", "5", expect=4)
    assert time.monotonic() - start < 6 and "cannot reach the reference value provider" in result.stderr


def test_wrong_service_is_reported(cli: Any, tmp_path: Path) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    reference_pb2_grpc.add_ReferenceValueProviderServiceServicer_to_server(FakeRvps(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        result = cli("as", "challenge", "--url", f"grpc://127.0.0.1:{port}", "--tee", "se", expect=6)
        assert "does not offer AttestationService" in result.stderr
    finally:
        server.stop(grace=0).wait(5)


def test_missing_grpc_names_the_extra(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "grpc", None)
    result = cli("rvps", "query", "--url", "grpc://127.0.0.1:1", "--id", "x", expect=8)
    assert "cococtl[grpc]" in result.stderr


def test_key_provider_client_against_our_server(tmp_path: Path) -> None:
    from cococtl.oci import grpc_service
    from cococtl.oci.annotations import KeyProviderAnnotation
    from tests.integration.peers import grpc_key_provider
    from tests.integration.test_keyprovider import PLBCO, _as_bytes, _unwrap_request, _wrap_request

    kek = bytes(range(32))
    (tmp_path / "kek").write_bytes(kek)
    (tmp_path / "keys.json").write_text(json.dumps({"default/key/img": base64.b64encode(kek).decode()}))
    with grpc_key_provider(tmp_path / "keys.json") as port:
        target = f"127.0.0.1:{port}"
        params = f"keypath={tmp_path / 'kek'}::keyid=kbs:///default/key/img"
        wrapped = json.loads(grpc_service.call(target, _wrap_request(params), timeout=10))
        annotation = wrapped["keywrapresults"]["annotation"]
        assert KeyProviderAnnotation.from_json(_as_bytes(annotation)).unwrap(kek) == PLBCO
        unwrapped = json.loads(grpc_service.call(target, _unwrap_request(annotation), unwrap=True, timeout=10))
        assert _as_bytes(unwrapped["keyunwrapresults"]["optsdata"]) == PLBCO
        from cococtl.errors import InvalidInputError, UnreachableError

        with pytest.raises(InvalidInputError, match="refused WrapKey"):
            grpc_service.call(target, b'{"op":"nope"}', timeout=10)
    with pytest.raises(UnreachableError):
        grpc_service.call(f"127.0.0.1:{free_port()}", b"{}", timeout=2)


def test_grpcs_with_an_added_trust_root(cli: Any, tmp_path: Path) -> None:
    from tests.integration.peers import make_tls

    tls = make_tls(tmp_path)
    fake = FakeAttestationService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    attestation_pb2_grpc.add_AttestationServiceServicer_to_server(fake, server)
    credentials = grpc.ssl_server_credentials([(tls.key_file.read_bytes(), tls.cert_file.read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        url = f"grpcs://127.0.0.1:{port}"
        result = cli("as", "challenge", "--url", url, "--tee", "se", "--cert-file", tls.ca_file)
        assert result.stdout.strip() == "challenge-for-se"
        result = cli("as", "challenge", "--url", url, "--tee", "se", "--timeout", "5", expect=4)
        assert "--cert-file" in result.stderr
    finally:
        server.stop(grace=0).wait(5)
