"""The KBS admin API: resources, policies, reference values; bearer or Ed25519-minted credentials."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from cococtl.crypto.keys import read_regular_file
from cococtl.errors import DeniedError, InvalidInputError, NotFoundError
from cococtl.kbs import jwt
from cococtl.kbs.b64 import b64url
from cococtl.kbs.client import KbsClient
from cococtl.kbs.uri import parse_resource_path
from cococtl.policy.rego import check_policy


def load_ed25519_key(path: Path) -> ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(read_regular_file(path, 64 << 10, "admin key"), password=None)
    except FileNotFoundError:
        raise NotFoundError(f"admin key {path} does not exist") from None
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"admin key {path} is not an unencrypted private key PEM: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InvalidInputError(f"admin key {path} must be an Ed25519 private key")
    return key


# What Trustee's docker-compose setup mints and its stock KBS config checks
# (kbs/config/docker-compose/setup.sh and kbs-config.toml: identity provider "TrusteeInDocker", regex ACL role admin).
TRUSTEE_ISSUER = "TrusteeInDocker"
TRUSTEE_AUDIENCE = "KBS"
TRUSTEE_SUBJECT = "admin"
TRUSTEE_ROLE = "admin"


@dataclass(frozen=True)
class TokenClaims:
    """The identity claims of an admin token; the defaults are the stock Trustee deployment's."""

    issuer: str = TRUSTEE_ISSUER
    audience: str = TRUSTEE_AUDIENCE
    subject: str = TRUSTEE_SUBJECT
    role: str = TRUSTEE_ROLE


def mint_admin_token(key: ed25519.Ed25519PrivateKey, *, ttl_seconds: int, claims: TokenClaims | None = None) -> str:
    """An EdDSA JWT with the claims setup.sh writes (iss, sub, aud list, role, iat, exp), in its order."""
    identity = claims or TokenClaims()
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": identity.issuer,
        "sub": identity.subject,
        "aud": [identity.audience],
        "role": identity.role,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.sign(payload, key)


def _refuse_expired(token: str, source: Path) -> None:
    """Say "expired" before the KBS answers a bare 401: a JWT whose ``exp`` has passed (read, not verified)."""
    import base64
    import json
    import time

    parts = token.split(".")
    if len(parts) != 3:
        return
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        expiry = float(claims["exp"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        return
    now = time.time()
    if expiry < now:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expiry))
        raise DeniedError(
            f"the admin token in {source} expired at {when} ({int(now - expiry)} s ago)",
            hint="mint a new one: cococtl kbs admin-token --key KEY -o FILE --force (or rerun Trustee's setup)",
        )


@dataclass
class AdminCredentials:
    """A bearer token (Trustee ≥ 0.21) or an Ed25519 key that mints a 2-hour token per request (0.16–0.20),
    with the stock deployment's claims unless told otherwise."""

    token: str | None = None
    key: ed25519.Ed25519PrivateKey | None = None
    claims: TokenClaims = TokenClaims()

    @classmethod
    def from_options(
        cls, token_file: Path | None, key_file: Path | None, role: str | None, claims: TokenClaims | None = None
    ) -> AdminCredentials:
        if token_file is not None and key_file is not None:
            raise InvalidInputError("give --admin-token-file or --admin-key, not both")
        if token_file is not None:
            try:
                token = token_file.read_text().strip()
            except FileNotFoundError:
                raise NotFoundError(f"admin token file {token_file} does not exist") from None
            _refuse_expired(token, token_file)
            return cls(token=token)
        if key_file is not None:
            identity = claims or TokenClaims()
            if role is not None:
                identity = replace(identity, role=role)
            return cls(key=load_ed25519_key(key_file), claims=identity)
        return cls()

    def header(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.key is not None:
            return {"Authorization": f"Bearer {mint_admin_token(self.key, ttl_seconds=7200, claims=self.claims)}"}
        return {}


def policy_payload(text: str) -> str:
    """Policies travel as URL-safe base64 without padding (Trustee rejects padding)."""
    return b64url(text.encode("utf-8"))


class KbsAdmin:
    def __init__(self, client: KbsClient, credentials: AdminCredentials) -> None:
        self.client = client
        self.credentials = credentials

    def _call(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        headers = {**kwargs.pop("headers", {}), **self.credentials.header()}
        return self.client.request(method, path, what=what, headers=headers, **kwargs)

    def set_resource(self, path: str, data: bytes) -> str:
        resource = parse_resource_path(path).path
        self._call(
            "POST",
            f"resource/{resource}",
            what=f"set resource {resource}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return resource

    def delete_resource(self, path: str) -> str:
        resource = parse_resource_path(path).path
        self._call("DELETE", f"resource/{resource}", what=f"delete resource {resource}")
        return resource

    def set_resource_policy(self, text: str, *, name: str = "resource policy") -> None:
        check_policy(text, name=name)
        self._call("POST", "resource-policy", what="set resource policy", json={"policy": policy_payload(text)})

    def get_resource_policy(self) -> Any:
        response = self._call("GET", "resource-policy", what="get resource policy")
        try:
            return response.json()
        except ValueError:
            return response.text

    def set_attestation_policy(
        self, text: str, *, policy_id: str, policy_type: str = "rego", name: str = "attestation policy"
    ) -> None:
        check_policy(text, name=name)
        self._call(
            "POST",
            "attestation-policy",
            what="set attestation policy",
            json={"type": policy_type, "policy_id": policy_id, "policy": policy_payload(text)},
        )

    def set_reference_value(self, name: str, value: Any, *, rv_type: str = "sample") -> None:
        # The RVPS takes STANDARD padded base64, unlike the policy endpoints.
        payload = base64.b64encode(json.dumps({name: value}).encode()).decode()
        self._call(
            "POST",
            "reference-value",
            what=f"set reference value {name}",
            json={"version": "0.1.0", "type": rv_type, "payload": payload},
        )

    def get_reference_value(self, name: str) -> Any:
        response = self._call("GET", f"reference-value/{name}", what=f"reference value {name}")
        try:
            return response.json()
        except ValueError:
            return response.text
