"""Hypothesis strategies shared by the fuzz suites: JSON-ish values that look like what each parser expects."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

CONTROL = st.sampled_from(["\x1b[31m", "\x00", "\r", "\x07", "\u2028", "\x9b", "\ufeff", "\x1b]0;t\x07"])
text = st.one_of(
    st.text(max_size=30),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=8), CONTROL, st.text(max_size=8)),
    st.sampled_from(["", "kbs:///default/key/k1", "kbs:///a/b", "A256GCM", "A256CTR", "0.1.0", "kbs", "sha256:"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


b64_text = st.one_of(st.binary(max_size=80).map(b64), text, st.binary(max_size=40).map(lambda b: b64(b)[:-1]))


def fields(keys: dict[str, Any]) -> Any:
    """Objects with some of ``keys`` (each value from its strategy or any JSON value), plus noise keys."""
    chosen = {name: st.one_of(strategy, json_values) for name, strategy in keys.items()}
    return st.fixed_dictionaries({}, optional=chosen).flatmap(
        lambda base: st.dictionaries(st.text(max_size=6), json_values, max_size=2).map(lambda extra: {**extra, **base})
    )


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


deep_json = st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n + b"]" * n)
