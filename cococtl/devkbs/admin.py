"""Admin access like Trustee: InsecureAllowAll, DenyAll, bearer JWT with role + regex ACL (≥ v0.21),
and the legacy Ed25519 persona key (v0.16–v0.20: any valid EdDSA token).

Tokens are verified with joserfc directly (cococtl.devkbs.ear.verify_jwt), not the client's JWT code."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cococtl.devkbs.ear import TokenRejected, verify_jwt
from cococtl.errors import InvalidInputError

ADMIN_MODES = ("insecure", "deny", "bearer", "legacy")


class AdminDenied(Exception):
    pass


@dataclass
class AdminPolicy:
    mode: str = "insecure"
    public_key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | None = None
    issuer: str | None = None
    audience: str | None = None
    acls: list[tuple[str, str]] = field(default_factory=lambda: [("admin", "^/kbs/.+$")])

    @classmethod
    def from_options(
        cls, mode: str, public_key_file: Path | None, *, issuer: str | None = None, audience: str | None = None
    ) -> AdminPolicy:
        if mode not in ADMIN_MODES:
            raise InvalidInputError(f"admin mode must be one of {', '.join(ADMIN_MODES)}")
        key = None
        if mode in ("bearer", "legacy"):
            if public_key_file is None:
                raise InvalidInputError(f"admin mode {mode} needs --admin-public-key PEM")
            loaded = serialization.load_pem_public_key(public_key_file.read_bytes())
            if not isinstance(loaded, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
                raise InvalidInputError("the admin public key must be Ed25519 or EC P-256")
            key = loaded
        return cls(mode, key, issuer, audience)

    def check(self, authorization: str | None, uri: str) -> None:
        """Raise AdminDenied with Trustee's wording unless the request may use ``uri``."""
        if self.mode == "insecure":
            return
        if self.mode == "deny":
            raise AdminDenied("Admin access denied: Admin access denied as DenyAll authorization_mode is enabled")
        if not authorization or not authorization.startswith("Bearer "):
            raise AdminDenied("Failed to parse HTTP Auth Bearer header")
        assert self.public_key is not None
        try:
            claims = _verify(authorization[len("Bearer ") :], self.public_key)
        except TokenRejected:
            raise AdminDenied("Admin access denied: Cannot verify token with any of the issuers") from None
        if self.mode == "legacy":
            return
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise AdminDenied("Admin access denied: Cannot verify token with any of the issuers")
        if self.audience is not None:
            aud = claims.get("aud")
            audiences = aud if isinstance(aud, list) else [aud]
            if self.audience not in audiences:
                raise AdminDenied("Admin access denied: Cannot verify token with any of the issuers")
        role = claims.get("role")
        if not isinstance(role, str):
            raise AdminDenied("Admin access denied: the token has no role claim")
        for acl_role, pattern in self.acls:
            if acl_role == role and re.match(pattern, uri):
                return
        raise AdminDenied(f"Admin access denied: Role {role} not allowed for path {uri}")


def _verify(token: str, key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """EdDSA for an Ed25519 key (Trustee's setup.sh mints alg "EdDSA"), ES256 for a P-256 key; 60 s leeway."""
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey, OKPKey

    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            return verify_jwt(token, OKPKey.import_key(key), "EdDSA", leeway=60)
        return verify_jwt(token, ECKey.import_key(key), "ES256", leeway=60)
    except (JoseError, ValueError) as error:  # a key joserfc cannot use, e.g. an EC key off P-256
        raise TokenRejected(str(error)) from None
