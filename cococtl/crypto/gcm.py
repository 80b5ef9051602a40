"""The Go/Cocos remote-resource format: ``nonce(12) ‖ ciphertext ‖ tag(16)``, AES-256-GCM, no AAD.

This is byte-for-byte what Go's ``gcm.Seal(nonce, nonce, plaintext, nil)`` writes. Everything here
streams in fixed-size chunks, so memory stays constant whatever the size of the data.

Large regular-file inputs go through a three-stage pipeline: a reader thread fills input buffers, the
calling thread encrypts or decrypts (OpenSSL holds the GIL while it does), and a writer thread drains
output buffers. ``read`` and ``write`` release the GIL, so the copy in and out of the page cache overlaps
the cipher instead of adding to it. Buffers come from two fixed pools of :data:`PIPELINE_DEPTH` chunks,
so memory stays constant; the writer has written everything before a function returns (and before a
decryption's tag is checked), and nothing is published here: callers publish only after that.
"""

from __future__ import annotations

import os
import queue
import stat
import threading
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
PIPELINE_DEPTH = 4  # chunks in flight on each side of the cipher
PIPELINE_MIN = 2 * CHUNK_SIZE  # below this a plain loop is faster than starting two threads

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


def _write_all(writer: Writable, view: memoryview) -> None:
    """Write all of ``view``: a raw (unbuffered) file may write less than it was given."""
    while view:
        n = writer.write(view)
        if n is None or n >= len(view):
            return
        if n <= 0:
            raise OSError("short write: the output accepted no more bytes")
        view = view[n:]


def _regular_file_remaining(reader: BinaryIO) -> int | None:
    """Bytes left in ``reader`` if it is a regular file, else None (pipes, in-memory streams)."""
    try:
        info = os.fstat(reader.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        return max(0, info.st_size - reader.tell())
    except (OSError, ValueError, AttributeError):
        return None


Transform = Callable[[memoryview, bytearray], int]


def _crypt_serial(
    transform: Transform,
    reader: BinaryIO,
    writer: Writable | None,
    limit: int | None,
    on_input: PlaintextSink | None,
    on_output: PlaintextSink | None,
    progress: Progress | None,
) -> int:
    inbuf = bytearray(CHUNK_SIZE)
    outbuf = bytearray(CHUNK_SIZE + 15)
    inview, outview = memoryview(inbuf), memoryview(outbuf)
    total = 0
    while limit is None or total < limit:
        want = CHUNK_SIZE if limit is None else min(CHUNK_SIZE, limit - total)
        n = _read_fully(reader, inview[:want])
        if n == 0:
            break
        chunk = inview[:n]
        if on_input is not None:
            on_input(chunk)
        out = outview[: transform(chunk, outbuf)]
        if on_output is not None:
            on_output(out)
        if writer is not None:
            _write_all(writer, out)
        total += n
        if progress is not None:
            progress(n)
        if n < want:
            break
    return total


_Filled = tuple[bytearray, int] | BaseException | None


def _crypt_pipelined(
    transform: Transform,
    reader: BinaryIO,
    writer: Writable | None,
    limit: int | None,
    on_input: PlaintextSink | None,
    on_output: PlaintextSink | None,
    progress: Progress | None,
) -> int:
    """:func:`_crypt_serial` with reads and writes on their own threads (see the module docstring)."""
    free_in: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
    free_out: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    filled: queue.SimpleQueue[_Filled] = queue.SimpleQueue()
    to_write: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
    for _ in range(PIPELINE_DEPTH):
        free_in.put(bytearray(CHUNK_SIZE))
        free_out.put(bytearray(CHUNK_SIZE + 15))
    write_error: list[BaseException] = []

    def read_loop() -> None:
        remaining = limit
        try:
            while (buf := free_in.get()) is not None:
                want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                n = _read_fully(reader, memoryview(buf)[:want])
                filled.put((buf, n))
                if remaining is not None:
                    remaining -= n
                if n < want or remaining == 0:
                    break
        except BaseException as exc:  # handed to the calling thread, which raises it
            filled.put(exc)
            return
        filled.put(None)

    def write_loop() -> None:
        assert writer is not None
        while (item := to_write.get()) is not None:
            buf, n = item
            if not write_error:
                try:
                    _write_all(writer, memoryview(buf)[:n])
                except BaseException as exc:  # raised by the calling thread
                    write_error.append(exc)
            free_out.put(buf)

    threads = [threading.Thread(target=read_loop, name="cococtl-read", daemon=True)]
    if writer is not None:
        threads.append(threading.Thread(target=write_loop, name="cococtl-write", daemon=True))
    for thread in threads:
        thread.start()
    total = 0
    finished = False
    try:
        while (item := filled.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            buf, n = item
            if n:
                chunk = memoryview(buf)[:n]
                if on_input is not None:
                    on_input(chunk)
                out = free_out.get()
                if write_error:
                    raise write_error[0]
                written = transform(chunk, out)
                free_in.put(buf)
                if on_output is not None:
                    on_output(memoryview(out)[:written])
                if writer is not None:
                    to_write.put((out, written))
                else:
                    free_out.put(out)
                total += n
                if progress is not None:
                    progress(n)
        finished = True
    finally:
        free_in.put(None)  # stops the reader if it is still waiting for a buffer
        to_write.put(None)  # the writer drains what it has, then stops
        for thread in threads:
            thread.join()
    if finished and write_error:
        raise write_error[0]
    return total


def _crypt_chunks(
    transform: Transform,
    reader: BinaryIO,
    writer: Writable | None,
    *,
    limit: int | None = None,
    on_input: PlaintextSink | None = None,
    on_output: PlaintextSink | None = None,
    progress: Progress | None = None,
) -> int:
    """Feed ``reader`` (up to ``limit`` bytes, else to its end) through ``transform`` into ``writer``.

    Returns the number of bytes read. Threads are used only for regular files with enough data left:
    they are the inputs whose reads never block indefinitely, so stopping early is always prompt.
    """
    remaining = _regular_file_remaining(reader)
    if remaining is not None and limit is not None:
        remaining = min(remaining, limit)
    if remaining is not None and remaining > PIPELINE_MIN:
        with_fd = getattr(reader, "fileno", None)
        if with_fd is not None:
            try:
                os.posix_fadvise(with_fd(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except (OSError, AttributeError):
                pass
        return _crypt_pipelined(transform, reader, writer, limit, on_input, on_output, progress)
    return _crypt_serial(transform, reader, writer, limit, on_input, on_output, progress)


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
    _write_all(writer, memoryview(nonce))
    total = _crypt_chunks(encryptor.update_into, reader, writer, on_input=on_plaintext, progress=progress)
    encryptor.finalize()
    _write_all(writer, memoryview(encryptor.tag))
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
    got = _crypt_chunks(decryptor.update_into, reader, writer, limit=length, on_output=on_plaintext, progress=progress)
    if got < length:
        raise IntegrityError("ciphertext ended early: the file is truncated")
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
