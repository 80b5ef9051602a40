"""The ``sample`` attester (testing only): ``{"svn":"1","report_data": std-base64(report data)}``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cococtl.kbs.b64 import b64std


@dataclass(frozen=True)
class SampleAttester:
    """Exactly guest-components' sample attester: the 48-byte SHA-384 digest, unpadded, std base64."""

    svn: str = "1"

    @property
    def tee(self) -> str:
        return "sample"

    def evidence(self, report_data: bytes) -> Any:
        return {"svn": self.svn, "report_data": b64std(report_data)}
