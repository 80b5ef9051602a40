"""Init-data documents: parse, digest, the per-TEE register forms, and the Kata annotation encoding.

What the consumers do, which this module reproduces:

- The digest is ``HASH(the exact bytes of the TOML)`` with the document's own ``algorithm``
  (guest-components attestation-agent/attestation-agent/src/initdata.rs:24-27; Trustee
  attestation-service/src/lib.rs:346-349; kata-agent src/agent/src/initdata.rs ``initialize_initdata``).
  Nothing is normalised: a CRLF, a trailing newline or a reordered key changes the digest.
- The TEE register is the digest zero-padded or truncated at the end to the register's length: TDX
  MRCONFIGID 48 bytes, SNP HOST_DATA 32 bytes, CCA realm personalization value 64 bytes (Trustee
  deps/verifier/src/lib.rs:294-310 ``regularize_data``, used by tdx/mod.rs:114-118 and snp/mod.rs:527-531;
  attestation-agent attester/src/tdx/mod.rs:189-191 and snp/mod.rs:57-62 with utils.rs:13-22 ``pad``; kata-types
  src/libs/kata-types/src/initdata.rs ``adjust_digest``; Trustee kbs/docs/initdata.md:179-205).
- The pod annotation ``io.katacontainers.config.hypervisor.cc_init_data`` is standard base64 (with padding) of
  a gzip stream of the TOML (kata-types initdata.rs ``add_hypervisor_initdata_overrides``: STANDARD decode, then
  one ``GzDecoder`` member read to a UTF-8 string). Gzip header fields and the compression level do not matter
  to the digest, which is over the decompressed bytes.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import re
import tomllib
import zlib
from dataclasses import dataclass, field
from typing import Any

from cococtl.errors import InvalidInputError

VERSION = "0.1.0"
ANNOTATION = "io.katacontainers.config.hypervisor.cc_init_data"
# kata-types initdata.rs SUPPORTED_ALGORITHMS (the runtime refuses others); Trustee also parses sm3.
ALGORITHMS: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}
DEFAULT_ALGORITHM = "sha384"
# Register lengths: kbs/docs/initdata.md:179-185, kata-types initdata.rs adjust_digest.
TEE_REGISTERS: dict[str, tuple[str, int]] = {
    "tdx": ("mr_config_id", 48),
    "snp": ("host_data", 32),
    "cca": ("realm_personalization_value", 64),
}
MAX_DECOMPRESSED = 16 << 20


@dataclass(frozen=True)
class InitData:
    """A parsed init-data document and the exact bytes it came from."""

    raw: bytes
    version: str
    algorithm: str
    data: dict[str, str]
    document: dict[str, Any] = field(repr=False)

    @property
    def digest(self) -> bytes:
        return hashlib.new(self.algorithm, self.raw).digest()


def decode_text(raw: bytes, *, name: str = "init-data") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{name}: not UTF-8 text (byte {exc.start})") from None


def toml_error(exc: tomllib.TOMLDecodeError) -> str:
    return str(exc)


def load_document(raw: bytes, *, name: str = "init-data") -> dict[str, Any]:
    """The TOML document, or an InvalidInputError naming line and column."""
    text = decode_text(raw, name=name)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"{name}: not valid TOML: {toml_error(exc)}") from None
    except (RecursionError, ValueError) as exc:
        raise InvalidInputError(f"{name}: not valid TOML: {type(exc).__name__}") from None


def structure_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    """What the guest's ``Initdata { version: String, algorithm: HashAlgorithm, data: HashMap<String, String> }``
    and kata's ``validate()`` refuse, as (path, message) pairs."""
    problems: list[tuple[str, str]] = []
    version = document.get("version")
    if "version" not in document:
        problems.append(("version", 'missing (required, must be "0.1.0")'))
    elif not isinstance(version, str):
        problems.append(("version", f"must be a string, not {type(version).__name__}"))
    elif version != VERSION:
        problems.append(("version", f'{version!r} is not supported: kata accepts only "{VERSION}"'))
    algorithm = document.get("algorithm")
    if "algorithm" not in document:
        problems.append(("algorithm", "missing (required: sha256, sha384 or sha512)"))
    elif not isinstance(algorithm, str):
        problems.append(("algorithm", f"must be a string, not {type(algorithm).__name__}"))
    elif algorithm not in ALGORITHMS:
        hint = " (IANA spells it sha-384, but the implementations read sha384)" if "-" in algorithm else ""
        problems.append(("algorithm", f"{algorithm!r} is not supported: use sha256, sha384 or sha512{hint}"))
    data = document.get("data")
    if "data" not in document:
        problems.append(("data", "missing (required: a [data] table of strings)"))
    elif not isinstance(data, dict):
        problems.append(("data", f"must be a table, not {type(data).__name__}"))
    else:
        for key, value in data.items():
            if not isinstance(value, str):
                problems.append((data_path(key), f"must be a string, not {type(value).__name__}"))
    return problems


def data_path(key: str, *rest: str) -> str:
    return ".".join(["data", quote_key(key), *rest])


def quote_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse(raw: bytes, *, name: str = "init-data") -> InitData:
    """Parse like the guest and the KBS do; any structural problem is an InvalidInputError."""
    document = load_document(raw, name=name)
    problems = structure_problems(document)
    if problems:
        raise InvalidInputError(f"{name}: " + "; ".join(f"{path}: {message}" for path, message in problems))
    return InitData(raw, document["version"], document["algorithm"], dict(document["data"]), document)


def regularize(digest: bytes, length: int) -> bytes:
    """Zero-pad at the end, or truncate the end, to ``length`` bytes (Trustee ``regularize_data``)."""
    return digest[:length] if len(digest) >= length else digest + bytes(length - len(digest))


def digest_report(init: InitData) -> dict[str, Any]:
    digest = init.digest
    registers = {
        tee: {"field": field_name, "bytes": length, "hex": regularize(digest, length).hex()}
        for tee, (field_name, length) in TEE_REGISTERS.items()
    }
    return {
        "algorithm": init.algorithm,
        "bytes": len(init.raw),
        "digest_hex": digest.hex(),
        "digest_base64": base64.b64encode(digest).decode("ascii"),
        "tee": registers,
    }


def encode_annotation(raw: bytes) -> str:
    """Standard base64 of a gzip member of ``raw`` (level 9, mtime 0: the same input gives the same value)."""
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def decode_annotation(value: str | bytes) -> bytes:
    """The exact TOML bytes behind an annotation value, read the way kata reads it (one gzip member)."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        raise InvalidInputError("the annotation value is empty")
    if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) or len(text) % 4:
        raise InvalidInputError(
            "the annotation value is not standard base64 with padding", hint="kata decodes it with base64 STANDARD"
        )
    try:
        compressed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("the annotation value is not valid base64") from None
    if compressed[:2] != b"\x1f\x8b":
        raise InvalidInputError("the annotation does not hold gzip data (kata expects base64 of gzip of the TOML)")
    decoder = zlib.decompressobj(wbits=31)
    try:
        raw = decoder.decompress(compressed, MAX_DECOMPRESSED)
    except zlib.error as exc:
        raise InvalidInputError(f"the annotation's gzip data is corrupt: {exc}") from None
    if decoder.unconsumed_tail:
        raise InvalidInputError(f"the annotation decompresses to more than {MAX_DECOMPRESSED >> 20} MiB")
    if not decoder.eof:
        raise InvalidInputError("the annotation's gzip data is truncated")
    if decoder.unused_data:
        raise InvalidInputError(
            "the annotation has data after its first gzip member, which kata's single-member decoder ignores"
        )
    decode_text(raw, name="the decoded annotation")
    return raw
