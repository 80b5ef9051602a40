"""JOSE across implementations: joserfc on one side, cococtl (client or double) on the other, for every TEE key
type; the wire bytes Trustee produces (kbs/src/jwe/mod.rs at trustee 2222675c, kbs-types ProtectedHeader) and
the kbs-types AAD vector; JWTs byte for byte."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwe as jose_jwe
from joserfc import jwt as jose_jwt
from joserfc.jwe import FlattenedJSONEncryption, JWERegistry
from joserfc.jwk import ECKey, OKPKey, RSAKey

from cococtl.devkbs.admin import AdminPolicy
from cococtl.devkbs.ear import TokenRejected, sign_ear_token, verify_ear_token, verify_jwt
from cococtl.devkbs.jwe import encrypt_to
from cococtl.errors import CococtlError, DeniedError, IntegrityError
from cococtl.kbs import jwt
from cococtl.kbs.jwe import KEY_TYPES, TeeKeyPair

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "kbs_vectors.json").read_text())
SECRET = b"\x00a resource \xff" * 7


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jose_private(pair: TeeKeyPair) -> ECKey | RSAKey:
    if isinstance(pair.private_key, rsa.RSAPrivateKey):
        return RSAKey.import_key(pair.private_key)
    return ECKey.import_key(pair.private_key)


def _registry(alg: str) -> JWERegistry:
    return JWERegistry(algorithms=[alg, "A256GCM"])


@contextlib.contextmanager
def _rsa1_5_on_purpose() -> Iterator[None]:
    """joserfc warns that RSA1_5 is deprecated: the tests use it on purpose, like old Trustee versions."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message='JWE algorithm "RSA1_5"')
        yield


def _joserfc_trustee_layout(pair: TeeKeyPair, plaintext: bytes) -> dict[str, str]:
    """joserfc's compact JWE re-cut into flattened members: everything in ``protected``, as Trustee sends."""
    public = _jose_private(pair).as_dict(private=False)
    key = (RSAKey if public["kty"] == "RSA" else ECKey).import_key(public)
    with _rsa1_5_on_purpose():
        header = {"alg": pair.alg, "enc": "A256GCM"}
        compact = jose_jwe.encrypt_compact(header, plaintext, key, registry=_registry(pair.alg))
    names = ("protected", "encrypted_key", "iv", "ciphertext", "tag")
    return dict(zip(names, compact.split("."), strict=True))


def _joserfc_json_layout(pair: TeeKeyPair, plaintext: bytes) -> dict[str, Any]:
    """joserfc's own flattened JSON: for ECDH-ES the ``epk`` is in the per-recipient ``header``."""
    public = _jose_private(pair).as_dict(private=False)
    key = (RSAKey if public["kty"] == "RSA" else ECKey).import_key(public)
    message = FlattenedJSONEncryption({"alg": pair.alg, "enc": "A256GCM"}, plaintext)
    message.add_recipient({}, key)
    with _rsa1_5_on_purpose():
        return dict(jose_jwe.encrypt_json(message, None, registry=_registry(pair.alg)))


@pytest.fixture(scope="module", params=KEY_TYPES)
def pair(request: pytest.FixtureRequest) -> TeeKeyPair:
    return TeeKeyPair.generate(request.param)


# --- joserfc encrypts, the client decrypts ------------------------------------------------------------------


def test_client_decrypts_joserfc_in_trustees_layout(pair: TeeKeyPair) -> None:
    body = _joserfc_trustee_layout(pair, SECRET)
    assert "epk" in json.loads(_unb64(body["protected"])) or pair.alg != "ECDH-ES+A256KW"
    assert pair.decrypt(json.dumps(body)) == SECRET


def test_client_decrypts_joserfc_json_with_a_recipient_header(pair: TeeKeyPair) -> None:
    body = _joserfc_json_layout(pair, SECRET)
    assert pair.decrypt(json.dumps(body).encode()) == SECRET


def test_client_decrypts_a_large_resource(pair: TeeKeyPair) -> None:
    big = bytes(range(256)) * 2048  # 512 KiB: over joserfc's default 64 KiB ciphertext limit
    assert pair.decrypt(encrypt_to(pair.public_jwk(), big)) == big
    assert pair.decrypt(_joserfc_trustee_layout(pair, big)) == big


# --- the double encrypts, joserfc decrypts ------------------------------------------------------------------


def test_joserfc_decrypts_what_the_double_sends(pair: TeeKeyPair) -> None:
    body: Any = encrypt_to(pair.public_jwk(), SECRET)
    with _rsa1_5_on_purpose():
        assert jose_jwe.decrypt_json(body, _jose_private(pair), registry=_registry(pair.alg)).plaintext == SECRET
        compact = ".".join(body[m] for m in ("protected", "encrypted_key", "iv", "ciphertext", "tag"))
        assert jose_jwe.decrypt_compact(compact, _jose_private(pair), registry=_registry(pair.alg)).plaintext == SECRET


def test_joserfc_decrypts_the_doubles_small_rsa_fallback() -> None:
    """joserfc refuses to encrypt to RSA keys under 2048 bits; Trustee's rsa crate does, so the double does too."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point of the test
    pair = TeeKeyPair(key, "RSA-OAEP-256")
    body: Any = encrypt_to(pair.public_jwk(), SECRET)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Key size should be >= 2048 bits")
        jose_key = RSAKey.import_key(key)
        assert jose_jwe.decrypt_json(body, jose_key, registry=_registry(pair.alg)).plaintext == SECRET
        assert pair.decrypt(body) == SECRET


def test_the_doubles_protected_header_is_trustees_bytes(pair: TeeKeyPair) -> None:
    """kbs/src/jwe/mod.rs: ProtectedHeader {alg, enc, other_fields: json!({"epk": {crv, kty, x, y}})}, serialised
    by serde_json (compact, alg then enc, the epk map sorted). kbs-types clients re-serialise it for the AAD."""
    text = _unb64(encrypt_to(pair.public_jwk(), b"x")["protected"]).decode()
    header = json.loads(text)
    if pair.alg == "ECDH-ES+A256KW":
        assert list(header) == ["alg", "enc", "epk"] and list(header["epk"]) == ["crv", "kty", "x", "y"]
        size = 32 if header["epk"]["crv"] == "P-256" else 66
        assert {len(_unb64(header["epk"][c])) for c in ("x", "y")} == {size}
    else:
        assert text == json.dumps({"alg": pair.alg, "enc": "A256GCM"}, separators=(",", ":"))
    assert text == json.dumps(header, separators=(",", ":"))


# --- the AAD is the received protected text -----------------------------------------------------------------


def test_kbs_types_aad_vector() -> None:
    vector = VECTORS["jwe_protected_aad"]
    assert _b64(vector["protected_header_json"].encode()) == vector["protected_b64url"]


def _rsa_jwe_with_protected_text(pair: TeeKeyPair, header_text: str) -> dict[str, str]:
    """An RSA-OAEP-256 JWE built by hand (cryptography), AAD = the kbs-types vector's rule: the b64url text."""
    assert isinstance(pair.private_key, rsa.RSAPrivateKey)
    cek, iv = b"\x07" * 32, b"\x01" * 12
    protected = _b64(header_text.encode())
    sealed = AESGCM(cek).encrypt(iv, SECRET, protected.encode("ascii"))
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    return {
        "protected": protected,
        "encrypted_key": _b64(pair.private_key.public_key().encrypt(cek, oaep)),
        "iv": _b64(iv),
        "ciphertext": _b64(sealed[:-16]),
        "tag": _b64(sealed[-16:]),
    }


def test_a_non_compact_protected_header_decrypts_with_its_own_bytes_as_aad() -> None:
    """RFC 7516 §5.2 step 14. joserfc's JSON path would authenticate a re-serialisation instead, which is why
    the client hands Trustee's layout to joserfc as a compact JWE."""
    pair = TeeKeyPair.generate("rsa")
    body = _rsa_jwe_with_protected_text(pair, '{ "alg" : "RSA-OAEP-256",\n  "enc" : "A256GCM" }')
    assert pair.decrypt(body) == SECRET
    compact = _rsa_jwe_with_protected_text(pair, '{"alg":"RSA-OAEP-256","enc":"A256GCM"}')
    assert pair.decrypt(compact) == SECRET
    body["protected"] = compact["protected"]  # same header, other bytes than were authenticated
    with pytest.raises(IntegrityError, match="tag mismatch"):
        pair.decrypt(body)


def test_a_recipient_header_needs_a_compact_protected_header() -> None:
    """The one layout left out: a per-recipient header (never sent by Trustee) with a non-compact protected
    header, which joserfc's JSON decryption would authenticate wrongly. It is refused, not mis-authenticated."""
    pair = TeeKeyPair.generate("ec-p256")
    body = _joserfc_json_layout(pair, SECRET)
    header = json.loads(_unb64(body["protected"]))
    body["protected"] = _b64(json.dumps(header, indent=1).encode())
    with pytest.raises(IntegrityError, match="compact form"):
        pair.decrypt(body)


@pytest.mark.parametrize("kind", KEY_TYPES)
def test_failures_say_which_step_failed(kind: str) -> None:
    pair = TeeKeyPair.generate(kind)
    body = encrypt_to(pair.public_jwk(), SECRET)
    tampered = {**body, "ciphertext": _b64(bytes(len(_unb64(body["ciphertext"]))))}
    with pytest.raises(IntegrityError, match="tag mismatch"):
        pair.decrypt(tampered)
    with pytest.raises(IntegrityError, match=r"content key|tag mismatch"):  # RSA1_5: implicit rejection
        TeeKeyPair.generate(kind).decrypt(body)
    with pytest.raises(IntegrityError, match="base64url"):
        pair.decrypt({**body, "iv": body["iv"] + "="})
    other = "RSA1_5" if pair.alg == "RSA-OAEP-256" else "RSA-OAEP-256"
    wrong_alg = _b64(json.dumps({**json.loads(_unb64(body["protected"])), "alg": other}).encode())
    with pytest.raises(IntegrityError):
        pair.decrypt({**body, "protected": wrong_alg})


def test_epk_on_another_curve_is_refused() -> None:
    pair = TeeKeyPair.generate("ec-p256")
    body = encrypt_to(TeeKeyPair.generate("ec-p521").public_jwk(), SECRET)
    with pytest.raises(IntegrityError, match="epk curve P-521"):
        pair.decrypt(body)


def test_rsa1_5_leaves_the_warning_filters_as_they_were() -> None:
    """Decrypting RSA1_5 silences joserfc's deprecation warning only inside the call, also from many threads."""
    pair = TeeKeyPair.generate("rsa1_5")
    body = encrypt_to(pair.public_jwk(), SECRET)
    before = list(warnings.filters)
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(pair.decrypt(body))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [SECRET] * 8 and warnings.filters == before


# --- JWTs ---------------------------------------------------------------------------------------------------


def test_admin_token_bytes_are_unchanged() -> None:
    """Ed25519 is deterministic: the token is exactly header.payload.signature as cococtl always wrote them."""
    key = ed25519.Ed25519PrivateKey.generate()
    claims = {"iss": "TrusteeInDocker", "sub": "admin", "aud": ["KBS"], "role": "ädmin", "iat": 1, "exp": 2}
    signing_input = (
        _b64(b'{"alg":"EdDSA","typ":"JWT"}') + "." + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    assert jwt.sign(claims, key) == signing_input + "." + _b64(key.sign(signing_input.encode()))


def test_joserfc_and_the_client_read_each_others_tokens() -> None:
    now = int(time.time())
    claims = {"sub": "x", "iat": now, "exp": now + 60}
    ed, p256 = ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated")
        for key, jose_key, alg in ((ed, OKPKey.import_key(ed), "EdDSA"), (p256, ECKey.import_key(p256), "ES256")):
            ours = jwt.sign(claims, key, extra_header={"jwk": {"kty": "EC"}})
            token = jose_jwt.decode(ours, jose_key, algorithms=[alg])
            assert token.claims == claims and token.header == {"alg": alg, "typ": "JWT", "jwk": {"kty": "EC"}}
            theirs = jose_jwt.encode({"alg": alg}, claims, jose_key, algorithms=[alg])
            assert jwt.verify(theirs, key.public_key()) == claims


def test_client_verify_refuses_what_it_should() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    now = int(time.time())
    cases: dict[str, dict[str, Any]] = {
        "has expired": {"exp": now - 120},
        "no exp": {"sub": "x"},
        "not valid yet": {"exp": now + 600, "nbf": now + 300},
        "invalid exp": {"exp": "tomorrow"},
    }
    for words, claims in cases.items():
        with pytest.raises(DeniedError, match=words):
            jwt.verify(jwt.sign(claims, key), key.public_key())
    assert jwt.verify(jwt.sign({"exp": now - 30}, key), key.public_key()) == {"exp": now - 30}  # 60 s leeway
    with pytest.raises(DeniedError, match="does not fit"):
        jwt.verify(jwt.sign({"exp": now + 60}, key), ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(DeniedError, match="signature"):
        jwt.verify(jwt.sign({"exp": now + 60}, key), ed25519.Ed25519PrivateKey.generate().public_key())


def test_the_doubles_ear_token_and_joserfc() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = ECKey.import_key(key.public_key()).as_dict(private=False)
    jwk = {"kty": "EC", "crv": "P-256", "alg": "ES256", "x": str(public["x"]), "y": str(public["y"])}
    claims = {"iss": "CoCo-Attestation-Service", "exp": int(time.time()) + 60}
    token = sign_ear_token(claims, key, jwk)
    verifying = ECKey.import_key(key.public_key())
    decoded = jose_jwt.decode(token, verifying, algorithms=["ES256"])
    assert decoded.header == {"alg": "ES256", "typ": "JWT", "jwk": jwk} and decoded.claims == claims
    assert verify_ear_token(token, leeway=0) == claims
    forged = jose_jwt.encode({"alg": "ES256", "jwk": jwk}, claims, ECKey.generate_key("P-256"), algorithms=["ES256"])
    with pytest.raises(TokenRejected):
        verify_ear_token(forged, leeway=0)
    with pytest.raises(TokenRejected):
        verify_jwt(token, verifying, "EdDSA", leeway=0)


def test_the_double_takes_trustees_eddsa_admin_token(tmp_path: Path) -> None:
    """What kbs/config/docker-compose/setup.sh mints (alg EdDSA), made by joserfc, not by cococtl.kbs.jwt."""
    from cryptography.hazmat.primitives import serialization

    from cococtl.devkbs.admin import AdminDenied

    key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "admin.pub").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    policy = AdminPolicy.from_options("bearer", tmp_path / "admin.pub", issuer="TrusteeInDocker", audience="KBS")
    now = int(time.time())
    claims = {"iss": "TrusteeInDocker", "sub": "admin", "aud": ["KBS"], "role": "admin", "iat": now, "exp": now + 60}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated")
        signer = OKPKey.import_key(key)
        token = jose_jwt.encode({"alg": "EdDSA"}, claims, signer, algorithms=["EdDSA"])
        expired = jose_jwt.encode({"alg": "EdDSA"}, {**claims, "exp": now - 120}, signer, algorithms=["EdDSA"])
    policy.check(f"Bearer {token}", "/kbs/v0/resource/a/b/c")
    with pytest.raises(AdminDenied, match="Cannot verify token"):
        policy.check(f"Bearer {expired}", "/kbs/v0/resource/a/b/c")


TOKENISH = st.one_of(
    st.text(max_size=80),
    st.lists(st.text(alphabet="eyJhbGciOiJFZERTQSJ9-_.=AQ", max_size=40), min_size=1, max_size=4).map(".".join),
)


@settings(max_examples=300, deadline=None)
@given(TOKENISH)
def test_token_parsers_never_crash(token: str) -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    with pytest.raises(CococtlError):
        jwt.verify(token, key)
    with pytest.raises(TokenRejected):
        verify_ear_token(token, leeway=0)
    with pytest.raises(TokenRejected):
        verify_jwt(token, OKPKey.import_key(key), "EdDSA", leeway=0)
