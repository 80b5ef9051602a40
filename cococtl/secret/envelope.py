"""Envelope secrets: the data under a fresh 256-bit key (DEK), the DEK wrapped by a key the KBS holds (KEK).

The layout is CDH's ``EnvelopeSecret`` (confidential-data-hub/hub/src/secret/layout/envelope.rs:45-70), filled the
way ``secret seal envelope`` fills it (hub/src/bin/secret_cli.rs:284-318): a random 32-byte DEK and 12-byte IV,
``encrypted_data`` = standard base64 of AES-256-GCM(DEK, IV, data) as ``ciphertext || tag``
(attestation-agent/deps/crypto/src/rust/aes256gcm.rs ``encrypt``, no AAD), ``iv`` standard base64, ``wrap_type``
``A256GCM``; unsealing decodes the three with STANDARD base64 and calls ``crypto::decrypt`` (envelope.rs:73-112).

The ``kbs`` provider is cococtl's: upstream CDH has no KBS ``Decrypter`` (confidential-data-hub/kms/src/plugins/
mod.rs:25-38 lists aliyun, aws and ehsm only), so a guest's CDH cannot unseal these envelopes; ``cococtl secret
unseal`` can. ``key_id`` is the KEK's ``kbs:///repo/type/tag``; ``encrypted_key`` is standard base64 of
AES-256-GCM(KEK, wrap IV, DEK) (``ciphertext || tag``); the wrap IV and algorithm are in ``annotations``
(``{"iv": …, "wrap_type": "A256GCM"}``), as other providers keep their unwrap parameters there.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cococtl.errors import IntegrityError, InvalidInputError
from cococtl.secret.model import Secret

PROVIDER = "kbs"


def b64std(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64std_decode(text: str, *, what: str) -> bytes:
    """Standard base64 with canonical padding, as the ``base64`` crate's STANDARD engine decodes."""
    if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) or len(text) % 4:
        raise InvalidInputError(f"sealed secret: {what} is not standard base64")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"sealed secret: {what} is not standard base64") from None
    if b64std(data) != text:
        raise InvalidInputError(f"sealed secret: {what} is not canonical base64")
    return data


def seal(plaintext: bytes, kek: bytes, key_id: str) -> Secret:
    if len(kek) != 32:
        raise InvalidInputError(f"the key-encryption key must be 32 raw bytes, not {len(kek)}")
    dek, iv, wrap_iv = os.urandom(32), os.urandom(12), os.urandom(12)
    return Secret(
        "envelope",
        {
            "key_id": key_id,
            "encrypted_key": b64std(AESGCM(kek).encrypt(wrap_iv, dek, None)),
            "encrypted_data": b64std(AESGCM(dek).encrypt(iv, plaintext, None)),
            "wrap_type": "A256GCM",
            "iv": b64std(iv),
            "provider": PROVIDER,
            "provider_settings": {},
            "annotations": {"iv": b64std(wrap_iv), "wrap_type": "A256GCM"},
        },
    )


def unwrap_dek(secret: Secret, kek: bytes) -> bytes:
    if secret.provider != PROVIDER:
        raise InvalidInputError(
            f"envelope provider {secret.provider!r}: cococtl unwraps only provider kbs (the KMS holds this key)"
        )
    if len(kek) != 32:
        raise IntegrityError(f"the key at {secret['key_id']} is {len(kek)} bytes, not a 32-byte AES key")
    annotations = secret["annotations"]
    if annotations.get("wrap_type", "A256GCM") != "A256GCM" or not isinstance(annotations.get("iv"), str):
        raise InvalidInputError("sealed secret: a kbs envelope needs annotations {iv, wrap_type: A256GCM}")
    wrap_iv = b64std_decode(annotations["iv"], what="annotations.iv")
    wrapped = b64std_decode(secret["encrypted_key"], what="encrypted_key")
    if len(wrap_iv) != 12:
        raise InvalidInputError("sealed secret: annotations.iv must be 12 bytes")
    try:
        dek = AESGCM(kek).decrypt(wrap_iv, wrapped, None)
    except InvalidTag:
        raise IntegrityError(f"the key at {secret['key_id']} does not unwrap this envelope (wrong key?)") from None
    if len(dek) != 32:
        raise IntegrityError("the unwrapped data key is not 32 bytes")
    return dek


def decrypt_data(secret: Secret, dek: bytes) -> bytes:
    """``crypto::decrypt(dek, encrypted_data, iv, wrap_type)``: 12-byte IV for A256GCM, 16 for A256CTR."""
    iv = b64std_decode(secret["iv"], what="iv")
    data = b64std_decode(secret["encrypted_data"], what="encrypted_data")
    if secret["wrap_type"] == "A256GCM":
        if len(iv) != 12:
            raise InvalidInputError("sealed secret: the A256GCM iv must be 12 bytes")
        try:
            return AESGCM(dek).decrypt(iv, data, None)
        except InvalidTag:
            raise IntegrityError("the envelope's data does not authenticate") from None
    if len(iv) != 16:
        raise InvalidInputError("sealed secret: the A256CTR iv must be 16 bytes")
    decryptor = Cipher(algorithms.AES(dek), modes.CTR(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def open_envelope(secret: Secret, kek: bytes) -> bytes:
    return decrypt_data(secret, unwrap_dek(secret, kek))
