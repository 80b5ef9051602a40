"""Key-provider annotations (cococtl.oci.annotations): decode, unwrap (A256GCM and A256CTR with random wrapped
data) and the private options; ``inspect annotation`` on the CLI."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cococtl.errors import NotFoundError
from cococtl.oci import annotations as ann
from tests.fuzz.conftest import check_cli, expect_clean, fuzz_settings
from tests.fuzz.strategies import b64, b64_text, deep_json, dumps, fields, json_values, text

packets = fields(
    {
        "kid": st.sampled_from(["kbs:///default/key/k1", "kbs:///a/b/c", "x", "kbs+x:///a/b/c"]) | text,
        "wrapped_data": b64_text,
        "iv": st.one_of(st.binary(min_size=12, max_size=12).map(b64), st.binary(min_size=16, max_size=16).map(b64)),
        "wrap_type": st.sampled_from(["A256GCM", "A256CTR", "x"]),
        "version": st.sampled_from(["0.1.0", "0.2.0"]),
        "provider": st.sampled_from(["kbs", "aliyun"]),
    }
)


def _annotation_value(packet: Any, extra: list[bytes]) -> str:
    return ",".join([b64(dumps(packet))] + [b64(e) for e in extra])


@fuzz_settings(500)
@given(packet=packets, extra=st.lists(st.binary(max_size=60), max_size=2), kek=st.binary(min_size=30, max_size=33))
def test_decode_and_unwrap(packet: Any, extra: list[bytes], kek: bytes) -> None:
    value = _annotation_value(packet, extra)
    decoded = expect_clean(lambda: ann.decode_recipients(value))
    if isinstance(decoded, list):
        for item in decoded:
            expect_clean(item.kid_path)
            expect_clean(lambda item=item: item.unwrap(kek))  # type: ignore[misc]
        expect_clean(lambda: ann.unwrap_any(decoded, lambda kid: kek))


@fuzz_settings(400)
@given(wrapped=st.binary(max_size=200), options=json_values, plain=st.booleans())
def test_a256ctr_random_wrapped_data(wrapped: bytes, options: Any, plain: bool) -> None:
    """A256CTR is not authenticated: whatever the wrapped data decrypts to must be refused in words."""
    kek, iv = os.urandom(32), os.urandom(16)
    if plain:
        # Encrypt chosen JSON so the unwrapped options are that JSON (shapes the parser must survive).
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        encryptor = Cipher(algorithms.AES(kek), modes.CTR(iv)).encryptor()
        wrapped = encryptor.update(dumps(options)) + encryptor.finalize()
    packet = ann.KeyProviderAnnotation("kbs:///default/key/k1", wrapped, iv, "A256CTR")
    expect_clean(lambda: ann.unwrap_any([packet], lambda kid: kek))
    expect_clean(lambda: ann.PrivateOptions.from_json(wrapped))


@fuzz_settings(200)
@given(value=st.one_of(text, st.binary(max_size=100).map(b64), deep_json.map(b64), json_values.map(dumps).map(b64)))
def test_decode_anything(value: str) -> None:
    expect_clean(lambda: ann.decode_recipients(value))
    expect_clean(lambda: ann.PublicOptions.decode(value))


def test_deep_json_annotation() -> None:
    value = b64(b"[" * 100_000 + b"]" * 100_000)
    expect_clean(lambda: ann.decode_recipients(value))
    expect_clean(lambda: ann.PublicOptions.decode(value))
    expect_clean(lambda: ann.PrivateOptions.from_json(b"{" + b'"a":{' * 50_000))


def test_unknown_kid_in_unwrap_any() -> None:
    packet = ann.KeyProviderAnnotation("kbs:///default/key/k1", b"x", os.urandom(12), "A256GCM")

    def missing(kid: str) -> bytes:
        raise NotFoundError(f"no {kid}")

    error = expect_clean(lambda: ann.unwrap_any([packet], missing))
    assert isinstance(error, NotFoundError)


@fuzz_settings(40)
@given(packet=packets)
def test_inspect_annotation_cli(cli: Any, packet: Any) -> None:
    result = cli("inspect", "annotation", b64(json.dumps(packet).encode()), expect=None)
    check_cli(result)
    base64.b64decode  # noqa: B018
