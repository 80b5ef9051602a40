"""The ``tpm`` attester: a TPM 2.0 quote by a persistent attestation key, as Trustee's TPM verifier reads it.

Shape (guest-components attester/src/tpm/mod.rs Evidence, tpm/utils.rs TpmQuote; Trustee
deps/verifier/src/tpm/mod.rs Evidence/Quote)::

    {"tpm_quote": {"signature": std-base64(TPMT_SIGNATURE), "message": std-base64(TPMS_ATTEST),
                   "pcrs": [24 × hex SHA-256 PCR]},
     "ak_public": std-base64(DER SubjectPublicKeyInfo of the AK)}

The quote's qualifying data (the nonce the verifier compares) is the report data resized to 32 bytes:
a SHA-384 digest is truncated, a shorter one zero-padded (attester tpm/mod.rs TPM_REPORT_DATA_SIZE).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cococtl.errors import ExternalToolError
from cococtl.evidence.tpm2 import Tpm, TpmResponseError, attest_parts
from cococtl.kbs.b64 import b64std

DEFAULT_AK_HANDLE = 0x81010002  # attester tpm/utils.rs TPM_DEFAULT_AK_HANDLE
REPORT_DATA_SIZE = 32


def ak_handle() -> int:
    """``COCOCTL_TPM_AK_HANDLE`` (or guest-components' ``AA_TPM_AK_HANDLE``), hex; default 0x81010002."""
    raw = os.environ.get("COCOCTL_TPM_AK_HANDLE") or os.environ.get("AA_TPM_AK_HANDLE")
    if not raw:
        return DEFAULT_AK_HANDLE
    try:
        return int(raw.removeprefix("0x"), 16)
    except ValueError:
        raise ExternalToolError(f"TPM AK handle {raw!r} is not a hex number") from None


def tpm_nonce(report_data: bytes) -> bytes:
    return report_data[:REPORT_DATA_SIZE].ljust(REPORT_DATA_SIZE, b"\0")


def tpm_evidence(tpm: Tpm, handle: int, report_data: bytes) -> dict[str, Any]:
    nonce = tpm_nonce(report_data)
    try:
        ak = tpm.read_public(handle)
    except TpmResponseError:
        raise ExternalToolError(f"the TPM has no attestation key at {handle:#x} (set COCOCTL_TPM_AK_HANDLE)") from None
    message, signature = tpm.quote(handle, nonce, rsassa_sha256=True)
    if attest_parts(message)[0] != nonce:
        raise ExternalToolError("the TPM quote does not carry the report data")
    pcrs = tpm.pcrs_sha256()
    return {
        "tpm_quote": {"signature": b64std(signature), "message": b64std(message), "pcrs": [p.hex() for p in pcrs]},
        "ak_public": b64std(ak.spki_der()),
    }


@dataclass(frozen=True)
class TpmAttester:
    """A (v)TPM not bound to a TEE: trust in it comes from the AK's provenance, not from hardware."""

    spec: str | None = None

    @property
    def tee(self) -> str:
        return "tpm"

    def evidence(self, report_data: bytes) -> Any:
        with Tpm(self.spec) as tpm:
            return tpm_evidence(tpm, ak_handle(), report_data)
