"""The ``sgx`` attester: an SGX DCAP quote from a Gramine enclave's ``/dev/attestation`` pseudo-files.

Gramine exposes ``attestation_type`` (``dcap``), ``user_report_data`` (write 64 bytes) and ``quote`` (read
the quote over them); guest-components' sgx_dcap attester uses exactly these (attester/src/sgx_dcap/mod.rs
get_libos_type, get_evidence). The directory is overridable (``COCOCTL_SGX_ATTESTATION_DIR``) for tests.

Evidence ``{"quote": std-base64(quote)}`` (Trustee deps/verifier/src/sgx/mod.rs SgxEvidence); the verifier
compares the v3 quote body's 64-byte report_data with the zero-padded report data (sgx/mod.rs verify_evidence).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cococtl.errors import ExternalToolError
from cococtl.kbs.b64 import b64std

QUOTE_HEADER = 48
REPORT_DATA_OFFSET = QUOTE_HEADER + 320  # sgx_report_body_t.report_data (intel_dcap/quote.rs SgxReportBody)


def attestation_dir() -> Path:
    return Path(os.environ.get("COCOCTL_SGX_ATTESTATION_DIR", "/dev/attestation"))


def detect_gramine() -> bool:
    try:
        return (attestation_dir() / "attestation_type").read_text().strip() == "dcap"
    except OSError:
        return False


def quote_report_data(quote: bytes) -> bytes:
    """The report data of an SGX ECDSA (v3) quote."""
    if len(quote) < REPORT_DATA_OFFSET + 64:
        raise ExternalToolError(f"the SGX quote has {len(quote)} bytes, too few for a quote")
    version, key_type = struct.unpack_from("<HH", quote, 0)
    if version != 3 or key_type != 2:
        raise ExternalToolError(f"not an SGX ECDSA quote v3 (version {version}, attestation key type {key_type})")
    return quote[REPORT_DATA_OFFSET : REPORT_DATA_OFFSET + 64]


@dataclass(frozen=True)
class SgxAttester:
    @property
    def tee(self) -> str:
        return "sgx"

    def evidence(self, report_data: bytes) -> Any:
        if len(report_data) > 64:
            raise ExternalToolError("SGX report data is at most 64 bytes")
        padded = report_data.ljust(64, b"\0")
        root = attestation_dir()
        if not detect_gramine():
            hint = (
                " (Occlum's DCAP ioctl is not supported natively: use --attester-cmd)" if "OCCLUM" in os.environ else ""
            )
            raise ExternalToolError(f"no DCAP attestation interface at {root}{hint}")
        try:
            (root / "user_report_data").write_bytes(padded)
            quote = (root / "quote").read_bytes()
        except OSError as exc:
            raise ExternalToolError(f"SGX quote through {root}: {exc.strerror}") from None
        if quote_report_data(quote) != padded:
            raise ExternalToolError("the SGX quote does not carry the report data")
        return {"quote": b64std(quote)}
