"""The ``se`` attester: IBM Secure Execution (s390x) attestation through the Ultravisor device ``/dev/uv``.

The KBS's challenge nonce is itself the request: the JSON of an ``SeAttestationRequest`` (attestation
request control block, sizes, encrypted key and nonce, image header tags). The report data digest becomes
the UV call's user data, zero-padded to 64 bytes (guest-components attester/src/se/mod.rs
SE_REPORT_DATA_SIZE, validate_and_pad_data; kbs_protocol client/rcar_client.rs get_composite_evidence
injects it as ``runtime_data_digest``). The response fields are all standard padded base64
(attester se/mod.rs SeAttestationResponse; Trustee deps/verifier/src/se/ibmse.rs SeAttestationResponse),
and the verifier compares the first bytes of ``user_data`` with the report data (ibmse.rs evaluate).

The ioctl layout is linux arch/s390/include/uapi/asm/uvdevice.h (s390_pv_core 0.12 uvdevice/ffi.rs):
``UVIO_IOCTL_ATT`` = _IOWR('u', 1, struct uvio_ioctl_cb) around a ``struct uvio_attest``.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import fcntl
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cococtl.errors import ExternalToolError, InvalidInputError
from cococtl.kbs.b64 import b64std

DEFAULT_UV_DEVICE = "/dev/uv"
PROT_VIRT_GUEST = Path("/sys/firmware/uv/prot_virt_guest")
REPORT_DATA_SIZE = 64
UVIO_IOCTL_ATT = 0xC0407501
UV_RC_SUCCESS = 0x0001
UV_RC_MORE_DATA = 0x0100
MAX_ARCB = 0x100000
MAX_MEASUREMENT = 0x8000
MAX_ADDITIONAL = 0x8000


class UvioIoctlCb(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint32),
        ("uv_rc", ctypes.c_uint16),
        ("uv_rrc", ctypes.c_uint16),
        ("argument_addr", ctypes.c_uint64),
        ("argument_len", ctypes.c_uint32),
        ("reserved14", ctypes.c_uint8 * 44),
    ]


class UvioAttest(ctypes.Structure):
    _fields_ = [
        ("arcb_addr", ctypes.c_uint64),
        ("meas_addr", ctypes.c_uint64),
        ("add_data_addr", ctypes.c_uint64),
        ("user_data", ctypes.c_uint8 * 256),
        ("config_uid", ctypes.c_uint8 * 16),
        ("arcb_len", ctypes.c_uint32),
        ("meas_len", ctypes.c_uint32),
        ("add_data_len", ctypes.c_uint32),
        ("user_data_len", ctypes.c_uint16),
        ("reserved136", ctypes.c_uint16),
    ]


assert ctypes.sizeof(UvioIoctlCb) == 0x40 and ctypes.sizeof(UvioAttest) == 0x138

_ioctl = fcntl.ioctl  # replaced by the test suite's fake Ultravisor


def uv_device() -> str:
    return os.environ.get("COCOCTL_SE_UV_DEVICE", DEFAULT_UV_DEVICE)


def detect_se() -> bool:
    """A protected-virtualization guest (s390_pv_core utils.rs pv_guest_bit_set)."""
    if platform.machine() != "s390x":
        return False
    try:
        return PROT_VIRT_GUEST.read_bytes()[:1] == b"1"
    except OSError:
        return False


@dataclass(frozen=True)
class SeRequest:
    request_blob: bytes
    measurement_size: int
    additional_size: int
    encr_measurement_key: bytes
    encr_request_nonce: bytes
    image_hdr_tags: bytes

    @classmethod
    def from_nonce(cls, nonce: str) -> SeRequest:
        try:
            request = json.loads(nonce)

            def blob(name: str) -> bytes:
                return base64.b64decode(request[name], validate=True)

            parsed = cls(
                blob("request_blob"),
                int(request["measurement_size"]),
                int(request["additional_size"]),
                blob("encr_measurement_key"),
                blob("encr_request_nonce"),
                blob("image_hdr_tags"),
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidInputError(
                "the KBS nonce is not an IBM SE attestation request (SeAttestationRequest JSON)"
            ) from None
        if not (
            0 < len(parsed.request_blob) <= MAX_ARCB
            and 0 < parsed.measurement_size <= MAX_MEASUREMENT
            and 0 <= parsed.additional_size <= MAX_ADDITIONAL
        ):
            raise InvalidInputError("the IBM SE attestation request has out-of-range sizes")
        return parsed


def uv_attest(request: SeRequest, user_data: bytes, device: str) -> tuple[bytes, bytes, bytes]:
    """One Retrieve Attestation Measurement UV call: ``(measurement, additional data, config UID)``."""
    arcb = ctypes.create_string_buffer(request.request_blob, len(request.request_blob))
    measurement = ctypes.create_string_buffer(request.measurement_size)
    additional = ctypes.create_string_buffer(max(request.additional_size, 1))
    attest = UvioAttest()
    attest.arcb_addr, attest.arcb_len = ctypes.addressof(arcb), len(request.request_blob)
    attest.meas_addr, attest.meas_len = ctypes.addressof(measurement), request.measurement_size
    if request.additional_size:
        attest.add_data_addr, attest.add_data_len = ctypes.addressof(additional), request.additional_size
    ctypes.memmove(attest.user_data, user_data, len(user_data))
    attest.user_data_len = len(user_data)
    cb = UvioIoctlCb()
    cb.argument_addr, cb.argument_len = ctypes.addressof(attest), ctypes.sizeof(attest)
    try:
        fd = os.open(device, os.O_RDWR)
    except OSError as exc:
        raise ExternalToolError(f"cannot open the Ultravisor device {device}: {exc.strerror}") from None
    try:
        _ioctl(fd, UVIO_IOCTL_ATT, cb)
    except OSError as exc:
        raise ExternalToolError(f"UVIO_IOCTL_ATT on {device} failed: {exc.strerror}") from None
    finally:
        os.close(fd)
    if cb.uv_rc not in (UV_RC_SUCCESS, UV_RC_MORE_DATA):
        raise ExternalToolError(
            f"the Ultravisor refused the attestation request (rc {cb.uv_rc:#x}, rrc {cb.uv_rrc:#x})"
        )
    add_len = min(attest.add_data_len, request.additional_size)
    return measurement.raw, additional.raw[:add_len], bytes(attest.config_uid)


@dataclass
class SeAttester:
    """Needs the challenge: the KBS client calls :meth:`bind_challenge` with the nonce before :meth:`evidence`."""

    device: str | None = None
    nonce: str | None = field(default=None, repr=False)

    @property
    def tee(self) -> str:
        return "se"

    def bind_challenge(self, nonce: str) -> None:
        self.nonce = nonce

    def evidence(self, report_data: bytes) -> Any:
        if self.nonce is None:
            raise InvalidInputError("IBM SE evidence needs the KBS challenge (its nonce is the attestation request)")
        if len(report_data) > REPORT_DATA_SIZE:
            raise InvalidInputError(f"IBM SE report data is at most {REPORT_DATA_SIZE} bytes")
        request = SeRequest.from_nonce(self.nonce)
        user_data = report_data.ljust(REPORT_DATA_SIZE, b"\0")
        measurement, additional, cuid = uv_attest(request, user_data, self.device or uv_device())
        return {
            "measurement": b64std(measurement),
            "additional_data": b64std(additional),
            "user_data": b64std(user_data),
            "cuid": b64std(cuid),
            "encr_measurement_key": b64std(request.encr_measurement_key),
            "encr_request_nonce": b64std(request.encr_request_nonce),
            "image_hdr_tags": b64std(request.image_hdr_tags),
        }
