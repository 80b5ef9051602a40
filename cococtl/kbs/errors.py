"""Trustee answers almost every failure with 401 and ``{"type": ".../<Variant>", "detail": …}``.

Map by the variant, not by the status (kbs/src/error.rs).
"""

from __future__ import annotations

import json
import re
from typing import Any

from cococtl.errors import (
    CococtlError,
    DeniedError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    UnreachableError,
    printable,
)

_DENIED = {
    "PolicyDeny",
    "AdminAuthAccess",
    "AdminAuth",
    "AdminAuthInitialization",
    "TokenVerifierError",
    "AttestationError",
    "TokenNotFound",
}


def parse_error_body(body: bytes) -> tuple[str, str]:
    """Return (variant, detail) from an error body; ("", text) when it is not Trustee's JSON."""
    try:
        document: Any = json.loads(body[: 1 << 20])
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        text = body[:4096].decode("utf-8", errors="replace").strip()
        if text[:15].lower().startswith(("<!doctype html", "<html")):
            title = re.search(r"<title>([^<]{0,200})</title>", text, re.IGNORECASE)
            named = f": {title.group(1).strip()}" if title else ""
            return "", printable(f"an HTML page{named} (is this URL a KBS?)")
        return "", printable(text[:300])
    if not isinstance(document, dict):
        return "", printable(document)
    variant = printable(str(document.get("type", "")).rsplit("/", 1)[-1], 60)
    return variant, printable(document.get("detail", ""))


def kbs_error(status: int, body: bytes, *, what: str) -> CococtlError:
    """The error for a non-200 answer; it carries ``status`` and ``variant`` for callers that retry."""
    error = _kbs_error(status, body, what=what)
    error.status, error.variant = status, parse_error_body(body)[0]  # type: ignore[attr-defined]
    return error


def _kbs_error(status: int, body: bytes, *, what: str) -> CococtlError:
    variant, detail = parse_error_body(body)
    shown = f"{detail} ({variant})" if variant else (detail or f"HTTP {status}")
    if variant == "PolicyDeny":
        return DeniedError(f"{what}: denied by the KBS resource policy: {shown}")
    if variant == "PluginInternalError":
        return NotFoundError(
            f"{what}: the KBS could not provide it: {shown}",
            hint="Trustee reports a missing resource and a bad path both as 401 PluginInternalError",
        )
    if variant in ("PluginNotFound", "InvalidRequestPath") or status == 404:
        return NotFoundError(f"{what}: not found on this KBS: {shown}")
    if variant == "JweError":
        return IntegrityError(f"{what}: the KBS could not build the JWE for our TEE key: {shown}")
    if variant in ("ParsePolicyError", "SerdeError", "PolicyEngineError"):
        return InvalidInputError(f"{what}: the KBS rejected the request: {shown}")
    if variant == "RvpsError":
        return NotFoundError(f"{what}: the reference value service failed: {shown}")
    if variant in ("AdminAuthAccess", "AdminAuthInitialization") and "Cannot verify token" in detail:
        return DeniedError(
            f"{what}: {shown}",
            hint="the token's signature, iss, aud or exp does not match the KBS's [admin.authentication.bearer_jwt]"
            " identity_providers (cococtl kbs admin-token --issuer/--audience/--ttl; Trustee's docker-compose"
            " setup trusts iss TrusteeInDocker)",
        )
    if variant in _DENIED or status in (401, 403):
        return DeniedError(f"{what}: {shown}")
    if status == 413:
        # actix-web's PayloadConfig (kbs api_server.rs: [http_server] payload_request_size, 2 MiB by default).
        return InvalidInputError(
            f"{what}: the KBS refuses a body this large (HTTP 413: {shown})",
            hint="Trustee accepts [http_server] payload_request_size MiB per request (2 by default)",
        )
    return UnreachableError(f"{what}: the KBS answered HTTP {status}: {shown}")
