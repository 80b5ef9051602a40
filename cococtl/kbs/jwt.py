"""Compact JWTs signed with Ed25519 (admin tokens) or ES256 (EAR tokens), on ``cryptography``.

Small and explicit instead of a JWT library: the KBS formats need a ``jwk`` header member and
fixed-size ES256 signatures (r ‖ s), and we must verify exactly what Trustee verifies.
"""

from __future__ import annotations

import json
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from cococtl.errors import CococtlError, DeniedError, InvalidInputError
from cococtl.kbs.b64 import b64url, b64url_decode

SigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
VerifyingKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def _json_b64(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def sign(claims: dict[str, Any], key: SigningKey, *, extra_header: dict[str, Any] | None = None) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        header = {"alg": "EdDSA", "typ": "JWT", **(extra_header or {})}
        signing_input = f"{_json_b64(header)}.{_json_b64(claims)}".encode()
        signature = key.sign(signing_input)
    else:
        header = {"alg": "ES256", "typ": "JWT", **(extra_header or {})}
        signing_input = f"{_json_b64(header)}.{_json_b64(claims)}".encode()
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input.decode()}.{b64url(signature)}"


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header_b64, payload_b64, _ = token.strip().split(".")
        header = json.loads(b64url_decode(header_b64, what="JWT header"))
        claims = json.loads(b64url_decode(payload_b64, what="JWT payload"))
    except (ValueError, CococtlError, UnicodeDecodeError):
        raise InvalidInputError("not a compact JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidInputError("not a compact JWT")
    return header, claims


def verify(token: str, key: VerifyingKey, *, leeway: int = 60, require_exp: bool = True) -> dict[str, Any]:
    """Check signature and expiry; return the claims. Raises DeniedError."""
    header, claims = decode_unverified(token)
    signing_input, _, signature_b64 = token.strip().rpartition(".")
    try:
        signature = b64url_decode(signature_b64, what="JWT signature")
        if isinstance(key, ed25519.Ed25519PublicKey) and header.get("alg") == "EdDSA":
            key.verify(signature, signing_input.encode())
        elif isinstance(key, ec.EllipticCurvePublicKey) and header.get("alg") == "ES256" and len(signature) == 64:
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        else:
            raise DeniedError(f"token algorithm {header.get('alg')!r} does not fit the verification key")
    except (InvalidSignature, InvalidInputError):
        raise DeniedError("token signature does not verify") from None
    now = time.time()
    exp = claims.get("exp")
    if exp is None and require_exp:
        raise DeniedError("token has no exp claim")
    if isinstance(exp, int | float) and now > exp + leeway:
        raise DeniedError("token has expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and now + leeway < nbf:
        raise DeniedError("token is not valid yet")
    return claims
