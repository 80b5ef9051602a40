"""The Go/Cocos AES-256-GCM stream format against Go's own output and an independent implementation."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from cococtl.crypto import gcm
from cococtl.errors import IntegrityError, InvalidInputError

GO = Path(__file__).parents[1] / "vectors" / "aesgcm-go"
GO_SIZES = [0, 1, 100, 65536]


def _go_vector(n: int) -> tuple[bytes, bytes, bytes]:
    return (
        (GO / f"key-{n}.bin").read_bytes(),
        (GO / f"plain-{n}.bin").read_bytes(),
        (GO / f"cipher-{n}.bin").read_bytes(),
    )


def _decrypt_bytes(key: bytes, blob: bytes) -> bytes:
    out = io.BytesIO()
    source = io.BytesIO(blob)
    nonce, tag = blob[: gcm.NONCE_SIZE], blob[-gcm.TAG_SIZE :]
    source.seek(gcm.NONCE_SIZE)
    gcm.decrypt_range(key, nonce, tag, source, len(blob) - gcm.OVERHEAD, out)
    return out.getvalue()


def _encrypt_bytes(key: bytes, plain: bytes, nonce: bytes | None = None) -> bytes:
    out = io.BytesIO()
    gcm.encrypt_stream(key, io.BytesIO(plain), out, nonce=nonce)
    return out.getvalue()


@pytest.mark.parametrize("n", GO_SIZES)
def test_go_ciphertexts_decrypt(n: int) -> None:
    key, plain, cipher = _go_vector(n)
    assert _decrypt_bytes(key, cipher) == plain


@pytest.mark.parametrize("n", GO_SIZES)
def test_same_nonce_reproduces_go_bytes_exactly(n: int) -> None:
    key, plain, cipher = _go_vector(n)
    assert _encrypt_bytes(key, plain, nonce=cipher[: gcm.NONCE_SIZE]) == cipher


@pytest.mark.parametrize(
    "size", [0, 1, 15, 16, 17, gcm.CHUNK_SIZE - 1, gcm.CHUNK_SIZE, gcm.CHUNK_SIZE + 1, 3 * gcm.CHUNK_SIZE + 5]
)
def test_our_ciphertext_opens_with_one_shot_aesgcm(size: int) -> None:
    key, plain = os.urandom(32), os.urandom(size)
    blob = _encrypt_bytes(key, plain)
    assert len(blob) == size + gcm.OVERHEAD
    # Independent side: cryptography's one-shot AEAD, which expects ciphertext||tag.
    assert AESGCM(key).decrypt(blob[: gcm.NONCE_SIZE], blob[gcm.NONCE_SIZE :], None) == plain


def test_nonces_are_fresh() -> None:
    key = os.urandom(32)
    assert _encrypt_bytes(key, b"x")[:12] != _encrypt_bytes(key, b"x")[:12]


@settings(max_examples=40, deadline=None)
@given(
    delta=st.integers(min_value=-3, max_value=3),
    chunks=st.integers(min_value=0, max_value=2),
    data=st.binary(min_size=0, max_size=64),
)
def test_round_trip_around_chunk_boundaries(delta: int, chunks: int, data: bytes) -> None:
    size = max(0, chunks * gcm.CHUNK_SIZE + delta)
    plain = (data * (size // max(1, len(data)) + 1))[:size] if data else bytes(size)
    key = os.urandom(32)
    assert _decrypt_bytes(key, _encrypt_bytes(key, plain)) == plain


@settings(max_examples=60, deadline=None)
@given(plain=st.binary(min_size=0, max_size=300), position=st.integers(min_value=0), flip=st.integers(1, 255))
def test_any_flipped_byte_is_rejected(plain: bytes, position: int, flip: int) -> None:
    key = os.urandom(32)
    blob = bytearray(_encrypt_bytes(key, plain))
    blob[position % len(blob)] ^= flip
    with pytest.raises(IntegrityError):
        _decrypt_bytes(key, bytes(blob))


def test_wrong_key_is_integrity_error() -> None:
    _, _, cipher = _go_vector(100)
    with pytest.raises(IntegrityError, match="authentication"):
        _decrypt_bytes(os.urandom(32), cipher)


@pytest.mark.parametrize("size", [0, 11, 12, 27])
def test_too_short_files_are_invalid_input(tmp_path: Path, size: int) -> None:
    path = tmp_path / "short"
    path.write_bytes(os.urandom(size))
    with open(path, "rb") as handle, pytest.raises(InvalidInputError, match="at least 28"):
        gcm.decrypt_seekable(os.urandom(32), handle, io.BytesIO())


def test_truncated_stream_is_integrity_error() -> None:
    key = os.urandom(32)
    blob = _encrypt_bytes(key, os.urandom(1000))
    source = io.BytesIO(blob[:500])
    with pytest.raises(IntegrityError, match="truncated"):
        gcm.decrypt_range(key, blob[:12], blob[-16:], source, len(blob) - gcm.OVERHEAD, io.BytesIO())


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_key_must_be_32_bytes(length: int) -> None:
    with pytest.raises(InvalidInputError, match="expected 32 bytes"):
        _encrypt_bytes(bytes(length), b"data")


def test_plaintext_sink_sees_every_byte() -> None:
    key, plain = os.urandom(32), os.urandom(gcm.CHUNK_SIZE + 123)
    seen = bytearray()
    blob = io.BytesIO()
    gcm.encrypt_stream(key, io.BytesIO(plain), blob, on_plaintext=seen.extend)
    assert bytes(seen) == plain
    seen.clear()
    raw = blob.getvalue()
    source = io.BytesIO(raw)
    source.seek(12)
    gcm.decrypt_range(key, raw[:12], raw[-16:], source, len(raw) - 28, None, on_plaintext=seen.extend)
    assert bytes(seen) == plain
