"""The signed form CDH reads: ``sealed.`` + a compact ES256 JWS whose payload is the secret's JSON.

What CDH does (confidential-data-hub/hub/src/secret/mod.rs):

- signing (:193-229): protected header ``{"alg":"ES256","kid":"<kid>"}`` (jose-jws ``Protected``, no other member),
  payload ``serde_json::to_string(secret)``, both base64url without padding, ES256 over
  ``header_b64 + "." + payload_b64``, the 64-byte ``r || s`` signature base64url; ``sealed.`` in front.
- verifying (:71-139, 172-191): every leading ``sealed.`` is stripped (``trim_start_matches``), three
  ``.``-separated parts are parsed (jose-jws ``Flattened::from_str``), the protected header must carry ``kid``
  and ``alg``; ``alg`` must be ES256; the key named by ``kid`` (a KBS resource URI, else a file under
  /run/confidential-containers/cdh/sealed-secret) is a P-256 JWK; the signature is checked over the first two parts.

Parsing is done here, strictly and without trusting anything; the signature check itself is joserfc's.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from cococtl.errors import IntegrityError, InvalidInputError, printable
from cococtl.secret.keys import SigningKey, joserfc_key
from cococtl.secret.model import Secret, parse_payload

PREFIX = "sealed."
ALG = "ES256"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
MAX_SEALED = 1 << 20


def b64url_decode(text: str, *, what: str) -> bytes:
    """Unpadded base64url, canonical (as base64ct's ``Base64UrlUnpadded`` decodes)."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise InvalidInputError(f"sealed secret: the {what} is not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"sealed secret: the {what} is not valid base64url") from None
    if b64url(data) != text:
        raise InvalidInputError(f"sealed secret: the {what} is not canonical base64url")
    return data


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SealedSecret:
    """A parsed ``sealed.…`` value (nothing verified yet)."""

    header: dict[str, Any]
    header_b64: str
    payload_b64: str
    signature: bytes
    secret: Secret

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def signing_input(self) -> bytes:
        return f"{self.header_b64}.{self.payload_b64}".encode("ascii")

    @property
    def compact(self) -> str:
        return f"{self.header_b64}.{self.payload_b64}.{b64url(self.signature)}"


def parse_sealed(value: str | bytes) -> SealedSecret:
    """Decode a sealed secret the way CDH does before it verifies; only InvalidInputError on bad input."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError("sealed secret: not UTF-8 text (CDH requires UTF-8)") from None
    text = value.strip()  # what `secret unseal` does to a file (secret_cli.rs:220-224)
    if len(text) > MAX_SEALED:
        raise InvalidInputError("sealed secret: longer than 1 MiB")
    if not text.startswith(PREFIX):
        raise InvalidInputError("not a sealed secret: it must start with 'sealed.'")
    while text.startswith(PREFIX):
        text = text[len(PREFIX) :]
    parts = text.split(".")
    if len(parts) != 3:
        raise InvalidInputError(
            f"sealed secret: expected sealed.<header>.<payload>.<signature>, found {len(parts)} part(s) after 'sealed.'"
        )
    header_b64, payload_b64, signature_b64 = parts
    header_bytes = b64url_decode(header_b64, what="protected header")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidInputError("sealed secret: the protected header is not JSON") from None
    if not isinstance(header, dict):
        raise InvalidInputError("sealed secret: the protected header is not a JSON object")
    if not isinstance(header.get("kid"), str):
        raise InvalidInputError("sealed secret: the protected header has no 'kid' (CDH: Could not find kid)")
    if not isinstance(header.get("alg"), str):
        raise InvalidInputError("sealed secret: the protected header has no 'alg'")
    if not payload_b64:
        raise InvalidInputError("sealed secret: the JWS payload is empty")
    payload = b64url_decode(payload_b64, what="payload")
    signature = b64url_decode(signature_b64, what="signature")
    return SealedSecret(header, header_b64, payload_b64, signature, parse_payload(payload))


def sign(secret: Secret, key: SigningKey, kid: str) -> str:
    """``sealed.`` + the compact JWS CDH's ``to_signed_base64_string`` writes."""
    from joserfc import jws

    token = jws.serialize_compact({"alg": ALG, "kid": kid}, secret.to_json(), joserfc_key(key), algorithms=[ALG])
    return PREFIX + token


def verify(sealed: SealedSecret, public_jwk: dict[str, Any]) -> None:
    """Raise IntegrityError unless the signature verifies with ``public_jwk`` (a P-256 JWK)."""
    from joserfc import jws
    from joserfc.errors import JoseError

    from cococtl.secret.keys import load_public_jwk

    if sealed.alg != ALG:
        raise InvalidInputError(f"sealed secret: alg {printable(sealed.alg, 40)!r} is not ES256 (CDH requires ES256)")
    key = load_public_jwk(public_jwk, what="the verification key")
    if len(sealed.signature) != 64:
        raise IntegrityError("sealed secret: the signature does not verify (not a 64-byte ES256 signature)")
    try:
        jws.deserialize_compact(sealed.compact, joserfc_key(key), algorithms=[ALG])
    except (JoseError, ValueError):
        raise IntegrityError(
            f"sealed secret: the signature does not verify with the key for {printable(sealed.kid, 200)}"
        ) from None
