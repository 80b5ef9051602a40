"""User key pairs for Cocos: the keys result consumers, dataset and algorithm providers sign with.

What Cocos accepts (ultravioletrs/cocos at 747aaaa5):

- The agent takes each ``user_key`` of a manifest as DER SubjectPublicKeyInfo (``x509.ParsePKIXPublicKey``,
  agent/auth/auth.go:52,66,79) and accepts RSA, ECDSA and Ed25519 keys (auth.go:162-172); it verifies
  RSA PKCS#1 v1.5 / ECDSA ASN.1 signatures over SHA-256 of the role and Ed25519 over the role (auth.go:102-128).
  cvms-test puts the DER of the ``-public-key-path`` PEM block into every ``user_key`` (test/cvms/main.go:69-74).
- ``cocos-cli keys -k rsa|ecdsa|ed25519`` writes ``private.pem`` and ``public.pem`` (cli/keys.go:18-138):
  RSA 4096 bits, ECDSA on P-256, Ed25519; the public key as a "PUBLIC KEY" (PKIX) block; the private key as an
  "EC PRIVATE KEY" (SEC 1) block for ECDSA and a "PRIVATE KEY" (PKCS#8) block for Ed25519. For RSA it writes
  PKCS#1 bytes under the "PRIVATE KEY" label (cli/keys.go:20,107), which only Go reads back; cococtl writes
  standard PKCS#8 there, which cocos-cli's decodeKey tries first (cli/datasets.go:96-105), OpenSSL and Python
  read too.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cococtl.errors import InvalidInputError

KEY_TYPES = ("rsa", "ecdsa", "ed25519")
RSA_BITS = 4096  # cli/keys.go:19


@dataclass(frozen=True)
class UserKeyPair:
    key_type: str
    private_pem: bytes
    public_pem: bytes
    public_der: bytes

    @property
    def user_key(self) -> str:
        """The manifest's ``user_key``: base64 of the DER SubjectPublicKeyInfo (Go's []byte in JSON)."""
        return base64.b64encode(self.public_der).decode()


def generate_user_key(key_type: str) -> UserKeyPair:
    """A fresh key pair of ``key_type`` (rsa, ecdsa, ed25519) as cocos-cli ``keys`` makes it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    encoding = serialization.Encoding
    public_format = serialization.PublicFormat.SubjectPublicKeyInfo
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    if key_type == "rsa":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        private_format = serialization.PrivateFormat.PKCS8
    elif key_type == "ecdsa":
        private_key = ec.generate_private_key(ec.SECP256R1())
        private_format = serialization.PrivateFormat.TraditionalOpenSSL  # "EC PRIVATE KEY", SEC 1
    elif key_type == "ed25519":
        private_key = ed25519.Ed25519PrivateKey.generate()
        private_format = serialization.PrivateFormat.PKCS8
    else:
        raise InvalidInputError(f"unknown key type {key_type!r}: expected one of {', '.join(KEY_TYPES)}")
    private_pem = private_key.private_bytes(encoding.PEM, private_format, serialization.NoEncryption())
    public = private_key.public_key()
    return UserKeyPair(
        key_type=key_type,
        private_pem=private_pem,
        public_pem=public.public_bytes(encoding.PEM, public_format),
        public_der=public.public_bytes(encoding.DER, public_format),
    )


def default_public_path(private_path: Path) -> Path:
    """cocos-cli's pair names (``private.pem`` → ``public.pem``, cli/keys.go:24-25), else ``KEYFILE.pub``."""
    if private_path.name == "private.pem":
        return private_path.with_name("public.pem")
    return private_path.with_name(private_path.name + ".pub")


def write_user_key_pair(
    key_type: str, private_path: Path, public_path: Path | None = None, *, force: bool = False
) -> tuple[UserKeyPair, Path]:
    """Generate a pair and write the private key (0600) and the public key (umask mode); nothing is written unless
    both destinations may be (an existing file needs ``force``)."""
    from cococtl.fsutil import atomic_output, check_writable_destination, write_private_file

    public_path = public_path or default_public_path(private_path)
    if public_path.resolve() == private_path.resolve():
        raise InvalidInputError("the private and the public key would be written to the same file")
    check_writable_destination(private_path, force=force)
    check_writable_destination(public_path, force=force)
    pair = generate_user_key(key_type)
    write_private_file(private_path, pair.private_pem, force=force)
    with atomic_output(public_path, force=force, private=False) as handle:
        handle.write(pair.public_pem)
    return pair, public_path


def public_key_der(path: Path) -> bytes:
    """The DER SubjectPublicKeyInfo of a public-key PEM file (what cvms-test puts in ``user_key``): the bytes
    of the first PEM block (test/cvms/main.go:74), checked to be a key the agent accepts (auth.go:52,162)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        text = path.read_bytes()
    except FileNotFoundError:
        from cococtl.errors import NotFoundError

        raise NotFoundError(f"public key {path} does not exist") from None
    except OSError as error:
        raise InvalidInputError(f"cannot read public key {path}: {error.strerror}") from None
    begin = text.find(b"-----BEGIN ")
    end = text.find(b"-----END ", begin + 1) if begin >= 0 else -1
    if begin < 0 or end < 0:
        raise InvalidInputError(f"{path} is not a PEM file (no BEGIN/END block)")
    header_end = text.find(b"-----", begin + 11)
    body = text[header_end + 5 : end]
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
        key = load_der_public_key(der)
    except ValueError:
        raise InvalidInputError(
            f"{path} holds no public key the Cocos agent accepts (a PEM PUBLIC KEY block: PKIX)",
            hint="cococtl keys new --type rsa|ecdsa|ed25519 KEYFILE writes one",
        ) from None
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        raise InvalidInputError(f"{path}: the Cocos agent accepts RSA, ECDSA and Ed25519 keys only (auth.go:162-172)")
    return der
