"""The ``csv`` attester: a Hygon CSV attestation report through the guest device ``/dev/csv-guest``.

The 64-byte report data (the digest, zero-padded) and a random 16-byte mnonce go to the Hygon Secure
Processor in one 4096-byte page, with their SM3 digest; the page comes back as the attestation report
(csv-rs 0.1.0 api/guest/types.rs ReportReq, ReportReqExt, AttestationReportV1/V2; api/guest/mod.rs
get_report, get_report_ext). Firmware with RTMRs (the RTMR status request succeeds) returns the extended
(v2) report, which guest-components asks for with flags 1 (attester/src/csv/mod.rs get_evidence).

A v1 report's tee info is XORed with the firmware's ``anonce``; the signer's PEK certificate and chip
serial number are too, and carry an HMAC-SM3 keyed with the mnonce. As csv-rs does, the MAC is checked and
the certificate and serial number are restored in the page (reserved bytes zeroed) before it is sent.

The evidence is csv-rs's serde output as Trustee's verifier reads it (deps/verifier/src/csv/mod.rs
CsvEvidence): byte arrays and the serial number as JSON integer arrays, the report wrapped as
``{magic, flags, data}``, the certificates as nested objects. The verifier compares the tee info's report
data (offset 64, un-XORed for v1) with the expected report data padded to 64 bytes.

Like guest-components, HSK and CEK come from Hygon's KDS only when
``CSV_INCLUDE_CERT_CHAIN_IN_ATTESTATION_REPORT=true`` (the verifier otherwise fetches them itself); the
event log is the CCEL (trimmed at its end marker) and the attestation agent's event log, if present
(attester/src/utils.rs read_eventlog).

The ioctls are ``_IOWR('D', 1, {u64 addr; u32 len})`` (CSV_GET_REPORT) and ``_IOWR('D', 2, packed {u64 buf;
u64 len; u16 subcmd; u16 rsvd; u32 fw_error_code})`` (CSV_RTMR_REQ) (csv-rs api/guest/ioctl.rs, rtmr.rs).
SM3 is OpenSSL's, through :mod:`hashlib`.
"""

from __future__ import annotations

import base64
import ctypes
import fcntl
import hashlib
import hmac
import os
import struct
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cococtl.errors import ExternalToolError, InvalidInputError

DEFAULT_CSV_GUEST = "/dev/csv-guest"
KDS_URL = "https://cert.hygon.cn"
KDS_TIMEOUT = 30.0
DEFAULT_AAEL = "/run/attestation-agent/eventlog"
CCEL_PATH = "/sys/firmware/acpi/tables/data/CCEL"

REPORT_SIZE = 4096
REPORT_DATA_SIZE = 64
MNONCE_SIZE = 16
EXT_MAGIC = b"ATTESTATION_EXT\0"
EXT_FLAGS = 1
CSV_GET_REPORT = 0xC0104401
CSV_RTMR_REQ = 0xC0184402
RTMR_SUBCMD_STATUS = 1

# Tee info (TeeInfoV1 0x150 bytes, TeeInfoV2 0x490) then the signer.
REPORT_DATA_OFFSET = 64
MNONCE_OFFSET = 128
ANONCE_OFFSET = 188  # v1 only
TEE_INFO_V1_SIZE = 0x150
TEE_INFO_V2_SIZE = 0x490
CSV_CERT_SIZE = 2084
CA_CERT_SIZE = 832
SN_SIZE = 64
SIGNER_RESERVED = 32
MAC_SIZE = 32


class GuestReportRequest(ctypes.Structure):
    _fields_ = [("addr", ctypes.c_uint64), ("len", ctypes.c_uint32)]


class GuestRtmrRequest(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("buf", ctypes.c_uint64),
        ("len", ctypes.c_uint64),
        ("subcmd_id", ctypes.c_uint16),
        ("rsvd", ctypes.c_uint16),
        ("fw_error_code", ctypes.c_uint32),
    ]


class RtmrStatus(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("version", ctypes.c_uint16), ("state", ctypes.c_uint8)]


assert ctypes.sizeof(GuestReportRequest) == 16 and ctypes.sizeof(GuestRtmrRequest) == 24

_ioctl = fcntl.ioctl  # replaced by the test suite's fake device


def csv_guest_device() -> str:
    return os.environ.get("COCOCTL_CSV_GUEST_DEVICE", DEFAULT_CSV_GUEST)


def detect_csv() -> bool:
    """The guest device exists (attester/src/csv/mod.rs detect_platform)."""
    return Path(csv_guest_device()).exists()


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def _xor(data: bytes, anonce: bytes) -> bytes:
    return bytes(b ^ anonce[i % 4] for i, b in enumerate(data))


def _rtmr_supported(fd: int) -> bool:
    """The RTMR status request succeeds: the firmware makes extended (v2) reports."""
    status = RtmrStatus()
    request = GuestRtmrRequest(ctypes.addressof(status), ctypes.sizeof(status), RTMR_SUBCMD_STATUS, 0, 0)
    try:
        rc = _ioctl(fd, CSV_RTMR_REQ, request)
    except OSError:
        return False
    return bool(rc == 0 and request.fw_error_code == 0)


def csv_report(report_data: bytes, device: str) -> tuple[bytes, int, bytes]:
    """``(magic, flags, report page)`` as csv-rs's AttestationReportWrapper holds them."""
    mnonce = os.urandom(MNONCE_SIZE)
    try:
        fd = os.open(device, os.O_RDONLY)
    except OSError as exc:
        raise ExternalToolError(f"cannot open the CSV guest device {device}: {exc.strerror}") from None
    try:
        extended = _rtmr_supported(fd)
        request = report_data + mnonce + sm3(report_data + mnonce)
        if extended:
            request += EXT_MAGIC + struct.pack("<I", EXT_FLAGS)
        page = ctypes.create_string_buffer(request, REPORT_SIZE)
        try:
            _ioctl(fd, CSV_GET_REPORT, GuestReportRequest(ctypes.addressof(page), REPORT_SIZE))
        except OSError as exc:
            raise ExternalToolError(f"CSV_GET_REPORT on {device} failed: {exc.strerror}") from None
    finally:
        os.close(fd)
    report = bytearray(page.raw)
    signer = TEE_INFO_V2_SIZE if extended else TEE_INFO_V1_SIZE
    anonce = bytes(4) if extended else bytes(report[ANONCE_OFFSET : ANONCE_OFFSET + 4])
    reserved_at = signer + CSV_CERT_SIZE + SN_SIZE
    mac_at = reserved_at + SIGNER_RESERVED
    if _xor(bytes(report[MNONCE_OFFSET : MNONCE_OFFSET + MNONCE_SIZE]), anonce) != mnonce:
        raise ExternalToolError("the CSV report does not carry the mnonce it was asked with")
    mac = hmac.new(mnonce, bytes(report[signer:mac_at]), "sm3").digest()
    if not hmac.compare_digest(mac, bytes(report[mac_at : mac_at + MAC_SIZE])):
        raise ExternalToolError("the CSV report's signer MAC does not verify")
    report[signer:reserved_at] = _xor(bytes(report[signer:reserved_at]), anonce)  # PEK, then SN (2084 = 4 * 521)
    report[reserved_at:mac_at] = bytes(SIGNER_RESERVED)
    if _xor(bytes(report[REPORT_DATA_OFFSET : REPORT_DATA_OFFSET + REPORT_DATA_SIZE]), anonce) != report_data:
        raise ExternalToolError("the CSV report does not carry the report data")
    if extended:
        return EXT_MAGIC, EXT_FLAGS, bytes(report)
    return bytes(16), 0, bytes(report)


def _u16(raw: bytes, offset: int) -> int:
    return int(struct.unpack_from("<H", raw, offset)[0])


def _u32(raw: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", raw, offset)[0])


def _array(raw: bytes, start: int, length: int) -> list[int]:
    return list(raw[start : start + length])


def _ecc_pubkey(raw: bytes, at: int) -> dict[str, Any]:
    return {"g": _u32(raw, at), "x": _array(raw, at + 4, 72), "y": _array(raw, at + 76, 72)}


def _ecdsa_signature(raw: bytes, at: int) -> dict[str, Any]:
    return {"r": _array(raw, at, 72), "s": _array(raw, at + 72, 72)}


def csv_certificate(raw: bytes) -> dict[str, Any]:
    """A CSV (PEK/CEK) certificate, 2084 bytes, as csv-rs certs::csv::Certificate serialises."""
    if len(raw) < CSV_CERT_SIZE:
        raise ExternalToolError(f"a CSV certificate has {CSV_CERT_SIZE} bytes, this one {len(raw)}")
    sigs = []
    for at in (1044, 1044 + 520):
        sigs.append(
            {
                "usage": _u32(raw, at),
                "algo": _u32(raw, at + 4),
                "signature": _ecdsa_signature(raw, at + 8),
                "_reserved": _array(raw, at + 152, 368),
            }
        )
    data = {
        "firmware": {"major": raw[4], "minor": raw[5]},
        "reserved1": _u16(raw, 6),
        "pubkey": {"usage": _u32(raw, 8), "algo": _u32(raw, 12), "key": _ecc_pubkey(raw, 16)},
        "uid_size": _u16(raw, 164),
        "user_id": _array(raw, 166, 254),
        "sid": _array(raw, 420, 16),
        "reserved2": _array(raw, 436, 608),
    }
    return {"body": {"ver": _u32(raw, 0), "data": data}, "sigs": sigs}


def ca_certificate(raw: bytes) -> dict[str, Any]:
    """A CA (HRK/HSK) certificate, 832 bytes, as csv-rs certs::ca::Certificate serialises."""
    if len(raw) < CA_CERT_SIZE:
        raise ExternalToolError(f"a Hygon CA certificate has {CA_CERT_SIZE} bytes, this one {len(raw)}")
    preamble = {
        "ver": _u32(raw, 0),
        "data": {
            "kid": _array(raw, 4, 16),
            "sid": _array(raw, 20, 16),
            "usage": _u32(raw, 36),
            "reserved": _array(raw, 40, 24),
        },
    }
    body = {
        "preamble": preamble,
        "pubkey": _ecc_pubkey(raw, 64),
        "uid_size": _u16(raw, 212),
        "user_id": _array(raw, 214, 254),
        "reserved": _array(raw, 468, 108),
    }
    return {"body": body, "signature": _ecdsa_signature(raw, 576), "_reserved": _array(raw, 720, 112)}


def hsk_cek(serial_number: bytes) -> dict[str, Any]:
    """HSK and CEK of this chip from Hygon's KDS (``COCOCTL_HYGON_KDS_URL`` overrides it)."""
    chip_id = serial_number.rstrip(b"\0").decode("ascii", "replace")
    base = os.environ.get("COCOCTL_HYGON_KDS_URL", KDS_URL).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ExternalToolError(f"COCOCTL_HYGON_KDS_URL must be an http(s) URL, not {base[:60]!r}")
    url = f"{base}/hsk_cek?snumber={urllib.parse.quote(chip_id)}"
    try:
        with urllib.request.urlopen(url, timeout=KDS_TIMEOUT) as response:  # noqa: S310 (scheme checked above)
            raw = response.read(CA_CERT_SIZE + CSV_CERT_SIZE + 1)
    except urllib.error.HTTPError as exc:
        raise ExternalToolError(f"the Hygon KDS answered HTTP {exc.code} for chip {chip_id}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExternalToolError(f"the Hygon KDS is unreachable: {reason}") from None
    if len(raw) < CA_CERT_SIZE + CSV_CERT_SIZE:
        raise ExternalToolError(f"the Hygon KDS gave {len(raw)} bytes, not an HSK and a CEK certificate")
    return {"hsk": ca_certificate(raw[:CA_CERT_SIZE]), "cek": csv_certificate(raw[CA_CERT_SIZE:])}


# An EV_NO_ACTION Spec ID event with SHA-384 and SM3 digests, put before an agent event log that has no
# CCEL ahead of it (attester/src/utils.rs EL_HEADER).
_EL_SPEC_ID = struct.pack("<24sIHHHHB", bytes(24), 2, 0x000C, 48, 0x0012, 32, 0)
EL_HEADER = struct.pack("<II20sI", 0, 3, bytes(20), len(_EL_SPEC_ID)) + _EL_SPEC_ID
EL_END = b"\xff" * 8
_DIGEST_SIZES = {0x0B: 32, 0x0C: 48, 0x0D: 64, 0x12: 32}


def trim_ccel(ccel: bytes) -> bytes:
    """The CCEL up to its end marker (an all-0xff or all-zero word where the next event would start)."""
    try:
        event_type = _u32(ccel, 4)
        at = 4 + 4 + 20
        if event_type == 3:  # the leading EV_NO_ACTION (Spec ID) event
            at += 4 + _u32(ccel, at)
        while True:
            if ccel[at : at + 8] in (EL_END, bytes(8)):
                return ccel[:at]
            at += 8
            count, at = _u32(ccel, at), at + 4
            for _ in range(count):
                algorithm = _u16(ccel, at)
                if algorithm not in _DIGEST_SIZES:
                    raise ExternalToolError(f"the CCEL has an event digest of unknown algorithm {algorithm:#x}")
                at += 2 + _DIGEST_SIZES[algorithm]
            at += 4 + _u32(ccel, at)
    except struct.error:
        raise ExternalToolError("the CCEL ends before its end marker") from None


def cc_eventlog() -> str | None:
    ccel_path = Path(os.environ.get("COCOCTL_CCEL_PATH", CCEL_PATH))
    aael_path = Path(os.environ.get("AAEL_PATH", DEFAULT_AAEL))
    eventlog = trim_ccel(ccel_path.read_bytes()) if ccel_path.is_file() else b""
    if aael_path.is_file():
        eventlog = (eventlog or EL_HEADER) + aael_path.read_bytes()
    return base64.b64encode(eventlog + EL_END).decode() if eventlog else None


@dataclass(frozen=True)
class CsvAttester:
    device: str | None = None

    @property
    def tee(self) -> str:
        return "csv"

    def evidence(self, report_data: bytes) -> Any:
        if len(report_data) > REPORT_DATA_SIZE:
            raise InvalidInputError(f"CSV report data is at most {REPORT_DATA_SIZE} bytes")
        magic, flags, report = csv_report(report_data.ljust(REPORT_DATA_SIZE, b"\0"), self.device or csv_guest_device())
        signer = TEE_INFO_V2_SIZE if flags else TEE_INFO_V1_SIZE
        serial_number = report[signer + CSV_CERT_SIZE : signer + CSV_CERT_SIZE + SN_SIZE]
        cert_chain: dict[str, Any] = {}
        if os.environ.get("CSV_INCLUDE_CERT_CHAIN_IN_ATTESTATION_REPORT") == "true":  # guest-components switch
            cert_chain["hsk_cek"] = hsk_cek(serial_number)
        cert_chain["pek"] = csv_certificate(report[signer : signer + CSV_CERT_SIZE])
        return {
            "attestation_report": {"magic": list(magic), "flags": flags, "data": list(report)},
            "cert_chain": cert_chain,
            "serial_number": list(serial_number),
            "cc_eventlog": cc_eventlog(),
        }
