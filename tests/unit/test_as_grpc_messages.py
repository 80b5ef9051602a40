"""The gRPC AS/RVPS message builders and the checked-in generated protos (no sockets)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cococtl.errors import InvalidInputError
from cococtl.kbs.as_client import VerificationRequest
from cococtl.kbs.as_grpc import GrpcTarget, build_message, check_message, individual_request, is_grpc_url


def test_generated_descriptors_match_the_upstream_protos() -> None:
    from cococtl.protos import attestation_pb2, keyprovider_pb2, reference_pb2

    def numbers(message: type) -> dict[str, int]:
        return {field.name: field.number for field in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]

    # trustee 78962cd4 protos/attestation.proto:5-92
    assert numbers(attestation_pb2.AttestationRequest) == {"verification_requests": 1, "policy_ids": 2}
    assert numbers(attestation_pb2.IndividualAttestationRequest) == {
        "tee": 1, "evidence": 3, "raw_runtime_data": 4, "structured_runtime_data": 5,
        "init_data_digest": 6, "init_data_toml": 7, "runtime_data_hash_algorithm": 8,
    }  # fmt: skip
    assert numbers(attestation_pb2.SetPolicyRequest) == {"policy_id": 1, "policy": 2}
    assert numbers(attestation_pb2.ChallengeRequest) == {"inner": 1}
    service = attestation_pb2.DESCRIPTOR.services_by_name["AttestationService"]
    assert service.full_name == "attestation.AttestationService"
    assert [m.name for m in service.methods] == [
        "AttestationEvaluate",
        "SetAttestationPolicy",
        "GetAttestationChallenge",
    ]
    # protos/reference.proto:5-22
    assert numbers(reference_pb2.ReferenceValueQueryRequest) == {"reference_value_id": 1}
    assert numbers(reference_pb2.ReferenceValueRegisterRequest) == {"message": 1}
    rvps = reference_pb2.DESCRIPTOR.services_by_name["ReferenceValueProviderService"]
    assert rvps.full_name == "reference.ReferenceValueProviderService"
    # guest-components protos/protos/confidential-data-hub/keyprovider.proto
    assert numbers(keyprovider_pb2.KeyProviderKeyWrapProtocolInput) == {"KeyProviderKeyWrapProtocolInput": 1}
    assert keyprovider_pb2.KeyProviderKeyWrapProtocolInput(
        KeyProviderKeyWrapProtocolInput=b"{}"
    ).SerializeToString() == (b"\x0a\x02{}")


def test_individual_request_fields() -> None:
    from cococtl.protos import attestation_pb2

    message = individual_request(
        attestation_pb2,
        VerificationRequest("tdx", {"quote": "q"}, runtime_data={"b": 1, "a": "é"}, init_data_digest=b"\xff\xfe"),
    )
    assert message.tee == "tdx" and base64.urlsafe_b64decode(message.evidence + "==") == b'{"quote":"q"}'
    assert json.loads(message.structured_runtime_data) == {"b": 1, "a": "é"}
    assert message.init_data_digest == "__4" and message.runtime_data_hash_algorithm == ""
    with pytest.raises(InvalidInputError, match="not both"):
        individual_request(attestation_pb2, VerificationRequest("tdx", {}, init_data_toml="x", init_data_digest=b"x"))
    with pytest.raises(InvalidInputError, match="sampledevice"):
        individual_request(attestation_pb2, VerificationRequest("sampledevice", {}))


@pytest.mark.parametrize(
    ("url", "target", "secure"),
    [
        ("grpc://127.0.0.1:50004", "127.0.0.1:50004", False),
        ("GRPCS://as.example:443/", "as.example:443", True),
        ("grpc://[::1]:50003", "[::1]:50003", False),
    ],
)
def test_grpc_urls(url: str, target: str, secure: bool) -> None:
    assert is_grpc_url(url) and GrpcTarget.parse(url) == GrpcTarget(target, secure)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "grpc://host", "grpc://host:port", "grpc://host:1/path", "grpc://u:p@h:1"]
)
def test_bad_grpc_urls(url: str) -> None:
    with pytest.raises(InvalidInputError):
        GrpcTarget.parse(url)


def test_build_and_check_messages() -> None:
    message = build_message("sample", b'{"svn": ["1"], "digest": ["ab"]}')
    assert message == {
        "version": "0.1.0",
        "type": "sample",
        "payload": base64.b64encode(b'{"svn":["1"],"digest":["ab"]}').decode(),
    }
    assert check_message(json.dumps(message)) == message
    assert check_message(json.dumps({"type": "sample", "payload": ""}))["type"] == "sample"  # version defaults
    assert base64.b64decode(build_message("corim", b"\xd9\x01\xf4")["payload"]) == b"\xd9\x01\xf4"
    for bad, words in (
        (b"[1]", "JSON object"),
        (b"{}", "JSON object"),
        (b"{nope", "not JSON"),
    ):
        with pytest.raises(InvalidInputError, match=words):
            build_message("sample", bad)
    with pytest.raises(InvalidInputError, match="UTF-8"):
        build_message("swid", b"\xff")
    with pytest.raises(InvalidInputError, match="in-toto"):
        build_message("in-toto", b"{}")
    for text, words in (
        ('{"type": "sample"}', "payload"),
        ('{"type": "sample", "payload": "a", "version": "1"}', "0.1.0"),
        ('{"type": "sample", "payload": "a b"}', "base64"),
        ('["x"]', "object"),
    ):
        with pytest.raises(InvalidInputError, match=words):
            check_message(text)


@given(st.text(max_size=200))
def test_check_message_only_raises_invalid_input(text: str) -> None:
    try:
        check_message(text)
    except InvalidInputError:
        pass
