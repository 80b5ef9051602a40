"""The ``init_data_claims`` Trustee's attestation service adds to EAR tokens (attestation-service/src/lib.rs:342-397).

The ``[data]`` map becomes a JSON object; ``cdh.toml`` and ``aa.toml`` values that parse as TOML are replaced by
their JSON form; a ``policy.rego`` holding ``policy_data := {`` followed by JSON up to the end is replaced by
``agent_policy_claims`` (the ``policy_data`` object). Values that do not parse are kept as strings.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from typing import Any


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
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
                claims[key] = _jsonable(tomllib.loads(value))
            except (tomllib.TOMLDecodeError, RecursionError, ValueError):
                pass
    rego = claims.get("policy.rego")
    if isinstance(rego, str):
        policy_data = extract_policy_data(rego)
        if policy_data is not None:
            del claims["policy.rego"]
            claims["agent_policy_claims"] = policy_data
    return claims
