"""Native attesters beyond TDX/SNP: each produces the evidence JSON Trustee's verifier for its TEE reads.

TPM-based ones (tpm, az-snp-vtpm, az-tdx-vtpm) run against a real software TPM (swtpm, provisioned with
tpm2-tools as an independent TPM client); device ones against fake device trees: a Gramine-like
``/dev/attestation`` whose ``quote`` is a FIFO answered from ``user_report_data``, a configfs-tsm tree
with an ``arm_cca_guest`` provider, a fake Ultravisor behind ``/dev/uv``'s ioctl and a fake Hygon Secure
Processor behind ``/dev/csv-guest``'s.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import hmac
import http.server
import json
import os
import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from cococtl.errors import ExternalToolError, InvalidInputError
from cococtl.evidence import detect
from cococtl.evidence.tpm2 import attest_parts
from tests.integration.peers import free_port, wait_for_port
from tests.integration.test_evidence import FakeTsm

pytestmark = pytest.mark.integration
DIGEST = hashlib.sha384(b"nonce and tee-pubkey").digest()  # what the KBS client hands an attester (48 bytes)
VECTORS = Path(__file__).parents[1] / "vectors"


@pytest.fixture(autouse=True)
def no_real_tee(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing of this machine's own hardware leaks into detection."""
    monkeypatch.setenv("COCOCTL_TSM_ROOT", str(tmp_path / "no-tsm"))
    monkeypatch.setenv("COCOCTL_SEV_GUEST_DEVICE", str(tmp_path / "no-sev-guest"))
    monkeypatch.setenv("COCOCTL_SGX_ATTESTATION_DIR", str(tmp_path / "no-attestation"))
    monkeypatch.setenv("COCOCTL_CSV_GUEST_DEVICE", str(tmp_path / "no-csv-guest"))
    monkeypatch.setenv("COCOCTL_CCEL_PATH", str(tmp_path / "no-ccel"))
    monkeypatch.setenv("AAEL_PATH", str(tmp_path / "no-aael"))
    monkeypatch.delenv("CSV_INCLUDE_CERT_CHAIN_IN_ATTESTATION_REPORT", raising=False)
    monkeypatch.setenv("COCOCTL_TPM", "swtpm:host=127.0.0.1,port=1")  # overridden by the swtpm fixture
    monkeypatch.setenv("COCOCTL_AZURE_HCL_DELAY", "0")
    monkeypatch.delenv("COCOCTL_TPM_AK_HANDLE", raising=False)
    monkeypatch.delenv("AA_TPM_AK_HANDLE", raising=False)


# --- a real software TPM ---------------------------------------------------------------------------------


@dataclass
class SwTpm:
    port: int
    directory: Path

    @property
    def tcti(self) -> str:
        return f"swtpm:host=127.0.0.1,port={self.port}"

    def tool(self, *argv: str) -> bytes:
        """A tpm2-tools command against this swtpm, bounded in time; a failure fails the test."""
        done = subprocess.run(
            argv,
            cwd=self.directory,
            env={**os.environ, "TPM2TOOLS_TCTI": self.tcti},
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def provision_ak(self, handle: int) -> rsa.RSAPublicKey:
        """A restricted RSA signing key (RSASSA-SHA256) made persistent at ``handle``; its public key."""
        self.tool(
            "tpm2_createprimary", "-C", "e", "-g", "sha256", "-G", "rsa2048:rsassa-sha256:null", "-c", "ak.ctx",
            "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda",
        )  # fmt: skip
        self.tool("tpm2_evictcontrol", "-C", "o", "-c", "ak.ctx", hex(handle))
        self.tool("tpm2_readpublic", "-c", hex(handle), "-f", "pem", "-o", f"ak-{handle:x}.pem")
        self.tool("tpm2_flushcontext", "-t")
        key = serialization.load_pem_public_key((self.directory / f"ak-{handle:x}.pem").read_bytes())
        assert isinstance(key, rsa.RSAPublicKey)
        return key

    def nv_store(self, index: int, data: bytes) -> None:
        (self.directory / "nv.bin").write_bytes(data)
        self.tool("tpm2_nvdefine", hex(index), "-C", "o", "-s", str(len(data)), "-a", "ownerread|ownerwrite")
        self.tool("tpm2_nvwrite", hex(index), "-C", "o", "-i", "nv.bin")

    def nv_load(self, index: int) -> bytes:
        return self.tool("tpm2_nvread", hex(index), "-C", "o")

    def pcr(self, index: int) -> str:
        self.tool("tpm2_pcrread", f"sha256:{index}", "-o", "pcr.bin")
        return (self.directory / "pcr.bin").read_bytes().hex()


def port_pair() -> tuple[int, int]:
    import socket

    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port, port + 1
    pytest.fail("no two consecutive free TCP ports on 127.0.0.1")


@pytest.fixture
def swtpm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SwTpm]:
    for tool in ("swtpm", "tpm2_createprimary"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run scripts/install-system-deps.sh (swtpm, tpm2-tools)")
    state = tmp_path / "swtpm"
    state.mkdir()
    port, ctrl = port_pair()  # the swtpm TCTI expects the control channel on port + 1
    proc = subprocess.Popen(
        ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}",
         "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
         "--ctrl", f"type=tcp,port={ctrl},bindaddr=127.0.0.1", "--flags", "not-need-init,startup-clear"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_port(port, deadline=15, proc=proc)
        tpm = SwTpm(port, state)
        monkeypatch.setenv("COCOCTL_TPM", tpm.tcti)
        yield tpm
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def check_quote(message: bytes, pcrs: list[str], signature: bytes, key: rsa.RSAPublicKey) -> bytes:
    """What the verifiers check of a quote: RSASSA-SHA256 by the AK over TPMS_ATTEST, SHA-256 over the 24 PCRs
    equal to its pcrDigest (Trustee tpm/mod.rs verify_signature/verify_pcrs, az_snp_vtpm/mod.rs
    verify_tpm_signature/verify_tpm_pcrs). Returns the nonce (extraData)."""
    key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    assert len(pcrs) == 24 and all(len(pcr) == 64 for pcr in pcrs)
    nonce, pcr_digest = attest_parts(message)
    assert hashlib.sha256(b"".join(bytes.fromhex(pcr) for pcr in pcrs)).digest() == pcr_digest
    return nonce


def test_tpm_evidence_shape_and_binding(swtpm: SwTpm) -> None:
    """guest-components attester/src/tpm/mod.rs:22-27 (Evidence), :19 + :67 (report data resized to 32 bytes),
    tpm/utils.rs:29-34 (TpmQuote), :36 (AK 0x81010002), :185-209 (RSASSA-SHA256 quote, base64 of the marshalled
    TPMT_SIGNATURE and TPMS_ATTEST, hex PCRs 0-23); Trustee deps/verifier/src/tpm/mod.rs:25-40 (Evidence/Quote),
    :67-79 (signature unmarshalled as TPMT_SIGNATURE), :107-112 (ak_public is DER SPKI), :130-155 (nonce ==
    report data resized to 32)."""
    key = swtpm.provision_ak(0x81010002)
    swtpm.tool("tpm2_pcrextend", "8:sha256=" + hashlib.sha256(b"init-data").hexdigest())
    evidence = detect.choose_attester("tpm", None).evidence(DIGEST)
    assert list(evidence) == ["tpm_quote", "ak_public"]
    assert list(evidence["tpm_quote"]) == ["signature", "message", "pcrs"]
    quote = evidence["tpm_quote"]
    ak_der = base64.b64decode(evidence["ak_public"], validate=True)
    assert ak_der == key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    tpmt_signature = base64.b64decode(quote["signature"], validate=True)
    sig_alg, hash_alg, size = struct.unpack_from(">HHH", tpmt_signature)
    assert (sig_alg, hash_alg, size, len(tpmt_signature)) == (0x0014, 0x000B, 256, 6 + 256)
    message = base64.b64decode(quote["message"], validate=True)
    nonce = check_quote(message, quote["pcrs"], tpmt_signature[6:], key)
    assert nonce == DIGEST[:32]  # the SHA-384 digest truncated to TPM_REPORT_DATA_SIZE
    assert quote["pcrs"][8] == swtpm.pcr(8)  # read back independently by tpm2-tools
    assert quote["pcrs"][8] == hashlib.sha256(bytes(32) + hashlib.sha256(b"init-data").digest()).hexdigest()


def test_tpm_without_ak_and_auto_detection(swtpm: SwTpm, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ExternalToolError, match="no attestation key at 0x81010002"):
        detect.choose_attester("tpm", None).evidence(DIGEST)
    assert detect.detect_tee() is None  # a TPM without a provisioned AK is not taken for a TEE
    swtpm.provision_ak(0x81010009)
    monkeypatch.setenv("COCOCTL_TPM_AK_HANDLE", "0x81010009")
    assert detect.detect_tee() == "tpm"
    assert detect.choose_attester("auto", None, warn=False).tee == "tpm"


def test_tpm_unreachable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCOCTL_TPM", f"swtpm:host=127.0.0.1,port={free_port()}")
    with pytest.raises(ExternalToolError, match="cannot reach the TPM"):
        detect.choose_attester("tpm", None).evidence(DIGEST)


# --- Azure vTPM: the HCL report in NV, VCEK / TD quote from IMDS ---------------------------------------------


def snp_hardware_report(report_data: bytes) -> bytes:
    """A real SEV-SNP attestation report (tests/vectors/evidence/snp-report.bin, Trustee's test-report.bin, a
    version-2 report) made what an Azure SNP CVM's HCL carries: version 3 with the CPUID family/model of a Milan
    part (0x19/0x01), which Trustee's verifier needs to pick the AMD chain (snp/mod.rs:70-71 REPORT_VERSION_MIN
    3, :685-708 get_processor_generation from cpuid_fam_id/cpuid_mod_id, absent before v3; sev
    firmware/guest/types/snp.rs:215-224 and :470-500 read them at 0x188/0x189 from v3 on), and ``report_data``
    at 0x50. The edits break its signature; the VCEK chain is not what these tests check."""
    report = bytearray((VECTORS / "evidence" / "snp-report.bin").read_bytes())
    assert len(report) == 1184 and struct.unpack_from("<I", report)[0] == 2
    struct.pack_into("<I", report, 0, 3)
    report[0x188], report[0x189] = 0x19, 0x01
    report[0x50 : 0x50 + len(report_data)] = report_data
    return bytes(report)


def hcl_report(kind: str, key: rsa.RSAPublicKey, user_data: bytes) -> bytes:
    """An HCL report laid out as az-cvm-vtpm 0.8.1 hcl/mod.rs:65-93 reads it: 32-byte header, hardware report
    (1184 bytes), IgvmRequestData (report_type 2 SNP / 4 TDX, hash type 1 = SHA-256), variable data (JSON with
    the HCLAkPub JWK and user-data), the hardware report's report data = SHA-256(variable data). For SNP the
    hardware report is a real SNP report (:func:`snp_hardware_report`), for TDX a zeroed TDREPORT."""
    numbers = key.public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwk = {"kid": "HCLAkPub", "kty": "RSA", "e": b64(numbers.e), "n": b64(numbers.n), "key_ops": ["sign"]}
    var_data = json.dumps({"keys": [jwk], "vm-configuration": {}, "user-data": user_data.hex().upper()}).encode()
    if kind == "snp":
        hw = bytearray(snp_hardware_report(hashlib.sha256(var_data).digest().ljust(64, b"\0")))
    else:
        hw = bytearray(1184)
        hw[128:160] = hashlib.sha256(var_data).digest()  # TDREPORT REPORTMACSTRUCT.report_data
    header = struct.pack("<8I", 0x414C4348, 2, 1184, 2, 0, 0, 0, 0)
    igvm = struct.pack("<5I", 20 + len(var_data), 1, 2 if kind == "snp" else 4, 1, len(var_data))
    return header + bytes(hw) + igvm + var_data


class FakeImds:
    """Azure IMDS on loopback: THIM VCEK and the TD quote endpoint (recording the TD report it was sent)."""

    def __init__(self, vcek_pem: str, quote: bytes) -> None:
        self.td_reports: list[bytes] = []
        imds = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                assert self.headers["Metadata"] == "true"
                if self.path == "/metadata/THIM/amd/certification":
                    self._json({"vcekCert": vcek_pem, "certificateChain": ""})
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                assert self.headers["Metadata"] == "true" and self.path == "/acc/tdquote"
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                imds.td_reports.append(base64.b64decode(body["report"]))
                self._json({"quote": base64.urlsafe_b64encode(quote).rstrip(b"=").decode()})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeImds:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def self_signed_pem() -> tuple[str, bytes]:
    import datetime

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SEV-VCEK")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA384())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), cert.public_bytes(serialization.Encoding.DER)


def b64url_padded_decode(text: str) -> bytes:
    assert "+" not in text and "/" not in text and len(text) % 4 == 0  # serde_with Base64<UrlSafe> is padded
    return base64.urlsafe_b64decode(text)


def azure_tpm_quote_checks(evidence: dict[str, Any], key: rsa.RSAPublicKey) -> None:
    """Trustee az_snp_vtpm/compat.rs:81-91 (TpmQuote: hex signature = the raw RSA signature, hex message, hex
    PCRs); az_snp_vtpm/mod.rs:212-219 (nonce == the report data, unpadded); az-cvm-vtpm vtpm/mod.rs:337-390."""
    quote = evidence["tpm_quote"]
    assert list(quote) == ["signature", "message", "pcrs"]
    signature, message = bytes.fromhex(quote["signature"]), bytes.fromhex(quote["message"])
    assert len(signature) == 256
    assert check_quote(message, quote["pcrs"], signature, key) == DIGEST


def test_az_snp_vtpm_evidence(swtpm: SwTpm, monkeypatch: pytest.MonkeyPatch) -> None:
    """guest-components attester/src/az_snp_vtpm/mod.rs:31 (version 2), :39-48 (TpmQuote hex), :73-82 (Evidence:
    version, tpm_quote, hcl_report and vcek as URL-safe base64), :95-99 (HCL report with the report data, quote,
    VCEK DER from IMDS); Trustee az_snp_vtpm/compat.rs:60-70 (EvidenceV2), az_snp_vtpm/mod.rs:102-121 (SNP
    report_data[..32] == SHA-256(var data); var data user-data starts with the report data)."""
    key = swtpm.provision_ak(0x81000003)
    hcl = hcl_report("snp", key, DIGEST.ljust(64, b"\0"))
    swtpm.nv_store(0x01400001, hcl)
    vcek_pem, vcek_der = self_signed_pem()
    with FakeImds(vcek_pem, b"") as imds:
        monkeypatch.setenv("COCOCTL_AZURE_IMDS_URL", imds.url)
        assert detect.detect_tee() == "az-snp-vtpm"
        evidence = detect.choose_attester("auto", None).evidence(DIGEST)
    assert list(evidence) == ["version", "tpm_quote", "hcl_report", "vcek"]
    assert evidence["version"] == 2
    assert b64url_padded_decode(evidence["hcl_report"]) == hcl
    snp = hcl[32 : 32 + 1184]  # what Trustee's verifier parses as the SNP report (az_snp_vtpm/mod.rs:168-170)
    vector = (VECTORS / "evidence" / "snp-report.bin").read_bytes()
    assert struct.unpack_from("<I", snp)[0] == 3 and snp[0x188:0x18A] == b"\x19\x01"  # v3, Milan
    assert snp[4:0x50] == vector[4:0x50] and snp[0x90:0x188] == vector[0x90:0x188] and snp[0x18A:] == vector[0x18A:]
    var_data = hcl[32 + 1184 + 20 :]
    assert snp[0x50:0x90] == hashlib.sha256(var_data).digest().ljust(64, b"\0")
    assert json.loads(var_data)["user-data"] == DIGEST.ljust(64, b"\0").hex().upper()
    assert b64url_padded_decode(evidence["vcek"]) == vcek_der
    azure_tpm_quote_checks(evidence, key)
    assert swtpm.nv_load(0x01400002) == DIGEST  # the report data went to the HCL's request index, unpadded


def test_az_tdx_vtpm_evidence(swtpm: SwTpm, monkeypatch: pytest.MonkeyPatch) -> None:
    """guest-components attester/src/az_tdx_vtpm/mod.rs:34 (version 2), :47-55 (Evidence: td_quote URL-safe
    base64), :57-61 (TD report out of the HCL report → IMDS TD quote); azure-guest-attestation-sdk
    guest_attest/imds.rs:86-107 (POST /acc/tdquote {"report": std base64}); Trustee az_tdx_vtpm/compat.rs:40-50,
    az_tdx_vtpm/mod.rs:120-127 (TD report_data[..32] == SHA-256(var data))."""
    key = swtpm.provision_ak(0x81000003)
    hcl = hcl_report("tdx", key, DIGEST.ljust(64, b"\0"))
    swtpm.nv_store(0x01400001, hcl)
    td_quote = b"\x04\x00\x02\x00\x81\x00\x00\x00" + bytes(range(200))
    with FakeImds("", td_quote) as imds:
        monkeypatch.setenv("COCOCTL_AZURE_IMDS_URL", imds.url)
        assert detect.detect_tee() == "az-tdx-vtpm"
        evidence = detect.choose_attester("az-tdx-vtpm", None).evidence(DIGEST)
        assert imds.td_reports == [hcl[32 : 32 + 1024]]  # the 1024-byte TDREPORT inside the HCL report
    assert list(evidence) == ["version", "tpm_quote", "hcl_report", "td_quote"]
    assert evidence["version"] == 2
    assert b64url_padded_decode(evidence["hcl_report"]) == hcl
    assert b64url_padded_decode(evidence["td_quote"]) == td_quote
    azure_tpm_quote_checks(evidence, key)


def test_az_vtpm_refuses_a_stale_or_foreign_report(swtpm: SwTpm, monkeypatch: pytest.MonkeyPatch) -> None:
    key = swtpm.provision_ak(0x81000003)
    swtpm.nv_store(0x01400001, hcl_report("snp", key, b"\x01" * 64))
    monkeypatch.setenv("COCOCTL_AZURE_IMDS_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ExternalToolError, match="stale"):
        detect.choose_attester("az-snp-vtpm", None).evidence(DIGEST)
    with pytest.raises(ExternalToolError, match="for SNP, not TDX"):
        detect.choose_attester("az-tdx-vtpm", None).evidence(DIGEST)


# --- SGX (Gramine /dev/attestation) -------------------------------------------------------------------------


def sgx_quote(report_data: bytes) -> bytes:
    """An ECDSA quote v3: 48-byte header (version 3, att_key_type 2, tee_type 0), 384-byte report body with
    report_data at body offset 320 (Trustee intel_dcap/quote.rs:25-39, :97-131, :551-566), then a signature."""
    header = struct.pack("<HHI", 3, 2, 0) + bytes(40)
    body = bytes(320) + report_data
    return header + body + struct.pack("<I", 64) + bytes(64)


@contextlib.contextmanager
def fake_gramine(root: Path, tamper: bool = False) -> Iterator[None]:
    """``quote`` is a FIFO: opened for reading, it answers with a quote over ``user_report_data``."""
    root.mkdir()
    (root / "attestation_type").write_text("dcap")
    os.mkfifo(root / "quote")
    stop = threading.Event()

    def serve() -> None:
        fd = os.open(root / "quote", os.O_WRONLY)  # blocks until the attester opens it for reading
        try:
            if not stop.is_set():
                data = (root / "user_report_data").read_bytes()
                os.write(fd, sgx_quote(bytes(64) if tamper else data))
        finally:
            os.close(fd)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread.is_alive():  # unblock it: open the FIFO's read end ourselves
            with contextlib.suppress(OSError):
                os.close(os.open(root / "quote", os.O_RDONLY | os.O_NONBLOCK))
        thread.join(timeout=5)


def test_sgx_gramine_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """guest-components attester/src/sgx_dcap/mod.rs:25-28 (attestation_type "dcap"), :39-43 (Evidence {quote}),
    :51-55 (report data zero-padded to 64), :74-77 (write user_report_data, read quote), :81 (standard base64);
    Trustee deps/verifier/src/sgx/mod.rs:26-29, :82 and :98-108 (v3 body report_data == padded report data)."""
    root = tmp_path / "attestation"
    monkeypatch.setenv("COCOCTL_SGX_ATTESTATION_DIR", str(root))
    with fake_gramine(root):
        assert detect.detect_tee() == "sgx"
        evidence = detect.choose_attester("auto", None).evidence(DIGEST)
    assert list(evidence) == ["quote"]
    quote = base64.b64decode(evidence["quote"], validate=True)
    assert quote == sgx_quote(DIGEST + bytes(16))
    assert quote[368:432] == DIGEST.ljust(64, b"\0")
    assert (root / "user_report_data").read_bytes() == DIGEST.ljust(64, b"\0")


def test_sgx_refuses_a_quote_over_other_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "attestation"
    monkeypatch.setenv("COCOCTL_SGX_ATTESTATION_DIR", str(root))
    with fake_gramine(root, tamper=True), pytest.raises(ExternalToolError, match="does not carry"):
        detect.choose_attester("sgx", None).evidence(DIGEST)
    monkeypatch.setenv("COCOCTL_SGX_ATTESTATION_DIR", str(tmp_path / "absent"))
    with pytest.raises(ExternalToolError, match="no DCAP attestation interface"):
        detect.choose_attester("sgx", None).evidence(DIGEST)


# --- Arm CCA (configfs-tsm, arm_cca_guest) ------------------------------------------------------------------


def cbor(value: Any) -> bytes:
    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | info]) + struct.pack(fmt, n)
        raise ValueError(n)

    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        return head(3, len(value.encode())) + value.encode()
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(item) for item in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(value)


CCA_TOKEN_01 = VECTORS / "cca" / "cca-token-01.cbor"  # veraison rust-ccatoken testdata (cca/ORIGIN.md)
CCA_IMPLEMENTATION_ID = bytes.fromhex("7f454c4602010100000000000000000003003e00010000005058000000000000")
CCA_INSTANCE_ID = bytes.fromhex("0107060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918")


def cose_sign1_es384(claims: dict[int, Any], key: ec.EllipticCurvePrivateKey) -> bytes:
    """A tagged (18) COSE_Sign1 over the CBOR claims: protected {1 (alg): -35 (ES384)}, empty unprotected,
    signature r || s over Sig_structure ["Signature1", protected, h'', payload] (RFC 9052 4.2-4.4)."""
    protected, payload = cbor({1: -35}), cbor(claims)
    der = key.sign(cbor(["Signature1", protected, b"", payload]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    return b"\xd2" + cbor([protected, {}, payload, r.to_bytes(48, "big") + s.to_bytes(48, "big")])


def cca_token(
    challenge: bytes,
    cpak: ec.EllipticCurvePrivateKey | None = None,
    rak: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    """A CCA token with the claims and layout of rust-ccatoken's cca-token-01.cbor (token/evidence.rs:72-100
    collection: tag 399 map {44234: platform, 44241: realm}, each a bstr-wrapped COSE_Sign1; platform.rs:170-180
    + :276-293 all mandatory platform claims: profile 265 (the legacy CCA-SSD/1.0.0 one), challenge 10 =
    SHA-256 of the RAK, implementation-id 2396, instance-id 256, config 2401, lifecycle 2395, sw-components
    2399 (mval 2 and signer-id 5 each), verification service 2400, hash-algo 2402; realm.rs:13-20 + :125-153
    all mandatory realm claims: challenge 10 (64 bytes), personalization value 44235, initial measurement
    44238, extensible measurements 44239, hash algo 44236, raw P-384 RAK 44237 and its hash algo 44240).
    Both tokens ES384-signed: the platform by ``cpak`` (a fresh key unless given), the realm by ``rak``.
    The ids, config and sw-components are token-01's (so rust-ccatoken's testdata/rv.json matches them).
    Checked by hand: signed with the CPAK of rust-ccatoken testdata/ta-tfa.json (= Trustee's
    test_data/cca/misc/cpak-priv.json), Trustee's CCA verifier (78962cd4) ACCEPTS it through this attester,
    and rejects it for other report data ("realm token challenge claim does not match")."""
    cpak = cpak or ec.generate_private_key(ec.SECP384R1())
    rak = rak or ec.generate_private_key(ec.SECP384R1())
    rak_raw = rak.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    signer = bytes(range(7, -1, -1)) + bytes(range(15, 7, -1)) + bytes(range(23, 15, -1)) + bytes(range(31, 23, -1))
    components = [
        {1: name, 2: signer, 4: version, 5: signer} for name, version in (("M1", "1.2"), ("M2", "1.2.3"), ("M3", "1"))
    ]
    components.insert(0, {1: "BL", 2: signer, 4: "3.4.2", 5: signer, 6: "sha-256"})
    platform = {
        265: "http://arm.com/CCA-SSD/1.0.0",
        10: hashlib.sha256(rak_raw).digest(),
        2396: CCA_IMPLEMENTATION_ID,
        256: CCA_INSTANCE_ID,
        2401: CCA_INSTANCE_ID,
        2395: 0x3003,  # secured
        2402: "sha-256",
        2399: components,
        2400: "whatever.com",
    }
    realm = {
        10: challenge,
        44236: "sha-256",
        44240: "sha-256",
        44235: b"\x5e" * 64,
        44237: rak_raw,
        44238: hashlib.sha256(b"realm image").digest(),
        44239: [bytes(32)] * 4,
    }
    collection = {44234: cose_sign1_es384(platform, cpak), 44241: cose_sign1_es384(realm, rak)}
    return b"\xd9\x01\x8f" + cbor(collection)


def cca_realm_payload(token: bytes) -> dict[int, Any]:
    """The realm claims, decoded with cococtl's own CBOR reader (for checks of this test's own tokens)."""
    return cca_claims(token)[1]


def cca_claims(token: bytes) -> tuple[dict[int, Any], dict[int, Any]]:
    """(platform claims, realm claims) of a CCA token, read with cococtl's own CBOR reader."""
    from cococtl.evidence.cca import _Cbor

    collection = _Cbor(token).item()
    platform, realm = (_Cbor(_Cbor(collection[label]).item()[2]).item() for label in (44234, 44241))
    return platform, realm


def test_cca_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """guest-components attester/src/cca/mod.rs:11 + :36 (challenge zero-padded to 64), :23-27 (CcaEvidence
    {token: Vec<u8>} → a JSON integer array), tsm_report/mod.rs:36 (provider arm_cca_guest); Trustee
    deps/verifier/src/cca/mod.rs:66-69 (CcaEvidence), :90 (expected report data padded to 64), cca/local.rs:57-59
    (realm challenge == it)."""
    root = tmp_path / "tsm"
    root.mkdir()
    monkeypatch.setenv("COCOCTL_TSM_ROOT", str(root))
    token = cca_token(DIGEST.ljust(64, b"\0"))
    assert cca_realm_payload(token)[10] == DIGEST.ljust(64, b"\0")
    real_platform, real_realm = cca_claims(CCA_TOKEN_01.read_bytes())
    platform, realm = cca_claims(token)
    assert list(platform) == list(real_platform) and list(realm) == list(real_realm)  # token-01's claims
    assert {k: v for k, v in platform.items() if k != 10} == {k: v for k, v in real_platform.items() if k != 10}
    with FakeTsm(root, "arm_cca_guest", token):
        assert detect.detect_tee() is None  # no report entry yet: nothing to read the provider from
        (root / "probe").mkdir()
        deadline = time.monotonic() + 5
        while not (root / "probe" / "provider").exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the fake kernel populates the entry
        assert detect.detect_tee() == "cca"
        evidence = detect.choose_attester("cca", None).evidence(DIGEST)
        assert evidence == {"token": list(token)}
        assert all(isinstance(b, int) and 0 <= b < 256 for b in evidence["token"])
        other = cca_token(bytes(64))
    with FakeTsm(root, "arm_cca_guest", other), pytest.raises(ExternalToolError, match="realm challenge"):
        detect.choose_attester("cca", None).evidence(DIGEST)


def test_cca_real_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real CCA token (rust-ccatoken testdata/cca-token-01.cbor, which its token/evidence.rs:631-635 test
    decodes and Trustee's CCA verifier accepted by hand through this attester, reporting cca-realm-challenge =
    64 × 0xab): the attester reads its realm challenge, refuses the token for other report data (the binding),
    and passes it on unchanged, as integers, when the challenge is the padded report data."""
    from cococtl.evidence.cca import realm_challenge

    token = CCA_TOKEN_01.read_bytes()
    assert len(token) == 1222 and hashlib.sha256(token).hexdigest().startswith("b40be114ea600d21")
    expected = b"\xab" * 64  # as Trustee's ccatoken decoded it
    # independently of cococtl's reader: the realm claims hold key 10 with a 64-byte bstr (0x0a 0x58 0x40)
    assert token.count(b"\x0a\x58\x40" + expected) == 1
    assert realm_challenge(token) == expected
    root = tmp_path / "tsm"
    root.mkdir()
    monkeypatch.setenv("COCOCTL_TSM_ROOT", str(root))
    with FakeTsm(root, "arm_cca_guest", token):
        for other in (DIGEST, b"\xab" * 63):  # 63 bytes pad to ...ab00, not the token's challenge
            with pytest.raises(ExternalToolError, match="realm challenge is not the report data"):
                detect.choose_attester("cca", None).evidence(other)
        assert detect.choose_attester("cca", None).evidence(expected) == {"token": list(token)}


# --- IBM SE (/dev/uv ioctl) --------------------------------------------------------------------------------


SE_MEAS_KEY, SE_NONCE = b"\x11" * 64, b"\x22" * 16  # what the ARCB carries, encrypted, for the UV
SE_TAGS = b"\x33" * 208  # BootHdrTags: pld, ald, tld (64 each), tag (16)
SE_IMAGE_PHKH, SE_ATTEST_PHKH = b"\x5a" * 32, b"\x5b" * 32


def se_items(user: bytes, cuid: bytes, additional: bytes) -> bytes:
    """s390_pv 0.12 uvattest/attest.rs:30-101 AttestationItems: tags, CUID, user-data length (BE16), 2 reserved
    bytes, additional-data length (BE32), user data, nonce, additional data."""
    return SE_TAGS + cuid + struct.pack(">HHI", len(user), 0, len(additional)) + user + SE_NONCE + additional


class FakeUltravisor:
    """Answers UVIO_IOCTL_ATT like the UV: reads the uvio_attest block at argument_addr, writes the measurement
    (HMAC-SHA512 with the ARCB's measurement key over the attestation items, s390_pv attest.rs), the additional
    data the ARCB's flags ask for — here image and attestation PHKH, 32 bytes each, which is what Trustee
    requests (deps/verifier/src/se/ibmse.rs:322-324, :384 expected_additional_size) and reads back
    (:275-278 AdditionalData::from_slice; s390_pv uvattest/additional.rs:15, :67-79, :167-188 fail on less) —
    and the config UID (s390_pv_core uvdevice/ffi.rs)."""

    def __init__(self, device: Path) -> None:
        self.device, self.calls = device, []  # type: tuple[Path, list[dict[str, Any]]]
        device.write_bytes(b"")

    def __call__(self, fd: int, request: int, cb: Any) -> int:
        from cococtl.evidence import se

        assert request == 0xC0407501 and os.readlink(f"/proc/self/fd/{fd}") == str(self.device)
        attest = se.UvioAttest.from_address(cb.argument_addr)
        assert cb.argument_len == ctypes.sizeof(se.UvioAttest) == 0x138
        arcb = ctypes.string_at(attest.arcb_addr, attest.arcb_len)
        user = bytes(attest.user_data)[: attest.user_data_len]
        self.calls.append({"arcb": arcb, "user_data": user, "meas_len": attest.meas_len})
        additional, cuid = SE_IMAGE_PHKH + SE_ATTEST_PHKH, b"\xc1" * 16
        if attest.add_data_len < len(additional):
            cb.uv_rc = 0x0109  # the UV refuses a too-small additional-data buffer
            return 0
        measurement = hmac.new(SE_MEAS_KEY, se_items(user, cuid, additional), hashlib.sha512).digest()
        ctypes.memmove(attest.meas_addr, measurement[: attest.meas_len], attest.meas_len)
        ctypes.memmove(attest.add_data_addr, additional, len(additional))
        attest.add_data_len = len(additional)
        ctypes.memmove(attest.config_uid, cuid, 16)
        cb.uv_rc = 1
        return 0


def se_request(additional_size: int = 64) -> dict[str, Any]:
    return {
        "request_blob": base64.b64encode(b"\xa5" * 512).decode(),
        "measurement_size": 64,
        "additional_size": additional_size,  # Trustee: expected_additional_size() of image + attest PHKH
        "encr_measurement_key": base64.b64encode(b"\x44" * 256).decode(),  # opaque to the guest, echoed
        "encr_request_nonce": base64.b64encode(b"\x45" * 256).decode(),
        "image_hdr_tags": base64.b64encode(SE_TAGS).decode(),
    }


def test_se_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """guest-components attester/src/se/mod.rs:20 (64-byte user data), :64-82 (SeAttestationResponse, all
    standard base64), :111-145 (user data = padded runtime digest, ARCB and sizes from the request, the
    request's encrypted key/nonce/tags echoed); kbs_protocol client/rcar_client.rs:184-201 (the nonce is the
    request JSON); Trustee deps/verifier/src/se/ibmse.rs:110-130 and :235-250 (user_data[..len] == report data
    padded to 64)."""
    from cococtl.evidence import se

    uv = FakeUltravisor(tmp_path / "uv")
    monkeypatch.setattr(se, "_ioctl", uv)
    monkeypatch.setenv("COCOCTL_SE_UV_DEVICE", str(uv.device))
    attester = detect.choose_attester("se", None)
    with pytest.raises(InvalidInputError, match="needs the KBS challenge"):
        attester.evidence(DIGEST)
    request = se_request()
    attester.bind_challenge(json.dumps(request))  # type: ignore[attr-defined]
    evidence = attester.evidence(DIGEST)
    assert list(evidence) == [
        "measurement", "additional_data", "user_data", "cuid",
        "encr_measurement_key", "encr_request_nonce", "image_hdr_tags",
    ]  # fmt: skip
    decoded = {k: base64.b64decode(v, validate=True) for k, v in evidence.items()}
    assert decoded["user_data"] == DIGEST.ljust(64, b"\0")
    assert uv.calls == [{"arcb": b"\xa5" * 512, "user_data": DIGEST.ljust(64, b"\0"), "meas_len": 64}]
    assert decoded["cuid"] == b"\xc1" * 16
    # AdditionalData::from_slice with image + attestation PHKH flags: two 32-byte hashes, nothing unrecognised
    add = decoded["additional_data"]
    assert len(add) == 64 and (add[:32], add[32:]) == (SE_IMAGE_PHKH, SE_ATTEST_PHKH)
    # what Trustee recomputes (ibmse.rs:257-266): HMAC-SHA512 over the items from the evidence's own fields
    items = se_items(decoded["user_data"], decoded["cuid"], add)
    assert decoded["measurement"] == hmac.new(SE_MEAS_KEY, items, "sha512").digest()
    assert decoded["image_hdr_tags"] == SE_TAGS
    for name in ("encr_measurement_key", "encr_request_nonce", "image_hdr_tags"):
        assert evidence[name] == request[name]
    attester.bind_challenge(json.dumps(se_request(additional_size=32)))  # type: ignore[attr-defined]
    with pytest.raises(ExternalToolError, match="refused the attestation request"):
        attester.evidence(DIGEST)
    attester.bind_challenge("not a request")  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="SeAttestationRequest"):
        attester.evidence(DIGEST)


def test_se_kbs_client_binds_the_challenge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The KBS client hands the SE attester the nonce before asking for evidence."""
    from cococtl.kbs.client import KbsClient
    from cococtl.kbs.jwe import TeeKeyPair

    seen: list[str] = []

    class Recorder:
        tee = "se"

        def bind_challenge(self, nonce: str) -> None:
            seen.append(nonce)

        def evidence(self, report_data: bytes) -> Any:
            raise ExternalToolError("stop here")

    client = KbsClient.__new__(KbsClient)
    challenge = json.dumps(se_request())

    class Answer:
        def json(self) -> Any:
            return {"nonce": challenge, "extra-params": {}}

    monkeypatch.setattr(client, "request", lambda *a, **k: Answer(), raising=False)
    with pytest.raises(ExternalToolError, match="stop here"):
        client.attest(Recorder(), TeeKeyPair.generate())
    assert seen == [challenge]


# --- Hygon CSV (/dev/csv-guest ioctl) -----------------------------------------------------------------------


def csv_cert(usage: int, seed: int) -> bytes:
    """A CSV certificate (csv-rs certs/csv/cert/mod.rs:18-81): body (ver, firmware, pubkey, uid, sid), 2 sigs."""
    uid = b"HYGON-SSD-PEK"
    body = struct.pack("<IBBHIII", 1, 1, 3, 0, usage, 4, 3) + bytes([seed]) * 72 + bytes([seed + 1]) * 72
    body += struct.pack("<H", len(uid)) + uid.ljust(254, b"\0") + bytes(16) + bytes(608)
    sigs = b"".join(
        struct.pack("<II", sig_usage, 4) + bytes([seed + 2]) * 72 + bytes([seed + 3]) * 72 + bytes(368)
        for sig_usage in (0x1004, 0x1001)
    )
    assert len(body) == 1044 and len(body + sigs) == 2084
    return body + sigs


def ca_cert(seed: int) -> bytes:
    """A CA certificate (csv-rs certs/ca/cert/mod.rs:17-53): preamble, pubkey, uid, signature, 832 bytes."""
    uid = b"HYGON-SSD-HSK"
    cert = struct.pack("<I16s16sI", 1, bytes([seed]) * 16, bytes([seed + 1]) * 16, 0x13) + bytes(24)
    cert += struct.pack("<I", 3) + bytes([seed + 2]) * 144 + struct.pack("<H", len(uid)) + uid.ljust(254, b"\0")
    cert += bytes(108) + bytes([seed + 3]) * 144 + bytes(112)
    assert len(cert) == 832
    return cert


CSV_SN = b"HGN0123456789".ljust(64, b"\0")
CSV_PEK = csv_cert(0x1002, 0x40)


class FakeCsvGuest:
    """Answers CSV_GET_REPORT like the Hygon Secure Processor: checks the request page (report data, mnonce,
    their SM3, the extension magic/flags), writes the tee info and signer over it, and for a v1 report XORs
    the tee info, PEK, serial number and mnonce with the anonce and MACs the signer with HMAC-SM3 (csv-rs
    api/guest/types.rs:33-40, :82-93, :540-575, :614-677, :781-841). CSV_RTMR_REQ status succeeds only with
    ``extended`` (csv-rs api/guest/mod.rs:307-321, rtmr.rs:22, :37)."""

    def __init__(self, device: Path, extended: bool, tamper: bool = False) -> None:
        self.device, self.extended, self.tamper = device, extended, tamper
        self.anonce = b"\x26\xd7\xc7\x5d"
        self.requests: list[bytes] = []
        device.write_bytes(b"")

    def __call__(self, fd: int, request: int, arg: Any) -> int:
        from cococtl.evidence import csv

        assert os.readlink(f"/proc/self/fd/{fd}") == str(self.device)
        if request == 0xC0184402:  # _IOWR('D', 2, 24-byte packed struct)
            assert ctypes.sizeof(arg) == 24 and arg.subcmd_id == 1 and arg.len == 3
            if not self.extended:
                raise OSError(25, "Inappropriate ioctl for device")
            ctypes.memmove(arg.buf, struct.pack("<HB", 1, 2), 3)
            return 0
        assert request == 0xC0104401 and ctypes.sizeof(arg) == 16 and arg.len == 4096  # _IOWR('D', 1, 16 bytes)
        page = ctypes.string_at(arg.addr, 4096)
        self.requests.append(page)
        data, mnonce, digest = page[:64], page[64:80], page[80:112]
        assert digest == hashlib.new("sm3", data + mnonce).digest()
        assert page[112:132] == ((b"ATTESTATION_EXT\0" + struct.pack("<I", 1)) if self.extended else bytes(20))
        anonce = bytes(4) if self.extended else self.anonce

        def xor(raw: bytes) -> bytes:
            return csv._xor(raw, anonce)

        head = b"\x11" * 32 + b"\x22" * 16 + b"\x33" * 16 + data + mnonce + b"\x44" * 32
        words = struct.pack("<III", 0x1F0021, 0x1002, 4)
        if self.extended:
            tee_info = head + words + struct.pack("<IH", 2337, 1) + bytes(14)
            tee_info += b"".join(bytes([0xA0 + i]) * 32 for i in range(5)) + bytes(656) + b"\x55" * 144
        else:
            tee_info = xor(head + words) + anonce + b"\x55" * 144
        assert len(tee_info) == (0x490 if self.extended else 0x150)
        signed = xor(CSV_PEK) + xor(CSV_SN) + b"\x77" * 32
        mac = hmac.new(b"wrong" if self.tamper else mnonce, signed, "sm3").digest()
        report = (tee_info + signed + mac).ljust(4096, b"\0")
        ctypes.memmove(arg.addr, report, 4096)
        return 0


def csv_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extended: bool) -> tuple[Any, FakeCsvGuest]:
    from cococtl.evidence import csv

    guest = FakeCsvGuest(tmp_path / "csv-guest", extended)
    monkeypatch.setattr(csv, "_ioctl", guest)
    monkeypatch.setenv("COCOCTL_CSV_GUEST_DEVICE", str(guest.device))
    evidence = detect.choose_attester("csv", None).evidence(DIGEST)
    return json.loads(json.dumps(evidence)), guest


def check_csv_certificate(value: Any, raw: bytes) -> None:
    """csv-rs serde of certs::csv::Certificate: {body: {ver, data: {firmware: {major, minor}, reserved1, pubkey:
    {usage, algo, key: {g, x, y}}, uid_size, user_id, sid, reserved2}}, sigs: [{usage, algo, signature: {r, s},
    _reserved}] * 2}, newtype Usage/Algorithm/Group as integers, byte arrays as integer arrays (csv-rs
    certs/csv/cert/mod.rs:18-81, cert/key/mod.rs:10-16, crypto/key/ecc.rs:15-22, crypto/sig/ecdsa.rs:14-20,
    certs/mod.rs:44, :106, crypto/key/group.rs:11, lib.rs:31-37)."""
    data = value["body"]["data"]
    assert list(value) == ["body", "sigs"] and list(value["body"]) == ["ver", "data"] and value["body"]["ver"] == 1
    assert list(data) == ["firmware", "reserved1", "pubkey", "uid_size", "user_id", "sid", "reserved2"]
    assert data["firmware"] == {"major": 1, "minor": 3} and data["reserved1"] == 0
    assert data["pubkey"]["usage"] == 0x1002 and data["pubkey"]["algo"] == 4 and data["pubkey"]["key"]["g"] == 3
    key = data["pubkey"]["key"]
    assert bytes(key["x"]) == raw[20:92] and bytes(key["y"]) == raw[92:164]
    assert data["uid_size"] == 13 and bytes(data["user_id"]) == raw[166:420] and len(data["user_id"]) == 254
    assert bytes(data["sid"]) == raw[420:436] and bytes(data["reserved2"]) == raw[436:1044]
    assert len(value["sigs"]) == 2
    for sig, at in zip(value["sigs"], (1044, 1564), strict=True):
        assert list(sig) == ["usage", "algo", "signature", "_reserved"]
        assert (sig["usage"], sig["algo"]) == struct.unpack_from("<II", raw, at)
        assert bytes(sig["signature"]["r"]) == raw[at + 8 : at + 80]
        assert bytes(sig["signature"]["s"]) == raw[at + 80 : at + 152]
        assert bytes(sig["_reserved"]) == raw[at + 152 : at + 520]


def test_csv_v1_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """guest-components attester/src/csv/mod.rs:34-62 (CsvEvidence {attestation_report, cert_chain {hsk_cek
    skipped when None, pek}, serial_number: Vec<u8>, cc_eventlog}), :96-131 (report data padded to 64,
    get_report_ext(flags 1), PEK and serial number from the report's signer); csv-rs api/guest/mod.rs:34-78
    (a legacy report: wrapper magic 16 zero bytes, flags 0; the signer restored in the page by verify),
    types.rs:138-147 (wrapper {magic, flags, data: 4096}), :336-346 + :373-378 (v1 report_data is XORed with
    the anonce at tee info offset 188), :803-841 (MAC over PEK, SN and reserved with the mnonce; PEK and SN
    un-XORed, reserved zeroed); Trustee deps/verifier/src/csv/mod.rs:27-55 (the same CsvEvidence), :97-104
    (deserialised as such), :137-144 (tee_info().report_data() == the report data padded to 64)."""
    evidence, guest = csv_evidence(tmp_path, monkeypatch, extended=False)
    assert list(evidence) == ["attestation_report", "cert_chain", "serial_number", "cc_eventlog"]
    wrapper = evidence["attestation_report"]
    assert list(wrapper) == ["magic", "flags", "data"]
    assert wrapper["magic"] == [0] * 16 and wrapper["flags"] == 0 and len(wrapper["data"]) == 4096
    data = bytes(wrapper["data"])
    anonce = data[188:192]
    assert anonce == guest.anonce
    from cococtl.evidence.csv import _xor

    assert _xor(data[64:128], anonce) == DIGEST.ljust(64, b"\0")  # what the verifier compares
    assert guest.requests[0][:64] == DIGEST.ljust(64, b"\0")
    assert _xor(data[128:144], anonce) == guest.requests[0][64:80]  # the mnonce
    assert data[336 : 336 + 2084] == CSV_PEK and data[2420:2484] == CSV_SN and data[2484:2516] == bytes(32)
    assert list(evidence["cert_chain"]) == ["pek"]  # no hsk_cek: the verifier fetches HSK and CEK itself
    check_csv_certificate(evidence["cert_chain"]["pek"], CSV_PEK)
    assert evidence["serial_number"] == list(CSV_SN) and evidence["cc_eventlog"] is None


def test_csv_v2_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """csv-rs api/guest/mod.rs:89-143 (with RTMRs, an extended request: ReportReqExt magic ATTESTATION_EXT and
    flags; the wrapper keeps both), types.rs:27 (the magic), :179-202 (magic + flags 1 parse as V2),
    :614-677 (TeeInfoV2, 0x490 bytes: report_data at 64 in the clear, the signer after it); Trustee
    deps/verifier/src/csv/mod.rs:137-144 (report data), :183-219 (v2 claims)."""
    evidence, guest = csv_evidence(tmp_path, monkeypatch, extended=True)
    assert guest.requests[0][112:132] == b"ATTESTATION_EXT\0" + struct.pack("<I", 1)  # ReportReqExt
    wrapper = evidence["attestation_report"]
    assert bytes(wrapper["magic"]) == b"ATTESTATION_EXT\0" and wrapper["flags"] == 1
    data = bytes(wrapper["data"])
    assert len(data) == 4096 and data[64:128] == DIGEST.ljust(64, b"\0")
    assert data[1168 : 1168 + 2084] == CSV_PEK and data[3252:3316] == CSV_SN and data[3316:3348] == bytes(32)
    check_csv_certificate(evidence["cert_chain"]["pek"], CSV_PEK)
    assert bytes(evidence["serial_number"]) == CSV_SN


def test_csv_refuses_a_bad_mac_and_long_report_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """csv-rs api/guest/types.rs:803-831 (a signer whose HMAC-SM3 does not verify is refused);
    guest-components attester/src/csv/mod.rs:97-99 (at most 64 bytes of report data)."""
    from cococtl.evidence import csv

    guest = FakeCsvGuest(tmp_path / "csv-guest", extended=False, tamper=True)
    monkeypatch.setattr(csv, "_ioctl", guest)
    attester = csv.CsvAttester(str(guest.device))
    with pytest.raises(ExternalToolError, match="MAC"):
        attester.evidence(DIGEST)
    with pytest.raises(InvalidInputError, match="64 bytes"):
        attester.evidence(bytes(65))
    with pytest.raises(ExternalToolError, match="cannot open"):
        csv.CsvAttester(str(tmp_path / "absent")).evidence(DIGEST)


def test_csv_cert_chain_from_the_kds_and_event_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """guest-components attester/src/csv/mod.rs:13 + :67-92 + :111-121 (CSV_INCLUDE_CERT_CHAIN_IN_ATTESTATION_
    REPORT=true: HSK then CEK from <kds>/hsk_cek?snumber=<serial, NULs trimmed>), :124 + utils.rs:60-78 and
    :88-203 (the event log: the CCEL up to its end marker, the agent's log after it, then 8 bytes of 0xff;
    base64); csv-rs certs/ca/cert/mod.rs:17-53 (the HSK's serde: {body: {preamble: {ver, data: {kid, sid,
    usage, reserved}}, pubkey, uid_size, user_id, reserved}, signature, _reserved})."""
    hsk, cek = ca_cert(0x60), csv_cert(0x1004, 0x70)
    paths: list[str] = []

    class Kds(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(hsk + cek)))
            self.end_headers()
            self.wfile.write(hsk + cek)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Kds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    no_action = struct.pack("<II20sI", 0, 3, bytes(20), 5) + b"spec!"
    event = struct.pack("<III", 1, 0x80000001, 1) + struct.pack("<H", 0x12) + b"\xd1" * 32 + struct.pack("<I", 2)
    event += b"ev"
    (tmp_path / "ccel").write_bytes(no_action + event + b"\xff" * 8 + b"\0" * 64)
    (tmp_path / "aael").write_bytes(b"agent events")
    monkeypatch.setenv("COCOCTL_CCEL_PATH", str(tmp_path / "ccel"))
    monkeypatch.setenv("AAEL_PATH", str(tmp_path / "aael"))
    monkeypatch.setenv("COCOCTL_HYGON_KDS_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("CSV_INCLUDE_CERT_CHAIN_IN_ATTESTATION_REPORT", "true")
    try:
        evidence, _ = csv_evidence(tmp_path, monkeypatch, extended=True)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert paths == ["/hsk_cek?snumber=HGN0123456789"]
    chain = evidence["cert_chain"]
    assert list(chain) == ["hsk_cek", "pek"] and list(chain["hsk_cek"]) == ["hsk", "cek"]
    check_csv_certificate(chain["pek"], CSV_PEK)
    cek_json = chain["hsk_cek"]["cek"]
    assert cek_json["body"]["data"]["pubkey"]["usage"] == 0x1004 and bytes(cek_json["sigs"][0]["_reserved"]) == bytes(
        368
    )
    hsk_json = chain["hsk_cek"]["hsk"]
    assert list(hsk_json) == ["body", "signature", "_reserved"]
    assert list(hsk_json["body"]) == ["preamble", "pubkey", "uid_size", "user_id", "reserved"]
    assert hsk_json["body"]["preamble"] == {
        "ver": 1,
        "data": {"kid": [0x60] * 16, "sid": [0x61] * 16, "usage": 0x13, "reserved": [0] * 24},
    }
    assert hsk_json["body"]["pubkey"] == {"g": 3, "x": [0x62] * 72, "y": [0x62] * 72}
    assert hsk_json["body"]["uid_size"] == 13 and bytes(hsk_json["body"]["user_id"][:13]) == b"HYGON-SSD-HSK"
    assert hsk_json["signature"] == {"r": [0x63] * 72, "s": [0x63] * 72} and len(hsk_json["_reserved"]) == 112
    eventlog = base64.b64decode(evidence["cc_eventlog"], validate=True)
    assert eventlog == no_action + event + b"agent events" + b"\xff" * 8
    monkeypatch.setenv("COCOCTL_CCEL_PATH", str(tmp_path / "no-ccel"))
    from cococtl.evidence import csv

    agent_only = base64.b64decode(csv.cc_eventlog() or "")  # no CCEL: a Spec ID event (SHA-384, SM3) first
    spec_id = bytes(24) + struct.pack("<IHHHHB", 2, 0x0C, 48, 0x12, 32, 0)
    assert agent_only == struct.pack("<II20sI", 0, 3, bytes(20), 37) + spec_id + b"agent events" + b"\xff" * 8


def test_csv_detection_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """guest-components attester/src/lib.rs:261-300 (detect_tee_type: ... SNP, then CSV (/dev/csv-guest,
    csv/mod.rs:30-32), then CCA, SE)."""
    assert detect.detect_tee() is None
    device = tmp_path / "csv-guest"
    device.write_bytes(b"")
    monkeypatch.setenv("COCOCTL_CSV_GUEST_DEVICE", str(device))
    assert detect.detect_tee() == "csv" and detect.choose_attester("auto", None).tee == "csv"
    sev = tmp_path / "sev-guest"
    sev.write_bytes(b"")
    monkeypatch.setenv("COCOCTL_SEV_GUEST_DEVICE", str(sev))
    assert detect.detect_tee() == "snp"


def test_tee_choices_are_the_native_attesters() -> None:
    assert detect.TEE_CHOICES == ("auto", *detect.NATIVE_TEES)
    assert set(detect.NATIVE_TEES) <= set(detect.KBS_TEES)
    for tee in detect.NATIVE_TEES:
        assert detect.native_attester(tee).tee == tee
