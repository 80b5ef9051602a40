"""TEE evidence from a configfs-tsm tree emulated with recorded quote/report bytes, and external attesters."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from cococtl.errors import ExternalToolError, InvalidInputError
from cococtl.evidence.command import CommandAttester
from cococtl.evidence.detect import choose_attester
from cococtl.evidence.snp import parse_report

pytestmark = pytest.mark.integration
VECTORS = Path(__file__).parents[1] / "vectors" / "evidence"


class FakeTsm:
    """Populates new report directories like the kernel does (provider, outblob, auxblob, generation).

    configfs creates a report's attributes, ``provider`` with its content, at mkdir; ``tsm_report`` waits for
    ``provider`` and then reads it. So ``provider`` appears last, once the rest is in place, and appears
    whole: written beside the entry and renamed into it. (``Path.write_text`` creates the file before it
    writes the text, and the reader could see an empty provider in between.)
    """

    def __init__(self, root: Path, provider: str, outblob: bytes, auxblob: bytes = b"") -> None:
        self.root, self.provider, self.outblob, self.auxblob = root, provider, outblob, auxblob
        self.inblobs: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        seen: set[Path] = set()
        while not self._stop.is_set():
            for entry in self.root.iterdir():
                if entry.is_dir() and entry not in seen:
                    seen.add(entry)
                    (entry / "outblob").write_bytes(self.outblob)
                    (entry / "auxblob").write_bytes(self.auxblob)
                    (entry / "generation").write_text("1\n")
                    staged = self.root.parent / f"{entry.name}.provider"
                    staged.write_text(self.provider + "\n")
                    staged.replace(entry / "provider")
            time.sleep(0.001)

    def __enter__(self) -> FakeTsm:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def tsm_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tsm" / "report"
    root.mkdir(parents=True)
    monkeypatch.setenv("COCOCTL_TSM_ROOT", str(root))
    monkeypatch.setenv("COCOCTL_CCEL_PATH", str(tmp_path / "no-ccel"))
    return root


def test_tdx_quote_evidence(tsm_root: Path) -> None:
    quote = (VECTORS / "tdx-quote-v4.dat").read_bytes()
    with FakeTsm(tsm_root, "tdx_guest", quote):
        evidence = choose_attester("tdx", None).evidence(bytes(range(48)))
    assert evidence == {"cc_eventlog": None, "quote": base64.b64encode(quote).decode()}
    assert list(tsm_root.iterdir()) == []  # the report entry is removed


def test_snp_report_evidence_shape(tsm_root: Path) -> None:
    report = (VECTORS / "snp-report.bin").read_bytes()
    with FakeTsm(tsm_root, "sev_guest", report):
        evidence = choose_attester("snp", None).evidence(b"\x01" * 48)
    parsed = evidence["attestation_report"]
    reference = json.loads((VECTORS / "snp-evidence.json").read_text())["attestation_report"]
    assert list(parsed) == list(reference)  # the same members, in the same order, as Trustee's test evidence
    assert parsed["current_tcb"] == {"fmc": None, "bootloader": 3, "tee": 0, "snp": 8, "microcode": 206}
    assert bytes(parsed["report_data"][:4]).hex() == "ec6c52d7"
    assert len(parsed["signature"]["r"]) == 72 and evidence["cert_chain"] is None


def test_wrong_provider_is_refused(tsm_root: Path) -> None:
    with FakeTsm(tsm_root, "sev_guest", b"x"), pytest.raises(ExternalToolError, match="not 'tdx_guest'"):
        choose_attester("tdx", None).evidence(bytes(48))


def test_auto_detects_from_configfs(tsm_root: Path) -> None:
    (tsm_root / "existing").mkdir()
    (tsm_root / "existing" / "provider").write_text("tdx_guest\n")
    assert choose_attester("auto", None).tee == "tdx"


def test_report_must_have_its_size() -> None:
    with pytest.raises(InvalidInputError, match="1184"):
        parse_report(b"short")


def test_external_attester_command(tmp_path: Path) -> None:
    script = tmp_path / "attester.py"
    script.write_text("import json, sys\nprint(json.dumps({'quote': sys.argv[1]}))\n")
    attester = CommandAttester(f"{sys.executable} {script} {{report_data_hex}}", "tdx")
    assert attester.evidence(b"\xab" * 48) == {"quote": "ab" * 48}
    with pytest.raises(InvalidInputError, match="report_data_hex"):
        CommandAttester(f"{sys.executable} {script}", "tdx").evidence(b"")
    with pytest.raises(ExternalToolError, match="not found"):
        CommandAttester("/nonexistent/attester {report_data_hex}", "tdx").evidence(b"")
    (tmp_path / "bad.py").write_text("print('not json')\n")
    with pytest.raises(ExternalToolError, match="JSON"):
        CommandAttester(f"{sys.executable} {tmp_path / 'bad.py'} {{report_data_hex}}", "tdx").evidence(b"")


def test_sev_guest_device_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import struct

    from cococtl.evidence.snp import SnpDeviceAttester, report_from_response

    report = (VECTORS / "snp-report.bin").read_bytes()
    response = struct.pack("<II", 0, len(report)) + bytes(24) + report + bytes(4000 - 32 - len(report))
    assert report_from_response(response) == report
    with pytest.raises(InvalidInputError, match="status"):
        report_from_response(struct.pack("<II", 0x16, 1184) + bytes(3992))
    monkeypatch.setenv("COCOCTL_TSM_ROOT", str(tmp_path / "absent"))
    monkeypatch.setenv("COCOCTL_SEV_GUEST_DEVICE", str(tmp_path / "absent-device"))
    with pytest.raises(ExternalToolError, match="cannot open"):
        SnpDeviceAttester().evidence(b"\0" * 48)
    not_a_device = tmp_path / "sev-guest"
    not_a_device.write_bytes(b"")
    monkeypatch.setenv("COCOCTL_SEV_GUEST_DEVICE", str(not_a_device))
    assert choose_attester("auto", None).tee == "snp"
    with pytest.raises(ExternalToolError, match="SNP_GET_EXT_REPORT failed"):
        choose_attester("snp", None).evidence(b"\0" * 48)
