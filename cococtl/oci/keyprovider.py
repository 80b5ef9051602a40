"""The ocicrypt key-provider protocol (what skopeo sends to ``cmd`` and gRPC providers), as
coco_keyprovider implements it for the ``attestation-agent`` provider name.

Wrap requests carry the user's PARAMS base64-encoded in ``keywrapparams.ec.Parameters["attestation-agent"]``
(``keypath=…::keyid=kbs:///…::algorithm=A256GCM`` or ``sample=true``) and the private layer options in
``optsdata``; unwrap requests carry the annotation. Byte fields travel as standard base64.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cococtl.crypto.keys import load_key_file
from cococtl.errors import InvalidInputError
from cococtl.oci import annotations as ann

PROVIDER_NAME = "attestation-agent"
KeyLookup = Callable[[str], bytes]


def _b64(value: Any, what: str) -> bytes:
    # Go encodes []byte as base64; serde Vec<u8> peers send an integer array instead.
    if isinstance(value, list) and all(isinstance(v, int) and 0 <= v < 256 for v in value):
        return bytes(value)
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} is missing or not base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what} is not valid base64") from None


def parse_params(text: str) -> dict[str, str]:
    """coco_keyprovider's rules: split on ``::``, each field on its first ``=``; fields without ``=`` are dropped."""
    fields: dict[str, str] = {}
    for part in text.split("::"):
        if "=" in part:
            key, value = part.split("=", 1)
            fields[key] = value
    return fields


def _wrap(request: dict[str, Any]) -> dict[str, Any]:
    params_list = (((request.get("keywrapparams") or {}).get("ec") or {}).get("Parameters") or {}).get(PROVIDER_NAME)
    if not isinstance(params_list, list) or not params_list:
        raise InvalidInputError(f"the wrap request has no {PROVIDER_NAME} parameters")
    params = parse_params(_b64(params_list[0], "provider parameters").decode("utf-8", errors="replace"))
    optsdata = _b64((request.get("keywrapparams") or {}).get("optsdata"), "optsdata")
    if params.get("sample") == "true":
        kek, kid = ann.SAMPLE_KEK, params.get("keyid") or ann.SAMPLE_KID
    else:
        if "keypath" not in params:
            raise InvalidInputError("no keypath= in the provider parameters: a generated key would be lost")
        if "keyid" not in params:
            raise InvalidInputError("no keyid= in the provider parameters (use keyid=kbs:///repo/type/tag)")
        kek, kid = load_key_file(Path(params["keypath"])), params["keyid"]
    if params.get("algorithm", "A256GCM") != "A256GCM":
        raise InvalidInputError("only algorithm=A256GCM is supported (as coco_keyprovider, which ignores it)")
    annotation = ann.wrap(optsdata, kek, kid)
    annotation.kid_path()
    return {"keywrapresults": {"annotation": base64.b64encode(annotation.to_json()).decode()}}


def _unwrap(request: dict[str, Any], lookup: KeyLookup | None) -> dict[str, Any]:
    encoded = (request.get("keyunwrapparams") or {}).get("annotation")
    packet = ann.KeyProviderAnnotation.from_json(_b64(encoded, "annotation"))
    if lookup is None:
        raise InvalidInputError("no key source for unwrap: pass --keys-file (or set KP_KEYS_FILE) or --kbs URL")
    optsdata = packet.unwrap(lookup(packet.kid))
    return {"keyunwrapresults": {"optsdata": base64.b64encode(optsdata).decode()}}


def handle(raw: bytes, lookup: KeyLookup | None) -> bytes:
    """One protocol exchange: request JSON bytes in, response JSON bytes out (errors raise CococtlError)."""
    try:
        request = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInputError("the key-provider request is not JSON") from None
    if not isinstance(request, dict):
        raise InvalidInputError("the key-provider request is not a JSON object")
    operation = request.get("op")
    if operation == "keywrap":
        response = _wrap(request)
    elif operation == "keyunwrap":
        response = _unwrap(request, lookup)
    else:
        raise InvalidInputError(f"unknown key-provider operation {operation!r}")
    return json.dumps(response, separators=(",", ":")).encode()
