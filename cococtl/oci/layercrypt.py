"""ocicrypt's ``AES_256_CTR_HMAC_SHA256`` layer cipher, streaming.

Ciphertext = AES-256-CTR(symkey, the 16-byte nonce as the initial 128-bit big-endian counter) of the whole
blob; HMAC-SHA256 keyed with the same symkey over the whole ciphertext (encrypt-then-MAC). Same length.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cococtl.crypto.gcm import Writable
from cococtl.errors import IntegrityError

CHUNK = 1 << 20


@dataclass(frozen=True)
class EncryptedLayer:
    symkey: bytes
    nonce: bytes
    hmac: bytes
    digest: str
    size: int


class _Background:
    """Hands chunks to ``consume`` on a second thread, so disk writes and the hashes overlap the cipher (hashlib
    and the cipher release the GIL on large buffers; a bounded queue keeps memory constant). Errors surface on
    :meth:`close`."""

    def __init__(self, consume: Callable[[bytes], object], depth: int = 4) -> None:
        self._consume = consume
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._consume(chunk)
                except BaseException as error:  # re-raised in the caller's thread by close()
                    self._error = error

    def write(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def _digesting(digest: hashlib._Hash, observer: Callable[[bytes], None] | None) -> Callable[[bytes], None]:
    def consume(chunk: bytes) -> None:
        digest.update(chunk)
        if observer is not None:
            observer(chunk)

    return consume


def encrypt_layer(
    reader: BinaryIO, writer: Writable, *, symkey: bytes | None = None, nonce: bytes | None = None
) -> EncryptedLayer:
    """Encrypt a layer blob; return the key material, HMAC, and digest/size of the ciphertext."""
    symkey = symkey or os.urandom(32)
    nonce = nonce or os.urandom(16)
    encryptor = Cipher(algorithms.AES(symkey), modes.CTR(nonce)).encryptor()
    mac = hmac.new(symkey, digestmod=hashlib.sha256)
    digest = hashlib.sha256()
    size = 0
    background, hashing = _Background(writer.write), _Background(digest.update)
    try:
        while chunk := reader.read(CHUNK):
            piece = encryptor.update(chunk)
            background.write(piece)
            hashing.write(piece)
            mac.update(piece)
            size += len(piece)
    finally:
        try:
            hashing.close()
        finally:
            background.close()
    return EncryptedLayer(symkey, nonce, mac.digest(), f"sha256:{digest.hexdigest()}", size)


def decrypt_layer(
    reader: BinaryIO,
    writer: Writable,
    symkey: bytes,
    nonce: bytes,
    expected_hmac: bytes,
    observer: Callable[[bytes], None] | None = None,
) -> str:
    """Decrypt a layer (HMAC checked at the end; the caller publishes only on success).

    ``observer`` sees every plaintext chunk in order (the diff_id hasher). Returns the plaintext blob's digest.
    """
    decryptor = Cipher(algorithms.AES(symkey), modes.CTR(nonce)).decryptor()
    mac = hmac.new(symkey, digestmod=hashlib.sha256)
    digest = hashlib.sha256()
    # The plaintext's digest and the observer (the diff_id hasher, which may gunzip) run on their own thread.
    background, hashing = _Background(writer.write), _Background(_digesting(digest, observer))
    try:
        while chunk := reader.read(CHUNK):
            mac.update(chunk)
            plain = decryptor.update(chunk)
            background.write(plain)
            hashing.write(plain)
    finally:
        try:
            hashing.close()
        finally:
            background.close()
    if not hmac.compare_digest(mac.digest(), expected_hmac):
        raise IntegrityError("layer HMAC mismatch: the encrypted layer was modified or the key is wrong")
    return f"sha256:{digest.hexdigest()}"


def layer_hmac(path: str | os.PathLike[str], symkey: bytes) -> bytes:
    """HMAC-SHA256 of an encrypted layer blob under its symkey (what ``pubopts`` carries)."""
    mac = hmac.new(symkey, digestmod=hashlib.sha256)
    with open(path, "rb") as reader:
        while chunk := reader.read(CHUNK):
            mac.update(chunk)
    return mac.digest()
