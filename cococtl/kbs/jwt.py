"""Compact JWTs signed with Ed25519 (admin tokens, alg ``EdDSA``) or ES256 (EAR tokens), through joserfc.

joserfc signs and verifies (JWS compact serialization, fixed-size ES256 ``r ‖ s``) and checks the time claims.
Ours are the exact bytes: the header members in Trustee's order (``alg``, ``typ``, then any extra such as
``jwk``) and the claims serialised compactly by us, so a token is byte-for-byte what it was before joserfc
(``joserfc.jwt.encode`` would put ``typ`` first and write non-ASCII claims unescaped).

Trustee's docker-compose setup mints admin tokens with alg "EdDSA", which joserfc flags as deprecated
(RFC 9864 names it "Ed25519"): that warning is silenced here, where we interoperate on purpose, and only here.
joserfc is imported inside the functions: ``cococtl --version`` must not pay for it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cococtl.errors import CococtlError, DeniedError, InvalidInputError
from cococtl.kbs.b64 import b64url_decode

if TYPE_CHECKING:
    from joserfc.jwk import ECKey, OKPKey
    from joserfc.jws import JWSRegistry

SigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
VerifyingKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

_EDDSA_WARNING = "EdDSA is deprecated"
# warnings.catch_warnings swaps process-wide state; the lock keeps our own threads from undoing each other.
_WARNINGS_LOCK = threading.Lock()


@contextlib.contextmanager
def _deliberate(alg: str) -> Iterator[None]:
    """Silence joserfc's EdDSA deprecation warning for EdDSA only; ES256 runs untouched."""
    if alg != "EdDSA":
        yield
        return
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_EDDSA_WARNING)
        yield


def _registry(alg: str) -> JWSRegistry:
    from joserfc.jws import JWSRegistry

    # Exactly one algorithm, chosen by the key type (no alg confusion); header members joserfc does not know
    # (a caller's extra_header) are allowed, as before. An EAR token with its claims can exceed joserfc's
    # default 128 kB payload limit, which guards untrusted input, not tokens we mint or a KBS mints for us.
    registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
    registry.max_header_length = registry.max_payload_length = 1 << 62
    return registry


def _jose_key(key: SigningKey | VerifyingKey) -> tuple[str, OKPKey | ECKey]:
    from joserfc.jwk import ECKey, OKPKey

    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA", OKPKey.import_key(key)
    return "ES256", ECKey.import_key(key)


def sign(claims: dict[str, Any], key: SigningKey, *, extra_header: dict[str, Any] | None = None) -> str:
    from joserfc import jws
    from joserfc.errors import JoseError

    alg, jose_key = _jose_key(key)
    header = {"alg": alg, "typ": "JWT", **(extra_header or {})}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    try:
        with _deliberate(alg):
            return jws.serialize_compact(header, payload, jose_key, registry=_registry(alg))
    except JoseError as error:  # e.g. an EC key that is not P-256
        raise InvalidInputError(f"cannot sign the token with this key: {error}") from None


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
    """Check signature and expiry; return the claims. Raises DeniedError (InvalidInputError if not a JWT)."""
    from joserfc import jws
    from joserfc.errors import ClaimError, ExpiredTokenError, JoseError, MissingClaimError
    from joserfc.jwt import JWTClaimsRegistry

    header, claims = decode_unverified(token)
    alg, jose_key = _jose_key(key)
    if header.get("alg") != alg:
        raise DeniedError(f"token algorithm {header.get('alg')!r} does not fit the verification key")
    try:
        with _deliberate(alg):
            jws.deserialize_compact(token.strip(), jose_key, registry=_registry(alg))
    except (JoseError, ValueError):
        raise DeniedError("token signature does not verify") from None
    # Only the time claims (exp required unless told otherwise, nbf when present), as before joserfc; the other
    # registered claims are the caller's business (issuer, audience, role), and joserfc's full claims check
    # would also refuse an iat in the future, which Trustee does not.
    times = JWTClaimsRegistry(leeway=leeway, exp={"essential": require_exp})
    try:
        times.validate({name: claims[name] for name in ("exp", "nbf") if claims.get(name) is not None})
    except MissingClaimError:
        raise DeniedError("token has no exp claim") from None
    except ExpiredTokenError:
        raise DeniedError("token has expired") from None
    except ClaimError as error:
        if error.claim == "nbf" and "not yet valid" in error.description:
            raise DeniedError("token is not valid yet") from None
        raise DeniedError(f"token has an invalid {error.claim} claim") from None
    return claims
