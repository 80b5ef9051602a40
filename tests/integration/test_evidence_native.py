"""Native attesters beyond TDX/SNP: each produces the evidence JSON Trustee's verifier for its TEE reads.

TPM-based ones (tpm, az-snp-vtpm, az-tdx-vtpm) run against a real software TPM (swtpm, provisioned with
tpm2-tools as an independent TPM client); device ones against fake device trees: a Gramine-like
``/dev/attestation`` whose ``quote`` is a FIFO answered from ``user_report_data``, a configfs-tsm tree
with an ``arm_cca_guest`` provider, and a fake Ultravisor behind ``/dev/uv``'s ioctl.
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
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cococtl.errors import ExternalToolError, InvalidInputError
from cococtl.evidence import detect
from cococtl.evidence.tpm2 import attest_parts
from tests.integration.peers import free_port, wait_for_port
from tests.integration.test_evidence import FakeTsm

pytestmark = pytest.mark.integration
DIGEST = hashlib.sha384(b"nonce and tee-pubkey").digest()  # what the KBS client hands an attester (48 bytes)


@pytest.fixture(autouse=True)
def no_real_tee(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing of this machine's own hardware leaks into detection."""
    monkeypatch.setenv("COCOCTL_TSM_ROOT", str(tmp_path / "no-tsm"))
    monkeypatch.setenv("COCOCTL_SEV_GUEST_DEVICE", str(tmp_path / "no-sev-guest"))
    monkeypatch.setenv("COCOCTL_SGX_ATTESTATION_DIR", str(tmp_path / "no-attestation"))
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


def hcl_report(kind: str, key: rsa.RSAPublicKey, user_data: bytes) -> bytes:
    """An HCL report laid out as az-cvm-vtpm 0.8.1 hcl/mod.rs:65-93 reads it: 32-byte header, hardware report
    (1184 bytes), IgvmRequestData (report_type 2 SNP / 4 TDX, hash type 1 = SHA-256), variable data (JSON with
    the HCLAkPub JWK and user-data), the hardware report's report data = SHA-256(variable data)."""
    numbers = key.public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwk = {"kid": "HCLAkPub", "kty": "RSA", "e": b64(numbers.e), "n": b64(numbers.n), "key_ops": ["sign"]}
    var_data = json.dumps({"keys": [jwk], "vm-configuration": {}, "user-data": user_data.hex().upper()}).encode()
    hw = bytearray(1184)
    offset = 0x50 if kind == "snp" else 128  # SNP report_data / TDREPORT REPORTMACSTRUCT.report_data
    hw[offset : offset + 32] = hashlib.sha256(var_data).digest()
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


def cca_token(challenge: bytes) -> bytes:
    """CCA token: tag 399 map {44234: platform COSE_Sign1, 44241: realm COSE_Sign1}; realm claims map with the
    challenge at key 10 (the claims veraison rust-ccatoken reads)."""
    realm_claims = {10: challenge, 44235: b"\x00" * 64, 44238: b"\x11" * 32, 44236: "sha-256"}
    realm = b"\xd2" + cbor([cbor({1: -35}), {}, cbor(realm_claims), b"\x22" * 96])
    platform = b"\xd2" + cbor([cbor({1: -7}), {}, cbor({10: b"\x33" * 32}), b"\x44" * 64])
    return b"\xd9\x01\x8f" + cbor({44234: platform, 44241: realm})


def test_cca_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """guest-components attester/src/cca/mod.rs:11 + :36 (challenge zero-padded to 64), :23-27 (CcaEvidence
    {token: Vec<u8>} → a JSON integer array), tsm_report/mod.rs:36 (provider arm_cca_guest); Trustee
    deps/verifier/src/cca/mod.rs:66-69 (CcaEvidence), :90 (expected report data padded to 64), cca/local.rs:57-59
    (realm challenge == it)."""
    root = tmp_path / "tsm"
    root.mkdir()
    monkeypatch.setenv("COCOCTL_TSM_ROOT", str(root))
    token = cca_token(DIGEST.ljust(64, b"\0"))
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


# --- IBM SE (/dev/uv ioctl) --------------------------------------------------------------------------------


class FakeUltravisor:
    """Answers UVIO_IOCTL_ATT like the UV: reads the uvio_attest block at argument_addr, writes a measurement
    (an HMAC over ARCB and user data), additional data and the config UID (s390_pv_core uvdevice/ffi.rs)."""

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
        measurement = hmac.new(b"uv-key", arcb + user, hashlib.sha512).digest()[: attest.meas_len]
        ctypes.memmove(attest.meas_addr, measurement, len(measurement))
        ctypes.memmove(attest.add_data_addr, b"\x5a" * 16, 16)
        attest.add_data_len = 16
        ctypes.memmove(attest.config_uid, b"\xc1" * 16, 16)
        cb.uv_rc = 1
        return 0


def se_request() -> dict[str, Any]:
    return {
        "request_blob": base64.b64encode(b"\xa5" * 512).decode(),
        "measurement_size": 64,
        "additional_size": 32,
        "encr_measurement_key": base64.b64encode(b"\x11" * 32).decode(),
        "encr_request_nonce": base64.b64encode(b"\x22" * 16).decode(),
        "image_hdr_tags": base64.b64encode(b"\x33" * 208).decode(),
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
    assert decoded["measurement"] == hmac.new(b"uv-key", b"\xa5" * 512 + DIGEST.ljust(64, b"\0"), "sha512").digest()
    assert decoded["additional_data"] == b"\x5a" * 16 and decoded["cuid"] == b"\xc1" * 16
    for name in ("encr_measurement_key", "encr_request_nonce", "image_hdr_tags"):
        assert evidence[name] == request[name]
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


def test_tee_choices_are_the_native_attesters() -> None:
    assert detect.TEE_CHOICES == ("auto", *detect.NATIVE_TEES)
    assert set(detect.NATIVE_TEES) <= set(detect.KBS_TEES)
    for tee in detect.NATIVE_TEES:
        assert detect.native_attester(tee).tee == tee
