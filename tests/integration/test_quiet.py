"""-q keeps stderr to errors only (warnings included); a warning is shown once per command."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import RunningKbs


def test_quiet_hides_warnings_and_plain_http_warns_once(cli: Any, devkbs: RunningKbs) -> None:
    loud = cli("kbs", "--url", devkbs.url, "get-resource", "--path", "default/key/a", "--path", "default/key/b",
               "--tee", "sample", expect=5)  # fmt: skip
    assert loud.stderr.count("plain HTTP") == 1
    quiet = cli("-q", "kbs", "--url", devkbs.url, "attest", "--tee", "sample")
    assert quiet.stderr == "" and quiet.stdout.count(".") == 2
    quiet_error = cli("-q", "kbs", "--url", devkbs.url, "get-resource", "--path", "default/key/a", "--tee", "sample",
                      expect=5)  # fmt: skip
    assert "warning" not in quiet_error.stderr and "error:" in quiet_error.stderr
