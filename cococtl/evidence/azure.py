"""Azure confidential VMs (``az-snp-vtpm``, ``az-tdx-vtpm``): the paravisor's HCL report through the vTPM.

The report data goes to vTPM NV index 0x01400002; the HCL then refreshes the HCL report at 0x01400001
(its variable data carries ``user-data`` = the report data, and the hardware report's report data holds
SHA-256(variable data)); the vTPM AK at 0x81000003 quotes PCRs 0-23 with the report data as nonce
(az-cvm-vtpm 0.8.1 vtpm/mod.rs get_report_with_report_data, get_quote). The VCEK (SNP) and the TD quote
(TDX) come from the Azure instance metadata service (IMDS), ``COCOCTL_AZURE_IMDS_URL`` overriding it.

Evidence version 2, URL-safe padded base64 for the reports, hex for the TPM quote (guest-components
attester/src/az_snp_vtpm/mod.rs Evidence/TpmQuote, az_tdx_vtpm/mod.rs Evidence; Trustee
deps/verifier/src/az_snp_vtpm/compat.rs EvidenceV2/TpmQuote, az_tdx_vtpm/compat.rs EvidenceV2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from cococtl.errors import ExternalToolError
from cococtl.evidence.tpm2 import Tpm, TpmResponseError, attest_parts

HCL_REPORT_INDEX = 0x01400001
REPORT_DATA_INDEX = 0x01400002
AK_HANDLE = 0x81000003
EVIDENCE_VERSION = 2
IMDS_URL = "http://169.254.169.254"
IMDS_TIMEOUT = 20.0

# HCL report layout (az-cvm-vtpm hcl/mod.rs AttestationReport): a 32-byte header, the hardware report padded
# to 1184 bytes, then IgvmRequestData (data_size, version, report_type, hash_type, variable_data_size) and the
# variable data.
HCL_HEADER = 32
HW_REPORT_SIZE = 1184
TD_REPORT_SIZE = 1024
IGVM_OFFSET = HCL_HEADER + HW_REPORT_SIZE
VAR_DATA_OFFSET = IGVM_OFFSET + 20
REPORT_TYPES = {2: "snp", 4: "tdx"}
SNP_REPORT_DATA = 0x50  # report data in an SNP attestation report
TD_REPORT_DATA = 128  # report data in a TDREPORT (REPORTMACSTRUCT)


def b64url_padded(data: bytes) -> str:
    """serde_with ``Base64<UrlSafe>`` (padded)."""
    return base64.urlsafe_b64encode(data).decode("ascii")


@dataclass(frozen=True)
class HclReport:
    raw: bytes
    kind: str
    var_data: bytes

    @classmethod
    def parse(cls, raw: bytes) -> HclReport:
        if len(raw) < VAR_DATA_OFFSET:
            raise ExternalToolError(f"the vTPM HCL report has {len(raw)} bytes, fewer than its header")
        _size, _version, report_type, hash_type, var_size = struct.unpack_from("<5I", raw, IGVM_OFFSET)
        if report_type not in REPORT_TYPES:
            raise ExternalToolError(f"the vTPM HCL report has an unknown report type {report_type}")
        if hash_type != 1 or len(raw) < VAR_DATA_OFFSET + var_size:
            raise ExternalToolError("the vTPM HCL report's variable data is not SHA-256 bound or is truncated")
        return cls(raw, REPORT_TYPES[report_type], raw[VAR_DATA_OFFSET : VAR_DATA_OFFSET + var_size])

    @property
    def hw_report(self) -> bytes:
        size = TD_REPORT_SIZE if self.kind == "tdx" else HW_REPORT_SIZE
        return self.raw[HCL_HEADER : HCL_HEADER + size]

    @property
    def hw_report_data(self) -> bytes:
        offset = TD_REPORT_DATA if self.kind == "tdx" else SNP_REPORT_DATA
        return self.hw_report[offset : offset + 64]

    def user_data(self) -> bytes:
        try:
            return binascii.unhexlify(json.loads(self.var_data)["user-data"])
        except (ValueError, KeyError, TypeError):
            raise ExternalToolError("the vTPM HCL report's variable data has no hex user-data") from None

    def check_binding(self, report_data: bytes) -> None:
        """What Trustee checks (az_snp_vtpm/mod.rs verify_report_data, verify_user_data)."""
        if hashlib.sha256(self.var_data).digest() != self.hw_report_data[:32]:
            raise ExternalToolError("the HCL report's hardware report does not bind its variable data")
        if self.user_data()[: len(report_data)] != report_data:
            raise ExternalToolError("the vTPM HCL report does not carry the report data (a stale report?)")


def read_hcl_report(tpm: Tpm, size: int | None = None) -> bytes:
    try:
        return tpm.nv_read(HCL_REPORT_INDEX, size)
    except TpmResponseError as exc:
        raise ExternalToolError(f"cannot read the HCL report from vTPM NV index {HCL_REPORT_INDEX:#x}: {exc}") from None


def detect_azure(spec: str | None = None) -> str | None:
    """``az-snp-vtpm`` / ``az-tdx-vtpm`` when the TPM holds an HCL report (az-cvm-vtpm is_snp_cvm/is_tdx_cvm)."""
    try:
        with Tpm(spec) as tpm:
            if tpm.nv_size(HCL_REPORT_INDEX) is None:
                return None
            header = read_hcl_report(tpm, VAR_DATA_OFFSET)
    except ExternalToolError:
        return None
    report_type = struct.unpack_from("<I", header, IGVM_OFFSET + 8)[0] if len(header) >= VAR_DATA_OFFSET else 0
    return {2: "az-snp-vtpm", 4: "az-tdx-vtpm"}.get(report_type)


def _delay() -> float:
    try:
        return float(os.environ.get("COCOCTL_AZURE_HCL_DELAY", "3"))
    except ValueError:
        return 3.0


def vtpm_parts(report_data: bytes, kind: str, spec: str | None) -> tuple[HclReport, dict[str, Any]]:
    """Refresh and read the HCL report, and quote; ``(hcl report, tpm_quote JSON)``."""
    if not report_data or len(report_data) > 64:
        raise ExternalToolError("Azure vTPM report data must be 1 to 64 bytes")
    with Tpm(spec) as tpm:
        try:
            tpm.nv_write(REPORT_DATA_INDEX, report_data)
        except TpmResponseError as exc:
            raise ExternalToolError(
                f"cannot write the report data to vTPM NV index {REPORT_DATA_INDEX:#x}: {exc}"
            ) from None
        time.sleep(_delay())  # the HCL refreshes the report asynchronously (az-cvm-vtpm waits 3 s)
        hcl = HclReport.parse(read_hcl_report(tpm))
        if hcl.kind != kind:
            raise ExternalToolError(f"the vTPM HCL report is for {hcl.kind.upper()}, not {kind.upper()}")
        hcl.check_binding(report_data)
        try:
            message, signature = tpm.quote(AK_HANDLE, report_data, rsassa_sha256=False)
        except TpmResponseError as exc:
            raise ExternalToolError(f"the vTPM AK {AK_HANDLE:#x} could not quote: {exc}") from None
        if attest_parts(message)[0] != report_data:
            raise ExternalToolError("the vTPM quote does not carry the report data")
        pcrs = tpm.pcrs_sha256()
    raw_signature = signature[6:]  # TPMT_SIGNATURE: sigAlg, hash, size, then the RSA signature
    return hcl, {"signature": raw_signature.hex(), "message": message.hex(), "pcrs": [p.hex() for p in pcrs]}


def _imds(path: str, body: dict[str, str] | None = None) -> Any:
    url = os.environ.get("COCOCTL_AZURE_IMDS_URL", IMDS_URL).rstrip("/") + path
    if not url.startswith(("http://", "https://")):
        raise ExternalToolError(f"COCOCTL_AZURE_IMDS_URL must be an http(s) URL, not {url[:60]!r}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url, data=data, headers={"Metadata": "true", "Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # IMDS is link-local: never via a proxy
    try:
        with opener.open(request, timeout=IMDS_TIMEOUT) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise ExternalToolError(f"Azure IMDS {path} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExternalToolError(f"Azure IMDS {path} is unreachable: {reason}") from None
    except (ValueError, UnicodeDecodeError):
        raise ExternalToolError(f"Azure IMDS {path} did not answer JSON") from None


def vcek_der() -> bytes:
    """The VCEK from THIM (``vcekCert``, PEM) as DER (az-snp-vtpm imds::get_certs, attester pem_to_der)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    answer = _imds("/metadata/THIM/amd/certification")
    pem = answer.get("vcekCert") if isinstance(answer, dict) else None
    if not isinstance(pem, str):
        raise ExternalToolError("Azure IMDS gave no vcekCert")
    try:
        return x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)
    except ValueError:
        raise ExternalToolError("Azure IMDS vcekCert is not a PEM certificate") from None


def td_quote(td_report: bytes) -> bytes:
    """IMDS ``/acc/tdquote``: ``{"report": std-base64}`` → ``{"quote": base64}`` (azure-guest-attestation-sdk
    guest_attest/imds.rs fetch_td_quote_http)."""
    answer = _imds("/acc/tdquote", {"report": base64.b64encode(td_report).decode()})
    quote = answer.get("quote") if isinstance(answer, dict) else None
    if not isinstance(quote, str):
        raise ExternalToolError("Azure IMDS gave no TD quote")
    padded = quote + "=" * (-len(quote) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ExternalToolError("Azure IMDS TD quote is not base64") from None


@dataclass(frozen=True)
class AzSnpVtpmAttester:
    spec: str | None = None

    @property
    def tee(self) -> str:
        return "az-snp-vtpm"

    def evidence(self, report_data: bytes) -> Any:
        hcl, tpm_quote = vtpm_parts(report_data, "snp", self.spec)
        return {
            "version": EVIDENCE_VERSION,
            "tpm_quote": tpm_quote,
            "hcl_report": b64url_padded(hcl.raw),
            "vcek": b64url_padded(vcek_der()),
        }


@dataclass(frozen=True)
class AzTdxVtpmAttester:
    spec: str | None = None

    @property
    def tee(self) -> str:
        return "az-tdx-vtpm"

    def evidence(self, report_data: bytes) -> Any:
        hcl, tpm_quote = vtpm_parts(report_data, "tdx", self.spec)
        return {
            "version": EVIDENCE_VERSION,
            "tpm_quote": tpm_quote,
            "hcl_report": b64url_padded(hcl.raw),
            "td_quote": b64url_padded(td_quote(hcl.hw_report)),
        }
