"""TEE key pairs and the KBS's JWE responses (flattened JSON, ``enc`` A256GCM).

The JOSE work (key unwrapping for ECDH-ES+A256KW, RSA-OAEP-256 and RSA1_5, A256GCM) is joserfc's. Ours are the
parts of the KBS format that a JOSE library does not cover: the key pair and the ``tee-pubkey`` JWK the KBS hashes
(fixed-length EC coordinates; exactly EC ``alg,crv,kty,x,y`` or RSA ``alg,e,kty,n``), the shape checks of the
response with their messages, and which joserfc entry point keeps the AAD equal to the *received* ``protected``
text (RFC 7516 §5.2 step 14; spec/kbs-protocol.md "AEAD AAD"):

- Trustee's layout (every header member in ``protected``, no per-recipient ``header``) is handed to joserfc as
  the equivalent compact serialization, whose AAD is the received protected segment byte for byte.
- joserfc's JSON-serialization decryption re-serialises the parsed protected header to get the AAD (joserfc 1.8
  ``_rfc7516/message.py``: ``aad = json_b64encode(obj.protected)``). It is used only for JWEs that carry a
  per-recipient ``header`` (the ``epk`` there, as other JOSE libraries write it: Trustee never does), and only
  when that re-serialisation is the received text, so the AAD is the received text on both paths.

joserfc is imported inside the functions that use it: ``cococtl --version`` must not pay for it.

The experimental ``ML-KEM-768+A192KW`` key management (draft-ietf-jose-pqc-kem-05, guest-components' and
Trustee's ``pqc-experimental`` builds) is not in joserfc and is done here: the TEE key is an ``AKP`` JWK
(``{"alg", "kty": "AKP", "pub": base64url(1184-byte encapsulation key)}``); the KBS puts the KEM ciphertext in
the protected header's ``ek``; the AES-192 key-wrapping key is KMAC256 (NIST SP 800-185, empty customization)
keyed with the ML-KEM shared secret over ``be32(len(alg)) || alg || be32(192)``; A192KW unwraps the 32-byte
CEK; A256GCM with the received protected text as AAD decrypts the payload. ML-KEM is ``cryptography``'s, which
has it from 47.0 on (``MLKEM_CRYPTOGRAPHY``; older releases still serve the classic key types); ``cryptography``
has no KMAC, so KMAC256 is pycryptodome's (the ``pqc`` extra). Both are imported on the ML-KEM path only, and
checked when the key is made or read, before anything goes on the wire: a missing one is exit 8.
"""

from __future__ import annotations

import binascii
import contextlib
import importlib
import json
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from cococtl.errors import (
    CococtlError,
    ExternalToolError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    missing_module_error,
)
from cococtl.kbs.b64 import b64url, b64url_decode

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
    from joserfc.jwe import JWERegistry

ECDH_ALG = "ECDH-ES+A256KW"
RSA_ALGS = ("RSA-OAEP-256", "RSA1_5")
_CURVES: dict[str, tuple[type[ec.EllipticCurve], int]] = {"P-256": (ec.SECP256R1, 32), "P-521": (ec.SECP521R1, 66)}
KEY_TYPES = ("ec-p256", "ec-p521", "rsa", "rsa1_5")
# Opt-in only: Trustee and guest-components speak it only when built with ``pqc-experimental``.
EXPERIMENTAL_KEY_TYPES = ("ml-kem-768",)
MLKEM_ALG = "ML-KEM-768+A192KW"
# The first cryptography release with ``cryptography.hazmat.primitives.asymmetric.mlkem`` (pyproject allows 42).
MLKEM_CRYPTOGRAPHY = "47.0"
_MLKEM_PUBLIC_LEN = 1184  # FIPS 203 ML-KEM-768 encapsulation key
_A192KW_LEN = 24
_ENC = "A256GCM"
# joserfc's default size limits (64 KiB of ciphertext, 1 KiB of header) are a DoS guard for tokens; a KBS
# resource has no such limit in Trustee, and the response is already in memory when it is decrypted.
_NO_LIMIT = 1 << 62
# joserfc warns on every use of RSA1_5; old Trustee versions only speak it, and the user asked for it.
_RSA1_5_WARNING = 'JWE algorithm "RSA1_5" is deprecated'
# warnings.catch_warnings swaps process-wide state: one lock keeps our own concurrent decryptions from
# restoring each other's filters.
_WARNINGS_LOCK = threading.Lock()


def concat_kdf(shared: bytes, alg: str = ECDH_ALG, bits: int = 256) -> bytes:
    """RFC 7518 §4.6.2 Concat KDF with empty apu/apv, as the KBS derives the AES-KW key."""
    other = len(alg).to_bytes(4, "big") + alg.encode() + bytes(4) + bytes(4) + bits.to_bytes(4, "big")
    return ConcatKDFHash(hashes.SHA256(), bits // 8, other).derive(shared)


def _pqc_missing(exc: ImportError) -> CococtlError:
    if isinstance(exc, ModuleNotFoundError):
        return missing_module_error(exc)  # Crypto -> the pqc extra
    return ExternalToolError(
        f"the ML-KEM-768 TEE key needs pycryptodome 3.20 or newer for KMAC256: {exc}",
        hint="pip install 'cococtl[pqc]'",
    )


def kmac256(key: bytes, message: bytes, length: int, customization: bytes = b"") -> bytes:
    """KMAC256 (NIST SP 800-185 §4.3) with a ``length``-byte output: pycryptodome's (the ``pqc`` extra), which
    wants a key of at least 32 bytes (an ML-KEM shared secret is 32) and an output of at least 8."""
    try:
        from Crypto.Hash import KMAC256
    except ImportError as exc:
        raise _pqc_missing(exc) from None
    return KMAC256.new(key=key, data=message, mac_len=length, custom=customization).digest()


def _mlkem_class() -> type[MLKEM768PrivateKey] | None:
    try:
        from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
    except ImportError:
        return None
    return MLKEM768PrivateKey


def _require_mlkem() -> type[MLKEM768PrivateKey]:
    """What the ML-KEM path needs, checked when the key is made or read: cryptography's ML-KEM and pycryptodome's
    KMAC256. Exit 8 otherwise."""
    import cryptography

    key_class = _mlkem_class()
    if key_class is None:
        raise ExternalToolError(
            f"the ML-KEM-768 TEE key needs cryptography {MLKEM_CRYPTOGRAPHY} or newer "
            f"(cryptography {cryptography.__version__} is installed)",
            hint=f"pip install 'cryptography>={MLKEM_CRYPTOGRAPHY}'",
        )
    try:
        importlib.import_module("Crypto.Hash.KMAC256")
    except ImportError as exc:
        raise _pqc_missing(exc) from None
    return key_class


def kmac256_kdf(shared: bytes, alg: str = MLKEM_ALG, length: int = _A192KW_LEN) -> bytes:
    """The key-wrapping key of ML-KEM-768+A192KW as guest-components and Trustee derive it (akp.rs
    ``kmac256_kdf``): KMAC256(K = shared secret, X = be32(len(alg)) || alg || be32(bits), L = bits, S = "")."""
    fixed_info = len(alg).to_bytes(4, "big") + alg.encode() + (8 * length).to_bytes(4, "big")
    return kmac256(shared, fixed_info, length)


@contextlib.contextmanager
def _deliberate(alg: str) -> Iterator[None]:
    """Silence joserfc's RSA1_5 deprecation warning for an RSA1_5 JWE only; other algorithms run untouched."""
    if alg != "RSA1_5":
        yield
        return
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_RSA1_5_WARNING)
        yield


def _registry(alg: str) -> JWERegistry:
    from joserfc.jwe import JWERegistry

    # Only the one key-management algorithm the TEE key was checked for, and A256GCM. Header members joserfc
    # does not know are ignored, as kbs-types' ProtectedHeader keeps them in ``other_fields``.
    registry = JWERegistry(algorithms=[alg, _ENC], strict_check_header=False)
    registry.max_protected_header_length = registry.max_encrypted_key_length = _NO_LIMIT
    registry.max_ciphertext_length = _NO_LIMIT
    return registry


@dataclass(frozen=True)
class TeeKeyPair:
    """The key pair whose public part goes into ``runtime-data.tee-pubkey``."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | MLKEM768PrivateKey
    alg: str

    @classmethod
    def generate(cls, kind: str = "ec-p256") -> TeeKeyPair:
        if kind == "ec-p256":
            return cls(ec.generate_private_key(ec.SECP256R1()), ECDH_ALG)
        if kind == "ec-p521":
            return cls(ec.generate_private_key(ec.SECP521R1()), ECDH_ALG)
        if kind in ("rsa", "rsa1_5"):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return cls(key, "RSA-OAEP-256" if kind == "rsa" else "RSA1_5")
        if kind == "ml-kem-768":
            key_class = _require_mlkem()
            try:
                return cls(key_class.generate(), MLKEM_ALG)
            except UnsupportedAlgorithm:  # cryptography built against an OpenSSL before 3.5
                raise ExternalToolError(
                    "the ML-KEM-768 TEE key needs a cryptography whose OpenSSL has ML-KEM (3.5 or newer)",
                    hint="its wheels have it: pip install --force-reinstall --only-binary :all: cryptography",
                ) from None
        known = ", ".join(KEY_TYPES + EXPERIMENTAL_KEY_TYPES)
        raise InvalidInputError(f"unknown TEE key type {kind!r}: expected one of {known}")

    @classmethod
    def from_pem(cls, path: Path, *, rsa_alg: str = "RSA-OAEP-256") -> TeeKeyPair:
        """RSA (PKCS#1 or PKCS#8), EC P-256/P-521 (PKCS#8 or SEC1) or ML-KEM-768 (PKCS#8) private key PEM."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"TEE key file {path} does not exist") from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidInputError(f"TEE key file {path} is not an unencrypted private key PEM: {exc}") from None
        if isinstance(key, rsa.RSAPrivateKey):
            return cls(key, rsa_alg)
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in ("secp256r1", "secp521r1"):
            return cls(key, ECDH_ALG)
        key_class = _mlkem_class()
        if key_class is not None and isinstance(key, key_class):
            _require_mlkem()
            return cls(key, MLKEM_ALG)
        raise InvalidInputError(f"TEE key file {path}: only RSA, EC P-256/P-521 and ML-KEM-768 keys are supported")

    def to_pem(self) -> bytes:
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            fmt = serialization.PrivateFormat.TraditionalOpenSSL
        else:
            fmt = serialization.PrivateFormat.PKCS8
        return self.private_key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())

    def public_jwk(self) -> dict[str, str]:
        """Exactly the members the KBS keeps (and hashes): no ``use``, no ``kid``."""
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            numbers = key.public_key().public_numbers()
            n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
            e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
            return {"alg": self.alg, "e": b64url(e), "kty": "RSA", "n": b64url(n)}
        if isinstance(key, ec.EllipticCurvePrivateKey):
            crv = "P-256" if key.curve.name == "secp256r1" else "P-521"
            size = _CURVES[crv][1]
            point = key.public_key().public_numbers()
            return {
                "alg": ECDH_ALG,
                "crv": crv,
                "kty": "EC",
                "x": b64url(point.x.to_bytes(size, "big")),
                "y": b64url(point.y.to_bytes(size, "big")),
            }
        # ML-KEM-768 (the only other kind): kbs-types 0.18 TeePubKey::AKP {alg, pub}; guest-components akp.rs
        # to_pub_jwk.
        return {"alg": MLKEM_ALG, "kty": "AKP", "pub": b64url(key.public_key().public_bytes_raw())}

    def decrypt(self, body: Any) -> bytes:
        """Decrypt a flattened-JSON JWE from the KBS. Raises IntegrityError (exit 7) when it cannot."""
        try:
            return self._decrypt(body)
        except InvalidInputError as error:
            raise IntegrityError(f"the KBS response is not a valid JWE: {error.message}") from None

    def _decrypt(self, body: Any) -> bytes:
        if isinstance(body, bytes | str):
            try:
                body = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise IntegrityError("the KBS response is not a JWE (not JSON)") from None
        fields = parse_flattened_jwe(body)
        protected_text = fields["protected"]
        # The JOSE header is the union of the protected and per-recipient headers (RFC 7516 §4); Trustee
        # puts everything in "protected", other JOSE implementations put "epk" in "header".
        unprotected = body.get("header")
        unprotected = unprotected if isinstance(unprotected, dict) and unprotected else None
        protected = _protected_header(protected_text)
        header = {**(unprotected or {}), **protected}
        self._check_header(header)
        iv = b64url_decode(fields["iv"], what="iv")
        tag = b64url_decode(fields["tag"], what="tag")
        if len(iv) != 12 or len(tag) != 16:
            raise IntegrityError(f"unsupported JWE content encryption {header.get('enc')!r}")
        if not isinstance(self.private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            return _mlkem_decrypt(self.private_key, header, fields, iv, tag)
        segments = [protected_text, fields.get("encrypted_key", ""), fields["iv"], fields["ciphertext"], fields["tag"]]
        if any("." in segment for segment in segments):
            raise InvalidInputError("a JWE member is not unpadded base64url")
        return self._joserfc_decrypt(str(header["alg"]), segments, protected, unprotected)

    def _check_header(self, header: dict[str, Any]) -> None:
        """What the KBS format requires before any cryptography, with our messages (joserfc would refuse too)."""
        alg = header.get("alg")
        if header.get("enc") != _ENC:
            raise IntegrityError(f"unsupported JWE content encryption {header.get('enc')!r}")
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            if alg not in RSA_ALGS:
                raise IntegrityError(f"JWE alg {alg!r} does not fit an RSA TEE key")
            return
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey):  # ML-KEM-768
            if alg != MLKEM_ALG:
                raise IntegrityError(f"JWE alg {alg!r} does not fit an ML-KEM-768 TEE key")
            if not isinstance(header.get("ek"), str):
                raise IntegrityError("the JWE header has no usable ek (the ML-KEM ciphertext)")
            return
        if alg != ECDH_ALG:
            raise IntegrityError(f"JWE alg {alg!r} does not fit an EC TEE key")
        epk = header.get("epk")
        if not isinstance(epk, dict) or epk.get("kty") != "EC" or epk.get("crv") not in _CURVES:
            raise IntegrityError("the JWE header has no usable epk")
        # guest-components kbs_protocol keypair.rs: the epk curve must be the key's.
        if not isinstance(self.private_key.curve, _CURVES[epk["crv"]][0]):
            raise IntegrityError(f"the JWE epk curve {epk['crv']} differs from the TEE key's")

    def _joserfc_decrypt(
        self, alg: str, segments: list[str], protected: dict[str, Any], unprotected: dict[str, Any] | None
    ) -> bytes:
        from joserfc import jwe
        from joserfc.errors import JoseError
        from joserfc.jwk import ECKey, RSAKey
        from joserfc.util import json_b64encode

        key: RSAKey | ECKey
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            key = RSAKey.import_key(self.private_key)
        elif isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            key = ECKey.import_key(self.private_key)
        else:  # pragma: no cover - _decrypt takes the ML-KEM path before
            raise IntegrityError("joserfc has no ML-KEM key management")
        registry = _registry(alg)
        try:
            with _deliberate(alg):
                if unprotected is None:
                    # Without a per-recipient header the flattened JWE is the compact one member for member
                    # (RFC 7516 §7.1, §7.2.2), and joserfc's compact path authenticates the received protected
                    # segment. "unprotected" and "aad", which Trustee never sends, are ignored as they always were.
                    plaintext = jwe.decrypt_compact(".".join(segments), key, registry=registry).plaintext
                else:
                    if json_b64encode(protected).decode("ascii") != segments[0]:
                        # joserfc would authenticate its re-serialisation, not these bytes (see the docstring).
                        raise IntegrityError(
                            "the JWE protected header is not in compact form, which joserfc's JSON decryption "
                            "needs when the JWE also has a per-recipient header"
                        )
                    names = ("protected", "encrypted_key", "iv", "ciphertext", "tag")
                    data: Any = {"header": unprotected, **dict(zip(names, segments, strict=True))}
                    plaintext = jwe.decrypt_json(data, key, registry=registry).plaintext
        except (JoseError, ValueError, KeyError, TypeError) as error:
            raise IntegrityError(_failure(error)) from None
        if plaintext is None:  # pragma: no cover - joserfc sets it on success
            raise IntegrityError("the KBS response JWE has no plaintext")
        return plaintext


def _mlkem_decrypt(
    key: MLKEM768PrivateKey, header: dict[str, Any], fields: dict[str, str], iv: bytes, tag: bytes
) -> bytes:
    """ML-KEM-768+A192KW (guest-components kbs_protocol keypair.rs ``unwrap_cek``, akp.rs
    ``decapsulate_and_unwrap``), then A256GCM with the received protected text as AAD."""
    kem_ciphertext = b64url_decode(header["ek"], what="ek")
    try:
        shared = key.decapsulate(kem_ciphertext)
    except ValueError:
        raise IntegrityError("the JWE ek is not an ML-KEM-768 ciphertext") from None
    wrapped = b64url_decode(fields.get("encrypted_key", ""), what="encrypted_key")
    try:
        # A tampered ek still decapsulates (ML-KEM's implicit rejection), to a key that does not unwrap.
        cek = aes_key_unwrap(kmac256_kdf(shared), wrapped)
    except (InvalidUnwrap, ValueError):
        raise IntegrityError("the JWE content key does not unwrap with the TEE key") from None
    if len(cek) != 32:
        raise IntegrityError(f"the JWE content key is {len(cek)} bytes, not the 32 of A256GCM")
    ciphertext = b64url_decode(fields["ciphertext"], what="ciphertext")
    try:
        return AESGCM(cek).decrypt(iv, ciphertext + tag, fields["protected"].encode("ascii"))
    except InvalidTag:
        raise IntegrityError("the KBS response does not authenticate (JWE tag mismatch)") from None


def _failure(error: BaseException) -> str:
    """Say which step failed: joserfc raises a DecodeError while handling the ``cryptography`` exception it
    caught (``from`` it since joserfc 1.8; before, only the implicit context links them)."""
    from joserfc.errors import DecodeError

    cause = error.__cause__ or error.__context__
    if isinstance(cause, InvalidTag):
        return "the KBS response does not authenticate (JWE tag mismatch)"
    if isinstance(cause, InvalidUnwrap):
        return "the JWE content key does not unwrap with the TEE key"
    if isinstance(error, DecodeError) and isinstance(cause, ValueError) and not isinstance(cause, binascii.Error):
        return "the JWE content key does not decrypt with the TEE key"  # RSA decrypt_cek
    if isinstance(error, binascii.Error) or isinstance(cause, binascii.Error):
        return "the KBS response is not a valid JWE: a member is not unpadded base64url"
    return f"the KBS response is not a valid JWE: {str(error) or type(error).__name__}"


def parse_flattened_jwe(body: Any) -> dict[str, str]:
    """Check the shape of a flattened JWE; return its string members."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise IntegrityError("the KBS response is not a JWE (not JSON)") from None
    if not isinstance(body, dict):
        raise IntegrityError("the KBS response is not a JWE object")
    for member in ("protected", "iv", "ciphertext", "tag"):
        if not isinstance(body.get(member), str):
            raise IntegrityError(f"the KBS response JWE has no {member!r}")
    if "encrypted_key" in body and not isinstance(body["encrypted_key"], str):
        raise IntegrityError("the KBS response JWE has a malformed 'encrypted_key'")
    return {k: v for k, v in body.items() if isinstance(v, str)}


def _protected_header(text: str) -> dict[str, Any]:
    try:
        header = json.loads(b64url_decode(text, what="protected"))
    except (InvalidInputError, json.JSONDecodeError, UnicodeDecodeError):
        raise IntegrityError("the JWE protected header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise IntegrityError("the JWE protected header is not an object")
    return header


def new_cek() -> bytes:
    return os.urandom(32)
