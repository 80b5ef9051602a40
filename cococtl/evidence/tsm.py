"""TDX and SNP evidence (and CCA tokens, cca.py) through configfs-tsm (``/sys/kernel/config/tsm/report``).

The root is overridable (``COCOCTL_TSM_ROOT``) so tests can build a tree with recorded quote bytes.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cococtl.errors import ExternalToolError
from cococtl.evidence.snp import snp_evidence

PROVIDERS = {"tdx": "tdx_guest", "snp": "sev_guest", "cca": "arm_cca_guest"}  # tsm_report/mod.rs TsmReportProvider
CCEL_PATH = Path("/sys/firmware/acpi/tables/data/CCEL")


def tsm_root() -> Path:
    return Path(os.environ.get("COCOCTL_TSM_ROOT", "/sys/kernel/config/tsm/report"))


def pad_report_data(report_data: bytes) -> bytes:
    """TDX and SNP carry 64 bytes of report data: the 48-byte digest is zero-padded."""
    return report_data.ljust(64, b"\0")[:64]


@contextlib.contextmanager
def _report_dir(root: Path) -> Iterator[Path]:
    try:
        entry = Path(tempfile.mkdtemp(prefix="cococtl-", dir=root))
    except OSError as exc:
        raise ExternalToolError(f"cannot create a configfs-tsm report under {root}: {exc.strerror}") from None
    try:
        yield entry
    finally:
        with contextlib.suppress(OSError):
            for child in entry.iterdir():
                if child.is_file() and not str(root).startswith("/sys/"):
                    child.unlink()
            entry.rmdir()


def tsm_report(report_data: bytes, expected_provider: str, *, privlevel: int | None = None) -> tuple[bytes, bytes]:
    """Write ``inblob``, read ``outblob`` and ``auxblob``; refuse another provider or a racing writer."""
    root = tsm_root()
    if not root.is_dir():
        raise ExternalToolError(f"configfs-tsm is not available ({root} does not exist)")
    with _report_dir(root) as entry:
        deadline = time.monotonic() + 2.0
        while not (entry / "provider").exists() and time.monotonic() < deadline:
            time.sleep(0.005)  # configfs populates at mkdir; give slower (emulated) trees a moment
        provider = (entry / "provider").read_text().strip() if (entry / "provider").exists() else ""
        if provider != expected_provider:
            raise ExternalToolError(f"configfs-tsm provider is {provider or 'unknown'!r}, not {expected_provider!r}")
        if privlevel is not None and (entry / "privlevel").exists():
            (entry / "privlevel").write_text(str(privlevel))
        (entry / "inblob").write_bytes(pad_report_data(report_data))
        outblob = (entry / "outblob").read_bytes()
        auxblob = (entry / "auxblob").read_bytes() if (entry / "auxblob").exists() else b""
        generation = (entry / "generation").read_text().strip() if (entry / "generation").exists() else "1"
        if generation != "1":
            raise ExternalToolError("configfs-tsm report was changed by another writer (generation != 1)")
    if not outblob:
        raise ExternalToolError("configfs-tsm returned an empty report")
    return outblob, auxblob


@dataclass(frozen=True)
class TdxAttester:
    @property
    def tee(self) -> str:
        return "tdx"

    def evidence(self, report_data: bytes) -> Any:
        quote, _ = tsm_report(report_data, PROVIDERS["tdx"])
        ccel_path = Path(os.environ.get("COCOCTL_CCEL_PATH", str(CCEL_PATH)))
        ccel = base64.b64encode(ccel_path.read_bytes()).decode() if ccel_path.is_file() else None
        return {"cc_eventlog": ccel, "quote": base64.b64encode(quote).decode()}


@dataclass(frozen=True)
class SnpAttester:
    @property
    def tee(self) -> str:
        return "snp"

    def evidence(self, report_data: bytes) -> Any:
        if not tsm_root().is_dir() and Path(os.environ.get("COCOCTL_SEV_GUEST_DEVICE", "/dev/sev-guest")).exists():
            from cococtl.evidence.snp import SnpDeviceAttester

            return SnpDeviceAttester().evidence(report_data)
        report, certificates = tsm_report(report_data, PROVIDERS["snp"], privlevel=0)
        return snp_evidence(report, certificates or None)
