"""P-256 signing keys as JWKs, in the shape the ``secret keygen`` CLI writes
(confidential-data-hub/hub/src/bin/secret_cli.rs:359-429: ``kty, crv, alg, use, kid, d, x, y`` and the public
half without ``d``; files ``<kid>-private.json`` / ``<kid>-public.json``, pretty JSON plus a newline)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from cococtl.errors import InvalidInputError

_B64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class SigningKey:
    """An EC P-256 key: ``private`` is None for a verification (public) key."""

    public: ec.EllipticCurvePublicKey
    private: ec.EllipticCurvePrivateKey | None = None
    kid: str | None = None

    def public_jwk(self, kid: str | None = None) -> dict[str, Any]:
        numbers = self.public.public_numbers()
        jwk: dict[str, Any] = {"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig"}
        if kid or self.kid:
            jwk["kid"] = kid or self.kid
        jwk["x"] = _b64(numbers.x.to_bytes(32, "big"))
        jwk["y"] = _b64(numbers.y.to_bytes(32, "big"))
        return jwk

    def private_jwk(self, kid: str | None = None) -> dict[str, Any]:
        if self.private is None:
            raise InvalidInputError("this is a public key: signing needs the private JWK (with 'd')")
        jwk = self.public_jwk(kid)
        d = _b64(self.private.private_numbers().private_value.to_bytes(32, "big"))
        return {**{k: v for k, v in jwk.items() if k not in ("x", "y")}, "d": d, "x": jwk["x"], "y": jwk["y"]}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _coordinate(jwk: dict[str, Any], name: str, what: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        raise InvalidInputError(f"{what}: '{name}' is missing or not base64url")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what}: '{name}' is not base64url") from None
    if len(raw) != 32:
        raise InvalidInputError(f"{what}: '{name}' must be 32 bytes for P-256, not {len(raw)}")
    return int.from_bytes(raw, "big")


def generate(kid: str | None = None) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    return SigningKey(private.public_key(), private, kid)


def parse_jwk_bytes(data: bytes, *, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidInputError(f"{what} is not a JSON Web Key (not JSON)") from None
    if not isinstance(document, dict):
        raise InvalidInputError(f"{what} is not a JSON Web Key (not an object)")
    return document


def load_public_jwk(jwk: dict[str, Any], *, what: str) -> SigningKey:
    """A P-256 public key from a JWK (``d`` ignored), as CDH's ``validate_es256`` accepts it."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidInputError(f"{what} must be an EC P-256 JWK (CDH: Key must be P256)")
    x, y = _coordinate(jwk, "x", what), _coordinate(jwk, "y", what)
    try:
        public = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:
        raise InvalidInputError(f"{what}: the point is not on the P-256 curve") from None
    kid = jwk.get("kid") if isinstance(jwk.get("kid"), str) else None
    return SigningKey(public, None, kid)


def load_private_jwk(jwk: dict[str, Any], *, what: str) -> SigningKey:
    """A P-256 private key from a JWK with ``d``; its ``x``/``y`` must match ``d``."""
    public = load_public_jwk(jwk, what=what)
    if "d" not in jwk:
        raise InvalidInputError(f"{what} has no private part ('d'): give the private JWK")
    d = _coordinate(jwk, "d", what)
    try:
        private = ec.derive_private_key(d, ec.SECP256R1())
    except ValueError:
        raise InvalidInputError(f"{what}: 'd' is not a valid P-256 private scalar") from None
    if private.public_key().public_numbers() != public.public.public_numbers():
        raise InvalidInputError(f"{what}: 'x'/'y' do not belong to 'd'")
    return SigningKey(public.public, private, public.kid)


def joserfc_key(key: SigningKey) -> Any:
    from joserfc.jwk import ECKey

    jwk = key.private_jwk() if key.private is not None else key.public_jwk()
    return ECKey.import_key({k: jwk[k] for k in ("kty", "crv", "x", "y", "d") if k in jwk})


def jwk_file_bytes(jwk: dict[str, Any]) -> bytes:
    """Pretty JSON and a newline, like ``serde_json::to_string_pretty(..) + "\\n"``."""
    return (json.dumps(jwk, indent=2) + "\n").encode("utf-8")
