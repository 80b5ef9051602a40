"""Wire details of the KBS protocol, checked against upstream vectors and an independent JOSE library."""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwe as jose_jwe
from joserfc.jwe import FlattenedJSONEncryption, JWERegistry
from joserfc.jwk import ECKey, RSAKey

from cococtl.errors import CococtlError, DeniedError, IntegrityError, NotFoundError
from cococtl.evidence.sample import SampleAttester
from cococtl.kbs.b64 import b64url
from cococtl.kbs.client import canonical_json, report_data
from cococtl.kbs.errors import kbs_error
from cococtl.kbs.jwe import TeeKeyPair

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "kbs_vectors.json").read_text())
ALGS = {"ec-p256": "ECDH-ES+A256KW", "ec-p521": "ECDH-ES+A256KW", "rsa": "RSA-OAEP-256", "rsa1_5": "RSA1_5"}


def test_jcs_vector() -> None:
    vector = VECTORS["jcs_sha384"]
    assert canonical_json(vector["input"]).decode() == vector["canonical"]
    assert hashlib.sha384(canonical_json(vector["input"])).hexdigest() == vector["sha384_hex"]


def test_protected_header_aad_vector() -> None:
    vector = VECTORS["jwe_protected_aad"]
    assert b64url(vector["protected_header_json"].encode()) == vector["protected_b64url"]


def test_report_data_binds_key_nonce_and_additional_evidence() -> None:
    pubkey = {"alg": "ECDH-ES+A256KW", "crv": "P-256", "kty": "EC", "x": "X", "y": "Y"}
    nonce = "iB65o4iIdfPrDXpUBEVzLkH0h0MSZ6YGmwGWfrYLuas="
    expected = (
        '{"additional-evidence":"","nonce":"iB65o4iIdfPrDXpUBEVzLkH0h0MSZ6YGmwGWfrYLuas=",'
        '"tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"X","y":"Y"}}'
    )
    assert report_data(nonce, pubkey) == hashlib.sha384(expected.encode()).digest()
    evidence = SampleAttester().evidence(report_data(nonce, pubkey))
    assert evidence == {
        "svn": "1",
        "report_data": base64.b64encode(hashlib.sha384(expected.encode()).digest()).decode(),
    }
    assert len(evidence["report_data"]) == 64


@pytest.mark.parametrize("kind", list(ALGS))
def test_public_jwk_members_and_fixed_lengths(kind: str) -> None:
    jwk = TeeKeyPair.generate(kind).public_jwk()
    if kind.startswith("ec"):
        assert list(jwk) == ["alg", "crv", "kty", "x", "y"]
        size = 32 if kind == "ec-p256" else 66
        assert all(len(base64.urlsafe_b64decode(jwk[c] + "==")) == size for c in ("x", "y"))
    else:
        assert list(jwk) == ["alg", "e", "kty", "n"] and jwk["e"] == "AQAB"
    assert jwk["alg"] == ALGS[kind]
    assert all("=" not in v for v in jwk.values())


def test_leading_zero_coordinates_keep_their_length() -> None:
    for _ in range(3000):
        pair = TeeKeyPair.generate("ec-p256")
        numbers = pair.private_key.public_key().public_numbers()  # type: ignore[union-attr]
        if numbers.x.bit_length() <= 248 or numbers.y.bit_length() <= 248:
            jwk = pair.public_jwk()
            assert len(base64.urlsafe_b64decode(jwk["x"] + "==")) == 32
            assert len(base64.urlsafe_b64decode(jwk["y"] + "==")) == 32
            return
    pytest.fail("no key with a short coordinate in 3000 tries")


def _independent_jwe(pair: TeeKeyPair, plaintext: bytes) -> dict[str, Any]:
    pem = pair.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = (RSAKey if pair.alg.startswith("RSA") else ECKey).import_key(pem)
    message = FlattenedJSONEncryption({"alg": pair.alg, "enc": "A256GCM"}, plaintext)
    message.add_recipient({}, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns that RSA1_5 is deprecated: old servers still use it
        return dict(jose_jwe.encrypt_json(message, None, registry=JWERegistry(algorithms=[pair.alg, "A256GCM"])))


@pytest.mark.parametrize("kind", list(ALGS))
def test_decrypts_jwe_from_an_independent_library(kind: str) -> None:
    pair = TeeKeyPair.generate(kind)
    assert pair.decrypt(json.dumps(_independent_jwe(pair, b"the resource")).encode()) == b"the resource"


def test_aad_is_the_received_protected_text() -> None:
    pair = TeeKeyPair.generate("rsa")
    body = _independent_jwe(pair, b"x")
    header = json.loads(base64.urlsafe_b64decode(body["protected"] + "=="))
    body["protected"] = b64url(json.dumps(header, indent=1).encode())  # same header, other bytes
    with pytest.raises(IntegrityError):
        pair.decrypt(body)


def test_wrong_key_and_tampering() -> None:
    pair = TeeKeyPair.generate("ec-p256")
    body = _independent_jwe(pair, b"secret")
    with pytest.raises(IntegrityError):
        TeeKeyPair.generate("ec-p256").decrypt(body)
    body["ciphertext"] = b64url(b"\x00" * 6)
    with pytest.raises(IntegrityError, match="tag"):
        pair.decrypt(body)


def test_tee_key_pem_round_trip(tmp_path: Path) -> None:
    for kind in ("ec-p256", "ec-p521", "rsa"):
        pair = TeeKeyPair.generate(kind)
        (tmp_path / kind).write_bytes(pair.to_pem())
        assert TeeKeyPair.from_pem(tmp_path / kind).public_jwk() == pair.public_jwk()
    assert b"BEGIN RSA PRIVATE KEY" in TeeKeyPair.generate("rsa").to_pem()


@pytest.mark.parametrize(
    ("status", "variant", "error", "words"),
    [
        (401, "PolicyDeny", DeniedError, "denied by the KBS resource policy"),
        (401, "PluginInternalError", NotFoundError, "could not provide"),
        (404, "PluginNotFound", NotFoundError, "not found"),
        (401, "TokenVerifierError", DeniedError, "Token"),
    ],
)
def test_error_bodies_map_by_variant(status: int, variant: str, error: type[CococtlError], words: str) -> None:
    body = json.dumps(
        {"type": f"https://github.com/confidential-containers/kbs/errors/{variant}", "detail": "Token Verifier error"}
    ).encode()
    mapped = kbs_error(status, body, what="resource a/b/c")
    assert isinstance(mapped, error) and words in mapped.message


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(100, 599))
def test_error_body_parser_never_crashes(body: bytes, status: int) -> None:
    assert isinstance(kbs_error(status, body, what="x"), CococtlError)


jwe_members = st.fixed_dictionaries(
    {},
    optional={
        k: st.one_of(st.text(max_size=30), st.integers(), st.none(), st.just("eyJhbGciOiJSU0ExXzUifQ"))
        for k in ("protected", "encrypted_key", "iv", "ciphertext", "tag", "header")
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(jwe_members, st.binary(max_size=100), st.lists(st.integers(), max_size=3)))
def test_jwe_parser_never_crashes(body: Any) -> None:
    pair = TeeKeyPair.generate("ec-p256")
    with pytest.raises(CococtlError):
        pair.decrypt(body if isinstance(body, bytes) else json.dumps(body).encode())
