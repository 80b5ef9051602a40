"""ocicrypt annotations, parsed and encoded without I/O.

* ``org.opencontainers.image.enc.keys.provider.attestation-agent``: standard base64 of the compact JSON
  ``{"kid","wrapped_data","iv","wrap_type"}`` (the order serde writes), as coco_keyprovider produces it.
* ``org.opencontainers.image.enc.pubopts``: base64 of ``{"cipher","hmac","cipheroptions"}``.
* The private options (what the key provider wraps): ``{"symkey","digest","cipheroptions":{"nonce"}}``,
  Go's struct order with standard base64 bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cococtl.errors import CococtlError, IntegrityError, InvalidInputError
from cococtl.kbs.uri import parse_resource_uri

PROVIDER_PREFIX = "org.opencontainers.image.enc.keys.provider."
PROVIDER_ANNOTATION = PROVIDER_PREFIX + "attestation-agent"
PUBOPTS_ANNOTATION = "org.opencontainers.image.enc.pubopts"
OTHER_KEY_ANNOTATIONS = tuple(f"org.opencontainers.image.enc.keys.{n}" for n in ("jwe", "pkcs7", "pgp", "pkcs11"))
CIPHER = "AES_256_CTR_HMAC_SHA256"
WRAP_TYPES = ("A256GCM", "A256CTR")
# coco_keyprovider's sample mode key (HARDCODED_KEY), public test material.
SAMPLE_KEK = bytes.fromhex("d99b7705b0ba7a168295b3a3367270b0dd9b371bf514ca8b9ba7f0a33711daea")
SAMPLE_KID = "kbs:///default/test-key/1"
PACKET_VERSION = "0.1.0"
_MAX_ANNOTATION = 64 << 10


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what} is not valid standard base64") from None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError, undecodable bytes (random A256CTR unwraps)
        raise InvalidInputError(f"{what} is not JSON") from None
    except RecursionError:
        raise InvalidInputError(f"{what} is nested too deeply to be what it should be") from None
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} is not a JSON object")
    return value


@dataclass(frozen=True)
class KeyProviderAnnotation:
    kid: str
    wrapped_data: bytes
    iv: bytes
    wrap_type: str

    def to_json(self) -> bytes:
        return _compact(
            {"kid": self.kid, "wrapped_data": _b64(self.wrapped_data), "iv": _b64(self.iv), "wrap_type": self.wrap_type}
        )

    def encode(self) -> str:
        return _b64(self.to_json())

    @classmethod
    def from_json(cls, data: bytes) -> KeyProviderAnnotation:
        """Parse a packet by the guest's rules (guest-components confidential-data-hub/hub/src/image/
        annotation_packet/v2.rs ``TryInto<v1::AnnotationPacket>``): ``version`` defaults to and must be 0.1.0,
        ``provider`` defaults to ``kbs``, ``wrap_type`` and ``iv`` are required, ``kid`` is a resource URI."""
        document = _json_object(data, "the key-provider annotation")
        version = document.get("version", PACKET_VERSION)
        if version != PACKET_VERSION:
            raise InvalidInputError(f"annotation packet version {version!r}: the guest requires {PACKET_VERSION}")
        provider = document.get("provider", "kbs")
        if provider != "kbs":
            raise InvalidInputError(
                f"annotation packet provider {provider!r}: the guest unwraps it with that KMS, not the KBS;"
                " cococtl unwraps only provider kbs"
            )
        kid = document.get("kid")
        if not isinstance(kid, str):
            raise InvalidInputError("the key-provider annotation has no kid")
        try:
            parse_resource_uri(kid) if kid.startswith(("kbs:", "kbs+")) else _not_uri(kid)
        except InvalidInputError as error:
            raise InvalidInputError(f"illegal resource URI in the packet's kid: {error.message}") from None
        wrap_type = document.get("wrap_type")
        if wrap_type is None:
            raise InvalidInputError("the key-provider annotation has no wrap_type (the guest requires it)")
        if wrap_type not in WRAP_TYPES:
            raise InvalidInputError(f"unknown wrap_type {wrap_type!r} (the guest accepts A256GCM and A256CTR)")
        if document.get("iv") is None:
            raise InvalidInputError("the key-provider annotation has no iv (the guest requires it)")
        return cls(
            kid, _unb64(document.get("wrapped_data"), "wrapped_data"), _unb64(document.get("iv"), "iv"), str(wrap_type)
        )

    @classmethod
    def decode(cls, value: str) -> KeyProviderAnnotation:
        """Decode the layer annotation value (base64 of JSON; the first of comma-joined recipients)."""
        return decode_recipients(value)[0]

    def kid_path(self) -> str:
        """The key of the kid in a keys file or the KBS (``repo/type/tag`` for plain resources)."""
        if not self.kid.startswith(("kbs:", "kbs+")):
            _not_uri(self.kid)
        return parse_resource_uri(self.kid).key

    def unwrap(self, kek: bytes) -> bytes:
        """The private options, decrypted with the 32-byte KEK (A256GCM authenticated; A256CTR is not)."""
        if len(kek) != 32:
            raise InvalidInputError(f"the key-encryption key must be 32 bytes, not {len(kek)}")
        if self.wrap_type == "A256GCM":
            if len(self.iv) != 12:
                raise InvalidInputError(f"an A256GCM iv is 12 bytes, this one {len(self.iv)}")
            try:
                return AESGCM(kek).decrypt(self.iv, self.wrapped_data, None)
            except InvalidTag:
                raise IntegrityError(f"the layer key for {self.kid} does not unwrap: wrong key") from None
        if len(self.iv) != 16:
            raise InvalidInputError(f"an A256CTR iv is 16 bytes, this one {len(self.iv)}")
        decryptor = Cipher(algorithms.AES(kek), modes.CTR(self.iv)).decryptor()
        return decryptor.update(self.wrapped_data) + decryptor.finalize()


def _not_uri(kid: str) -> None:
    raise InvalidInputError(
        f"kid {kid!r} is not a kbs:///<repo>/<type>/<tag> URI: the guest would reject it",
        hint="write the kid as kbs:///" + kid.lstrip("/") if kid.count("/") >= 2 else None,
    )


def recipient_parts(value: str) -> list[str]:
    """The base64 packets of a layer's recipients: ocicrypt joins one per recipient with commas."""
    if len(value) > _MAX_ANNOTATION:
        raise InvalidInputError("the key-provider annotation is implausibly large")
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts:
        raise InvalidInputError("the key-provider annotation is empty")
    return parts


def decode_recipients(value: str) -> list[KeyProviderAnnotation]:
    """Every recipient of a layer, each parsed by the guest's rules (all must parse)."""
    return [
        KeyProviderAnnotation.from_json(_unb64(part, "the key-provider annotation")) for part in recipient_parts(value)
    ]


def unwrap_any(packets: Sequence[KeyProviderAnnotation | str], resolve: Callable[[str], bytes]) -> PrivateOptions:
    """The private options of the first recipient whose key resolves and unwraps, trying each in turn and
    decoding each only when its turn comes, as ocicrypt-rs pre_unwrap_key does (encryption.rs: a recipient that
    fails is skipped); the last failure is reported when none does."""
    failure: CococtlError | None = None
    for item in packets:
        try:
            packet = (
                item
                if isinstance(item, KeyProviderAnnotation)
                else KeyProviderAnnotation.from_json(_unb64(item, "the key-provider annotation"))
            )
            plain = packet.unwrap(resolve(packet.kid))
        except CococtlError as error:
            failure = error
            continue
        try:
            return PrivateOptions.from_json(plain)
        except InvalidInputError as error:
            # A256CTR is not authenticated: a wrong key shows only as options that do not parse.
            failure = IntegrityError(f"the layer key for {packet.kid} does not unwrap: {error.message} (wrong key?)")
    assert failure is not None
    if len(packets) > 1:
        raise type(failure)(f"none of the layer's {len(packets)} recipients unwraps; last: {failure.message}")
    raise failure


def wrap(private_options: bytes, kek: bytes, kid: str, *, iv: bytes | None = None) -> KeyProviderAnnotation:
    """What coco_keyprovider does: AES-256-GCM over the private options with a fresh 12-byte IV."""
    if len(kek) != 32:
        raise InvalidInputError(f"the key-encryption key must be 32 bytes, not {len(kek)}")
    iv = os.urandom(12) if iv is None else iv
    return KeyProviderAnnotation(kid, AESGCM(kek).encrypt(iv, private_options, None), iv, "A256GCM")


@dataclass(frozen=True)
class PublicOptions:
    cipher: str
    hmac: bytes

    def encode(self) -> str:
        return _b64(_compact({"cipher": self.cipher, "hmac": _b64(self.hmac), "cipheroptions": {}}))

    @classmethod
    def decode(cls, value: str) -> PublicOptions:
        document = _json_object(_unb64(value, "pubopts"), "pubopts")
        cipher = document.get("cipher", CIPHER)
        if cipher != CIPHER:
            raise InvalidInputError(f"unsupported layer cipher {cipher!r}")
        mac = _unb64(document.get("hmac"), "pubopts hmac")
        if len(mac) != 32:
            raise InvalidInputError("pubopts hmac is not 32 bytes")
        return cls(str(cipher), mac)


@dataclass(frozen=True)
class PrivateOptions:
    symkey: bytes
    digest: str
    nonce: bytes

    def to_json(self) -> bytes:
        return _compact(
            {"symkey": _b64(self.symkey), "digest": self.digest, "cipheroptions": {"nonce": _b64(self.nonce)}}
        )

    @classmethod
    def from_json(cls, data: bytes) -> PrivateOptions:
        document = _json_object(data, "the private layer options")
        options = document.get("cipheroptions") or {}
        if not isinstance(options, dict):
            raise InvalidInputError("private cipheroptions is not an object")
        symkey = _unb64(document.get("symkey"), "symkey")
        nonce = _unb64(options.get("nonce"), "nonce")
        if len(symkey) != 32 or len(nonce) != 16:
            raise InvalidInputError("the private layer options need a 32-byte symkey and a 16-byte nonce")
        return cls(symkey, str(document.get("digest", "")), nonce)
