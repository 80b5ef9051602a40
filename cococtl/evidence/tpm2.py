"""A small TPM 2.0 command client: just the commands the TPM and Azure vTPM attesters need.

It speaks the TPM 2.0 wire format (TPM 2.0 Library, Part 3 commands / Part 2 structures) to a character
device (``/dev/tpmrm0``, ``/dev/tpm0``) or to swtpm's TCP data channel (``swtpm:port=N[,host=H]``, the
tpm2-tools TCTI spelling), chosen by ``COCOCTL_TPM``. Every authorisation is the empty password
(``TPM_RS_PW``), as the upstream attesters use for the AK, owner hierarchy and NV indices.
"""

from __future__ import annotations

import os
import select
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cococtl.errors import ExternalToolError

DEVICES = ("/dev/tpmrm0", "/dev/tpm0")
TIMEOUT = 30.0

TPM_ST_NO_SESSIONS = 0x8001
TPM_ST_SESSIONS = 0x8002
TPM_RS_PW = 0x40000009
TPM_RH_OWNER = 0x40000001
TPM_ALG_RSA = 0x0001
TPM_ALG_SHA256 = 0x000B
TPM_ALG_NULL = 0x0010
TPM_ALG_RSASSA = 0x0014
TPM_RC_HANDLE = 0x08B  # RC_FMT1 + TPM_RC_HANDLE (Part 2, 6.6.3)

CC_NV_UNDEFINE_SPACE = 0x122
CC_NV_DEFINE_SPACE = 0x12A
CC_NV_WRITE = 0x137
CC_NV_READ = 0x14E
CC_QUOTE = 0x158
CC_NV_READ_PUBLIC = 0x169
CC_READ_PUBLIC = 0x173
CC_PCR_READ = 0x17E

NV_CHUNK = 512  # below every TPM's MAX_NV_BUFFER_SIZE
TPMA_NV_OWNERWRITE = 1 << 1
TPMA_NV_OWNERREAD = 1 << 17


class TpmResponseError(ExternalToolError):
    """The TPM answered a command with a non-zero response code."""

    def __init__(self, command: str, code: int) -> None:
        super().__init__(f"TPM2_{command} failed with response code {code:#x}")
        self.code = code


class _Transport(Protocol):
    def transact(self, command: bytes) -> bytes: ...

    def close(self) -> None: ...


class _Device:
    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            raise ExternalToolError(f"cannot open the TPM {path}: {exc.strerror}") from None

    def transact(self, command: bytes) -> bytes:
        try:
            os.write(self.fd, command)
            ready, _, _ = select.select([self.fd], [], [], TIMEOUT)
            if not ready:
                raise ExternalToolError(f"the TPM {self.path} did not answer within {TIMEOUT:g} s")
            return os.read(self.fd, 8192)
        except OSError as exc:
            raise ExternalToolError(f"TPM {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        os.close(self.fd)


class _Socket:
    def __init__(self, host: str, port: int) -> None:
        self.where = f"{host}:{port}"
        try:
            self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        except OSError as exc:
            raise ExternalToolError(f"cannot reach the TPM at swtpm {self.where}: {exc.strerror or exc}") from None

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ExternalToolError(f"the TPM at {self.where} closed the connection")
            data += chunk
        return data

    def transact(self, command: bytes) -> bytes:
        try:
            self.sock.sendall(command)
            header = self._read(10)
            (size,) = struct.unpack_from(">I", header, 2)
            return header + self._read(size - 10)
        except TimeoutError:
            raise ExternalToolError(f"the TPM at {self.where} did not answer within {TIMEOUT:g} s") from None
        except OSError as exc:
            raise ExternalToolError(f"TPM at {self.where}: {exc.strerror or exc}") from None

    def close(self) -> None:
        self.sock.close()


def tpm_spec() -> str | None:
    """``COCOCTL_TPM`` (a device path or ``swtpm:port=N[,host=H]``), else the first TPM device present."""
    spec = os.environ.get("COCOCTL_TPM")
    if spec:
        return spec
    return next((device for device in DEVICES if Path(device).exists()), None)


def _open(spec: str) -> _Transport:
    if spec.startswith("swtpm:"):
        options = dict(item.partition("=")[::2] for item in spec[6:].split(",") if item)
        try:
            port = int(options.get("port", "2321"))
        except ValueError:
            raise ExternalToolError(f"COCOCTL_TPM {spec!r}: the port is not a number") from None
        return _Socket(options.get("host", "127.0.0.1"), port)
    return _Device(spec)


def _b(data: bytes) -> bytes:
    """A TPM2B: big-endian u16 size, then the bytes."""
    return struct.pack(">H", len(data)) + data


class _Reader:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.offset = data, offset

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ExternalToolError("the TPM response is shorter than its structure")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def tpm2b(self) -> bytes:
        return self.take(self.u16())


_PASSWORD_AUTH = struct.pack(">I", 9) + struct.pack(">IHBH", TPM_RS_PW, 0, 0, 0)  # size, handle, nonce, attrs, hmac


def pcr_selection(pcrs: list[int]) -> bytes:
    """TPML_PCR_SELECTION with one SHA-256 bank selecting ``pcrs``."""
    bitmap = bytearray(3)
    for pcr in pcrs:
        bitmap[pcr // 8] |= 1 << (pcr % 8)
    return struct.pack(">IHB", 1, TPM_ALG_SHA256, 3) + bytes(bitmap)


@dataclass(frozen=True)
class RsaPublic:
    modulus: bytes
    exponent: int

    def spki_der(self) -> bytes:
        """The DER SubjectPublicKeyInfo (what the TPM verifier's ``ak_public`` carries)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.RSAPublicNumbers(self.exponent, int.from_bytes(self.modulus, "big")).public_key()
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class Tpm:
    """One open TPM connection; use as a context manager."""

    def __init__(self, spec: str | None = None) -> None:
        where = spec or tpm_spec()
        if where is None:
            raise ExternalToolError(f"no TPM found ({', '.join(DEVICES)} absent; COCOCTL_TPM is not set)")
        self.where = where
        self._transport = _open(where)

    def __enter__(self) -> Tpm:
        return self

    def __exit__(self, *exc: object) -> None:
        self._transport.close()

    def _run(self, name: str, code: int, handles: bytes, params: bytes, *, auth: bool) -> _Reader:
        body = handles + (_PASSWORD_AUTH if auth else b"") + params
        tag = TPM_ST_SESSIONS if auth else TPM_ST_NO_SESSIONS
        command = struct.pack(">HII", tag, 10 + len(body), code) + body
        response = self._transport.transact(command)
        if len(response) < 10:
            raise ExternalToolError(f"TPM2_{name}: the TPM sent a truncated response")
        _tag, size, rc = struct.unpack_from(">HII", response, 0)
        if rc != 0:
            raise TpmResponseError(name, rc)
        reader = _Reader(response[:size], 10)
        if auth:
            reader.u32()  # parameterSize
        return reader

    def read_public(self, handle: int) -> RsaPublic:
        """TPM2_ReadPublic of an RSA key (the AK)."""
        reader = _Reader(self._run("ReadPublic", CC_READ_PUBLIC, struct.pack(">I", handle), b"", auth=False).tpm2b())
        key_type, _name_alg, _attributes = reader.u16(), reader.u16(), reader.u32()
        reader.tpm2b()  # authPolicy
        if key_type != TPM_ALG_RSA:
            raise ExternalToolError(f"the TPM key {handle:#x} is not an RSA key (type {key_type:#x})")
        if reader.u16() != TPM_ALG_NULL:  # symmetric: keyBits, mode follow
            reader.take(4)
        if reader.u16() != TPM_ALG_NULL:  # scheme: hashAlg follows
            reader.take(2)
        _bits, exponent = reader.u16(), reader.u32()
        return RsaPublic(reader.tpm2b(), exponent or 65537)

    def pcrs_sha256(self) -> list[bytes]:
        """All 24 SHA-256 PCRs, in index order (TPM2_PCR_Read returns at most 8 digests a call)."""
        values: dict[int, bytes] = {}
        wanted = list(range(24))
        while wanted:
            reader = self._run("PCR_Read", CC_PCR_READ, b"", pcr_selection(wanted), auth=False)
            reader.u32()  # pcrUpdateCounter
            returned: list[int] = []
            for _ in range(reader.u32()):
                reader.u16()  # hash
                bitmap = reader.take(reader.u8())
                returned += [i for i in range(len(bitmap) * 8) if bitmap[i // 8] >> (i % 8) & 1]
            digests = [reader.tpm2b() for _ in range(reader.u32())]
            if not returned or len(digests) != len(returned):
                raise ExternalToolError("the TPM has no SHA-256 PCR bank")
            values.update(zip(returned, digests, strict=True))
            wanted = [pcr for pcr in wanted if pcr not in values]
        return [values[i] for i in range(24)]

    def quote(self, ak_handle: int, nonce: bytes, *, rsassa_sha256: bool) -> tuple[bytes, bytes]:
        """TPM2_Quote over SHA-256 PCRs 0-23: ``(TPMS_ATTEST bytes, marshalled TPMT_SIGNATURE)``."""
        scheme = (
            struct.pack(">HH", TPM_ALG_RSASSA, TPM_ALG_SHA256) if rsassa_sha256 else struct.pack(">H", TPM_ALG_NULL)
        )
        params = _b(nonce) + scheme + pcr_selection(list(range(24)))
        reader = self._run("Quote", CC_QUOTE, struct.pack(">I", ak_handle), params, auth=True)
        attest = reader.tpm2b()
        start = reader.offset
        sig_alg = reader.u16()
        if sig_alg != TPM_ALG_RSASSA:
            raise ExternalToolError(f"the TPM quote is not an RSASSA signature (algorithm {sig_alg:#x})")
        reader.u16()  # hash
        reader.tpm2b()
        return attest, reader.data[start : reader.offset]

    def nv_size(self, index: int) -> int | None:
        """The data size of an NV index, or None when it is not defined."""
        try:
            reader = self._run("NV_ReadPublic", CC_NV_READ_PUBLIC, struct.pack(">I", index), b"", auth=False)
        except TpmResponseError as exc:
            if exc.code & 0x0BF == TPM_RC_HANDLE:  # format-one code, the handle number bits masked off
                return None
            raise
        public = _Reader(reader.tpm2b())
        public.u32(), public.u16(), public.u32()  # nvIndex, nameAlg, attributes
        public.tpm2b()  # authPolicy
        return public.u16()

    def nv_read(self, index: int, size: int | None = None) -> bytes:
        """TPM2_NV_Read of the whole index (or its first ``size`` bytes) with owner authorisation."""
        total = self.nv_size(index)
        if total is None:
            raise ExternalToolError(f"the TPM NV index {index:#x} is not defined")
        total = min(total, size) if size is not None else total
        data = b""
        while len(data) < total:
            length = min(NV_CHUNK, total - len(data))
            handles = struct.pack(">II", TPM_RH_OWNER, index)
            params = struct.pack(">HH", length, len(data))
            data += self._run("NV_Read", CC_NV_READ, handles, params, auth=True).tpm2b()
        return data

    def nv_write(self, index: int, data: bytes) -> None:
        """Write ``data`` to an owner-read/write NV index, (re)defining it with exactly that size."""
        size = self.nv_size(index)
        if size is not None and size != len(data):
            self._run("NV_UndefineSpace", CC_NV_UNDEFINE_SPACE, struct.pack(">II", TPM_RH_OWNER, index), b"", auth=True)
        if size != len(data):
            public = struct.pack(">IHI", index, TPM_ALG_SHA256, TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD)
            public += _b(b"") + struct.pack(">H", len(data))
            handles = struct.pack(">I", TPM_RH_OWNER)
            self._run("NV_DefineSpace", CC_NV_DEFINE_SPACE, handles, _b(b"") + _b(public), auth=True)
        for offset in range(0, len(data), NV_CHUNK):
            handles = struct.pack(">II", TPM_RH_OWNER, index)
            params = _b(data[offset : offset + NV_CHUNK]) + struct.pack(">H", offset)
            self._run("NV_Write", CC_NV_WRITE, handles, params, auth=True)


def attest_parts(message: bytes) -> tuple[bytes, bytes]:
    """``(extraData, pcrDigest)`` of a TPMS_ATTEST quote (TPM 2.0 Part 2, 10.12.12 / 10.12.8)."""
    reader = _Reader(message)
    magic, kind = reader.u32(), reader.u16()
    if magic != 0xFF544347 or kind != 0x8018:
        raise ExternalToolError("the TPM attestation is not a quote (TPM_GENERATED_VALUE / TPM_ST_ATTEST_QUOTE)")
    reader.tpm2b()  # qualifiedSigner
    extra = reader.tpm2b()
    reader.take(17 + 8)  # clockInfo, firmwareVersion
    for _ in range(reader.u32()):  # TPML_PCR_SELECTION
        reader.u16()
        reader.take(reader.u8())
    return extra, reader.tpm2b()
