"""AMD SEV-SNP attestation reports (1184 bytes, ABI rev. ≥ 1.51) as the JSON Trustee's verifier reads.

Byte fields become JSON integer arrays and the TCB versions objects, like the ``sev`` crate's serde
output (see the SNP evidence in the KBS test suite). Offsets follow AMD's ATTESTATION_REPORT layout.
"""

from __future__ import annotations

import struct
from typing import Any

from cococtl.errors import InvalidInputError

REPORT_SIZE = 1184
_TURIN_FAMILY = 0x1A


def _tcb(raw: bytes, turin: bool) -> dict[str, Any]:
    if turin:
        return {"fmc": raw[0], "bootloader": raw[1], "tee": raw[2], "snp": raw[3], "microcode": raw[7]}
    return {"fmc": None, "bootloader": raw[0], "tee": raw[1], "snp": raw[6], "microcode": raw[7]}


def _version(raw: bytes) -> dict[str, int]:
    return {"major": raw[2], "minor": raw[1], "build": raw[0]}


def parse_report(report: bytes) -> dict[str, Any]:
    """The ``attestation_report`` object for a raw SNP report."""
    if len(report) < REPORT_SIZE:
        raise InvalidInputError(f"an SNP attestation report has {REPORT_SIZE} bytes, this one {len(report)}")
    version, guest_svn, policy = struct.unpack_from("<IIQ", report, 0)
    vmpl, sig_algo = struct.unpack_from("<II", report, 0x30)
    plat_info, key_info = struct.unpack_from("<QI", report, 0x40)
    family, model, stepping = report[0x188], report[0x189], report[0x18A]
    turin = version >= 3 and family == _TURIN_FAMILY

    def array(start: int, length: int) -> list[int]:
        return list(report[start : start + length])

    return {
        "version": version,
        "guest_svn": guest_svn,
        "policy": policy,
        "family_id": array(0x10, 16),
        "image_id": array(0x20, 16),
        "vmpl": vmpl,
        "sig_algo": sig_algo,
        "current_tcb": _tcb(report[0x38:0x40], turin),
        "plat_info": plat_info,
        "key_info": key_info,
        "report_data": array(0x50, 64),
        "measurement": array(0x90, 48),
        "host_data": array(0xC0, 32),
        "id_key_digest": array(0xE0, 48),
        "author_key_digest": array(0x110, 48),
        "report_id": array(0x140, 32),
        "report_id_ma": array(0x160, 32),
        "reported_tcb": _tcb(report[0x180:0x188], turin),
        "cpuid_fam_id": family if version >= 3 else None,
        "cpuid_mod_id": model if version >= 3 else None,
        "cpuid_step": stepping if version >= 3 else None,
        "chip_id": array(0x1A0, 64),
        "committed_tcb": _tcb(report[0x1E0:0x1E8], turin),
        "current": _version(report[0x1E8:0x1EC]),
        "committed": _version(report[0x1EC:0x1F0]),
        "launch_tcb": _tcb(report[0x1F0:0x1F8], turin),
        "signature": {"r": array(0x2A0, 72), "s": array(0x2E8, 72)},
    }


def snp_evidence(report: bytes, certificates: bytes | None) -> dict[str, Any]:
    """``{"attestation_report": …, "cert_chain": [...] | null}`` (cert table from the extended report)."""
    return {"attestation_report": parse_report(report), "cert_chain": parse_cert_table(certificates)}


_CERT_GUIDS = {
    "63da758d-e664-4564-adc5-f4b93be8accd": "VCEK",
    "a8074bc2-a25a-483e-aae6-39c045a0b8a1": "VLEK",
    "4ab7b379-bbac-4fe4-a02f-05aef327c782": "ARK",
    "c0b406a4-a803-4952-9743-3fb6014cd0ae": "ASK",
}


def parse_cert_table(table: bytes | None) -> list[dict[str, Any]] | None:
    """The GHCB certificate table (GUID, offset, length entries ended by a zero GUID)."""
    if not table:
        return None
    import uuid

    chain = []
    for entry in range(0, len(table) - 24 + 1, 24):
        guid = uuid.UUID(bytes_le=table[entry : entry + 16])
        if guid.int == 0:
            break
        offset, length = struct.unpack_from("<II", table, entry + 16)
        if offset + length > len(table):
            raise InvalidInputError("the SNP certificate table points outside itself")
        chain.append(
            {"cert_type": _CERT_GUIDS.get(str(guid), str(guid)), "data": list(table[offset : offset + length])}
        )
    return chain
