"""The base64 flavours the KBS protocol mixes: URL-safe without padding (JOSE, policies), standard with padding."""

from __future__ import annotations

import base64
import binascii

from cococtl.errors import InvalidInputError


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, what: str = "value") -> bytes:
    """Decode unpadded URL-safe base64 strictly (padding is refused, as kbs-types does)."""
    if "=" in text or any(c in text for c in "+/ \n"):
        raise InvalidInputError(f"{what} is not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what} is not valid base64url") from None


def b64std(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
