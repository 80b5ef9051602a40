"""Admin access like Trustee: InsecureAllowAll, DenyAll, bearer JWT with role + regex ACL (≥ v0.21),
and the legacy Ed25519 persona key (v0.16–v0.20: any valid EdDSA token)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cococtl.errors import CococtlError, InvalidInputError
from cococtl.kbs import jwt

ADMIN_MODES = ("insecure", "deny", "bearer", "legacy")


class AdminDenied(Exception):
    pass


@dataclass
class AdminPolicy:
    mode: str = "insecure"
    public_key: jwt.VerifyingKey | None = None
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
            claims = jwt.verify(authorization[len("Bearer ") :], self.public_key, require_exp=True)
        except CococtlError:
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
