"""Sealed secrets (confidential-data-hub docs/SEALED_SECRET.md): vault and envelope payloads, the ``sealed.`` JWS
CDH verifies, P-256 JWK signing keys, and unsealing through a KBS."""

from cococtl.secret.jws import SealedSecret, parse_sealed, sign, verify
from cococtl.secret.model import Secret, parse_payload

__all__ = ["SealedSecret", "Secret", "parse_payload", "parse_sealed", "sign", "verify"]
