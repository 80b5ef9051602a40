"""The ``init_data_claims`` Trustee's attestation service adds to EAR tokens (attestation-service/src/lib.rs:342-397).

The ``[data]`` map becomes a JSON object; ``cdh.toml`` and ``aa.toml`` values that parse as TOML are replaced by
their JSON form; a ``policy.rego`` holding ``policy_data := {`` followed by JSON up to the end is replaced by
``agent_policy_claims`` (the ``policy_data`` object). Values that do not parse are kept as strings.
"""

from __future__ import annotations

import datetime
import json
import math
import tomllib
from typing import Any

_I64 = (-(1 << 63), (1 << 63) - 1)
_U64_MAX = (1 << 64) - 1


class OutOfRange(ValueError):
    """A JSON integer Trustee's EAR claims cannot hold (a u64 above i64::MAX): the AS refuses the attestation."""


def _toml_datetime(value: datetime.date | datetime.time) -> str:
    """The text the toml crate's ``Datetime`` displays (toml_datetime: RFC 3339, a zero UTC offset as ``Z``,
    fractional seconds without trailing zeros)."""
    if not isinstance(value, datetime.datetime | datetime.time):
        return value.isoformat()
    text = value.replace(microsecond=0, tzinfo=None).isoformat()
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    offset = value.utcoffset() if isinstance(value, datetime.datetime) else None
    if offset is not None:
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        text += "Z" if minutes == 0 else f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text


def _toml_jsonable(value: Any) -> Any:
    """TOML as serde_json sees toml's values: a datetime is ``{"$__toml_private_datetime": TEXT}`` (the toml
    crate's private serde form, which Trustee's claims keep), inf and nan are null."""
    if isinstance(value, dict):
        return {k: _toml_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_toml_jsonable(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return {"$__toml_private_datetime": _toml_datetime(value)}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and not _I64[0] <= value <= _I64[1]:
        raise ValueError("TOML integers are 64-bit")  # the toml crate does not parse it: kept as a string
    return value


def _json_number_rules(value: Any) -> Any:
    """serde_json's reading of JSON integers into an EAR RawValue: i64 as is, a u64 above i64::MAX refused (the
    conversion fails and so does the attestation), anything wider becomes a float."""
    if isinstance(value, dict):
        return {k: _json_number_rules(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_number_rules(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not _I64[0] <= value <= _I64[1]:
        if _I64[1] < value <= _U64_MAX:
            raise OutOfRange("out of range integral type conversion attempted")
        return float(value)
    return value


def extract_policy_data(rego: str) -> Any | None:
    """``serde_json::from_str`` of the text from the ``{`` of the first ``policy_data := {`` to the end."""
    marker = "policy_data := {"
    start = rego.find(marker)
    if start < 0:
        return None
    try:
        return json.loads(rego[start + len(marker) - 1 :])
    except (json.JSONDecodeError, RecursionError):
        return None


def init_data_claims(data: dict[str, str]) -> dict[str, Any]:
    claims: dict[str, Any] = dict(data)
    for key in ("cdh.toml", "aa.toml"):
        value = claims.get(key)
        if isinstance(value, str):
            try:
                claims[key] = _toml_jsonable(tomllib.loads(value))
            except (tomllib.TOMLDecodeError, RecursionError, ValueError):
                pass
    rego = claims.get("policy.rego")
    if isinstance(rego, str):
        policy_data = extract_policy_data(rego)
        if policy_data is not None:
            del claims["policy.rego"]
            claims["agent_policy_claims"] = _json_number_rules(policy_data)
    return claims
