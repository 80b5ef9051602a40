"""The Go/Cocos remote-resource format: ``nonce(12) ‖ ciphertext ‖ tag(16)``, AES-256-GCM, no AAD.

This is byte-for-byte what Go's ``gcm.Seal(nonce, nonce, plaintext, nil)`` writes. Everything here
streams in fixed-size chunks, so memory stays constant whatever the size of the data.

Large regular-file inputs go through a two-thread pipeline: an I/O thread reads input chunks and writes
the output chunks back, and the calling thread encrypts or decrypts in between. ``Cipher.update_into``
releases the GIL (measured with cryptography 50: another Python thread runs at full speed meanwhile), as
do ``preadv`` and ``write``, so on two cores the cipher overlaps the page-cache copies instead of adding
to them. (One I/O thread rather than a reader and a writer: the two copies together take about as long
as the cipher, which balances two cores with half the hand-offs.) :data:`CHUNK_SIZE` is small enough
that a chunk is still in cache when the other thread picks it up: with 1 MiB chunks the kernel spent
30-60% more time copying. Buffers are :data:`PIPELINE_DEPTH` pairs in one page-aligned mapping, so
memory stays constant, and each sits at its file position's offset within a page, so the kernel copies
are mutually aligned. The I/O thread has written everything before a function returns (and before a
decryption's tag is checked), and nothing is published here: callers publish only after that.
"""

from __future__ import annotations

import mmap
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
CHUNK_SIZE = 512 << 10
PIPELINE_DEPTH = 4  # chunks in flight between the I/O thread and the cipher
PIPELINE_MIN = 2 * CHUNK_SIZE  # below this a plain loop is faster than starting a thread
_PAGE = mmap.PAGESIZE

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


def regular_file_remaining(reader: BinaryIO) -> int | None:
    """Bytes left in ``reader`` if it is a regular file, else None (pipes, in-memory streams)."""
    try:
        info = os.fstat(reader.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        return max(0, info.st_size - reader.tell())
    except (OSError, ValueError, AttributeError):
        return None


Transform = Callable[[memoryview, memoryview], int]


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
        out = outview[: transform(chunk, outview[: n + 15])]
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


def _pread_fully(fd: int, view: memoryview, offset: int) -> int:
    """Fill ``view`` from ``fd`` at ``offset`` unless the file ends first; return how many bytes were read."""
    filled = 0
    while filled < len(view):
        n = os.preadv(fd, [view[filled:]], offset + filled)
        if not n:
            break
        filled += n
    return filled


def _file_position(fileobj: object) -> int:
    """Where the next write to ``fileobj`` lands in its file (0 if it has no position: a pipe, a socket)."""
    try:
        return int(fileobj.tell())  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return 0


def _crypt_pipelined(
    transform: Transform,
    reader: BinaryIO,
    writer: Writable | None,
    limit: int | None,
    on_input: PlaintextSink | None,
    on_output: PlaintextSink | None,
    progress: Progress | None,
) -> int:
    """:func:`_crypt_serial` for a regular file (up to ``limit`` bytes), with the I/O on a second thread.

    See the module docstring. Returns the number of bytes read, and leaves ``reader`` just past them.
    """
    fd = reader.fileno()
    start = reader.tell()
    size = CHUNK_SIZE
    # One anonymous mapping holds every buffer (page-aligned, never copied, freed in one go). Each buffer
    # starts at the same offset within a page as its file position, so the kernel's copies between the
    # page cache and these buffers are mutually aligned (misaligned, they cost up to twice as much).
    stride = size + 2 * _PAGE
    arena = mmap.mmap(-1, 2 * PIPELINE_DEPTH * stride)
    whole = memoryview(arena)
    in_at, out_at = start % _PAGE, _file_position(writer) % _PAGE if writer is not None else 0
    inputs = [whole[i * stride + in_at : i * stride + in_at + size] for i in range(PIPELINE_DEPTH)]
    base = PIPELINE_DEPTH * stride
    outputs = [
        whole[base + i * stride + out_at : base + i * stride + out_at + size + 15] for i in range(PIPELINE_DEPTH)
    ]
    to_crypt: queue.SimpleQueue[tuple[int, int] | BaseException | None] = queue.SimpleQueue()
    crypted: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()

    def io_loop() -> None:
        offset = start
        at_end = False
        in_flight = 0
        try:

            def read(slot: int) -> bool:
                nonlocal offset, at_end, in_flight
                want = size if limit is None else min(size, start + limit - offset)
                if at_end or want <= 0:
                    return False
                n = _pread_fully(fd, inputs[slot][:want], offset)
                offset += n
                at_end = n < want  # a short read is the end of the file
                if n:
                    to_crypt.put((slot, n))
                    in_flight += 1
                return n > 0

            for slot in range(PIPELINE_DEPTH):
                if not read(slot):
                    break
            while in_flight:
                item = crypted.get()
                if item is None:  # the cipher side stopped early
                    return
                in_flight -= 1
                slot, n = item
                if writer is not None:
                    _write_all(writer, outputs[slot][:n])
                read(slot)
        except BaseException as exc:  # handed to the calling thread, which raises it
            to_crypt.put(exc)
            return
        to_crypt.put(None)

    thread = threading.Thread(target=io_loop, name="cococtl-io", daemon=True)
    thread.start()
    total = 0
    try:
        while (item := to_crypt.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            slot, n = item
            chunk = inputs[slot][:n]
            if on_input is not None:
                on_input(chunk)
            written = transform(chunk, outputs[slot][: n + 15])
            if on_output is not None:
                on_output(outputs[slot][:written])
            crypted.put((slot, written))
            total += n
            if progress is not None:
                progress(n)
    finally:
        crypted.put(None)  # stops the I/O thread if it is still waiting for a chunk
        thread.join()
    reader.seek(start + total)
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
    remaining = regular_file_remaining(reader)
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
