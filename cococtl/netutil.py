"""Shared network settings: TLS trust (system roots plus ``--cert-file``) and retry timing."""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from cococtl.errors import InvalidInputError, NotFoundError


@lru_cache(maxsize=8)
def ca_bundle(cert_file: str | None) -> str | bool:
    """The ``verify=`` value for requests: True (system/certifi roots) or a bundle adding ``cert_file``.

    ``--cert-file`` adds a trust root; it does not replace the usual ones.
    """
    if not cert_file:
        return True
    path = Path(cert_file)
    try:
        extra = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"certificate file {cert_file} does not exist") from None
    if b"-----BEGIN CERTIFICATE-----" not in extra:
        raise InvalidInputError(f"certificate file {cert_file} holds no PEM certificate")
    import certifi

    fd, bundle = tempfile.mkstemp(prefix="cococtl-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as handle:
        handle.write(Path(certifi.where()).read_bytes())
        handle.write(b"\n" + extra)
    atexit.register(lambda: _remove(bundle))
    return bundle


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def backoff_delays(retries: int, *, first: float = 0.2, factor: float = 2.0, cap: float = 5.0) -> list[float]:
    """Delays between attempts: ``retries`` of them, growing geometrically up to ``cap`` seconds."""
    return [min(cap, first * factor**n) for n in range(max(0, retries))]
