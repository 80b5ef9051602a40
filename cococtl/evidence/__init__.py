"""TEE evidence for the KBS: the sample attester, and an external command for TEEs spoken elsewhere."""

from __future__ import annotations

from typing import Any, Protocol


class Attester(Protocol):
    """Produces the ``primary_evidence`` JSON value for a TEE, bound to ``report_data``."""

    @property
    def tee(self) -> str: ...

    def evidence(self, report_data: bytes) -> Any: ...
