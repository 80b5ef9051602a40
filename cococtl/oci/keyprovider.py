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


def _member(document: Any, name: str, what: str) -> dict[str, Any]:
    """``document[name]`` as an object (absent or null: empty); any other shape is refused in words."""
    value = document.get(name) if isinstance(document, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what}: {name} is a JSON {type(value).__name__}, not an object")
    return value


def _wrap(request: dict[str, Any]) -> dict[str, Any]:
    wrap_params = _member(request, "keywrapparams", "the wrap request")
    parameters = _member(_member(wrap_params, "ec", "the wrap request"), "Parameters", "the wrap request")
    params_list = parameters.get(PROVIDER_NAME)
    if not isinstance(params_list, list) or not params_list:
        raise InvalidInputError(f"the wrap request has no {PROVIDER_NAME} parameters")
    params = parse_params(_b64(params_list[0], "provider parameters").decode("utf-8", errors="replace"))
    optsdata = _b64(wrap_params.get("optsdata"), "optsdata")
    iv = None
    if params.get("sample") == "true":
        # coco_keyprovider enc_mods/mod.rs generate_key_parameters: the hard-coded key, a zero IV and the fixed kid
        # kbs:///default/test-key/1, whatever keyid says; a real keyid would be silently lost, so refuse it.
        if params.get("keyid") not in (None, ann.SAMPLE_KID):
            raise InvalidInputError(
                f"sample=true always uses the kid {ann.SAMPLE_KID} (coco_keyprovider ignores keyid=): drop keyid="
                " or sample=true"
            )
        kek, kid, iv = ann.SAMPLE_KEK, ann.SAMPLE_KID, bytes(12)
    else:
        if "keypath" not in params:
            raise InvalidInputError("no keypath= in the provider parameters: a generated key would be lost")
        if "keyid" not in params:
            raise InvalidInputError("no keyid= in the provider parameters (use keyid=kbs:///repo/type/tag)")
        kek, kid = load_key_file(Path(params["keypath"])), params["keyid"]
    # coco_keyprovider reads the algorithm from the keypath field (parse_input_params), so algorithm= never takes
    # effect there: every packet is A256GCM. The same here, and the parameter is accepted as it is there.
    annotation = ann.wrap(optsdata, kek, kid, iv=iv)
    annotation.kid_path()
    # ocicrypt-rs parses key_wrap_results.annotation as serde Vec<u8>, a JSON integer array
    # (ocicrypt-rs/src/keywrap/keyprovider/mod.rs KeyWrapResults); Go's []byte decoder accepts it as well.
    return {"keywrapresults": {"annotation": list(annotation.to_json())}}


def _unwrap(request: dict[str, Any], lookup: KeyLookup | None) -> dict[str, Any]:
    encoded = _member(request, "keyunwrapparams", "the unwrap request").get("annotation")
    packet = ann.KeyProviderAnnotation.from_json(_b64(encoded, "annotation"))
    if lookup is None:
        raise InvalidInputError("no key source for unwrap: pass --keys-file (or set KP_KEYS_FILE) or --kbs URL")
    optsdata = packet.unwrap(lookup(packet.kid))
    # KeyUnwrapResults.opts_data is a serde Vec<u8> in ocicrypt-rs: an integer array every consumer parses.
    return {"keyunwrapresults": {"optsdata": list(optsdata)}}


def handle(raw: bytes, lookup: KeyLookup | None) -> bytes:
    """One protocol exchange: request JSON bytes in, response JSON bytes out (errors raise CococtlError)."""
    try:
        request = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("the key-provider request is not JSON") from None
    except RecursionError:
        raise InvalidInputError("the key-provider request is nested too deeply") from None
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
