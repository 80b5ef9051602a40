"""ocicrypt's ``AES_256_CTR_HMAC_SHA256`` layer cipher, streaming.

Ciphertext = AES-256-CTR(symkey, the 16-byte nonce as the initial 128-bit big-endian counter) of the whole
blob; HMAC-SHA256 keyed with the same symkey over the whole ciphertext (encrypt-then-MAC). Same length.
"""

from __future__ import annotations

import hashlib
import hmac
import os
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
    out = bytearray(CHUNK + 16)
    view = memoryview(out)
    while chunk := reader.read(CHUNK):
        n = encryptor.update_into(chunk, out)
        piece = view[:n]
        mac.update(piece)
        digest.update(piece)
        writer.write(piece)
        size += n
    return EncryptedLayer(symkey, nonce, mac.digest(), f"sha256:{digest.hexdigest()}", size)


def decrypt_layer(reader: BinaryIO, writer: Writable, symkey: bytes, nonce: bytes, expected_hmac: bytes) -> str:
    """Decrypt a layer (HMAC checked as we go and at the end; the caller publishes only on success).

    Returns the sha256 digest of the plaintext blob.
    """
    decryptor = Cipher(algorithms.AES(symkey), modes.CTR(nonce)).decryptor()
    mac = hmac.new(symkey, digestmod=hashlib.sha256)
    digest = hashlib.sha256()
    out = bytearray(CHUNK + 16)
    view = memoryview(out)
    while chunk := reader.read(CHUNK):
        mac.update(chunk)
        n = decryptor.update_into(chunk, out)
        digest.update(view[:n])
        writer.write(view[:n])
    if not hmac.compare_digest(mac.digest(), expected_hmac):
        raise IntegrityError("layer HMAC mismatch: the encrypted layer was modified or the key is wrong")
    return f"sha256:{digest.hexdigest()}"
