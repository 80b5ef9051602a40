"""The key-provider protocol (cococtl.oci.keyprovider.handle): random requests, well-formed or not."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cococtl.errors import NotFoundError
from cococtl.oci import annotations as ann
from cococtl.oci.keyprovider import handle
from tests.fuzz.conftest import check_cli, expect_clean, fuzz_settings
from tests.fuzz.strategies import b64, b64_text, deep_json, dumps, fields, json_values, text

KEK = os.urandom(32)


def _lookup(kid: str) -> bytes:
    if kid.endswith("missing"):
        raise NotFoundError(f"no key {kid}")
    return KEK


params_text = st.lists(
    st.sampled_from(["keypath=/nonexistent", "keyid=kbs:///default/key/k1", "sample=true", "algorithm=A256GCM", "x"])
    | text,
    max_size=4,
).map("::".join)
wrap_params = fields(
    {
        "ec": fields(
            {"Parameters": fields({"attestation-agent": st.lists(params_text.map(str.encode).map(b64), max_size=2)})}
        ),
        "optsdata": b64_text,
    }
)
good_packet = st.builds(
    lambda data: b64(ann.wrap(data, KEK, "kbs:///default/key/k1").to_json()), st.binary(max_size=64)
)
unwrap_params = fields({"annotation": st.one_of(good_packet, b64_text, json_values.map(dumps).map(b64))})
requests = fields(
    {
        "op": st.sampled_from(["keywrap", "keyunwrap", "x"]),
        "keywrapparams": wrap_params,
        "keyunwrapparams": unwrap_params,
    }
)


@fuzz_settings(600)
@given(request=requests, with_lookup=st.booleans())
def test_handle_requests(request: Any, with_lookup: bool) -> None:
    expect_clean(lambda: handle(dumps(request), _lookup if with_lookup else None))


@fuzz_settings(200)
@given(raw=st.one_of(st.binary(max_size=200), json_values.map(dumps), deep_json))
def test_handle_bytes(raw: bytes) -> None:
    expect_clean(lambda: handle(raw, _lookup))


def test_examples_from_the_issue() -> None:
    for raw in (
        b'{"op":"keywrap","keywrapparams":"x"}',
        b'{"op":"keywrap","keywrapparams":{"ec":"x"}}',
        b'{"op":"keywrap","keywrapparams":{"ec":{"Parameters":"x"}}}',
        b'{"op":"keyunwrap","keyunwrapparams":"x"}',
        b'{"op":"keyunwrap","keyunwrapparams":[]}',
        b"[" * 100_000 + b"]" * 100_000,
    ):
        expect_clean(lambda raw=raw: handle(raw, _lookup))  # type: ignore[misc]


def test_keypath_fifo_and_dev_zero(tmp_path: Path) -> None:
    """keypath= names a FIFO or /dev/zero: refused at once (exit 3), never read."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        params = b64(f"keypath={path}::keyid=kbs:///default/key/k1".encode())
        request = {"op": "keywrap", "keywrapparams": {"ec": {"Parameters": {"attestation-agent": [params]}},
                                                      "optsdata": b64(b"x")}}  # fmt: skip
        error = expect_clean(lambda request=request: handle(dumps(request), None))  # type: ignore[misc]
        assert getattr(error, "exit_code", None) == 3, error


@fuzz_settings(30)
@given(request=requests)
def test_keyprovider_cli(cli: Any, request: Any) -> None:
    check_cli(cli("keyprovider", input=dumps(request), expect=None))
