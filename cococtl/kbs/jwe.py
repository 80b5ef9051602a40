"""TEE key pairs and the KBS's JWE responses (flattened JSON, ``enc`` A256GCM).

Hand-written on ``cryptography`` primitives rather than a JOSE library because the KBS format has
exact requirements those libraries do not expose together: fixed-length EC coordinates in the
``tee-pubkey``, the canonical member set the KBS hashes (EC ``alg,crv,kty,x,y``; RSA ``alg,e,kty,n``),
AAD equal to the *received* ``protected`` text, and RSA1_5 for old servers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from cococtl.errors import IntegrityError, InvalidInputError, NotFoundError
from cococtl.kbs.b64 import b64url, b64url_decode

ECDH_ALG = "ECDH-ES+A256KW"
RSA_ALGS = ("RSA-OAEP-256", "RSA1_5")
_CURVES: dict[str, tuple[type[ec.EllipticCurve], int]] = {"P-256": (ec.SECP256R1, 32), "P-521": (ec.SECP521R1, 66)}
KEY_TYPES = ("ec-p256", "ec-p521", "rsa", "rsa1_5")


def concat_kdf(shared: bytes, alg: str = ECDH_ALG, bits: int = 256) -> bytes:
    """RFC 7518 §4.6.2 Concat KDF with empty apu/apv, as the KBS derives the AES-KW key."""
    other = len(alg).to_bytes(4, "big") + alg.encode() + bytes(4) + bytes(4) + bits.to_bytes(4, "big")
    return ConcatKDFHash(hashes.SHA256(), bits // 8, other).derive(shared)


@dataclass(frozen=True)
class TeeKeyPair:
    """The key pair whose public part goes into ``runtime-data.tee-pubkey``."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    alg: str

    @classmethod
    def generate(cls, kind: str = "ec-p256") -> TeeKeyPair:
        if kind == "ec-p256":
            return cls(ec.generate_private_key(ec.SECP256R1()), ECDH_ALG)
        if kind == "ec-p521":
            return cls(ec.generate_private_key(ec.SECP521R1()), ECDH_ALG)
        if kind in ("rsa", "rsa1_5"):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return cls(key, "RSA-OAEP-256" if kind == "rsa" else "RSA1_5")
        raise InvalidInputError(f"unknown TEE key type {kind!r}: expected one of {', '.join(KEY_TYPES)}")

    @classmethod
    def from_pem(cls, path: Path, *, rsa_alg: str = "RSA-OAEP-256") -> TeeKeyPair:
        """RSA (PKCS#1 or PKCS#8) or EC P-256/P-521 (PKCS#8 or SEC1) private key PEM."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"TEE key file {path} does not exist") from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"TEE key file {path} is not an unencrypted private key PEM: {exc}") from None
        if isinstance(key, rsa.RSAPrivateKey):
            return cls(key, rsa_alg)
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in ("secp256r1", "secp521r1"):
            return cls(key, ECDH_ALG)
        raise InvalidInputError(f"TEE key file {path}: only RSA and EC P-256/P-521 keys are supported")

    def to_pem(self) -> bytes:
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            fmt = serialization.PrivateFormat.TraditionalOpenSSL
        else:
            fmt = serialization.PrivateFormat.PKCS8
        return self.private_key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())

    def public_jwk(self) -> dict[str, str]:
        """Exactly the members the KBS keeps (and hashes): no ``use``, no ``kid``."""
        public = self.private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
            e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
            return {"alg": self.alg, "e": b64url(e), "kty": "RSA", "n": b64url(n)}
        crv = "P-256" if public.curve.name == "secp256r1" else "P-521"
        size = _CURVES[crv][1]
        point = public.public_numbers()
        return {
            "alg": ECDH_ALG,
            "crv": crv,
            "kty": "EC",
            "x": b64url(point.x.to_bytes(size, "big")),
            "y": b64url(point.y.to_bytes(size, "big")),
        }

    def decrypt(self, body: Any) -> bytes:
        """Decrypt a flattened-JSON JWE from the KBS. Raises IntegrityError (exit 7) when it cannot."""
        try:
            return self._decrypt(body)
        except InvalidInputError as error:
            raise IntegrityError(f"the KBS response is not a valid JWE: {error.message}") from None

    def _decrypt(self, body: Any) -> bytes:
        if isinstance(body, bytes | str):
            try:
                body = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise IntegrityError("the KBS response is not a JWE (not JSON)") from None
        fields = parse_flattened_jwe(body)
        protected_text = fields["protected"]
        # The JOSE header is the union of the protected and per-recipient headers (RFC 7516 §4); Trustee
        # puts everything in "protected", other JOSE implementations put "epk" in "header".
        unprotected = body.get("header")
        header = {**(unprotected if isinstance(unprotected, dict) else {}), **_protected_header(protected_text)}
        cek = self._unwrap_cek(header, b64url_decode(fields.get("encrypted_key", ""), what="encrypted_key"))
        iv = b64url_decode(fields["iv"], what="iv")
        ciphertext = b64url_decode(fields["ciphertext"], what="ciphertext")
        tag = b64url_decode(fields["tag"], what="tag")
        if header.get("enc") != "A256GCM" or len(cek) != 32 or len(iv) != 12 or len(tag) != 16:
            raise IntegrityError(f"unsupported JWE content encryption {header.get('enc')!r}")
        try:
            # AAD is the protected header exactly as received (RFC 7516 §5.1), never a re-serialisation.
            return AESGCM(cek).decrypt(iv, ciphertext + tag, protected_text.encode("ascii"))
        except InvalidTag:
            raise IntegrityError("the KBS response does not authenticate (JWE tag mismatch)") from None

    def _unwrap_cek(self, header: dict[str, Any], encrypted_key: bytes) -> bytes:
        alg = header.get("alg")
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            try:
                if alg == "RSA-OAEP-256":
                    return key.decrypt(
                        encrypted_key, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
                    )
                if alg == "RSA1_5":
                    return key.decrypt(encrypted_key, padding.PKCS1v15())
            except ValueError:
                raise IntegrityError("the JWE content key does not decrypt with the TEE key") from None
            raise IntegrityError(f"JWE alg {alg!r} does not fit an RSA TEE key")
        if alg != ECDH_ALG:
            raise IntegrityError(f"JWE alg {alg!r} does not fit an EC TEE key")
        epk = header.get("epk")
        if not isinstance(epk, dict) or epk.get("kty") != "EC" or epk.get("crv") not in _CURVES:
            raise IntegrityError("the JWE header has no usable epk")
        curve, _ = _CURVES[epk["crv"]]
        if not isinstance(key.curve, curve):
            raise IntegrityError(f"the JWE epk curve {epk['crv']} differs from the TEE key's")
        x = int.from_bytes(b64url_decode(epk.get("x", ""), what="epk.x"), "big")
        y = int.from_bytes(b64url_decode(epk.get("y", ""), what="epk.y"), "big")
        try:
            peer = ec.EllipticCurvePublicNumbers(x, y, curve()).public_key()
        except ValueError:
            raise IntegrityError("the JWE epk is not a point on its curve") from None
        shared = key.exchange(ec.ECDH(), peer)
        try:
            return aes_key_unwrap(concat_kdf(shared), encrypted_key)
        except InvalidUnwrap:
            raise IntegrityError("the JWE content key does not unwrap with the TEE key") from None


def parse_flattened_jwe(body: Any) -> dict[str, str]:
    """Check the shape of a flattened JWE; return its string members."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise IntegrityError("the KBS response is not a JWE (not JSON)") from None
    if not isinstance(body, dict):
        raise IntegrityError("the KBS response is not a JWE object")
    for member in ("protected", "iv", "ciphertext", "tag"):
        if not isinstance(body.get(member), str):
            raise IntegrityError(f"the KBS response JWE has no {member!r}")
    if "encrypted_key" in body and not isinstance(body["encrypted_key"], str):
        raise IntegrityError("the KBS response JWE has a malformed 'encrypted_key'")
    return {k: v for k, v in body.items() if isinstance(v, str)}


def _protected_header(text: str) -> dict[str, Any]:
    try:
        header = json.loads(b64url_decode(text, what="protected"))
    except (InvalidInputError, json.JSONDecodeError, UnicodeDecodeError):
        raise IntegrityError("the JWE protected header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise IntegrityError("the JWE protected header is not an object")
    return header


def new_cek() -> bytes:
    return os.urandom(32)
