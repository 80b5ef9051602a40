"""Encrypt a resource to the TEE public key as Trustee does (kbs/src/jwe/mod.rs): flattened JSON, A256GCM.

Written from the protocol description, independently of the client's decryption code (it imports nothing from
``cococtl.kbs``), with joserfc where joserfc produces Trustee's exact bytes:

- RSA-OAEP-256 and RSA1_5: joserfc's compact JWE, whose protected header is ``{"alg":…,"enc":"A256GCM"}`` in
  that order, as Trustee's ``ProtectedHeader`` serialises, re-cut into the flattened members.
- ECDH-ES+A256KW (P-256, P-521) and RSA keys under 2048 bits: ``cryptography`` directly. joserfc writes the
  ``epk`` members as ``crv, x, y, kty``; Trustee's ``json!`` map serialises them sorted (``crv, kty, x, y``),
  and guest-components' client computes the AAD by re-serialising the parsed header
  (kbs-types ``ProtectedHeader::generate_aad``), so another order fails there. joserfc also refuses RSA keys
  under 2048 bits, which Trustee's ``rsa`` crate encrypts to.
- ML-KEM-768+A192KW (an ``AKP`` key, Trustee's ``pqc-experimental`` build, kbs/src/jwe/akp.rs
  ``ml_kem_768_a192kw``): ``cryptography``'s ML-KEM encapsulation, a KMAC256 key-wrapping key, A192KW, and the
  protected header ``{"alg":"ML-KEM-768+A192KW","enc":"A256GCM","ek":…}`` in that order (kbs-types
  ``ProtectedHeader`` with ``ek`` in ``other_fields``). ``cryptography`` has no KMAC: KMAC256 is pycryptodome's
  (the ``pqc`` extra). Both are imported on this path only; without them the double answers an AKP key as
  Trustee's build without ``pqc-experimental`` does (401 JweError), saying what is missing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import threading
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PublicKey

_EC = {"P-256": (ec.SECP256R1, 32), "P-521": (ec.SECP521R1, 66)}
_RSA_ALGS = ("RSA-OAEP-256", "RSA1_5")
_MLKEM = "ML-KEM-768+A192KW"
_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
# warnings.catch_warnings swaps process-wide state and the double serves requests on threads: one lock.
_WARNINGS_LOCK = threading.Lock()


class JweFailure(Exception):
    """The KBS cannot encrypt to this key (Trustee: 401 JweError)."""


def b64url(data: bytes) -> str:
    """The base64 crate's URL_SAFE_NO_PAD encoding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object) -> bytes:
    """URL_SAFE_NO_PAD decoding: padding or a character outside the URL-safe alphabet is an error."""
    if not isinstance(text, str) or not _URL_SAFE.issuperset(text) or len(text) % 4 == 1:
        raise JweFailure("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JweFailure("not unpadded base64url") from None


@contextlib.contextmanager
def deprecated_but_trustee(message: str) -> Iterator[None]:
    """Silence one joserfc deprecation warning (matched by the start of its text) where Trustee still uses
    the algorithm: RSA1_5 resource JWEs for old TEE keys, EdDSA admin tokens."""
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=message)
        yield


def _kek(shared: bytes) -> bytes:
    alg = b"ECDH-ES+A256KW"
    other = len(alg).to_bytes(4, "big") + alg + (0).to_bytes(4, "big") * 2 + (256).to_bytes(4, "big")
    return ConcatKDFHash(hashes.SHA256(), 32, other).derive(shared)


def kmac256(key: bytes, data: bytes, size: int, custom: bytes = b"") -> bytes:
    """NIST SP 800-185 KMAC256(K, X, L = 8·size, S), pycryptodome's."""
    try:
        from Crypto.Hash import KMAC256
    except ImportError:
        raise JweFailure(
            "pqc-experimental feature not enabled: KMAC256 needs pycryptodome (pip install 'cococtl[pqc]')"
        ) from None
    return KMAC256.new(key=key, data=data, mac_len=size, custom=custom).digest()


def _mlkem_public_key(raw: bytes) -> MLKEM768PublicKey:
    try:
        from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PublicKey
    except ImportError:
        raise JweFailure("pqc-experimental feature not enabled: ML-KEM-768 needs cryptography 47.0 or newer") from None
    try:
        return MLKEM768PublicKey.from_public_bytes(raw)
    except ValueError:
        raise JweFailure("invalid ML-KEM-768 encapsulation key") from None
    except UnsupportedAlgorithm:
        raise JweFailure("pqc-experimental feature not enabled: this cryptography's OpenSSL has no ML-KEM") from None


def akp_wrapping_key(shared_secret: bytes) -> bytes:
    """Trustee kbs/src/jwe/akp.rs ``kmac256_kdf(shared_secret, "ML-KEM-768+A192KW", 24)``: X is AlgorithmID
    (32-bit big-endian length, then the name) || SuppPubInfo (32-bit big-endian key bits), S is empty."""
    name = _MLKEM.encode()
    return kmac256(shared_secret, len(name).to_bytes(4, "big") + name + (192).to_bytes(4, "big"), 24)


def _ml_kem(tee_pubkey: dict[str, Any], plaintext: bytes) -> dict[str, str]:
    raw = b64url_decode(tee_pubkey.get("pub"))
    if len(raw) != 1184:
        raise JweFailure(f"ML-KEM-768 encapsulation key has wrong length: got {len(raw)}, expected 1184")
    shared_secret, kem_ciphertext = _mlkem_public_key(raw).encapsulate()
    cek = os.urandom(32)
    wrapped = aes_key_wrap(akp_wrapping_key(shared_secret), cek)
    return _seal({"alg": _MLKEM, "enc": "A256GCM", "ek": b64url(kem_ciphertext)}, wrapped, cek, plaintext)


def _seal(header: dict[str, Any], wrapped: bytes, cek: bytes, plaintext: bytes) -> dict[str, str]:
    protected = b64url(json.dumps(header, separators=(",", ":")).encode())
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    return {
        "protected": protected,
        "encrypted_key": b64url(wrapped),
        "iv": b64url(iv),
        "ciphertext": b64url(sealed[:-16]),
        "tag": b64url(sealed[-16:]),
    }


def _rsa_joserfc(public: rsa.RSAPublicKey, alg: str, plaintext: bytes) -> dict[str, str]:
    from joserfc import jwe
    from joserfc.errors import JoseError
    from joserfc.jwk import RSAKey

    registry = jwe.JWERegistry(algorithms=[alg, "A256GCM"])  # joserfc's size limits apply to decryption only
    header = {"alg": alg, "enc": "A256GCM"}
    try:
        quiet = deprecated_but_trustee('JWE algorithm "RSA1_5" is deprecated')
        with quiet if alg == "RSA1_5" else contextlib.nullcontext():
            compact = jwe.encrypt_compact(header, plaintext, RSAKey.import_key(public), registry=registry)
    except (JoseError, ValueError) as error:
        raise JweFailure(f"RSA encryption failed: {error}") from None
    protected, encrypted_key, iv, ciphertext, tag = compact.split(".")
    return {"protected": protected, "encrypted_key": encrypted_key, "iv": iv, "ciphertext": ciphertext, "tag": tag}


def encrypt_to(tee_pubkey: dict[str, Any], plaintext: bytes) -> dict[str, str]:
    kty, alg = tee_pubkey.get("kty"), tee_pubkey.get("alg")
    if kty == "RSA":
        if alg not in _RSA_ALGS:
            raise JweFailure(f"unsupported RSA alg {alg}")
        n = int.from_bytes(b64url_decode(tee_pubkey["n"]), "big")
        e = int.from_bytes(b64url_decode(tee_pubkey["e"]), "big")
        public = rsa.RSAPublicNumbers(e, n).public_key()
        if public.key_size >= 2048:
            return _rsa_joserfc(public, alg, plaintext)
        cek = os.urandom(32)
        if alg == "RSA-OAEP-256":
            wrapped = public.encrypt(cek, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
        else:
            wrapped = public.encrypt(cek, padding.PKCS1v15())
        return _seal({"alg": alg, "enc": "A256GCM"}, wrapped, cek, plaintext)
    if kty == "EC" and alg == "ECDH-ES+A256KW" and tee_pubkey.get("crv") in _EC:
        curve, size = _EC[tee_pubkey["crv"]]
        x, y = b64url_decode(tee_pubkey["x"]), b64url_decode(tee_pubkey["y"])
        if len(x) != size or len(y) != size:
            raise JweFailure("EC coordinates must have their fixed length")
        peer = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve()).public_key()
        ephemeral = ec.generate_private_key(curve())
        cek = os.urandom(32)
        wrapped = aes_key_wrap(_kek(ephemeral.exchange(ec.ECDH(), peer)), cek)
        point = ephemeral.public_key().public_numbers()
        epk = {
            "crv": tee_pubkey["crv"],
            "kty": "EC",
            "x": b64url(point.x.to_bytes(size, "big")),
            "y": b64url(point.y.to_bytes(size, "big")),
        }
        return _seal({"alg": alg, "enc": "A256GCM", "epk": epk}, wrapped, cek, plaintext)
    if kty == "AKP":
        if alg != _MLKEM:  # Trustee jwe(): the one AKP algorithm of its pqc-experimental build
            raise JweFailure(f"pqc-experimental feature not enabled or algorithm {alg} is not supported")
        return _ml_kem(tee_pubkey, plaintext)
    raise JweFailure(f"unsupported key {kty}/{alg}")
