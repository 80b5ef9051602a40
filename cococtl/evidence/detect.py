"""Choose an attester: ``sample``, a native one for the TEE present, or an external command."""

from __future__ import annotations

import os
from pathlib import Path

from cococtl.errors import ExternalToolError, InvalidInputError
from cococtl.evidence import Attester
from cococtl.evidence.command import CommandAttester
from cococtl.evidence.sample import SampleAttester
from cococtl.evidence.tsm import SnpAttester, TdxAttester, tsm_root

# The TEEs with a native attester (guest-components attestation-agent/attester/src/lib.rs, less the devices,
# which still come from --attester-cmd).
NATIVE_TEES = ("sample", "tdx", "snp", "sgx", "az-snp-vtpm", "az-tdx-vtpm", "cca", "csv", "se", "tpm")
TEE_CHOICES = ("auto", *NATIVE_TEES)
# Every TEE name Trustee's KBS accepts (kbs-types 0.18 Tee, lib.rs): with --attester-cmd any of them may be used.
KBS_TEES = (
    "sample",
    "sampledevice",
    "tdx",
    "snp",
    "sgx",
    "az-snp-vtpm",
    "az-tdx-vtpm",
    "cca",
    "csv",
    "se",
    "hygondcu",
    "tpm",
    "nvidia",
    "nvidia-dpu",
)
_TSM_PROVIDERS = {"tdx_guest": "tdx", "sev_guest": "snp", "arm_cca_guest": "cca"}


def _tsm_provider() -> str | None:
    root = tsm_root()
    if root.is_dir():
        for entry in root.iterdir():
            provider = entry / "provider"
            if provider.is_file():
                return _TSM_PROVIDERS.get(provider.read_text().strip())
    return None


def detect_tee() -> str | None:
    """The confidential-computing hardware this guest has, if any, in guest-components' order (attester
    lib.rs detect_tee_type): TDX, SGX, Azure vTPM (before SNP: an Azure SNP guest also sees SEV), SNP, Hygon
    CSV, CCA, SE, then a plain TPM only when its attestation key is provisioned."""
    from cococtl.evidence.sgx import detect_gramine
    from cococtl.evidence.tpm2 import tpm_spec

    provider = _tsm_provider()
    if provider == "tdx" or Path("/dev/tdx_guest").exists() or Path("/dev/tdx-guest").exists():
        return "tdx"
    if detect_gramine():
        return "sgx"
    spec = tpm_spec()
    if spec is not None:
        from cococtl.evidence.azure import detect_azure

        azure = detect_azure(spec)
        if azure:
            return azure
    if provider == "snp" or Path(os.environ.get("COCOCTL_SEV_GUEST_DEVICE", "/dev/sev-guest")).exists():
        return "snp"
    from cococtl.evidence.csv import detect_csv

    if detect_csv():
        return "csv"
    if provider == "cca":
        return "cca"
    from cococtl.evidence.se import detect_se

    if detect_se():
        return "se"
    if spec is not None and _tpm_has_ak(spec):
        return "tpm"
    return None


def _tpm_has_ak(spec: str) -> bool:
    from cococtl.evidence.tpm import ak_handle
    from cococtl.evidence.tpm2 import Tpm

    try:
        with Tpm(spec) as tpm:
            tpm.read_public(ak_handle())
    except ExternalToolError:
        return False
    return True


def native_attester(tee: str) -> Attester:
    if tee == "sample":
        return SampleAttester()
    if tee == "tdx":
        return TdxAttester()
    if tee == "snp":
        return SnpAttester()
    if tee == "sgx":
        from cococtl.evidence.sgx import SgxAttester

        return SgxAttester()
    if tee in ("az-snp-vtpm", "az-tdx-vtpm"):
        from cococtl.evidence.azure import AzSnpVtpmAttester, AzTdxVtpmAttester

        return AzSnpVtpmAttester() if tee == "az-snp-vtpm" else AzTdxVtpmAttester()
    if tee == "cca":
        from cococtl.evidence.cca import CcaAttester

        return CcaAttester()
    if tee == "csv":
        from cococtl.evidence.csv import CsvAttester

        return CsvAttester()
    if tee == "se":
        from cococtl.evidence.se import SeAttester

        return SeAttester()
    from cococtl.evidence.tpm import TpmAttester

    return TpmAttester()


def choose_attester(tee: str, attester_cmd: str | None, *, warn: bool = True) -> Attester:
    if attester_cmd:
        if tee not in ("auto", *KBS_TEES):
            raise InvalidInputError(f"--tee {tee!r} is not a TEE the KBS knows: one of {', '.join(KBS_TEES)}")
        name = tee if tee != "auto" else (detect_tee() or "sample")
        return CommandAttester(attester_cmd, name)
    if tee not in TEE_CHOICES:
        hint = (
            f"evidence for {tee} comes from --attester-cmd 'PROGRAM {{report_data_hex}}'" if tee in KBS_TEES else None
        )
        raise InvalidInputError(f"--tee must be one of {', '.join(TEE_CHOICES)} without --attester-cmd", hint=hint)
    if tee == "auto":
        found = detect_tee()
        if found is None or found == "tpm":
            if warn:
                from cococtl.notices import warn as notice

                notice(
                    "no TEE detected: using sample evidence (accepted only by test KBS setups)"
                    if found is None
                    else "only a TPM was detected: its evidence is not bound to a TEE"
                )
            if found is None:
                return SampleAttester()
        tee = found
    return native_attester(tee)


def device_attesters(specs: list[str] | None) -> list[Attester]:
    """``--device-evidence-cmd TEE=CMD`` (repeatable): additional (device) evidence, e.g. a GPU's, bound to the
    device report data (kbs_protocol rcar_client.rs get_composite_evidence)."""
    attesters: list[Attester] = []
    for spec in specs or []:
        tee, sep, command = spec.partition("=")
        if not sep or tee not in KBS_TEES or not command.strip():
            raise InvalidInputError(
                f"--device-evidence-cmd {spec[:60]!r}: expected TEE=CMD with TEE one of {', '.join(KBS_TEES)}"
            )
        attesters.append(CommandAttester(command, tee))
    return attesters
