"""Encrypt a resource to the TEE public key as Trustee does (kbs/src/jwe): flattened JSON, A256GCM.

Written from the protocol description, independently of the client's decryption code.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from cococtl.kbs.b64 import b64url, b64url_decode

_EC = {"P-256": (ec.SECP256R1, 32), "P-521": (ec.SECP521R1, 66)}


class JweFailure(Exception):
    """The KBS cannot encrypt to this key (Trustee: 401 JweError)."""


def _kek(shared: bytes) -> bytes:
    alg = b"ECDH-ES+A256KW"
    other = len(alg).to_bytes(4, "big") + alg + (0).to_bytes(4, "big") * 2 + (256).to_bytes(4, "big")
    return ConcatKDFHash(hashes.SHA256(), 32, other).derive(shared)


def encrypt_to(tee_pubkey: dict[str, Any], plaintext: bytes) -> dict[str, str]:
    cek = os.urandom(32)
    kty, alg = tee_pubkey.get("kty"), tee_pubkey.get("alg")
    if kty == "RSA":
        n = int.from_bytes(b64url_decode(tee_pubkey["n"]), "big")
        e = int.from_bytes(b64url_decode(tee_pubkey["e"]), "big")
        public = rsa.RSAPublicNumbers(e, n).public_key()
        if alg == "RSA-OAEP-256":
            wrapped = public.encrypt(cek, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None))
        elif alg == "RSA1_5":
            wrapped = public.encrypt(cek, padding.PKCS1v15())
        else:
            raise JweFailure(f"unsupported RSA alg {alg}")
        header: dict[str, Any] = {"alg": alg, "enc": "A256GCM"}
    elif kty == "EC" and alg == "ECDH-ES+A256KW" and tee_pubkey.get("crv") in _EC:
        curve, size = _EC[tee_pubkey["crv"]]
        x, y = b64url_decode(tee_pubkey["x"]), b64url_decode(tee_pubkey["y"])
        if len(x) != size or len(y) != size:
            raise JweFailure("EC coordinates must have their fixed length")
        peer = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve()).public_key()
        ephemeral = ec.generate_private_key(curve())
        wrapped = aes_key_wrap(_kek(ephemeral.exchange(ec.ECDH(), peer)), cek)
        point = ephemeral.public_key().public_numbers()
        epk = {
            "crv": tee_pubkey["crv"],
            "kty": "EC",
            "x": b64url(point.x.to_bytes(size, "big")),
            "y": b64url(point.y.to_bytes(size, "big")),
        }
        header = {"alg": alg, "enc": "A256GCM", "epk": epk}
    else:
        raise JweFailure(f"unsupported key {kty}/{alg}")
    protected = b64url(json.dumps(header, separators=(",", ":")).encode())
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    return {
        "protected": protected,
        "encrypted_key": b64url(wrapped),
        "iv": b64url(iv),
        "ciphertext": b64url(sealed[:-16]),
        "tag": b64url(sealed[-16:]),
    }
