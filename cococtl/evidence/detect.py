"""Choose an attester: ``sample``, an external command, or (when a TEE is present) say what is missing."""

from __future__ import annotations

import os
from pathlib import Path

from cococtl.errors import InvalidInputError
from cococtl.evidence import Attester
from cococtl.evidence.command import CommandAttester
from cococtl.evidence.sample import SampleAttester
from cococtl.evidence.tsm import SnpAttester, TdxAttester, tsm_root

TEE_CHOICES = ("auto", "sample", "tdx", "snp")
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


def detect_tee() -> str | None:
    """The confidential-computing hardware this guest has, if any (configfs-tsm provider or device)."""
    root = tsm_root()
    if root.is_dir():
        for entry in root.iterdir():
            provider = entry / "provider"
            if provider.is_file():
                name = provider.read_text().strip()
                return {"tdx_guest": "tdx", "sev_guest": "snp"}.get(name)
    if Path("/dev/tdx_guest").exists() or Path("/dev/tdx-guest").exists():
        return "tdx"
    if Path(os.environ.get("COCOCTL_SEV_GUEST_DEVICE", "/dev/sev-guest")).exists():
        return "snp"
    return None


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
        if found is None:
            if warn:
                from cococtl.notices import warn as notice

                notice("no TEE detected: using sample evidence (accepted only by test KBS setups)")
            return SampleAttester()
        tee = found
    if tee == "sample":
        return SampleAttester()
    if tee == "tdx":
        return TdxAttester()
    return SnpAttester()


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
