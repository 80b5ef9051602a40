"""The Go/Cocos remote-resource format: ``nonce(12) ‖ ciphertext ‖ tag(16)``, AES-256-GCM, no AAD.

This is byte-for-byte what Go's ``gcm.Seal(nonce, nonce, plaintext, nil)`` writes. Everything here
streams in fixed-size chunks, so memory stays constant whatever the size of the data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cococtl.errors import IntegrityError, InvalidInputError

NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
OVERHEAD = NONCE_SIZE + TAG_SIZE
CHUNK_SIZE = 1 << 20

Progress = Callable[[int], None]
PlaintextSink = Callable[[memoryview], None]


class Writable(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise InvalidInputError(f"invalid key size: expected {KEY_SIZE} bytes, got {len(key)}")


def _read_fully(reader: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` unless the stream ends first; return how many bytes were read."""
    filled = 0
    while filled < len(view):
        n = reader.readinto(view[filled:])  # type: ignore[attr-defined]
        if not n:
            break
        filled += n
    return filled


def encrypt_stream(
    key: bytes,
    reader: BinaryIO,
    writer: Writable,
    *,
    nonce: bytes | None = None,
    on_plaintext: PlaintextSink | None = None,
    progress: Progress | None = None,
) -> int:
    """Encrypt everything ``reader`` yields into ``writer``; return the plaintext length."""
    _check_key(key)
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise InvalidInputError(f"nonce must be {NONCE_SIZE} bytes")
    encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    inbuf = bytearray(CHUNK_SIZE)
    outbuf = bytearray(CHUNK_SIZE + 15)
    inview, outview = memoryview(inbuf), memoryview(outbuf)
    writer.write(nonce)
    total = 0
    while True:
        n = _read_fully(reader, inview)
        if n == 0:
            break
        chunk = inview[:n]
        if on_plaintext is not None:
            on_plaintext(chunk)
        written = encryptor.update_into(chunk, outbuf)
        writer.write(outview[:written])
        total += n
        if progress is not None:
            progress(n)
        if n < CHUNK_SIZE:
            break
    encryptor.finalize()
    writer.write(encryptor.tag)
    return total


def decrypt_range(
    key: bytes,
    nonce: bytes,
    tag: bytes,
    reader: BinaryIO,
    length: int,
    writer: Writable | None,
    *,
    on_plaintext: PlaintextSink | None = None,
    progress: Progress | None = None,
) -> None:
    """Decrypt ``length`` ciphertext bytes from ``reader``, then check ``tag``.

    Raises :class:`IntegrityError` when the tag does not verify. Plaintext written to ``writer``
    before that point is unauthenticated: callers must only publish it once this returns.
    """
    _check_key(key)
    decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce, tag)).decryptor()
    inbuf = bytearray(CHUNK_SIZE)
    outbuf = bytearray(CHUNK_SIZE + 15)
    inview, outview = memoryview(inbuf), memoryview(outbuf)
    remaining = length
    while remaining > 0:
        n = _read_fully(reader, inview[: min(CHUNK_SIZE, remaining)])
        if n == 0:
            raise IntegrityError("ciphertext ended early: the file is truncated")
        written = decryptor.update_into(inview[:n], outbuf)
        plain = outview[:written]
        if on_plaintext is not None:
            on_plaintext(plain)
        if writer is not None:
            writer.write(plain)
        remaining -= n
        if progress is not None:
            progress(n)
    try:
        decryptor.finalize()
    except InvalidTag:
        raise IntegrityError(
            "decryption failed (authentication error): wrong key, or the file was modified or truncated"
        ) from None


def read_envelope(fileobj: BinaryIO) -> tuple[bytes, bytes, int]:
    """Read nonce and tag from a seekable file; return (nonce, tag, ciphertext length).

    Leaves the file positioned at the first ciphertext byte.
    """
    size = os.fstat(fileobj.fileno()).st_size
    if size < OVERHEAD:
        raise InvalidInputError(
            f"not a Go/Cocos AES-GCM file: {size} bytes, but at least {OVERHEAD} "
            f"({NONCE_SIZE}-byte nonce + {TAG_SIZE}-byte tag) are needed"
        )
    fileobj.seek(size - TAG_SIZE)
    tag = fileobj.read(TAG_SIZE)
    fileobj.seek(0)
    nonce = fileobj.read(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE or len(tag) != TAG_SIZE:
        raise IntegrityError("the file changed while it was being read")
    return nonce, tag, size - OVERHEAD


def decrypt_seekable(
    key: bytes,
    fileobj: BinaryIO,
    writer: Writable | None,
    *,
    on_plaintext: PlaintextSink | None = None,
    progress: Progress | None = None,
) -> int:
    """Decrypt a whole seekable file; return the plaintext length. See :func:`decrypt_range`."""
    nonce, tag, length = read_envelope(fileobj)
    decrypt_range(key, nonce, tag, fileobj, length, writer, on_plaintext=on_plaintext, progress=progress)
    return length
