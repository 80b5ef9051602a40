"""The ``cca`` attester: an Arm CCA attestation token through configfs-tsm (provider ``arm_cca_guest``).

The challenge is the report data zero-padded to 64 bytes (guest-components attester/src/cca/mod.rs
CCA_CHALLENGE_SIZE); the evidence is ``{"token": [bytes as integers]}`` — serde's ``Vec<u8>``, a JSON array
(attester cca/mod.rs CcaEvidence; Trustee deps/verifier/src/cca/mod.rs CcaEvidence). The verifier compares
the realm token's challenge claim with the padded report data (cca/mod.rs evaluate, cca/local.rs verify).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from cococtl.errors import ExternalToolError
from cococtl.evidence.tsm import PROVIDERS, pad_report_data, tsm_report

CCA_PLATFORM_TOKEN = 44234  # CCA attestation token collection (Arm RMM spec, A7.2.1)
CCA_REALM_TOKEN = 44241
REALM_CHALLENGE = 10


class _Cbor:
    """Just enough CBOR (RFC 8949) to reach the realm token's challenge."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def _argument(self, info: int) -> int:
        if info < 24:
            return info
        sizes = {24: (1, ">B"), 25: (2, ">H"), 26: (4, ">I"), 27: (8, ">Q")}
        if info not in sizes:
            raise ValueError("indefinite or reserved CBOR length")
        size, fmt = sizes[info]
        value = int(struct.unpack_from(fmt, self.data, self.offset)[0])
        self.offset += size
        return value

    def item(self) -> Any:
        if self.offset >= len(self.data):
            raise ValueError("truncated CBOR")
        initial = self.data[self.offset]
        self.offset += 1
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            self.offset += {24: 1, 25: 2, 26: 4, 27: 8}.get(info, 0)
            return None
        value = self._argument(info)
        if major == 0:
            return value
        if major == 1:
            return -1 - value
        if major in (2, 3):
            chunk = self.data[self.offset : self.offset + value]
            if len(chunk) != value:
                raise ValueError("truncated CBOR string")
            self.offset += value
            return chunk if major == 2 else chunk.decode(errors="replace")
        if major == 4:
            return [self.item() for _ in range(value)]
        if major == 5:
            return {self.item(): self.item() for _ in range(value)}
        return self.item()  # major 6: a tag, keep its content


def realm_challenge(token: bytes) -> bytes:
    """The challenge claim of the realm token inside a CCA token."""
    try:
        collection = _Cbor(token).item()
        realm_sign1 = _Cbor(collection[CCA_REALM_TOKEN]).item()
        claims = _Cbor(realm_sign1[2]).item()
        challenge = claims[REALM_CHALLENGE]
    except (ValueError, KeyError, IndexError, TypeError, struct.error):
        raise ExternalToolError("configfs-tsm returned no CCA token with a realm challenge") from None
    if not isinstance(challenge, bytes):
        raise ExternalToolError("the CCA realm challenge is not a byte string")
    return challenge


@dataclass(frozen=True)
class CcaAttester:
    @property
    def tee(self) -> str:
        return "cca"

    def evidence(self, report_data: bytes) -> Any:
        if len(report_data) > 64:
            raise ExternalToolError("the CCA challenge is at most 64 bytes")
        token, _ = tsm_report(report_data, PROVIDERS["cca"])
        if realm_challenge(token) != pad_report_data(report_data):
            raise ExternalToolError("the CCA token's realm challenge is not the report data")
        return {"token": list(token)}
