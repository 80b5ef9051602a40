"""Choose an attester: ``sample``, an external command, or (when a TEE is present) say what is missing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cococtl.errors import InvalidInputError
from cococtl.evidence import Attester
from cococtl.evidence.command import CommandAttester
from cococtl.evidence.sample import SampleAttester
from cococtl.evidence.tsm import SnpAttester, TdxAttester, tsm_root

TEE_CHOICES = ("auto", "sample", "tdx", "snp")


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
    if tee not in TEE_CHOICES:
        raise InvalidInputError(f"--tee must be one of {', '.join(TEE_CHOICES)}")
    if attester_cmd:
        name = tee if tee != "auto" else (detect_tee() or "sample")
        return CommandAttester(attester_cmd, name)
    if tee == "auto":
        found = detect_tee()
        if found is None:
            if warn:
                print(
                    "warning: no TEE detected: using sample evidence (accepted only by test KBS setups)",
                    file=sys.stderr,
                )
            return SampleAttester()
        tee = found
    if tee == "sample":
        return SampleAttester()
    if tee == "tdx":
        return TdxAttester()
    return SnpAttester()
