"""File-level encryption and decryption in the Go/Cocos format, with safe publication.

Decrypted data is never published before its tag verifies: file outputs are staged in a 0600 file with
no name (or a temporary name; see :func:`cococtl.fsutil.atomic_output`) that gets its name afterwards;
stdout outputs are produced by a second pass that starts only once a first pass has authenticated the
whole ciphertext.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cococtl.crypto import gcm
from cococtl.fsutil import atomic_output, check_writable_destination, is_regular_file, open_input


class PlaintextDigests:
    """SHA-256 and SHA3-256 (the hash Cocos manifests carry) of the plaintext, fed chunk by chunk."""

    def __init__(self) -> None:
        import hashlib  # imported here, like tempfile and shutil below: most runs need none of them

        self._sha256 = hashlib.sha256()
        self._sha3 = hashlib.sha3_256()

    def update(self, chunk: memoryview) -> None:
        self._sha256.update(chunk)
        self._sha3.update(chunk)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def sha3_256(self) -> str:
        return self._sha3.hexdigest()


class BackgroundDigest:
    """A hash computed on a second thread (hashlib releases the GIL), so it overlaps decryption and I/O.

    SHA3-256 runs at about a third of AES-GCM's speed here; done inline it would dominate large runs.
    Chunks are copied because callers reuse their buffers; the bounded queue keeps memory constant.
    """

    def __init__(self, name: str = "sha3_256", depth: int = 8) -> None:
        import hashlib

        self._hash = hashlib.new(name)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._done = False

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hash.update(chunk)

    def update(self, chunk: memoryview) -> None:
        self._queue.put(bytes(chunk))

    def hexdigest(self) -> str:
        if not self._done:
            self._queue.put(None)
            self._thread.join()
            self._done = True
        return self._hash.hexdigest()


@dataclass(frozen=True)
class CryptResult:
    """What an encryption or decryption did. ``bytes`` counts plaintext bytes."""

    bytes: int
    sha256: str | None
    sha3_256: str | None


def _stdin() -> BinaryIO:
    return sys.stdin.buffer


def _stdout() -> BinaryIO:
    return sys.stdout.buffer


@contextlib.contextmanager
def _seekable_input(src: Path | None) -> Iterator[BinaryIO]:
    """Open ``src`` (None = stdin); spool a non-seekable stdin to an anonymous temp file.

    The spooled bytes are ciphertext, and the temp file has no name on disk.
    """
    if src is not None:
        with open_input(src) as handle:
            yield handle
        return
    stdin = _stdin()
    if is_regular_file(stdin):
        yield stdin
        return
    import shutil
    import tempfile

    with tempfile.TemporaryFile(prefix="cococtl-") as spool:
        shutil.copyfileobj(stdin, spool, gcm.CHUNK_SIZE)
        spool.flush()
        spool.seek(0)
        yield spool


def encrypt_file(
    key: bytes,
    src: Path | None,
    dst: Path | None,
    *,
    force: bool = False,
    digests: bool = False,
    progress: gcm.Progress | None = None,
) -> CryptResult:
    """Encrypt ``src`` (None = stdin) to ``dst`` (None = stdout) in the Go/Cocos format."""
    if dst is not None:
        check_writable_destination(dst, force=force)
    hashes = PlaintextDigests() if digests else None
    sink = hashes.update if hashes else None
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(open_input(src)) if src is not None else _stdin()
        if dst is None:
            writer = _stdout()
            total = gcm.encrypt_stream(key, reader, writer, on_plaintext=sink, progress=progress)
            writer.flush()
        else:
            left = gcm.regular_file_remaining(reader)
            size = None if left is None else left + gcm.OVERHEAD
            with atomic_output(dst, force=force, private=False, size=size) as out:
                total = gcm.encrypt_stream(key, reader, out, on_plaintext=sink, progress=progress)
    return CryptResult(total, hashes.sha256 if hashes else None, hashes.sha3_256 if hashes else None)


def decrypt_file(
    key: bytes,
    src: Path | None,
    dst: Path | None,
    *,
    force: bool = False,
    digests: bool = False,
    progress: gcm.Progress | None = None,
) -> CryptResult:
    """Decrypt ``src`` (None = stdin) to ``dst`` (None = stdout); publish only authenticated data.

    Raises :class:`~cococtl.errors.IntegrityError` (exit 7) on a wrong key or modified data and
    leaves no output behind.
    """
    if dst is not None:
        check_writable_destination(dst, force=force)
    hashes = PlaintextDigests() if digests else None
    sink = hashes.update if hashes else None
    with _seekable_input(src) as reader:
        if dst is not None:
            left = gcm.regular_file_remaining(reader)
            size = None if left is None else max(0, left - gcm.OVERHEAD)
            with atomic_output(dst, force=force, private=True, size=size) as out:
                total = gcm.decrypt_seekable(key, reader, out, on_plaintext=sink, progress=progress)
        else:
            # Pass 1 authenticates without emitting anything; pass 2 emits (and checks again).
            gcm.decrypt_seekable(key, reader, None, progress=progress)
            writer = _stdout()
            total = gcm.decrypt_seekable(key, reader, writer, on_plaintext=sink)
            writer.flush()
    return CryptResult(total, hashes.sha256 if hashes else None, hashes.sha3_256 if hashes else None)
