"""The experimental ML-KEM-768+A192KW resource JWE (draft-ietf-jose-pqc-kem-05; guest-components and Trustee
``pqc-experimental``): the KMAC256 KDF (pycryptodome's, through our wrappers) against NIST and upstream vectors,
a JWE Trustee's code made, the header the double writes, client <-> double round trips and tampering, and what
happens without the libraries the ML-KEM path needs (cryptography 47+, pycryptodome).

Upstream facts: guest-components attestation-agent/kbs_protocol/src/akp.rs (8246e5e0) ``to_pub_jwk`` (74-80),
``decapsulate_and_unwrap`` (90-116), ``kmac256_kdf`` (132-152) and keypair.rs ``unwrap_cek`` (176-194);
trustee kbs/src/jwe/akp.rs (78962cd4) ``kmac256_kdf`` (51-67) and ``ml_kem_768_a192kw`` (71-137), kbs/src/jwe/mod.rs
``jwe`` (AKP arm); kbs-types 0.18.0 lib.rs ``TeePubKey::AKP {alg, #[serde(rename = "pub")] public_key}`` and
``ProtectedHeader`` (``other_fields`` flattened after ``alg``, ``enc``).
"""

from __future__ import annotations

import ast
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey

from cococtl.devkbs import jwe as double
from cococtl.errors import ExternalToolError, IntegrityError, InvalidInputError
from cococtl.kbs import jwe as client
from cococtl.kbs.jwe import EXPERIMENTAL_KEY_TYPES, KEY_TYPES, MLKEM_ALG, TeeKeyPair

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "mlkem-jwe" / "vectors.json").read_text())
SECRET = b"\x00post-quantum resource\xff"


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _enc(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def pair() -> TeeKeyPair:
    return TeeKeyPair.generate("ml-kem-768")


# --- KMAC256 ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", VECTORS["nist_kmac256"], ids=lambda s: f"sample-{s['sample']}")
def test_both_kmac256_give_the_nist_samples(sample: dict[str, Any]) -> None:
    key, data = bytes.fromhex(sample["key_hex"]), bytes.fromhex(sample["data_hex"])
    custom = sample["customization"].encode()
    assert client.kmac256(key, data, sample["len"], custom).hex() == sample["out_hex"]
    assert double.kmac256(key, data, sample["len"], custom).hex() == sample["out_hex"]


@pytest.mark.parametrize("vector", VECTORS["kmac256_kdf"], ids=lambda v: f"{v['shared_secret_hex'][:8]}-{v['len']}")
def test_the_kdf_is_guest_components_kmac256_kdf(vector: dict[str, Any]) -> None:
    shared = bytes.fromhex(vector["shared_secret_hex"])
    assert client.kmac256_kdf(shared, vector["alg"], vector["len"]).hex() == vector["out_hex"]
    if vector["len"] == 24:  # the one length Trustee derives (A192KW)
        assert double.akp_wrapping_key(shared).hex() == vector["out_hex"]


def test_the_kdf_fixed_info_is_algorithm_id_then_key_bits() -> None:
    """X = be32(17) || "ML-KEM-768+A192KW" || be32(192), keyed by the shared secret, S empty."""
    shared = bytes(range(32))
    fixed_info = bytes.fromhex("00000011") + b"ML-KEM-768+A192KW" + bytes.fromhex("000000c0")
    assert client.kmac256_kdf(shared) == client.kmac256(shared, fixed_info, 24)


# --- the TEE key ------------------------------------------------------------------------------------------------


def test_the_key_type_is_opt_in() -> None:
    assert "ml-kem-768" not in KEY_TYPES and EXPERIMENTAL_KEY_TYPES == ("ml-kem-768",)
    assert TeeKeyPair.generate().alg == "ECDH-ES+A256KW"
    with pytest.raises(InvalidInputError, match="ml-kem-768"):
        TeeKeyPair.generate("ml-kem-512")


def test_the_public_jwk_is_guest_components_akp(pair: TeeKeyPair) -> None:
    jwk = pair.public_jwk()
    assert set(jwk) == {"alg", "kty", "pub"}
    assert jwk["kty"] == "AKP" and jwk["alg"] == MLKEM_ALG == "ML-KEM-768+A192KW"
    assert len(jwk["pub"]) == 1579 and "=" not in jwk["pub"]  # akp/keypair tests: 1184 bytes unpadded
    assert isinstance(pair.private_key, MLKEM768PrivateKey)
    assert _b64(jwk["pub"]) == pair.private_key.public_key().public_bytes_raw()


def test_the_vector_key_is_the_seed_key() -> None:
    """FIPS 203 seeds (d || z) mean the same key in ml-kem 0.3.2 and cryptography."""
    vector = VECTORS["trustee_jwe"]
    pair = TeeKeyPair(MLKEM768PrivateKey.from_seed_bytes(bytes.fromhex(vector["seed_hex"])), MLKEM_ALG)
    assert pair.public_jwk() == vector["tee_pubkey"]


def test_the_key_round_trips_through_pkcs8_pem(pair: TeeKeyPair, tmp_path: Path) -> None:
    (tmp_path / "tee.pem").write_bytes(pair.to_pem())
    again = TeeKeyPair.from_pem(tmp_path / "tee.pem")
    assert again.alg == MLKEM_ALG and again.public_jwk() == pair.public_jwk()


# --- JWEs -------------------------------------------------------------------------------------------------------


def test_the_client_decrypts_a_jwe_trustees_code_made() -> None:
    vector = VECTORS["trustee_jwe"]
    key = MLKEM768PrivateKey.from_seed_bytes(bytes.fromhex(vector["seed_hex"]))
    pair = TeeKeyPair(key, MLKEM_ALG)
    assert key.decapsulate(_b64(_protected(vector["response"])["ek"])).hex() == vector["shared_secret_hex"]
    assert pair.decrypt(json.dumps(vector["response"])) == bytes.fromhex(vector["plaintext_hex"])


def _protected(jwe: dict[str, str]) -> dict[str, Any]:
    header = json.loads(_b64(jwe["protected"]))
    assert isinstance(header, dict)
    return header


def test_the_double_writes_trustees_header_and_members(pair: TeeKeyPair) -> None:
    jwe = double.encrypt_to(pair.public_jwk(), SECRET)
    assert set(jwe) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}
    text = _b64(jwe["protected"]).decode()
    ek = _protected(jwe)["ek"]
    # kbs-types ProtectedHeader: alg, enc, then other_fields {"ek"}, compact serde_json.
    assert text == '{"alg":"ML-KEM-768+A192KW","enc":"A256GCM","ek":"' + ek + '"}'
    assert len(_b64(ek)) == 1088  # the ML-KEM-768 ciphertext
    assert len(_b64(jwe["encrypted_key"])) == 40  # A192KW of a 32-byte CEK
    assert len(_b64(jwe["iv"])) == 12 and len(_b64(jwe["tag"])) == 16
    assert len(_b64(jwe["ciphertext"])) == len(SECRET)
    # The same layout as the vector Trustee's code wrote.
    assert list(_protected(VECTORS["trustee_jwe"]["response"])) == ["alg", "enc", "ek"]


def test_the_double_unwraps_like_trustees_code(pair: TeeKeyPair) -> None:
    """Decrypted by hand, step by step, with the upstream KDF vector's construction."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

    jwe = double.encrypt_to(pair.public_jwk(), SECRET)
    assert isinstance(pair.private_key, MLKEM768PrivateKey)
    shared = pair.private_key.decapsulate(_b64(_protected(jwe)["ek"]))
    cek = aes_key_unwrap(client.kmac256_kdf(shared), _b64(jwe["encrypted_key"]))
    sealed = _b64(jwe["ciphertext"]) + _b64(jwe["tag"])
    assert AESGCM(cek).decrypt(_b64(jwe["iv"]), sealed, jwe["protected"].encode()) == SECRET


@pytest.mark.parametrize("size", [0, 1, 32, 70_000])
def test_client_and_double_round_trip(pair: TeeKeyPair, size: int) -> None:
    data = os.urandom(size)
    assert pair.decrypt(json.dumps(double.encrypt_to(pair.public_jwk(), data))) == data


def _flip(text: str, index: int = 0) -> str:
    raw = bytearray(_b64(text))
    raw[index] ^= 0x01
    return _enc(bytes(raw))


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("ciphertext", "does not authenticate"),
        ("tag", "does not authenticate"),
        ("iv", "does not authenticate"),
        ("encrypted_key", "does not unwrap"),
    ],
)
def test_tampering_is_an_integrity_error(pair: TeeKeyPair, member: str, message: str) -> None:
    jwe = double.encrypt_to(pair.public_jwk(), SECRET)
    jwe[member] = _flip(jwe[member])
    with pytest.raises(IntegrityError, match=message) as caught:
        pair.decrypt(json.dumps(jwe))
    assert caught.value.exit_code == 7


def test_a_tampered_kem_ciphertext_does_not_unwrap(pair: TeeKeyPair) -> None:
    """ML-KEM's implicit rejection: the changed ek decapsulates, to a secret whose KEK does not unwrap."""
    jwe = double.encrypt_to(pair.public_jwk(), SECRET)
    header = _protected(jwe)
    header["ek"] = _flip(header["ek"], 100)
    jwe["protected"] = _enc(json.dumps(header, separators=(",", ":")).encode())
    with pytest.raises(IntegrityError, match="does not unwrap"):
        pair.decrypt(json.dumps(jwe))


def test_the_protected_header_is_the_aad(pair: TeeKeyPair) -> None:
    """The same header members in another serialisation authenticate nothing."""
    jwe = double.encrypt_to(pair.public_jwk(), SECRET)
    jwe["protected"] = _enc(json.dumps(_protected(jwe)).encode())  # ", " and ": " separators
    with pytest.raises(IntegrityError, match="does not authenticate"):
        pair.decrypt(json.dumps(jwe))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "ek": "AAAA"}, "does not fit an ML-KEM-768"),
        ({"alg": MLKEM_ALG, "enc": "A256GCM"}, "no usable ek"),
        ({"alg": MLKEM_ALG, "enc": "A256GCM", "ek": 5}, "no usable ek"),
        ({"alg": MLKEM_ALG, "enc": "A128GCM", "ek": "AAAA"}, "content encryption"),
        ({"alg": MLKEM_ALG, "enc": "A256GCM", "ek": "AAAA"}, "not an ML-KEM-768 ciphertext"),
        ({"alg": MLKEM_ALG, "enc": "A256GCM", "ek": "AA=A"}, "base64url"),
    ],
)
def test_headers_that_do_not_fit_the_key(pair: TeeKeyPair, header: dict[str, Any], message: str) -> None:
    jwe = double.encrypt_to(pair.public_jwk(), SECRET)
    jwe["protected"] = _enc(json.dumps(header, separators=(",", ":")).encode())
    with pytest.raises(IntegrityError, match=message):
        pair.decrypt(json.dumps(jwe))


def test_keys_of_the_other_kinds_refuse_an_ml_kem_jwe(pair: TeeKeyPair) -> None:
    jwe = json.dumps(double.encrypt_to(pair.public_jwk(), SECRET))
    with pytest.raises(IntegrityError, match="does not fit an EC TEE key"):
        TeeKeyPair.generate("ec-p256").decrypt(jwe)
    with pytest.raises(IntegrityError, match="does not fit an RSA TEE key"):
        TeeKeyPair.generate("rsa").decrypt(jwe)
    ec_jwe = json.dumps(double.encrypt_to(TeeKeyPair.generate("ec-p256").public_jwk(), SECRET))
    with pytest.raises(IntegrityError, match="does not fit an ML-KEM-768"):
        pair.decrypt(ec_jwe)


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "AKP", "alg": "ML-KEM-1024+A256KW", "pub": "AAAA"}, "pqc-experimental"),
        ({"kty": "AKP", "alg": MLKEM_ALG, "pub": _enc(bytes(100))}, "wrong length"),
        ({"kty": "AKP", "alg": MLKEM_ALG, "pub": _enc(b"\xff" * 1184)}, "invalid ML-KEM-768"),
        ({"kty": "AKP", "alg": MLKEM_ALG, "pub": "AA=="}, "base64url"),
        ({"kty": "AKP", "alg": MLKEM_ALG}, "base64url"),
    ],
)
def test_the_double_refuses_keys_trustee_refuses(jwk: dict[str, Any], message: str) -> None:
    with pytest.raises(double.JweFailure, match=message):
        double.encrypt_to(jwk, SECRET)


def test_the_kbs_and_secret_commands_offer_the_key_type() -> None:
    from cococtl.cli import kbs, secret
    from cococtl.cli.choices import TeeKeyType

    assert tuple(TeeKeyType) == KEY_TYPES + EXPERIMENTAL_KEY_TYPES
    for module in (kbs, secret):
        assert module.TeeKeyTypeOpt.__metadata__[0].help.startswith("The TEE key pair to generate; ml-kem-768")


# --- without the libraries ---------------------------------------------------------------------------------------


def _module_level_imports(path: Path) -> set[str]:
    """What a module imports when it is imported (not in functions, not under TYPE_CHECKING)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


@pytest.mark.parametrize("module", [client, double], ids=["client", "double"])
def test_neither_module_needs_the_ml_kem_libraries_to_import(module: Any) -> None:
    """cryptography 42-46 (which pyproject allows) has no asymmetric.mlkem; pycryptodome is an extra."""
    imported = _module_level_imports(Path(module.__file__))
    assert not {name for name in imported if "mlkem" in name or name.split(".")[0] == "Crypto"}


def test_an_older_cryptography_keeps_the_classic_keys_and_names_the_version_ml_kem_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import joserfc.jwe  # noqa: F401  (imports cryptography.x509, which imports mlkem from 47.0 on)

    # As on cryptography before 47.0: `from cryptography...mlkem import ...` raises ImportError.
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.asymmetric.mlkem", None)
    for kind in KEY_TYPES:
        classic = TeeKeyPair.generate(kind)
        assert classic.decrypt(json.dumps(double.encrypt_to(classic.public_jwk(), SECRET))) == SECRET
    with pytest.raises(ExternalToolError, match=r"cryptography 47\.0 or newer") as caught:
        TeeKeyPair.generate("ml-kem-768")
    assert caught.value.exit_code == 8 and caught.value.hint == "pip install 'cryptography>=47.0'"
    # The double answers as Trustee without pqc-experimental does, and says why.
    akp = {"kty": "AKP", "alg": MLKEM_ALG, "pub": _enc(bytes(1184))}
    with pytest.raises(double.JweFailure, match=r"^pqc-experimental feature not enabled: .*cryptography 47\.0"):
        double.encrypt_to(akp, SECRET)


def test_without_pycryptodome_the_kdf_is_exit_8_with_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "Crypto" or m.startswith("Crypto.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "Crypto", None)
    with pytest.raises(ExternalToolError) as caught:
        client.kmac256_kdf(bytes(32))
    assert caught.value.exit_code == 8 and caught.value.hint == "pip install 'cococtl[pqc]'"
    with pytest.raises(ExternalToolError, match="pqc"):
        TeeKeyPair.generate("ml-kem-768")
    with pytest.raises(double.JweFailure, match="pycryptodome"):
        double.akp_wrapping_key(bytes(32))
