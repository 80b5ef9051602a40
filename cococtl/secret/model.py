"""The sealed-secret payload: CDH's ``Secret`` (confidential-data-hub/hub/src/secret/mod.rs:31-46) with its two
layouts, ``EnvelopeSecret`` (secret/layout/envelope.rs:45-70) and ``VaultSecret`` (secret/layout/vault.rs:24-37).

serde's rules decide what parses: ``version`` and ``type`` (``envelope`` | ``vault``, the internally-tagged enum)
are required, and so is every field of the layout struct, ``annotations`` and ``provider_settings`` included (no
``#[serde(default)]``, although docs/SEALED_SECRET.md calls ``annotations`` optional). Unknown fields are ignored.
``unseal`` then refuses any version other than ``0.1.0`` (mod.rs:60-63).

Serialisation is ``serde_json::to_string``: compact, ``version`` then ``type`` then the struct's fields in
declaration order, non-ASCII unescaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cococtl.errors import InvalidInputError

VERSION = "0.1.0"
ENVELOPE_FIELDS = (
    "key_id",
    "encrypted_key",
    "encrypted_data",
    "wrap_type",
    "iv",
    "provider",
    "provider_settings",
    "annotations",
)
VAULT_FIELDS = ("name", "provider", "provider_settings", "annotations")
_MAP_FIELDS = ("provider_settings", "annotations")
WRAP_TYPES = ("A256GCM", "A256CTR")  # attestation-agent/deps/crypto/src/symmetric.rs:23-35


@dataclass(frozen=True)
class Secret:
    """A sealed secret's payload: ``kind`` is ``envelope`` or ``vault``; ``fields`` in serde order."""

    kind: str
    fields: dict[str, Any]
    version: str = VERSION
    unknown: tuple[str, ...] = field(default=())

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]

    @property
    def provider(self) -> str:
        return str(self.fields["provider"])

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "type": self.kind, **self.fields}

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def vault(name: str, provider: str, provider_settings: dict[str, Any], annotations: dict[str, Any]) -> Secret:
    return Secret(
        "vault",
        {"name": name, "provider": provider, "provider_settings": provider_settings, "annotations": annotations},
    )


def parse_payload(payload: bytes) -> Secret:
    """Deserialize like serde_json into ``Secret``; every failure is an InvalidInputError."""
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidInputError("the sealed secret's payload is not JSON") from None
    if not isinstance(document, dict):
        raise InvalidInputError("the sealed secret's payload is not a JSON object")
    return from_dict(document)


def from_dict(document: dict[str, Any]) -> Secret:
    version = document.get("version")
    if not isinstance(version, str):
        raise InvalidInputError("sealed secret: 'version' is missing or not a string")
    kind = document.get("type")
    if kind not in ("envelope", "vault"):
        raise InvalidInputError(f"sealed secret: 'type' must be envelope or vault, not {str(kind)[:40]!r}")
    names = ENVELOPE_FIELDS if kind == "envelope" else VAULT_FIELDS
    fields: dict[str, Any] = {}
    for name in names:
        if name not in document:
            raise InvalidInputError(f"sealed secret ({kind}): '{name}' is missing (CDH requires it)")
        value = document[name]
        if name in _MAP_FIELDS:
            if not isinstance(value, dict):
                raise InvalidInputError(f"sealed secret ({kind}): '{name}' must be a JSON object")
        elif not isinstance(value, str):
            raise InvalidInputError(f"sealed secret ({kind}): '{name}' must be a string")
        fields[name] = value
    if kind == "envelope" and fields["wrap_type"] not in WRAP_TYPES:
        raise InvalidInputError(f"sealed secret: wrap_type must be A256GCM or A256CTR, not {fields['wrap_type']!r}")
    unknown = tuple(k for k in document if k not in ("version", "type", *names))
    return Secret(kind, fields, version, unknown)
