"""Choose an attester: ``sample``, an external command, or (when a TEE is present) say what is missing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cococtl.errors import ExternalToolError, InvalidInputError
from cococtl.evidence import Attester
from cococtl.evidence.command import CommandAttester
from cococtl.evidence.sample import SampleAttester

TEE_CHOICES = ("auto", "sample", "tdx", "snp")


def tsm_root() -> Path:
    return Path(os.environ.get("COCOCTL_TSM_ROOT", "/sys/kernel/config/tsm/report"))


def detect_tee() -> str | None:
    """The confidential-computing hardware this guest has, if any."""
    if Path("/dev/tdx_guest").exists() or Path("/dev/tdx-guest").exists():
        return "tdx"
    if Path("/dev/sev-guest").exists():
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
    raise ExternalToolError(
        f"native {tee} evidence collection is not implemented in this version of cococtl",
        hint=f"pass --attester-cmd 'YOUR-{tee.upper()}-ATTESTER {{report_data_hex}}' to supply the evidence JSON",
    )
